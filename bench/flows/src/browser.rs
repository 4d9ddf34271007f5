//! Just enough of a browser for the one-time bootstrap: a cookie jar and the `<input>`
//! fields of a form, read the way a browser submits them.

use std::collections::BTreeMap;

use hyper::header::{HeaderValue, SET_COOKIE};

use crate::http::Reply;

/// Cookies by name (the server sets only host-wide `Path=/` cookies).
#[derive(Debug, Default)]
pub(crate) struct Jar(BTreeMap<String, String>);

impl Jar {
    /// Keeps the cookies a response sets; an empty value (or `Max-Age=0`) deletes one.
    pub(crate) fn absorb(&mut self, reply: &Reply) {
        for header in reply.headers.get_all(SET_COOKIE) {
            let Ok(header) = header.to_str() else {
                continue;
            };
            let mut attributes = header.split(';');
            let Some((name, value)) = attributes.next().and_then(|pair| pair.split_once('=')) else {
                continue;
            };
            let expired = attributes.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if value.is_empty() || expired {
                self.0.remove(name.trim());
            } else {
                self.0.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The `Cookie` header to send, if there is any cookie.
    pub(crate) fn header(&self) -> anyhow::Result<Option<HeaderValue>> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let pairs: Vec<String> = self
            .0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        Ok(Some(HeaderValue::from_str(&pairs.join("; "))?))
    }
}

/// The named `<input>` fields of a page, in order, with their values (entities decoded;
/// an input without a value, such as a password box, has an empty one).
pub(crate) fn inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = rest.split('>').next().unwrap_or_default();
            let name = attribute(tag, "name")?;
            Some((name, attribute(tag, "value").unwrap_or_default()))
        })
        .collect()
}

/// Sets a field, replacing an existing one of that name.
pub(crate) fn set_field(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(field) => value.clone_into(&mut field.1),
        None => fields.push((name.to_owned(), value.to_owned())),
    }
}

/// The value of a double-quoted attribute in the text of one tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let rest = tag.get(start..)?;
    let end = rest.find('"')?;
    Some(unescape(rest.get(..end)?))
}

/// Decodes HTML character references: the named five and numeric ones (`&#38;`, `&#x26;`).
/// Anything unrecognised is kept as it is.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let tail = rest.get(amp..).unwrap_or_default();
        let decoded = tail.find(';').and_then(|semicolon| {
            let entity = tail.get(1..semicolon)?;
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = match entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => entity.strip_prefix('#')?.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, semicolon + 1))
        });
        match decoded {
            Some((c, consumed)) => {
                out.push(c);
                rest = tail.get(consumed..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hidden_inputs_with_entities() {
        let html = r#"<form><input type="hidden" name="csrf_token" value="a&#43;b">
  <input type="hidden" name="return_to" value="/oauth2/authorize?a=1&#38;b=&#x32;&amp;c=&lt;&unknown;&">
  <input id="username" name="username" type="text" autocomplete="username" value="">
  <input id="password" name="password" type="password" required>
  <button type="submit" name="decision" value="allow">Allow</button></form>"#;
        let fields = inputs(html);
        assert_eq!(
            fields,
            vec![
                ("csrf_token".to_owned(), "a+b".to_owned()),
                (
                    "return_to".to_owned(),
                    "/oauth2/authorize?a=1&b=2&c=<&unknown;&".to_owned()
                ),
                ("username".to_owned(), String::new()),
                ("password".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn set_field_replaces_or_appends() {
        let mut fields = vec![("a".to_owned(), "1".to_owned())];
        set_field(&mut fields, "a", "2");
        set_field(&mut fields, "b", "3");
        assert_eq!(
            fields,
            vec![("a".to_owned(), "2".to_owned()), ("b".to_owned(), "3".to_owned())]
        );
    }
}
