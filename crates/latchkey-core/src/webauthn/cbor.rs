//! The part of CBOR (RFC 8949) that WebAuthn uses: definite-length integers, byte and
//! text strings, arrays, maps and simple values, as CTAP2's canonical encoding produces
//! them. Indefinite lengths, tags and floats are refused; nesting and lengths are bounded
//! by the input, so hostile input cannot make it allocate more than it sent or recurse
//! deeply.

/// A decoded CBOR item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer (major types 0 and 1).
    Int(i128),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A UTF-8 text string.
    Text(String),
    /// An array.
    Array(Vec<Value>),
    /// A map, in wire order.
    Map(Vec<(Value, Value)>),
    /// `true` or `false`.
    Bool(bool),
    /// `null` or `undefined`.
    Null,
}

impl Value {
    /// The value under `key` in a map.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value under the text key `key`.
    pub fn get_text(&self, key: &str) -> Option<&Value> {
        self.get(&Value::Text(key.to_owned()))
    }

    /// The value under the integer key `key` (COSE labels).
    pub fn get_int(&self, key: i128) -> Option<&Value> {
        self.get(&Value::Int(key))
    }

    /// The bytes of a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The integer.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// Input that is not the CBOR WebAuthn sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed CBOR: {0}")]
pub struct CborError(&'static str);

const MAX_DEPTH: usize = 8;

/// Decodes one item from the start of `input`; returns it and how many bytes it took.
pub fn decode_prefix(input: &[u8]) -> Result<(Value, usize), CborError> {
    let mut reader = Reader { input, at: 0 };
    let value = reader.item(0)?;
    Ok((value, reader.at))
}

/// Decodes exactly one item that fills `input`.
pub fn decode(input: &[u8]) -> Result<Value, CborError> {
    let (value, used) = decode_prefix(input)?;
    if used == input.len() {
        Ok(value)
    } else {
        Err(CborError("trailing bytes"))
    }
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self.input.get(self.at).ok_or(CborError("truncated"))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&[u8], CborError> {
        let n = usize::try_from(n).map_err(|_| CborError("length too large"))?;
        let end = self.at.checked_add(n).ok_or(CborError("length too large"))?;
        let slice = self.input.get(self.at..end).ok_or(CborError("truncated"))?;
        self.at = end;
        Ok(slice)
    }

    /// The argument of an item head (RFC 8949 §3): the count, length or value.
    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Err(CborError("indefinite length")),
            _ => return Err(CborError("reserved additional information")),
        };
        let bytes = self.take(width)?;
        Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// A count of items still to read, bounded by the bytes left (each item takes one).
    fn count(&mut self, info: u8, per_item: usize) -> Result<usize, CborError> {
        let n = self.argument(info)?;
        let left = (self.input.len() - self.at.min(self.input.len())) / per_item;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= left)
            .ok_or(CborError("more items than bytes"))
    }

    fn item(&mut self, depth: usize) -> Result<Value, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError("nested too deeply"));
        }
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 0x1f);
        match major {
            0 => Ok(Value::Int(i128::from(self.argument(info)?))),
            1 => Ok(Value::Int(-1 - i128::from(self.argument(info)?))),
            2 => {
                let n = self.argument(info)?;
                Ok(Value::Bytes(self.take(n)?.to_vec()))
            }
            3 => {
                let n = self.argument(info)?;
                let bytes = self.take(n)?.to_vec();
                String::from_utf8(bytes)
                    .map(Value::Text)
                    .map_err(|_| CborError("text is not UTF-8"))
            }
            4 => {
                let n = self.count(info, 1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.item(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            5 => {
                let n = self.count(info, 2)?;
                let mut entries: Vec<(Value, Value)> = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = self.item(depth + 1)?;
                    let value = self.item(depth + 1)?;
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(CborError("duplicate map key"));
                    }
                    entries.push((key, value));
                }
                Ok(Value::Map(entries))
            }
            6 => Err(CborError("tags are not used here")),
            _ => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 | 23 => Ok(Value::Null),
                _ => Err(CborError("floats and other simple values are not used here")),
            },
        }
    }
}

