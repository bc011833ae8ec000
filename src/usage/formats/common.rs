//! Reading helpers every format shares: counts, money, times, labels, HTTP status and provider names.

use std::borrow::Cow;

use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::json::{self, count, kind, Kind, Obj, Raw};
use crate::prices::calendar::{parse_instant, FIRST_INSTANT, LAST_INSTANT};
use crate::prices::units::{self, N_UNITS};
use crate::usage::record::Meta;
use crate::usage::Usage;

pub(crate) fn err(message: impl Into<String>) -> Error {
    Error::UsageFormat(message.into())
}

/// Gateway and SDK provider names as the price book names providers.
/// The provider named at `key` (normalized; one allocation).
pub(crate) fn provider_at(o: &Obj<'_>, key: &str) -> Option<String> {
    o.str(key).filter(|p| !p.is_empty()).map(|p| normalize_provider(&p))
}

pub fn normalize_provider(name: &str) -> String {
    provider_id(name).into_owned()
}

/// [`normalize_provider`] without allocating when the name is already the book's (`openai`, `anthropic`).
pub fn provider_id(name: &str) -> Cow<'_, str> {
    let trimmed = name.trim();
    let lower = if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    };
    let id = match lower.as_ref() {
        "google-ai-studio" | "google-vertex-ai" | "vertex_ai" | "vertex" | "gemini" | "google_genai" | "gcp.gemini"
        | "gcp.vertex_ai" | "gcp.gen_ai" | "vertex_ai_beta" => "google",
        "aws-bedrock" | "bedrock" | "aws.bedrock" | "bedrock_converse" => "aws",
        "azure-openai" | "azure_openai" | "azure.ai.openai" | "azure_ai" | "az.ai.openai" => "azure",
        "workers-ai" | "workers_ai" | "cloudflare_workers_ai" => "cloudflare",
        "grok" | "xai" | "x.ai" | "x_ai" => "x-ai",
        "mistralai" | "mistral_ai" => "mistral",
        "together_ai" | "together-ai" | "togetherai" => "together",
        "fireworks_ai" | "fireworks-ai" => "fireworks",
        "perplexity-ai" | "perplexityai" => "perplexity",
        "deepseek-ai" => "deepseek",
        _ => return lower,
    };
    Cow::Borrowed(id)
}

// ---------------------------------------------------------------------------------------------------------------
// Reading counts

/// Counts being gathered, with the path of the object they come from (for errors).
pub(crate) struct Counts {
    pub(crate) c: [u64; N_UNITS],
}

impl Counts {
    pub(crate) fn new() -> Self {
        Counts { c: Usage::default().counts }
    }

    pub(crate) fn set(&mut self, unit: usize, v: u64) {
        self.c[unit] = v;
    }

    pub(crate) fn usage(&self) -> Usage {
        Usage { counts: self.c }
    }
}

pub(crate) fn unit(field: &str) -> usize {
    units::unit_of_usage_field(field).expect("a usage field of the unit table")
}

/// A count at `key` of `o` (0 when absent or null); the error names `path.key`.
pub(crate) fn n(o: &Obj<'_>, path: &str, key: &str) -> Result<u64> {
    Ok(opt(o, path, key)?.unwrap_or(0))
}

pub(crate) fn opt(o: &Obj<'_>, path: &str, key: &str) -> Result<Option<u64>> {
    match o.get(key) {
        None => Ok(None),
        Some(raw) => count(raw).map_err(|e| err(format!("{}{key}: {e}", dotted(path)))),
    }
}

pub(crate) fn dotted(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    }
}

/// Sum of parts, the whole checked: `sum` would overflow only on absurd inputs.
pub(crate) fn add(a: u64, b: u64, what: &str) -> Result<u64> {
    a.checked_add(b).ok_or_else(|| err(format!("{what}: the counts add up to more than 2^64")))
}

pub(crate) fn text(o: &Obj<'_>, key: &str) -> Option<String> {
    o.str(key).map(|s| s.into_owned()).filter(|s| !s.is_empty())
}

