-- Upstream identity providers (OpenID Connect issuers, or plain OAuth 2.0 servers with a
-- user-info endpoint, users may sign in through) and the
-- upstream identities linked to local users, by issuer and subject (never by e-mail).
CREATE TABLE upstream_providers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    sealed_secret BYTEA NOT NULL,   -- the client secret, sealed with the master key
    scopes        TEXT NOT NULL,
    oauth2        TEXT,            -- plain OAuth 2.0: endpoints and claim mapping (JSON); NULL for OpenID Connect
    created_at    BIGINT NOT NULL
);

CREATE TABLE linked_identities (
    provider_id TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX linked_identities_by_user ON linked_identities (user_id);
