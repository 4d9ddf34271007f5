//! Form parameters after parsing at the edge: unique names, UTF-8, empty values dropped.

use percent_encoding::percent_decode;

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

    /// Parses an `application/x-www-form-urlencoded` body or query string: `+` is a space,
    /// percent escapes are decoded, every name and value must be UTF-8, and the rules of
    /// [`Params::from_pairs`] apply.
    pub fn from_form(body: &[u8]) -> Result<Self, OAuthError> {
        let decode = |raw: &[u8]| -> Result<String, OAuthError> {
            let plus_as_space: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
            let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
            if bytes.contains(&0) {
                // No OAuth parameter has a use for NUL, and databases differ on it.
                return Err(OAuthError::invalid_request(
                    "parameters must not contain NUL characters",
                ));
            }
            String::from_utf8(bytes).map_err(|_| OAuthError::invalid_request("the form is not valid UTF-8"))
        };
        let pairs = body
            .split(|&b| b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let mut halves = pair.splitn(2, |&b| b == b'=');
                let name = decode(halves.next().unwrap_or_default())?;
                let value = decode(halves.next().unwrap_or_default())?;
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, OAuthError>>()?;
        Self::from_pairs(pairs)
    }

    /// The value of `name`, if it was sent with a value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every parameter, in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The value of `name`, or `invalid_request` naming it.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the {name} parameter is missing")))
    }
}

/// A parameter name made safe to echo in a description: RFC 6749 names are lowercase
/// letters and underscores; anything else is not echoed.
fn printable(name: &str) -> String {
    if !name.is_empty() && name.len() <= 40 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        name.to_owned()
    } else {
        "(unnamed)".to_owned()
    }
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
    fn forms_decode_plus_and_percent_escapes() {
        let params = Params::from_form(b"grant_type=client_credentials&scope=a+b%3Ac").unwrap_or_default();
        assert_eq!(params.get("scope"), Some("a b:c"));
        assert_eq!(params.get("grant_type"), Some("client_credentials"));
    }

    #[test]
    fn forms_refuse_invalid_utf8_raw_or_escaped() {
        assert!(Params::from_form(b"scope=%FF%FE").is_err());
        assert!(Params::from_form(b"scope=\xff").is_err());
        assert!(Params::from_form(b"%C3%28=x").is_err());
    }

    #[test]
    fn forms_refuse_nul_characters() {
        assert!(Params::from_form(b"client_id=a%00b").is_err());
        assert!(Params::from_form(b"nonce=\x00").is_err());
        assert!(Params::from_form(b"na%00me=x").is_err());
    }

    #[test]
    fn forms_refuse_duplicates_and_tolerate_stray_ampersands() {
        assert!(Params::from_form(b"a=1&a=2").is_err());
        let params = Params::from_form(b"&&a=1&&b&").unwrap_or_default();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("b"), None);
    }

    #[test]
    fn repeated_parameters_are_invalid_requests() {
        let err = Params::from_pairs(pairs(&[("scope", "a"), ("scope", "b")]));
        assert!(
            matches!(err, Err(OAuthError::InvalidRequest(d)) if d.contains("parameter scope is repeated"))
        );
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
