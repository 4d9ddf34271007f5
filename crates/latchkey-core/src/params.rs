//! Form parameters after parsing at the edge: unique names, UTF-8, empty values dropped.

use crate::error::OAuthError;

/// The parameters of one OAuth request (RFC 6749 §3.1, §3.2).
///
/// Built only through [`Params::from_pairs`], which enforces the RFC's rules: a parameter
/// may appear at most once, and one sent without a value counts as omitted.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Builds the parameter set, refusing a repeated name with `invalid_request`.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, OAuthError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs {
            if out.iter().any(|(seen, _)| *seen == name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} is repeated; send each parameter at most once",
                    printable(&name)
                )));
            }
            out.push((name, value));
        }
        out.retain(|(_, value)| !value.is_empty());
        Ok(Self(out))
    }

    /// The value of `name`, if it was sent with a value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `invalid_request` naming it.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the {name} parameter is missing")))
    }
}

/// A parameter name made safe to echo in a description: at most 40 printable characters.
fn printable(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !c.is_control()).take(40).collect();
    format!("{clean:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn repeated_parameters_are_invalid_requests() {
        let err = Params::from_pairs(pairs(&[("scope", "a"), ("scope", "b")]));
        assert!(matches!(err, Err(OAuthError::InvalidRequest(d)) if d.contains("\"scope\"")));
    }

    #[test]
    fn a_repeat_counts_even_when_one_value_is_empty() {
        assert!(Params::from_pairs(pairs(&[("scope", ""), ("scope", "b")])).is_err());
    }

    #[test]
    fn empty_values_count_as_omitted() {
        let params = Params::from_pairs(pairs(&[("scope", ""), ("grant_type", "x")])).unwrap_or_default();
        assert_eq!(params.get("scope"), None);
        assert_eq!(params.get("grant_type"), Some("x"));
        assert!(matches!(
            params.require("scope"),
            Err(OAuthError::InvalidRequest(_))
        ));
    }
}
