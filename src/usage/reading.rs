//! What `price(x)` reads `x` as, by one rule: an object whose keys are all usage fields is a usage (the price
//! book's rule: input includes cache); an object, list of chunks or SSE text that a format recognises is a response,
//! read by its provider's rule (Anthropic's `input_tokens` leaves the cache out). When both readings apply and
//! give different counts, nothing is guessed: the error names both.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::prices::units::UNITS;
use crate::usage::formats::extract_bytes;
use crate::usage::{unit_of_field, GivenCount, Hints, Status, Usage, UsageRecord};

/// The one reading of a value given to `price`.
#[derive(Debug)]
pub enum Reading {
    Usage(Usage),
    Response(Box<UsageRecord>),
}

/// The usage fields of `usage` that are not their default, as `name=count` (for messages).
pub fn describe(usage: &Usage) -> String {
    let default = Usage::default();
    let parts: Vec<String> = UNITS
        .iter()
        .enumerate()
        .filter(|(u, _)| usage.counts[*u] != default.counts[*u])
        .map(|(u, unit)| format!("{}={}", unit.usage_field, usage.counts[u]))
        .collect();
    parts.join(", ")
}

fn given(v: &Value) -> GivenCount {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => GivenCount::Int(i as i128),
            (_, Some(u), _) => GivenCount::Int(u as i128),
            (_, _, Some(f)) => GivenCount::Float(f),
            _ => GivenCount::NotANumber { type_name: "number".into(), text: n.to_string() },
        },
        other => {
            let type_name = match other {
                Value::Null => "null",
                Value::Bool(_) => "bool",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                _ => "object",
            };
            GivenCount::NotANumber { type_name: type_name.into(), text: other.to_string() }
        }
    }
}

/// Whether every key is a usage field (then an object is read as usage, as well as by the formats).
pub fn all_usage_fields<'a>(mut keys: impl Iterator<Item = &'a str>) -> bool {
    keys.all(|k| unit_of_field(k).is_ok())
}

/// The usage reading of a JSON value: `None` when it is not an object whose keys are all usage fields.
fn as_usage(value: &Value) -> Option<Result<Usage>> {
    let obj = value.as_object().filter(|o| !o.is_empty())?;
    if !all_usage_fields(obj.keys().map(String::as_str)) {
        return None;
    }
    let fields: Vec<(&str, GivenCount)> = obj.iter().map(|(k, v)| (k.as_str(), given(v))).collect();
    Some(Usage::from_given_fields(&fields))
}

/// A response read for pricing: one that reports no usage (a stream without its final usage chunk) cannot be
/// priced, and saying so beats a cost of zero.
fn priceable(rec: UsageRecord) -> Result<UsageRecord> {
    if !rec.has_usage && rec.status == Status::Ok {
        return Err(Error::UsageFormat(format!(
            "the {} response reports no usage, so it cannot be priced (a stream needs its final usage chunk: \
             stream_options={{\"include_usage\": true}} for OpenAI chat)",
            rec.format
        )));
    }
    Ok(rec)
}

/// Reads JSON text (`bytes`) given to `price` by the rule in the module comment.
pub fn read_priceable(bytes: &[u8], hints: &Hints) -> Result<Reading> {
    read_priceable_as(bytes, None, hints)
}

/// [`read_priceable`] with the usage reading already made by the caller (`as_usage_fields`: from a dict whose keys
/// are all usage fields, with the caller's own checks of each count), else made from the text.
pub fn read_priceable_as(bytes: &[u8], as_usage_fields: Option<Usage>, hints: &Hints) -> Result<Reading> {
    // The lazy scanner says whether every top-level key is a usage field; only then is the text parsed for the
    // usage reading (a response's keys never are, and parsing it twice would double the cost of `price`).
    let candidate = as_usage_fields.is_none()
        && std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| crate::json::Obj::parse(t.trim()).ok())
            .is_some_and(|o| all_usage_fields(o.members.iter().map(|(k, _)| k.as_ref())));
    let value: Option<Value> = if candidate { serde_json::from_slice(bytes).ok() } else { None };
    let usage = match as_usage_fields {
        Some(u) => Some(Ok(u)),
        None => value.as_ref().and_then(as_usage),
    };
    let response = extract_bytes(bytes, hints);
    match (usage, response) {
        (Some(Ok(u)), Err(_)) => Ok(Reading::Usage(u)),
        (Some(Ok(u)), Ok(rec)) if rec.usage == u && rec.parts.is_empty() => Ok(Reading::Response(Box::new(rec))),
        (Some(Ok(u)), Ok(rec)) => Err(Error::UsageFormat(format!(
            "this value reads two ways with different counts: as usage fields ({}) and as a {} response ({}); \
             pass tokenprice.Usage(**value) for the first, or extract_usage(value, format={:?}) for the second",
            describe(&u),
            rec.format,
            describe(&rec.usage),
            rec.format
        ))),
        (Some(Err(e)), Err(_)) => Err(e),
        (_, Ok(rec)) => Ok(Reading::Response(Box::new(priceable(rec)?))),
        (None, Err(e)) => {
            let fields = UNITS.iter().map(|u| u.usage_field).collect::<Vec<_>>().join(", ");
            let value = value.or_else(|| serde_json::from_slice(bytes).ok());
            let keys = match &value {
                Some(Value::Object(o)) => {
                    let not: Vec<&str> = o.keys().map(String::as_str).filter(|k| unit_of_field(k).is_err()).collect();
                    format!("its keys {not:?} are not usage fields ({fields})")
                }
                _ => "it is not an object of usage fields".to_string(),
            };
            Err(Error::UsageFormat(format!(
                "price() reads a Usage, keyword counts, or a response; this value is neither: as usage, {keys}; as \
                 a response, {}",
                e.to_string().trim_start_matches("usage record: ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Reading> {
        read_priceable(text.as_bytes(), &Hints::default())
    }

    #[test]
    fn usage_fields_are_usage_and_responses_follow_their_provider() {
        let Reading::Usage(u) = read(r#"{"input_tokens": 100, "cache_read_tokens": 40}"#).unwrap() else {
            panic!("usage fields are a usage")
        };
        assert_eq!((u.input_tokens(), u.get("cache_read_tokens")), (100, Some(40)));
        let anthropic = r#"{"type": "message", "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 100, "cache_read_input_tokens": 40, "output_tokens": 5}}"#;
        let Reading::Response(rec) = read(anthropic).unwrap() else { panic!("a response") };
        assert_eq!(rec.usage.input_tokens(), 140, "Anthropic's input_tokens leaves the cache out");
    }

    #[test]
    fn neither_reading_names_both() {
        let err = read(r#"{"prompt_tokens": 10}"#).unwrap_err().to_string();
        assert!(err.contains("as usage") && err.contains("as a response") && err.contains("prompt_tokens"), "{err}");
    }

    #[test]
    fn a_response_without_usage_is_not_priced_at_zero() {
        let err = read(r#"{"object": "chat.completion", "model": "gpt-4o", "choices": []}"#);
        assert!(err.is_err(), "{err:?}");
    }
}