/// A decimal at `key` (a number, or a number written as a string).
pub(crate) fn money(o: &Obj<'_>, key: &str) -> Result<Option<Decimal>> {
    match o.present(key) {
        Some(raw) => money_value(raw, key).map(Some),
        None => Ok(None),
    }
}

/// A reported cost (not null), to 18 places; the error names `key`.
pub(crate) fn money_value(raw: Raw<'_>, key: &str) -> Result<Decimal> {
    let Some(t) = json::number_text(raw) else {
        return Err(err(format!("{key}: {} is not a number", json::excerpt(raw.get(), 40))));
    };
    let d = json::decimal(&t).map(to_money_scale).ok_or_else(|| err(format!("{key}: {t} is not a decimal number")))?;
    // An amount column holds it, or it would be lost (shown as null, left out of sums).
    match crate::money::amount_of(d) {
        Some(_) => Ok(d),
        None => Err(err(format!("{key}: {t} is 10^20 or more, past what an amount column holds (decimal128(38, 18))"))),
    }
}

/// A duration at `key` in milliseconds: the source's number (or numeric string), given in units of `unit_ms`
/// milliseconds (1 for milliseconds, 1000 for seconds), multiplied exactly. Not a number, negative or too large:
/// an error.
pub(crate) fn duration_ms(o: &Obj<'_>, key: &str, unit_ms: u32) -> Result<Option<Decimal>> {
    match money(o, key)? {
        Some(d) => milliseconds(d, unit_ms).map(Some).map_err(|why| err(format!("{key}: {d} {why}"))),
        None => Ok(None),
    }
}

/// `d` units of `unit_ms` milliseconds, in milliseconds (exact, at most 18 places); why not, otherwise.
pub(crate) fn milliseconds(d: Decimal, unit_ms: u32) -> std::result::Result<Decimal, &'static str> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err("is a negative duration");
    }
    let ms = d.checked_mul(Decimal::from(unit_ms)).ok_or("is too large a duration")?;
    crate::money::amount_of(ms).ok_or("is too large a duration")?;
    Ok(ms.normalize())
}

/// Money is kept to 18 decimal places (10^-18 USD, the scale of every cost tokenprice computes), rounded half to
/// even: a reported cost with more places is rounded there, once.
pub fn to_money_scale(d: Decimal) -> Decimal {
    if d.scale() > 18 {
        d.round_dp_with_strategy(18, rust_decimal::RoundingStrategy::MidpointNearestEven)
    } else {
        d
    }
}

/// A time: an ISO 8601 string, or seconds / milliseconds / microseconds / nanoseconds since the epoch (told
/// apart by size).
pub(crate) fn time(o: &Obj<'_>, key: &str) -> Result<Option<i64>> {
    let Some(raw) = o.present(key) else { return Ok(None) };
    time_value(raw).map_err(|e| err(format!("{key}: {e}")))
}

pub(crate) fn time_value(raw: Raw<'_>) -> std::result::Result<Option<i64>, String> {
    let at = if kind(raw) == Kind::String {
        let s = json::string(raw).unwrap_or_default();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            epoch(&s)?
        } else {
            parse_instant(&s)?
        }
    } else {
        match json::number_text(raw) {
            Some(t) => epoch(&t)?,
            None => return Err(format!("{} is not a time", json::excerpt(raw.get(), 40))),
        }
    };
    // A priced line's time must become a Python `datetime` (`.table`, `write`, `reconcile`).
    if !(FIRST_INSTANT..=LAST_INSTANT).contains(&at) {
        return Err(format!(
            "{} is outside the years 1 to 9999 (the times Python and Arrow tables can hold)",
            json::excerpt(raw.get(), 40)
        ));
    }
    Ok(Some(at))
}

pub(crate) fn epoch(t: &str) -> std::result::Result<i64, String> {
    let d = json::decimal(t).ok_or_else(|| format!("{t} is not a time"))?;
    let abs = d.abs();
    let scale = if abs < Decimal::from(100_000_000_000i64) {
        Decimal::from(1_000_000) // seconds
    } else if abs < Decimal::from(100_000_000_000_000i64) {
        Decimal::from(1000) // milliseconds
    } else if abs < Decimal::from(100_000_000_000_000_000i64) {
        Decimal::ONE // microseconds
    } else {
        Decimal::new(1, 3) // nanoseconds
    };
    use rust_decimal::prelude::ToPrimitive;
    let outside = || format!("{t} is outside the years 1 to 9999 (the times Python and Arrow tables can hold)");
    d.checked_mul(scale).and_then(|v| v.trunc().to_i64()).ok_or_else(outside)
}

