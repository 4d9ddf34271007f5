-- Clients, scopes, signing keys and the access-token deny list.

CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    auth_method   TEXT NOT NULL,
    grant_types   TEXT NOT NULL,  -- space-separated RFC names
    redirect_uris TEXT NOT NULL,  -- space-separated; validated URIs never contain spaces
    scopes        TEXT NOT NULL,  -- space-separated
    secret_hash   BYTEA,          -- HMAC-SHA256 under a key derived from the master key
    created_at    BIGINT NOT NULL
);

CREATE TABLE scopes (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    sealed_private BYTEA NOT NULL,  -- AES-256-GCM(nonce || ciphertext || tag), kid as AAD
    created_at     BIGINT NOT NULL,
    activates_at   BIGINT NOT NULL
);

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);

CREATE INDEX revoked_access_tokens_by_revoked_at ON revoked_access_tokens (revoked_at);
CREATE INDEX revoked_access_tokens_by_expires_at ON revoked_access_tokens (expires_at);
