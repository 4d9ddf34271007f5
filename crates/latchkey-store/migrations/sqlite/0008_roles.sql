-- Roles: named sets of permissions (scopes), given to users. A restricted scope is only
-- ever granted to a user who holds it through a role.
ALTER TABLE scopes ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE role_scopes (
    role  TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    PRIMARY KEY (role, scope)
) STRICT;

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role)
) STRICT;
CREATE INDEX user_roles_by_role ON user_roles (role);

-- Built in: asks for the user's roles in the tokens.
INSERT INTO scopes (name, description) VALUES
    ('roles', 'Know which roles you hold')
ON CONFLICT (name) DO UPDATE SET description = excluded.description WHERE scopes.description = scopes.name;
