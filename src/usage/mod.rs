//! `Usage`: what one request (or a sum of requests) consumed, by the price book's rule.
//!
//! The rule: `input_tokens` is the whole prompt, including cache reads, cache writes, audio, image and video input
//! (OpenAI's convention); `output_tokens` is the whole output, including reasoning, audio, image, video and
//! citation tokens. Every other token count is a part of one of those totals. `cache_write_tokens` are 5-minute
//! cache writes and `cache_write_1h_tokens` 1-hour ones (Anthropic's two TTLs); the two are disjoint.
//! Sources that report input without cache tokens (Anthropic, Bedrock) are converted before they get here.

pub mod batch;
pub mod formats;
pub mod reading;
pub mod record;
pub mod stream;

pub use record::{Extras, Hints, Meta, Status, TextToCount, UsageRecord, UsageSource};

use crate::error::{Error, Result};
use crate::prices::units::{self, CACHE_WRITE, CACHE_WRITE_1H, INPUT, N_UNITS, OUTPUT, REQUESTS, UNITS};

/// Counts by unit, in the order of [`units::UNITS`]. `counts[CACHE_WRITE]` holds the 5-minute writes only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Usage {
    pub counts: [u64; N_UNITS],
}

impl Default for Usage {
    /// Nothing used, one request.
    fn default() -> Self {
        let mut counts = [0; N_UNITS];
        counts[REQUESTS] = 1;
        Usage { counts }
    }
}

/// The largest count a `Usage` field holds.
pub const MAX_COUNT: u64 = u64::MAX;

fn count_overflow(field: &str, what: String) -> Error {
    Error::InvalidUsage {
        field: field.to_string(),
        message: format!("{what} is more than {MAX_COUNT}, the largest count"),
    }
}

/// A count given as a whole number of any size (Python ints): never negative, at most `MAX_COUNT`.
pub fn count_from_int(field: &str, n: i128) -> Result<u64> {
    if n < 0 {
        return Err(Error::InvalidUsage {
            field: field.to_string(),
            message: format!("{n} is negative (counts are never negative)"),
        });
    }
    u64::try_from(n).map_err(|_| count_overflow(field, n.to_string()))
}

/// A count given as a float (pandas, JSON numbers): finite, whole, not negative, at most `MAX_COUNT`.
pub fn count_from_float(field: &str, f: f64) -> Result<u64> {
    let bad = |why: &str| Error::InvalidUsage { field: field.to_string(), message: format!("{f} {why}") };
    if f.is_nan() {
        return Err(bad("is not a number (a missing count is not read as 0)"));
    }
    if f < 0.0 {
        return Err(bad("is negative (counts are never negative)"));
    }
    if f.is_infinite() || f >= 18_446_744_073_709_551_616.0 {
        return Err(count_overflow(field, f.to_string()));
    }
    if f.fract() != 0.0 {
        return Err(bad("is not a whole number"));
    }
    Ok(f as u64)
}

/// The field names of `Usage`, in order.
pub fn field_names() -> impl Iterator<Item = &'static str> {
    UNITS.iter().map(|u| u.usage_field)
}

