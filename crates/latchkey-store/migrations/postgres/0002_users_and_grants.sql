-- Users, browser sessions, remembered consent, and the token families of the browser
-- and device flows: authorization codes, refresh tokens, and the access tokens they issued.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,         -- the stable `sub`
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,     -- lowercase, for case-insensitive uniqueness
    password_hash TEXT NOT NULL,            -- argon2id PHC string
    email         TEXT,
    name          TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash    BYTEA PRIMARY KEY,           -- HMAC of the cookie value
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- What a user approved for a client; later requests within it skip the consent page.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- One family per authorization: the code, every refresh token rotated from it, and the
-- access tokens they issued. Revoking the family revokes them all.
CREATE TABLE token_families (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,             -- absolute lifetime of its refresh tokens
    revoked_at BIGINT
);

CREATE TABLE authorization_codes (
    code_hash      BYTEA PRIMARY KEY,
    family_id      TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    redirect_given BOOLEAN NOT NULL,        -- true if the request named redirect_uri
    code_challenge TEXT,                    -- S256 challenge, if any
    nonce          TEXT,
    expires_at     BIGINT NOT NULL,
    consumed_at    BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash      BYTEA PRIMARY KEY,
    family_id       TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    scopes          TEXT NOT NULL,
    issued_at       BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    rotated_at      BIGINT                  -- set once, when it is first exchanged
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE family_access_tokens (
    jti        TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX family_access_tokens_by_family ON family_access_tokens (family_id);

ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';

-- The OpenID Connect scopes, described for consent pages. A scope someone created earlier
-- keeps a description they wrote; one still described by its own name gets ours.
INSERT INTO scopes (name, description) VALUES
    ('openid', 'Sign you in and know who you are'),
    ('profile', 'See your name and username'),
    ('email', 'See your e-mail address'),
    ('offline_access', 'Stay connected when you are not using it')
ON CONFLICT (name) DO UPDATE SET description = excluded.description WHERE scopes.description = scopes.name;
