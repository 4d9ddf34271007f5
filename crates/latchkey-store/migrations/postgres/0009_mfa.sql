-- Two-step sign-in: a TOTP secret per user (sealed with the master key), single-use
-- recovery codes (keyed hashes), and how each session and grant was authenticated
-- (RFC 8176 amr values, space-separated).
CREATE TABLE totp_credentials (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret BYTEA NOT NULL,
    confirmed     BOOLEAN NOT NULL DEFAULT false,  -- enrolment finished with a correct code
    last_step     BIGINT NOT NULL DEFAULT 0,  -- the last 30-second step used (no replay)
    created_at    BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE token_families ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
