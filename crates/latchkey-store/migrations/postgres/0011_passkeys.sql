-- Passkeys (WebAuthn credentials): the public key and signature counter per credential,
-- and the hashes of ceremony challenges already answered (each works once).
CREATE TABLE passkeys (
    credential_id   BYTEA PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    public_key      BYTEA NOT NULL,  -- COSE_Key, as the authenticator sent it
    algorithm       BIGINT NOT NULL,
    sign_count      BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

CREATE TABLE spent_challenges (
    challenge_hash BYTEA PRIMARY KEY,
    expires_at     BIGINT NOT NULL
);