impl Usage {
    /// A usage from (field, count) pairs; fields not given are 0, `requests` defaults to 1. Checks it.
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, u64)>) -> Result<Usage> {
        let mut usage = Usage::default();
        for (name, value) in fields {
            let unit = unit_of_field(name)?;
            usage.counts[unit] = value;
        }
        usage.validate()?;
        Ok(usage)
    }

    pub fn get(&self, field: &str) -> Option<u64> {
        units::unit_of_usage_field(field).map(|u| self.counts[u])
    }

    pub fn input_tokens(&self) -> u64 {
        self.counts[INPUT]
    }

    pub fn output_tokens(&self) -> u64 {
        self.counts[OUTPUT]
    }

    /// Checks that every part fits in its total. On the hot path of table pricing: no allocation unless invalid.
    #[inline]
    pub fn validate(&self) -> Result<()> {
        let c = &self.counts;
        for (u, whole) in units::WHOLE_OF.iter().enumerate() {
            if let Some(w) = whole {
                if c[u] > c[*w] {
                    return Err(self.too_big(UNITS[u].usage_field.to_string(), c[u], *w));
                }
            }
        }
        let cached = c[units::CACHE_READ] as u128 + c[CACHE_WRITE] as u128 + c[CACHE_WRITE_1H] as u128;
        if cached > c[INPUT] as u128 {
            return Err(self.too_big(
                "cache_read_tokens + cache_write_tokens + cache_write_1h_tokens".into(),
                cached.min(u64::MAX as u128) as u64,
                INPUT,
            ));
        }
        // Cached audio and image input are parts of both the cache reads and the audio/image input.
        for (part, wholes) in [
            (units::CACHE_AUDIO_READ, [units::CACHE_READ, units::INPUT_AUDIO]),
            (units::CACHE_IMAGE_READ, [units::CACHE_READ, units::INPUT_IMAGE]),
        ] {
            for w in wholes {
                if c[part] > c[w] {
                    return Err(self.too_big(UNITS[part].usage_field.to_string(), c[part], w));
                }
            }
        }
        Ok(())
    }

    fn too_big(&self, part: String, value: u64, whole: usize) -> Error {
        let name = UNITS[whole].usage_field;
        Error::InvalidUsage {
            field: part.clone(),
            message: format!(
                "{part} = {value} is more than {name} = {}; {part} is a part of {name}",
                self.counts[whole]
            ),
        }
    }

    /// Counts as the pricing units see them: the cache-write unit covers all writes (5-minute + 1-hour), of which
    /// the 1-hour unit is a part.
    pub fn unit_counts(&self) -> [u64; N_UNITS] {
        let mut c = self.counts;
        // Cannot overflow: `validate` keeps reads + both writes within `input_tokens`, a u64.
        c[CACHE_WRITE] = c[CACHE_WRITE].saturating_add(c[CACHE_WRITE_1H]);
        c
    }

    /// Adds another usage (for sums over steps or rows). A sum past `u64::MAX` is an error, never saturated.
    pub fn add(&mut self, other: &Usage) -> Result<()> {
        let mut sum = self.counts;
        for (u, (a, b)) in sum.iter_mut().zip(other.counts.iter()).enumerate() {
            *a = a.checked_add(*b).ok_or_else(|| count_overflow(UNITS[u].usage_field, format!("{a} + {b}")))?;
        }
        self.counts = sum;
        Ok(())
    }

    /// Makes the totals whole for a source that leaves parts out of them: input without cache reads and writes
    /// (Anthropic, Bedrock), output without reasoning tokens (Gemini's thoughts). A sum past `u64::MAX` is an
    /// error, never saturated.
    #[inline]
    pub fn add_left_out_parts(&mut self, input_excludes_cache: bool, output_excludes_reasoning: bool) -> Result<()> {
        let c = &mut self.counts;
        if input_excludes_cache {
            let sum =
                c[INPUT] as u128 + c[units::CACHE_READ] as u128 + c[CACHE_WRITE] as u128 + c[CACHE_WRITE_1H] as u128;
            c[INPUT] = u64::try_from(sum)
                .map_err(|_| count_overflow("input_tokens", format!("input + cache reads + cache writes = {sum}")))?;
        }
        if output_excludes_reasoning {
            let sum = c[OUTPUT] as u128 + c[units::REASONING] as u128;
            c[OUTPUT] = u64::try_from(sum)
                .map_err(|_| count_overflow("output_tokens", format!("output + reasoning = {sum}")))?;
        }
        Ok(())
    }
}

/// The unit of a usage field's name; an unknown name is an error listing the fields.
fn unit_of_field(name: &str) -> Result<usize> {
    units::unit_of_usage_field(name).ok_or_else(|| Error::InvalidUsage {
        field: name.to_string(),
        message: format!("not a usage field; fields are: {}", field_names().collect::<Vec<_>>().join(", ")),
    })
}

/// A count as a caller gave it (a Python int of any size, a float), before the checks of [`count_from_int`] and
/// [`count_from_float`].
#[derive(Clone, Debug, PartialEq)]
pub enum GivenCount {
    Int(i128),
    Float(f64),
    /// A whole number past `i128` either way, with its text.
    OutOfRange {
        negative: bool,
        text: String,
    },
    /// Not a number (text, `None`, a bool): its type's name and its text.
    NotANumber {
        type_name: String,
        text: String,
    },
}

impl GivenCount {
    /// The count, or an `InvalidUsage` error naming `field`.
    pub fn count(&self, field: &str) -> Result<u64> {
        match self {
            GivenCount::Int(n) => count_from_int(field, *n),
            GivenCount::Float(f) => count_from_float(field, *f),
            GivenCount::OutOfRange { negative: false, text } => Err(count_overflow(field, text.clone())),
            GivenCount::OutOfRange { negative: true, text } => Err(Error::InvalidUsage {
                field: field.to_string(),
                message: format!("{text} is negative (counts are never negative)"),
            }),
            GivenCount::NotANumber { type_name, text } => Err(Error::InvalidType(format!(
                "invalid usage: {field}: expected a whole number, got {type_name} {text}"
            ))),
        }
    }
}

