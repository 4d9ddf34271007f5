-- Clients, scopes, signing keys and the access-token deny list.

CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    auth_method   TEXT NOT NULL,
    grant_types   TEXT NOT NULL,  -- space-separated RFC names
    redirect_uris TEXT NOT NULL,  -- space-separated; validated URIs never contain spaces
    scopes        TEXT NOT NULL,  -- space-separated
    secret_hash   BLOB,           -- HMAC-SHA256 under a key derived from the master key
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE scopes (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL
) STRICT;

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    sealed_private BLOB NOT NULL,  -- AES-256-GCM(nonce || ciphertext || tag), kid as AAD
    created_at     INTEGER NOT NULL,
    activates_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
) STRICT;

CREATE INDEX revoked_access_tokens_by_revoked_at ON revoked_access_tokens (revoked_at);
CREATE INDEX revoked_access_tokens_by_expires_at ON revoked_access_tokens (expires_at);
