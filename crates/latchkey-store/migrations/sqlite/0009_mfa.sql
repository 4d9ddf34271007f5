-- Two-step sign-in: a TOTP secret per user (sealed with the master key), single-use
-- recovery codes (keyed hashes), and how each session and grant was authenticated
-- (RFC 8176 amr values, space-separated).
CREATE TABLE totp_credentials (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret BLOB NOT NULL,
    confirmed     INTEGER NOT NULL DEFAULT 0,  -- enrolment finished with a correct code
    last_step     INTEGER NOT NULL DEFAULT 0,  -- the last 30-second step used (no replay)
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE token_families ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
