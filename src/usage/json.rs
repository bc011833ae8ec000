//! A lazy view of JSON text for usage extraction: an object is parsed one level deep into (key, raw value) pairs
//! that borrow the text, and a value is only parsed when a reader asks for it. Response bodies are mostly message
//! text the extractor never needs; skipping it unparsed is what makes extraction fast. Numbers are read from their
//! own text, so a reported cost such as `0.0018345` becomes an exact decimal without passing through a float.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON value not yet parsed.
pub type Raw<'a> = &'a RawValue;

/// An object's members in document order, values unparsed. Duplicate keys: the last one wins (as in `json.loads`).
#[derive(Debug, Default)]
pub struct Obj<'a> {
    pub members: Vec<(Cow<'a, str>, Raw<'a>)>,
}

/// A key, borrowed from the text unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Obj<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Obj<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    members.push((k.0, v));
                }
                Ok(Obj { members })
            }
        }
        d.deserialize_map(V)
    }
}

/// An array's elements, unparsed.
pub struct Arr<'a>(pub Vec<Raw<'a>>);

impl<'de> Deserialize<'de> for Arr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Arr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(v) = seq.next_element::<&'de RawValue>()? {
                    items.push(v);
                }
                Ok(Arr(items))
            }
        }
        d.deserialize_seq(V)
    }
}

/// The kind of a raw value, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

pub fn kind(raw: Raw<'_>) -> Kind {
    match raw.get().as_bytes().first() {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'n') | None => Kind::Null,
        _ => Kind::Number,
    }
}

/// Parses a whole document as raw JSON (checks that it is well formed).
pub fn parse_raw(text: &str) -> Result<Raw<'_>, serde_json::Error> {
    serde_json::from_str(text)
}

pub fn object(raw: Raw<'_>) -> Option<Obj<'_>> {
    (kind(raw) == Kind::Object).then(|| serde_json::from_str(raw.get()).ok()).flatten()
}

pub fn array(raw: Raw<'_>) -> Option<Vec<Raw<'_>>> {
    (kind(raw) == Kind::Array).then(|| serde_json::from_str::<Arr<'_>>(raw.get()).ok().map(|a| a.0)).flatten()
}

pub fn string(raw: Raw<'_>) -> Option<Cow<'_, str>> {
    if kind(raw) != Kind::String {
        return None;
    }
    let text = raw.get();
    let inner = &text[1..text.len() - 1];
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

pub fn boolean(raw: Raw<'_>) -> Option<bool> {
    match raw.get() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A number's own text (also a number written as a string, as OTLP JSON writes 64-bit integers).
pub fn number_text(raw: Raw<'_>) -> Option<Cow<'_, str>> {
    match kind(raw) {
        Kind::Number => Some(Cow::Borrowed(raw.get())),
        Kind::String => string(raw).filter(|s| {
            let s = s.trim();
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        }),
        _ => None,
    }
}

/// Why a count could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum CountError {
    Negative(String),
    NotWhole(String),
    NotANumber(String),
}

impl fmt::Display for CountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CountError::Negative(t) => write!(f, "{t} is negative"),
            CountError::NotWhole(t) => write!(f, "{t} is not a whole number"),
            CountError::NotANumber(t) => write!(f, "{t} is not a number"),
        }
    }
}

/// A token count: a non-negative whole number (`12`, `12.0`, `"12"`); `null` reads as absent.
pub fn count(raw: Raw<'_>) -> Result<Option<u64>, CountError> {
    if kind(raw) == Kind::Null {
        return Ok(None);
    }
    let excerpt = || excerpt(raw.get(), 40);
    let Some(text) = number_text(raw) else {
        return Err(CountError::NotANumber(excerpt()));
    };
    let text = text.trim();
    if let Ok(v) = text.parse::<u64>() {
        return Ok(Some(v));
    }
    if text.starts_with('-') && text.parse::<f64>().is_ok_and(|v| v < 0.0) {
        return Err(CountError::Negative(excerpt()));
    }
    match decimal(text) {
        Some(d) if d.fract().is_zero() && d >= Decimal::ZERO => {
            use rust_decimal::prelude::ToPrimitive;
            d.to_u64().map(Some).ok_or_else(|| CountError::NotWhole(excerpt()))
        }
        Some(_) => Err(CountError::NotWhole(excerpt())),
        None => Err(CountError::NotANumber(excerpt())),
    }
}

/// An exact decimal from a number's text (`0.0018345`, `6e-05`).
pub fn decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str(text).ok()
    }
}

/// The start of a text, for error messages.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl<'a> Obj<'a> {
    pub fn parse(text: &'a str) -> Result<Obj<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn get(&self, key: &str) -> Option<Raw<'a>> {
        self.members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    pub fn has(&self, key: &str) -> bool {
        self.members.iter().any(|(k, _)| k == key)
    }

    /// A member that is present and not null.
    pub fn present(&self, key: &str) -> Option<Raw<'a>> {
        self.get(key).filter(|v| kind(v) != Kind::Null)
    }

    pub fn obj(&self, key: &str) -> Option<Obj<'a>> {
        self.get(key).and_then(object)
    }

    pub fn arr(&self, key: &str) -> Option<Vec<Raw<'a>>> {
        self.get(key).and_then(array)
    }

    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key).and_then(string)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(boolean)
    }

    /// The first of several keys that is present, with the key.
    pub fn first_of(&self, keys: &[&'static str]) -> Option<(&'static str, Raw<'a>)> {
        keys.iter().find_map(|k| self.present(k).map(|v| (*k, v)))
    }

    pub fn keys(&self) -> Vec<&str> {
        self.members.iter().map(|(k, _)| k.as_ref()).collect()
    }
}
