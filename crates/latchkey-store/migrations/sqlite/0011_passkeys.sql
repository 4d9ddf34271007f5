-- Passkeys (WebAuthn credentials): the public key and signature counter per credential,
-- and the hashes of ceremony challenges already answered (each works once).
CREATE TABLE passkeys (
    credential_id   BLOB PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    public_key      BLOB NOT NULL,  -- COSE_Key, as the authenticator sent it
    algorithm       INTEGER NOT NULL,
    sign_count      INTEGER NOT NULL,
    backup_eligible INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
) STRICT;
CREATE INDEX passkeys_by_user ON passkeys (user_id);

CREATE TABLE spent_challenges (
    challenge_hash BLOB PRIMARY KEY,
    expires_at     INTEGER NOT NULL
) STRICT;
