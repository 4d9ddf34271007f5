//! Scopes (RFC 6749 §3.3): case-sensitive tokens of printable ASCII other than space, `"`
//! and `\`, sent as one space-delimited string.

use std::collections::BTreeSet;
use std::fmt;

/// One scope token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(String);

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// An empty token.
    #[error("a scope may not be empty")]
    Empty,
    /// A character outside RFC 6749's `scope-token` set.
    #[error("scope {0:?} has a character RFC 6749 section 3.3 does not allow")]
    BadCharacter(String),
    /// Longer than we store.
    #[error("scope {0:?} is longer than 128 characters")]
    TooLong(String),
}

/// `openid`: asks for an ID token, so it needs a user.
pub const OPENID: &str = "openid";
/// `offline_access`: asks for a refresh token, so it needs a user.
pub const OFFLINE_ACCESS: &str = "offline_access";

impl Scope {
    /// Parses one scope token.
    pub fn parse(token: &str) -> Result<Self, ScopeError> {
        if token.is_empty() {
            return Err(ScopeError::Empty);
        }
        if token.len() > 128 {
            return Err(ScopeError::TooLong(token.to_owned()));
        }
        // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        let allowed = |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
        if !token.bytes().all(allowed) {
            return Err(ScopeError::BadCharacter(token.to_owned()));
        }
        Ok(Self(token.to_owned()))
    }

    /// The scope as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this scope only makes sense with a user present (`openid`,
    /// `offline_access`, `roles`).
    pub fn needs_user(&self) -> bool {
        self.0 == OPENID || self.0 == OFFLINE_ACCESS || self.0 == crate::roles::ROLES
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of scopes, kept sorted so the wire form is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Parses a space-delimited scope string. Runs of spaces are tolerated; every token must
    /// be valid.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        text.split(' ')
            .filter(|token| !token.is_empty())
            .map(Scope::parse)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// Whether every scope here is also in `allowed`.
    pub fn is_subset_of(&self, allowed: &ScopeSet) -> bool {
        self.0.is_subset(&allowed.0)
    }

    /// The scopes here that are not in `allowed`, for error messages.
    pub fn excess_over<'a>(&'a self, allowed: &'a ScopeSet) -> impl Iterator<Item = &'a Scope> {
        self.0.difference(&allowed.0)
    }

    /// The scopes that match `keep`.
    pub fn filtered(&self, keep: impl Fn(&Scope) -> bool) -> Self {
        Self(self.0.iter().filter(|s| keep(s)).cloned().collect())
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.0 == scope)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    /// The wire form: space-delimited, sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&scope.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> ScopeSet {
        ScopeSet::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn parses_space_delimited_and_prints_sorted() {
        assert_eq!(set("write read  read").to_string(), "read write");
        assert!(set("").is_empty());
        assert!(set("   ").is_empty());
    }

    #[test]
    fn accepts_the_full_rfc_character_set() {
        assert!(Scope::parse("!#[]~:/notes.read").is_ok());
        assert!(Scope::parse("https://api.example.com/notes").is_ok());
    }

    #[test]
    fn refuses_quote_backslash_controls_and_non_ascii() {
        for bad in ["a\"b", "a\\b", "a\tb", "é", "a\u{7f}"] {
            assert!(
                matches!(Scope::parse(bad), Err(ScopeError::BadCharacter(_))),
                "{bad:?}"
            );
        }
        assert_eq!(Scope::parse(""), Err(ScopeError::Empty));
        assert!(matches!(
            Scope::parse(&"x".repeat(129)),
            Err(ScopeError::TooLong(_))
        ));
        assert!(ScopeSet::parse("ok bad\"one").is_err());
    }

    #[test]
    fn subset_and_excess() {
        let allowed = set("a b c");
        assert!(set("a c").is_subset_of(&allowed));
        assert!(set("").is_subset_of(&allowed));
        assert!(!set("a d").is_subset_of(&allowed));
        let requested = set("a d e");
        let excess: Vec<_> = requested.excess_over(&allowed).map(Scope::as_str).collect();
        assert_eq!(excess, ["d", "e"]);
    }

    #[test]
    fn scopes_are_case_sensitive() {
        assert!(!set("Read").is_subset_of(&set("read")));
    }

    #[test]
    fn filtered_drops_user_scopes() {
        let scopes = set("openid offline_access notes:read");
        assert_eq!(scopes.filtered(|s| !s.needs_user()).to_string(), "notes:read");
    }
}