/// Flattens labels into `out`: nested objects as `a.b`, lists and other values as JSON text.
pub(crate) fn flatten_meta(prefix: &str, raw: Raw<'_>, out: &mut Vec<(String, Meta)>) {
    match kind(raw) {
        Kind::Object => {
            if let Some(o) = json::object(raw) {
                flatten_members(prefix, &o, out);
            }
        }
        Kind::Null => {}
        _ => {
            if let Some(v) = meta_value(raw) {
                out.retain(|(k, _)| k != prefix);
                out.push((prefix.to_string(), v));
            }
        }
    }
}

pub(crate) fn flatten_members(prefix: &str, o: &Obj<'_>, out: &mut Vec<(String, Meta)>) {
    for (k, v) in &o.members {
        // Scalars straight in (the common case: flat labels); objects flattened under their key.
        match kind(v) {
            Kind::Object | Kind::Null => flatten_meta(&meta_key(prefix, k), *v, out),
            _ => {
                if let Some(value) = meta_value(*v) {
                    // A repeated key: the last wins, in the last place.
                    let key = meta_key(prefix, k);
                    if out.iter().any(|(k, _)| *k == key) {
                        out.retain(|(k, _)| *k != key);
                    }
                    out.push((key, value));
                }
            }
        }
    }
}

pub(crate) fn meta_key(prefix: &str, k: &str) -> String {
    if prefix.is_empty() {
        k.to_string()
    } else {
        format!("{prefix}.{k}")
    }
}

pub(crate) fn meta_value(raw: Raw<'_>) -> Option<Meta> {
    match kind(raw) {
        Kind::String => json::string(raw).map(|s| Meta::Str(s.into_owned())),
        Kind::Bool => json::boolean(raw).map(Meta::Bool),
        Kind::Number => {
            let t = raw.get();
            t.parse::<i64>().map(Meta::Int).ok().or_else(|| t.parse::<f64>().ok().map(Meta::Float))
        }
        Kind::Array | Kind::Object => Some(Meta::Str(raw.get().to_string())),
        Kind::Null => None,
    }
}

/// A record's labels member `key`: an object, or a JSON string holding one (empty or null: no labels). Anything
/// else — text that is not JSON, an array, a bare string or number — is an error naming it, never labels dropped
/// without a trace.
pub(crate) fn labels_member(raw: Raw<'_>, key: &str, out: &mut Vec<(String, Meta)>) -> Result<()> {
    let bad = |what: &str| {
        err(format!(
            "{key}: {what} ({}); labels must be a JSON object or a string holding one",
            json::excerpt(raw.get(), 60)
        ))
    };
    match kind(raw) {
        Kind::Object | Kind::Null => flatten_meta("", raw, out),
        Kind::String => {
            let s = json::string(raw).ok_or_else(|| bad("a string with a bad escape"))?;
            let text = s.trim();
            if text.is_empty() {
                return Ok(());
            }
            // The usual case, a string holding an object, in one pass (it was unescaped and scanned twice: a
            // twentieth of pricing a Logpush line); otherwise the reason it is refused.
            if let Ok(o) = Obj::parse(text) {
                flatten_members("", &o, out);
                return Ok(());
            }
            match json::parse_raw(text) {
                // An object `Obj::parse` refuses (a key with a bad escape) gives no labels, as before.
                Ok(inner) if kind(inner) == Kind::Object => {}
                Ok(_) => return Err(bad("a string that holds JSON but not an object")),
                Err(e) => return Err(bad(&format!("a string that is not JSON: {e}"))),
            }
        }
        Kind::Array => return Err(bad("an array")),
        _ => return Err(bad("not an object")),
    }
    Ok(())
}

