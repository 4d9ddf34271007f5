//! Identifiers: newtypes so a client id is never passed where a key id is expected.

use std::fmt;

use crate::secret::random_bytes;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier read from a trusted place (the database, a verified token).
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A registered client's `client_id` (RFC 6749 §2.2): public, unique, server-generated.
    ClientId
);
string_id!(
    /// A signing key's `kid` (RFC 7517 §4.5).
    Kid
);
string_id!(
    /// A user's stable id: the `sub` of their tokens.
    UserId
);
string_id!(
    /// A token family: one authorization and every token descended from it.
    FamilyId
);
string_id!(
    /// A JWT's `jti` (RFC 7519 §4.1.7): 128 random bits, the handle revocation works on.
    Jti
);

impl ClientId {
    /// A fresh client id: 128 random bits as 32 lowercase hex digits. Hex, because a
    /// base64url id may start with `-` and then reads as a flag on the command line.
    pub fn generate() -> Self {
        Self(hex(&random_bytes::<16>()))
    }
}

impl UserId {
    /// A fresh user id: 128 random bits as hex.
    pub fn generate() -> Self {
        Self(hex(&random_bytes::<16>()))
    }
}

impl FamilyId {
    /// A fresh family id: 128 random bits, base64url.
    pub fn generate() -> Self {
        Self(crate::secret::b64(&random_bytes::<16>()))
    }
}

impl Kid {
    /// A fresh key id: 96 random bits, base64url.
    pub fn generate() -> Self {
        Self(crate::secret::b64(&random_bytes::<12>()))
    }
}

impl Jti {
    /// A fresh token id: 128 random bits, base64url.
    pub fn generate() -> Self {
        Self(crate::secret::b64(&random_bytes::<16>()))
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
