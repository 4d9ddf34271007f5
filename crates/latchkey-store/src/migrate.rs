//! Embedded migrations. Each backend has a numbered list of SQL files compiled into the
//! binary; each is applied once, in order, in its own transaction, and recorded.
//!
//! A hand-rolled runner rather than `sqlx::migrate!`: the macro would compile a second copy
//! of SQLite into the build's proc-macro, and what we need is thirty lines. The runners
//! live beside each backend (`sqlite::SqliteStore::migrate`, `postgres::migrate`); both
//! lists are numbered identically and reach the same schema.

/// One migration: its number, name and SQL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// The SQLite migrations, in order.
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_foundation.sql",
        sql: include_str!("../migrations/sqlite/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "0002_users_and_grants.sql",
        sql: include_str!("../migrations/sqlite/0002_users_and_grants.sql"),
    },
    Migration {
        version: 3,
        name: "0003_device_codes.sql",
        sql: include_str!("../migrations/sqlite/0003_device_codes.sql"),
    },
    Migration {
        version: 4,
        name: "0004_grant_ids.sql",
        sql: include_str!("../migrations/sqlite/0004_grant_ids.sql"),
    },
    Migration {
        version: 5,
        name: "0005_audit.sql",
        sql: include_str!("../migrations/sqlite/0005_audit.sql"),
    },
    Migration {
        version: 6,
        name: "0006_account.sql",
        sql: include_str!("../migrations/sqlite/0006_account.sql"),
    },
    Migration {
        version: 7,
        name: "0007_expiry_indexes.sql",
        sql: include_str!("../migrations/sqlite/0007_expiry_indexes.sql"),
    },
    Migration {
        version: 8,
        name: "0008_roles.sql",
        sql: include_str!("../migrations/sqlite/0008_roles.sql"),
    },
    Migration {
        version: 9,
        name: "0009_mfa.sql",
        sql: include_str!("../migrations/sqlite/0009_mfa.sql"),
    },
    Migration {
        version: 10,
        name: "0010_federation.sql",
        sql: include_str!("../migrations/sqlite/0010_federation.sql"),
    },
    Migration {
        version: 11,
        name: "0011_passkeys.sql",
        sql: include_str!("../migrations/sqlite/0011_passkeys.sql"),
    },
];

/// The PostgreSQL migrations, in order: the same numbers and end state as [`SQLITE`].
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_foundation.sql",
        sql: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "0002_users_and_grants.sql",
        sql: include_str!("../migrations/postgres/0002_users_and_grants.sql"),
    },
    Migration {
        version: 3,
        name: "0003_device_codes.sql",
        sql: include_str!("../migrations/postgres/0003_device_codes.sql"),
    },
    Migration {
        version: 4,
        name: "0004_grant_ids.sql",
        sql: include_str!("../migrations/postgres/0004_grant_ids.sql"),
    },
    Migration {
        version: 5,
        name: "0005_audit.sql",
        sql: include_str!("../migrations/postgres/0005_audit.sql"),
    },
    Migration {
        version: 6,
        name: "0006_account.sql",
        sql: include_str!("../migrations/postgres/0006_account.sql"),
    },
    Migration {
        version: 7,
        name: "0007_expiry_indexes.sql",
        sql: include_str!("../migrations/postgres/0007_expiry_indexes.sql"),
    },
    Migration {
        version: 8,
        name: "0008_roles.sql",
        sql: include_str!("../migrations/postgres/0008_roles.sql"),
    },
    Migration {
        version: 9,
        name: "0009_mfa.sql",
        sql: include_str!("../migrations/postgres/0009_mfa.sql"),
    },
    Migration {
        version: 10,
        name: "0010_federation.sql",
        sql: include_str!("../migrations/postgres/0010_federation.sql"),
    },
    Migration {
        version: 11,
        name: "0011_passkeys.sql",
        sql: include_str!("../migrations/postgres/0011_passkeys.sql"),
    },
];
