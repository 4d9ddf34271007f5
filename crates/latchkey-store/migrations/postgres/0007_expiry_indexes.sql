-- The background purge deletes by expiry: let it find those rows without a table scan.
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);
CREATE INDEX refresh_tokens_by_idle_expiry ON refresh_tokens (idle_expires_at);
CREATE INDEX token_families_by_expiry ON token_families (expires_at);
