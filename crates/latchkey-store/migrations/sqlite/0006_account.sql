-- The account page: when a grant was first given, and the lookups it makes per user.
ALTER TABLE consents ADD COLUMN created_at INTEGER;
UPDATE consents SET created_at = updated_at;
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX token_families_by_user_client ON token_families (user_id, client_id);
