-- The audit trail. No foreign keys: events outlive the users and clients they name.
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    subject   TEXT,
    client_id TEXT,
    actor     TEXT    NOT NULL,
    detail    TEXT    NOT NULL -- a JSON object: grant type, scopes, jti, grant id, reason
);
CREATE INDEX audit_events_by_at ON audit_events (at);
CREATE INDEX audit_events_by_subject ON audit_events (subject, at);
CREATE INDEX audit_events_by_client ON audit_events (client_id, at);