impl Usage {
    /// A usage from (field, count as given) pairs, in order: each name checked (an unknown one lists the fields),
    /// each count converted (errors name the field), then the whole checked. Fields not given are 0, `requests` 1.
    pub fn from_given_fields(fields: &[(&str, GivenCount)]) -> Result<Usage> {
        let mut usage = Usage::default();
        for (name, given) in fields {
            let unit = unit_of_field(name)?;
            usage.counts[unit] = given.count(name)?;
        }
        usage.validate()?;
        Ok(usage)
    }
}

#[cfg(test)]
mod given_tests {
    use super::*;

    #[test]
    fn given_fields_are_named_converted_and_checked() {
        let u = Usage::from_given_fields(&[
            ("input_tokens", GivenCount::Int(10)),
            ("output_tokens", GivenCount::Float(3.0)),
        ])
        .unwrap();
        assert_eq!((u.input_tokens(), u.output_tokens(), u.counts[REQUESTS]), (10, 3, 1));
        let err = |fields: &[(&str, GivenCount)]| Usage::from_given_fields(fields).unwrap_err().to_string();
        let e = err(&[("input_tokns", GivenCount::Int(1))]);
        assert!(e.starts_with("invalid usage: input_tokns: not a usage field; fields are: input_tokens, "), "{e}");
        assert_eq!(
            err(&[("output_tokens", GivenCount::Int(-2))]),
            "invalid usage: output_tokens: -2 is negative (counts are never negative)"
        );
        assert!(err(&[("input_tokens", GivenCount::Float(1.5))]).contains("input_tokens: 1.5 is not a whole number"));
        let huge = GivenCount::OutOfRange { negative: false, text: "10**40".into() };
        assert_eq!(
            err(&[("input_tokens", huge)]),
            format!("invalid usage: input_tokens: 10**40 is more than {MAX_COUNT}, the largest count")
        );
        let tiny = GivenCount::OutOfRange { negative: true, text: "-10**40".into() };
        assert!(err(&[("requests", tiny)]).contains("requests: -10**40 is negative"));
        let text = GivenCount::NotANumber { type_name: "str".into(), text: "'7'".into() };
        let e = Usage::from_given_fields(&[("input_tokens", text.clone())]).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidType(m) if m == "invalid usage: input_tokens: expected a whole number, got str '7'")
        );
        // Names are checked in order, before the count beside them.
        let e = err(&[("nope", text)]);
        assert!(e.contains("nope: not a usage field"), "{e}");
        // The whole is checked too: a part above its total.
        let e = err(&[("input_tokens", GivenCount::Int(1)), ("cache_read_tokens", GivenCount::Int(2))]);
        assert!(e.contains("cache_read_tokens = 2 is more than input_tokens = 1"), "{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_fields() {
        let u = Usage::from_fields([("input_tokens", 100), ("output_tokens", 20)]).unwrap();
        assert_eq!(u.get("requests"), Some(1));
        assert_eq!(u.get("web_searches"), Some(0));
        assert_eq!(u.input_tokens(), 100);
        let err = Usage::from_fields([("inputs", 1)]).unwrap_err();
        assert!(
            err.to_string().contains("\"inputs\"") || err.to_string().contains("inputs: not a usage field"),
            "{err}"
        );
    }

    #[test]
    fn parts_cannot_exceed_totals() {
        let err = Usage::from_fields([("input_tokens", 10), ("cache_read_tokens", 11)]).unwrap_err();
        assert_eq!(err.to_string(), "invalid usage: cache_read_tokens: cache_read_tokens = 11 is more than input_tokens = 10; cache_read_tokens is a part of input_tokens");
        let err = Usage::from_fields([("output_tokens", 5), ("reasoning_tokens", 6)]).unwrap_err();
        assert!(err.to_string().contains("reasoning_tokens = 6 is more than output_tokens = 5"));
        let err = Usage::from_fields([("input_tokens", 10), ("cache_read_tokens", 6), ("cache_write_tokens", 5)])
            .unwrap_err();
        assert!(err.to_string().contains("cache_read_tokens + cache_write_tokens"), "{err}");
        let err = Usage::from_fields([
            ("input_tokens", 10),
            ("cache_read_tokens", 2),
            ("input_audio_tokens", 5),
            ("cache_audio_read_tokens", 3),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("cache_audio_read_tokens = 3 is more than cache_read_tokens = 2"), "{err}");
    }

    #[test]
    fn unit_counts_merge_cache_writes() {
        let u = Usage::from_fields([("input_tokens", 100), ("cache_write_tokens", 10), ("cache_write_1h_tokens", 5)])
            .unwrap();
        let c = u.unit_counts();
        assert_eq!((c[CACHE_WRITE], c[CACHE_WRITE_1H]), (15, 5));
    }
}