/// Encoding, for the software authenticator the tests use.
#[cfg(any(test, feature = "testing"))]
pub fn encode(value: &Value) -> Vec<u8> {
    fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let major = major << 5;
        match n {
            0..=23 => out.push(major | n as u8),
            24..=0xff => out.extend([major | 24, n as u8]),
            0x100..=0xffff => {
                out.push(major | 25);
                out.extend((n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(major | 26);
                out.extend((n as u32).to_be_bytes());
            }
            _ => {
                out.push(major | 27);
                out.extend(n.to_be_bytes());
            }
        }
    }
    fn walk(out: &mut Vec<u8>, value: &Value) {
        match value {
            Value::Int(i) if *i >= 0 => head(out, 0, *i as u64),
            Value::Int(i) => head(out, 1, (-1 - *i) as u64),
            Value::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend(b);
            }
            Value::Text(t) => {
                head(out, 3, t.len() as u64);
                out.extend(t.as_bytes());
            }
            Value::Array(items) => {
                head(out, 4, items.len() as u64);
                items.iter().for_each(|i| walk(out, i));
            }
            Value::Map(entries) => {
                head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    walk(out, k);
                    walk(out, v);
                }
            }
            Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
            Value::Null => out.push(0xf6),
        }
    }
    let mut out = Vec::new();
    walk(&mut out, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_8949_appendix_a_examples() {
        let cases: &[(&[u8], Value)] = &[
            (&[0x00], Value::Int(0)),
            (&[0x17], Value::Int(23)),
            (&[0x18, 0x18], Value::Int(24)),
            (&[0x19, 0x03, 0xe8], Value::Int(1000)),
            (
                &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Value::Int(u64::MAX.into()),
            ),
            (&[0x20], Value::Int(-1)),
            (&[0x38, 0x63], Value::Int(-100)),
            (&[0x40], Value::Bytes(vec![])),
            (&[0x44, 1, 2, 3, 4], Value::Bytes(vec![1, 2, 3, 4])),
            (&[0x61, 0x61], Value::Text("a".into())),
            (&[0x62, 0xc3, 0xbc], Value::Text("ü".into())),
            (
                &[0x83, 1, 2, 3],
                Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            ),
            (
                &[0xa2, 0x01, 0x02, 0x03, 0x04],
                Value::Map(vec![
                    (Value::Int(1), Value::Int(2)),
                    (Value::Int(3), Value::Int(4)),
                ]),
            ),
            (&[0xf4], Value::Bool(false)),
            (&[0xf5], Value::Bool(true)),
            (&[0xf6], Value::Null),
        ];
        for (bytes, expected) in cases {
            assert_eq!(decode(bytes).as_ref(), Ok(expected), "{bytes:02x?}");
            assert_eq!(encode(expected), *bytes, "{expected:?}");
        }
    }

    #[test]
    fn refuses_what_webauthn_never_sends() {
        for bad in [
            &[0x5f, 0x41, 0x00, 0xff][..],                           // indefinite byte string
            &[0x9f, 0x01, 0xff],                                     // indefinite array
            &[0xc1, 0x1a, 0, 0, 0, 0],                               // a tag
            &[0xf9, 0x3c, 0x00],                                     // a half float
            &[0x44, 1, 2],                                           // truncated
            &[0x62, 0xff, 0xfe],                                     // bad UTF-8
            &[0xa2, 0x01, 0x02, 0x01, 0x03],                         // duplicate key
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // 2^64 items
            &[0x01, 0x02],                                           // trailing bytes
            &[],
        ] {
            assert!(decode(bad).is_err(), "{bad:02x?}");
        }
        let deep: Vec<u8> = std::iter::repeat_n(0x81, 50).chain([0x00]).collect();
        assert!(decode(&deep).is_err());
    }

    #[test]
    fn prefix_reports_what_it_used() {
        assert_eq!(decode_prefix(&[0x01, 0xff]), Ok((Value::Int(1), 1)));
    }
}