/// Metadata that may be an object or a JSON string holding one (Cloudflare's REST logs, LiteLLM spend logs).
pub(crate) fn meta_object(raw: Raw<'_>, prefix: &str, out: &mut Vec<(String, Meta)>) {
    if kind(raw) == Kind::String {
        let s = json::string(raw).unwrap_or_default();
        if s.trim_start().starts_with('{') {
            if let Ok(o) = Obj::parse(&s) {
                flatten_members(prefix, &o, out);
                return;
            }
        }
        if !prefix.is_empty() && !s.is_empty() {
            out.retain(|(k, _)| k != prefix);
            out.push((prefix.to_string(), Meta::Str(s.into_owned())));
        }
    } else {
        flatten_meta(prefix, raw, out);
    }
}

pub(crate) fn status_code(o: &Obj<'_>, key: &str) -> Option<u16> {
    o.present(key).and_then(status_code_value)
}

/// An HTTP status (not null): a number, or a number written as a string.
pub(crate) fn status_code_value(raw: Raw<'_>) -> Option<u16> {
    if kind(raw) == Kind::Number {
        return raw.get().parse::<u16>().ok(); // (a number's text has no spaces to trim)
    }
    json::number_text(raw).and_then(|t| t.trim().parse::<u16>().ok())
}

// ---------------------------------------------------------------------------------------------------------------
// What a record says about itself: encrypted bodies, and whether it carries usage

/// A body in an encrypted shape: Cloudflare Logpush writes `{"type": "encrypted", "data": …}`, with `key` and `iv`
/// when the dataset's public key wraps an AES key (`ai-gateway/observability/logging/logpush.mdx`).
pub(crate) fn is_encrypted(raw: Raw<'_>) -> bool {
    json::object(raw).is_some_and(|o| {
        o.str("type").is_some_and(|t| t.eq_ignore_ascii_case("encrypted"))
            || (o.has("iv") && o.has("data") && o.has("key"))
    })
}

/// Whether a record's counts are usage: some count was given and, for a failed request, some count is above zero
/// (a 429 logged with `prompt_tokens: 0` has no usage; a success with zeros is told apart by
/// [`no_usage_on_success`]).
pub(crate) fn usage_given(given: bool, status: crate::usage::record::Status, usage: &Usage) -> bool {
    given && (status == crate::usage::record::Status::Ok || !no_counts(usage))
}

/// A successful, uncached request whose source logged no token count (absent, null or every count 0): its cost
/// cannot be known from the record, so it is rejected with that reason rather than priced at $0 (cloudflare/ai#491,
/// cloudflare-docs#20536). `what` names the source's count fields.
pub(crate) fn no_usage_on_success(format: &str, what: &str) -> Error {
    err(format!(
        "{format}: a successful request with no usage: the source logged no token count ({what} absent, null or 0); \
         its cost cannot be read from this record (the gateway failed to parse the provider's usage?)"
    ))
}

/// Whether every priced count of `usage` is zero (the request count aside).
pub(crate) fn no_counts(usage: &Usage) -> bool {
    usage.counts.iter().enumerate().all(|(i, &c)| i == units::REQUESTS || c == 0)
}

/// A list of strings: a JSON array, or JSON text holding one (LiteLLM's spend logs store `request_tags` as text).
pub(crate) fn string_list(raw: Raw<'_>, key: &str) -> Result<Vec<String>> {
    let owned;
    let list = match kind(raw) {
        Kind::Array => raw,
        Kind::String => {
            owned = json::string(raw).unwrap_or_default();
            if owned.trim().is_empty() {
                return Ok(Vec::new());
            }
            json::parse_raw(owned.trim()).ok().filter(|r| kind(*r) == Kind::Array).ok_or_else(|| {
                err(format!(
                    "{key}: {} is not a list of strings (nor JSON text holding one)",
                    json::excerpt(raw.get(), 60)
                ))
            })?
        }
        Kind::Null => return Ok(Vec::new()),
        _ => return Err(err(format!("{key}: {} is not a list of strings", json::excerpt(raw.get(), 60)))),
    };
    Ok(json::array(list).unwrap_or_default().iter().filter_map(|t| json::string(*t).map(|s| s.into_owned())).collect())
}
