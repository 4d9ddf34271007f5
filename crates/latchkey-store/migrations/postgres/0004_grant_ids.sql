-- Access tokens name their grant (grant_id claim), so revoking a grant needs no list of
-- the tokens it issued: the per-token table goes, and revoked grants are found by time.
DROP TABLE family_access_tokens;
CREATE INDEX token_families_by_revoked_at ON token_families (revoked_at);
