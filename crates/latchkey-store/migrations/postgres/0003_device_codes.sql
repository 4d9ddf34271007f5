-- The device authorization grant (RFC 8628): device codes with their user codes, and the
-- failed user-code entries that brute-force defence counts.

CREATE TABLE device_codes (
    device_code_hash BYTEA PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,   -- normalised: 8 consonants, no dash
    client_id        TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    status           TEXT NOT NULL,          -- pending, approved, denied, spent
    family_id        TEXT REFERENCES token_families (id) ON DELETE CASCADE
);
CREATE INDEX device_codes_by_expiry ON device_codes (expires_at);

CREATE TABLE user_code_failures (
    subject      TEXT PRIMARY KEY,           -- "ip:..." or "session:..."
    window_start BIGINT NOT NULL,
    failures     INTEGER NOT NULL
);
