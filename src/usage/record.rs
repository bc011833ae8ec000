//! The normalized record every usage reader produces: [`UsageRecord`], its labels ([`Meta`]), what the caller
//! knows ([`Hints`]) and what a record without usage says ([`TextToCount`]).

use rust_decimal::Decimal;

use super::formats::{format_names, generic};
use super::Usage;
use crate::error::{Error, Result};
use crate::prices::units::N_UNITS;
use crate::tokens::models::APPROXIMATION_ENCODING;

/// A metadata value: labels are strings, numbers or booleans.
#[derive(Clone, Debug, PartialEq)]
pub enum Meta {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// A label's text (as the table columns hold it).
impl std::fmt::Display for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Meta::Str(s) => f.write_str(s),
            Meta::Int(i) => write!(f, "{i}"),
            Meta::Float(x) => write!(f, "{x}"),
            Meta::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// How a request ended, as a record says (and, for a row of `extract_usages`' table, whether it could be read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Status {
    /// The request succeeded.
    #[default]
    Ok,
    /// The request failed (kept, with zero usage unless the source reports some).
    Error,
    /// The record could not be read (a row of `extract_usages`' table only; the row's `error` says why).
    Rejected,
}

impl Status {
    /// The status as the table columns and Python hold it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Rejected => "rejected",
        }
    }

    /// The status named `name` (as [`Status::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Status> {
        [Status::Ok, Status::Error, Status::Rejected].into_iter().find(|s| s.as_str() == name)
    }

    /// `Error` for an HTTP status of 400 or more, else `Ok`.
    pub fn of_http(code: Option<u16>) -> Status {
        match code {
            Some(c) if c >= 400 => Status::Error,
            _ => Status::Ok,
        }
    }
}

/// Where a priced line's token counts come from: the source's usage, or counted from its texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UsageSource {
    /// The source reported the usage.
    Reported,
    /// Counted from the record's texts with its model's tokenizer.
    Counted,
    /// Estimated from the record's texts with a public tokenizer (the model's is not published).
    Approximate,
}

impl UsageSource {
    /// Every usage source, in order.
    pub const ALL: [UsageSource; 3] = [UsageSource::Reported, UsageSource::Counted, UsageSource::Approximate];

    /// The source as the `usage_source` column holds it.
    pub const fn as_str(self) -> &'static str {
        match self {
            UsageSource::Reported => "reported",
            UsageSource::Counted => "counted",
            UsageSource::Approximate => "approximate",
        }
    }
}

/// One request's usage, normalized.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageRecord {
    /// The format it was read as (a name from [`FORMATS`](super::formats::FORMATS), or `generic`).
    pub format: &'static str,
    pub provider: Option<String>,
    /// The model requested.
    pub model: Option<String>,
    /// The model that answered, when the source says (a dated snapshot, a deployment's model, a fallback).
    pub served_model: Option<String>,
    /// Microseconds since the epoch, UTC.
    pub timestamp: Option<i64>,
    pub usage: Usage,
    /// (model, usage) per billed step, where one response bills several (Anthropic's `usage.iterations`).
    pub parts: Vec<(Option<String>, Usage)>,
    pub service_tier: Option<String>,
    /// Where the request ran, when the source says (Anthropic's `inference_geo`).
    pub region: Option<String>,
    /// The gateway answered from its cache: the provider was not called.
    pub cache_hit: bool,
    /// `Ok`, or `Error` for failed requests (kept, with zero usage).
    pub status: Status,
    pub status_code: Option<u16>,
    pub metadata: Vec<(String, Meta)>,
    /// The cost the source reported, read exactly from its JSON text.
    pub reported_cost: Option<Decimal>,
    pub id: Option<String>,
    /// Whether the source reported usage (`false` for failed requests and records without counts).
    pub has_usage: bool,
    /// For a record without usage: the request's and response's text, so the tokens can be counted.
    pub text: Option<Box<TextToCount>>,
    /// What the source says about the request beside its usage and labels (timings, ids, how its cost was set).
    pub extras: Extras,
}

/// What a source records about a request beside its usage and labels, kept when the source has it. Timings are
/// milliseconds, read exactly from the source's number (seconds are multiplied, never rounded).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extras {
    /// The request's duration (latency).
    pub duration_ms: Option<Decimal>,
    /// Time to the first token of a streamed response.
    pub ttft_ms: Option<Decimal>,
    /// What groups a request with its retries and fallbacks (a trace).
    pub trace_id: Option<String>,
    /// The source's own id of the request or event.
    pub request_id: Option<String>,
    /// The path or URL the request was served on.
    pub endpoint: Option<String>,
    /// The source says the request was rate limited.
    pub rate_limited: Option<bool>,
    /// The reported cost is the caller's own price (Cloudflare `custom_cost`, set with `cf-aig-custom-cost`).
    pub custom_cost: Option<bool>,
    /// The gateway's cache marker: the request whose cached response was served.
    pub cache_reference_id: Option<String>,
    /// The source's per-part cost, keys as the source names them, exact.
    pub cost_breakdown: Vec<(String, Decimal)>,
}

impl Extras {
    /// The extras as a JSON value (decimals as text), for a record's state.
    pub fn to_state(&self) -> serde_json::Value {
        use serde_json::json;
        let dec = |d: &Option<Decimal>| d.map(|d| d.to_string());
        json!({
            "duration_ms": dec(&self.duration_ms), "ttft_ms": dec(&self.ttft_ms), "trace_id": self.trace_id,
            "request_id": self.request_id, "endpoint": self.endpoint, "rate_limited": self.rate_limited,
            "custom_cost": self.custom_cost, "cache_reference_id": self.cache_reference_id,
            "cost_breakdown": self.cost_breakdown.iter().map(|(k, v)| json!([k, v.to_string()])).collect::<Vec<_>>(),
        })
    }

    /// The extras [`Extras::to_state`] wrote; `None` for any other value.
    pub fn from_state(v: &serde_json::Value) -> Option<Extras> {
        use serde_json::Value;
        let text = |name: &str| match v.get(name)? {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            _ => None,
        };
        let dec = |name: &str| match text(name)? {
            None => Some(None),
            Some(s) => s.parse::<Decimal>().ok().map(Some),
        };
        let flag = |name: &str| match v.get(name)? {
            Value::Null => Some(None),
            Value::Bool(b) => Some(Some(*b)),
            _ => None,
        };
        let breakdown = v
            .get("cost_breakdown")?
            .as_array()?
            .iter()
            .map(|p| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(d)]) => Some((k.clone(), d.parse::<Decimal>().ok()?)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Extras {
            duration_ms: dec("duration_ms")?,
            ttft_ms: dec("ttft_ms")?,
            trace_id: text("trace_id")?,
            request_id: text("request_id")?,
            endpoint: text("endpoint")?,
            rate_limited: flag("rate_limited")?,
            custom_cost: flag("custom_cost")?,
            cache_reference_id: text("cache_reference_id")?,
            cost_breakdown: breakdown,
        })
    }
}

/// A record as one JSON value and back, every field exact (counts as integers, the reported cost as its decimal
/// text, float labels by their bits): what `UsageRecord` pickles to, so a record can reach a worker process.
impl UsageRecord {
    /// The usage of a record that reported none, counted from its texts with its model's tokenizer: (the record
    /// with that usage, `counted`, or `approximate` when the model's tokenizer is not public and `approximate`
    /// asks for an estimate with [`APPROXIMATION_ENCODING`]). `price_logs` and `extract_usages` both count so.
    pub fn counted(&self, approximate: bool) -> std::result::Result<(UsageRecord, UsageSource), String> {
        use crate::prices::units::{INPUT, OUTPUT};
        use crate::tokens::chat::count_message_tokens;
        use crate::tokens::{get_encoding, lookup_model, Allowed, ModelTokenizer};

        let text = self.text.as_deref().ok_or("no usage reported and no text to count")?;
        let Some(model) = self.served_model.as_deref().or(self.model.as_deref()) else {
            return Err("no usage reported, and no model named to count the tokens with".into());
        };
        let (name, source) = match lookup_model(model) {
            Some(ModelTokenizer::Encoding(e)) => (e, UsageSource::Counted),
            Some(ModelTokenizer::NotPublic { .. }) if approximate => (APPROXIMATION_ENCODING, UsageSource::Approximate),
            Some(ModelTokenizer::NotPublic { vendor }) => {
                return Err(format!(
                    "no usage reported, and {vendor} has not published {model}'s tokenizer: pass approximate=True \
                     (--approximate on the command line) to estimate the tokens with {APPROXIMATION_ENCODING}"
                ))
            }
            None => return Err(format!("no usage reported, and no tokenizer is known for {model} to count with")),
        };
        let counted = (|| -> Result<(u64, u64)> {
            let encoding = get_encoding(name)?;
            let mut input = 0u64;
            if let Some(m) = &text.messages {
                let messages: Vec<serde_json::Value> = serde_json::from_str(m)
                    .map_err(|e| Error::InvalidArgument(format!("the request's messages: {e}")))?;
                input += count_message_tokens(&encoding, model, &messages, None)?;
            }
            if let Some(p) = &text.prompt {
                input += encoding.count(p, Allowed::None)? as u64;
            }
            Ok((input, encoding.count(&text.completion, Allowed::None)? as u64))
        })()
        .map_err(|e| format!("no usage reported, and its text could not be counted: {e}"))?;
        let mut out = self.clone();
        out.usage.counts[INPUT] = counted.0;
        out.usage.counts[OUTPUT] = counted.1;
        out.has_usage = true;
        Ok((out, source))
    }

    /// Whether the ledger counts this record's tokens from its texts: it reported no usage, has its texts, and
    /// is not a failed request (kept at no cost).
    pub fn needs_counting(&self) -> bool {
        !self.has_usage && self.text.is_some() && self.status != Status::Error
    }

    pub fn to_state(&self) -> serde_json::Value {
        use serde_json::json;
        let meta: Vec<serde_json::Value> = self
            .metadata
            .iter()
            .map(|(k, v)| match v {
                Meta::Str(s) => json!(["s", k, s]),
                Meta::Int(i) => json!(["i", k, i]),
                Meta::Float(x) => json!(["f", k, x.to_bits()]),
                Meta::Bool(b) => json!(["b", k, b]),
            })
            .collect();
        json!({
            "format": self.format, "provider": self.provider, "model": self.model,
            "served_model": self.served_model, "timestamp": self.timestamp, "usage": self.usage.counts.to_vec(),
            "parts": self.parts.iter().map(|(m, u)| json!([m, u.counts.to_vec()])).collect::<Vec<_>>(),
            "service_tier": self.service_tier, "region": self.region, "cache_hit": self.cache_hit,
            "status": self.status.as_str(), "status_code": self.status_code, "metadata": meta,
            "reported_cost": self.reported_cost.map(|d| d.to_string()), "id": self.id, "has_usage": self.has_usage,
            "text": self.text.as_ref().map(|t| json!([t.messages, t.prompt, t.completion])),
            "extras": self.extras.to_state(),
        })
    }

    /// The record whose state is the JSON text `state` (what a pickle holds); an `InvalidArgument` otherwise.
    pub fn from_state_text(state: &str) -> Result<UsageRecord> {
        let value: serde_json::Value =
            serde_json::from_str(state).map_err(|e| Error::InvalidArgument(format!("not a UsageRecord state: {e}")))?;
        UsageRecord::from_state(&value)
    }

    /// The record [`UsageRecord::to_state`] wrote; an `InvalidArgument` naming the field for any other value.
    pub fn from_state(state: &serde_json::Value) -> Result<UsageRecord> {
        use serde_json::Value;
        let bad = |field: &str| Error::InvalidArgument(format!("not a UsageRecord state: bad {field:?}"));
        let field = |name: &'static str| state.get(name).ok_or_else(|| bad(name));
        let text = |v: &Value, name: &str| -> Result<Option<String>> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(bad(name)),
            }
        };
        let opt = |name: &'static str| field(name).and_then(|v| text(v, name));
        let flag = |name: &'static str| field(name)?.as_bool().ok_or_else(|| bad(name));
        let usage = |v: &Value| -> Result<Usage> {
            let counts = v.as_array().filter(|c| c.len() == N_UNITS).ok_or_else(|| bad("usage"))?;
            let mut u = Usage::default();
            for (slot, c) in u.counts.iter_mut().zip(counts) {
                *slot = c.as_u64().ok_or_else(|| bad("usage"))?;
            }
            Ok(u)
        };
        let fixed = |name: &'static str, known: Vec<&'static str>| -> Result<&'static str> {
            let given = field(name)?.as_str().ok_or_else(|| bad(name))?;
            known.into_iter().find(|k| *k == given).ok_or_else(|| bad(name))
        };
        let format = fixed("format", format_names().chain([generic::NAME, ""]).collect())?;
        let status = field("status")?
            .as_str()
            .and_then(Status::parse)
            .filter(|s| *s != Status::Rejected)
            .ok_or_else(|| bad("status"))?;
        let parts = field("parts")?.as_array().ok_or_else(|| bad("parts"))?;
        let parts = parts
            .iter()
            .map(|p| match p.as_array().map(Vec::as_slice) {
                Some([m, u]) => Ok((text(m, "parts")?, usage(u)?)),
                _ => Err(bad("parts")),
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = field("metadata")?.as_array().ok_or_else(|| bad("metadata"))?;
        let metadata = metadata
            .iter()
            .map(|m| {
                let (kind, key, v) = match m.as_array().map(Vec::as_slice) {
                    Some([Value::String(kind), Value::String(key), v]) => (kind.as_str(), key.clone(), v),
                    _ => return Err(bad("metadata")),
                };
                let value = match (kind, v) {
                    ("s", Value::String(s)) => Meta::Str(s.clone()),
                    ("i", v) => Meta::Int(v.as_i64().ok_or_else(|| bad("metadata"))?),
                    ("f", v) => Meta::Float(f64::from_bits(v.as_u64().ok_or_else(|| bad("metadata"))?)),
                    ("b", Value::Bool(b)) => Meta::Bool(*b),
                    _ => return Err(bad("metadata")),
                };
                Ok((key, value))
            })
            .collect::<Result<Vec<_>>>()?;
        let reported_cost = match opt("reported_cost")? {
            Some(d) => Some(d.parse::<Decimal>().map_err(|_| bad("reported_cost"))?),
            None => None,
        };
        let number = |name: &'static str| -> Result<Option<&Value>> {
            let v = field(name)?;
            Ok((!v.is_null()).then_some(v))
        };
        let timestamp = number("timestamp")?.map(|v| v.as_i64().ok_or_else(|| bad("timestamp"))).transpose()?;
        let status_code = number("status_code")?
            .map(|v| v.as_u64().and_then(|c| u16::try_from(c).ok()).ok_or_else(|| bad("status_code")))
            .transpose()?;
        let text_to_count = match field("text")? {
            Value::Null => None,
            Value::Array(t) => match t.as_slice() {
                [m, p, Value::String(c)] => Some(Box::new(TextToCount {
                    messages: text(m, "text")?,
                    prompt: text(p, "text")?,
                    completion: c.clone(),
                })),
                _ => return Err(bad("text")),
            },
            _ => return Err(bad("text")),
        };
        Ok(UsageRecord {
            format,
            provider: opt("provider")?,
            model: opt("model")?,
            served_model: opt("served_model")?,
            timestamp,
            usage: usage(field("usage")?)?,
            parts,
            service_tier: opt("service_tier")?,
            region: opt("region")?,
            cache_hit: flag("cache_hit")?,
            status,
            status_code,
            metadata,
            reported_cost,
            id: opt("id")?,
            has_usage: flag("has_usage")?,
            text: text_to_count,
            extras: Extras::from_state(field("extras")?).ok_or_else(|| bad("extras"))?,
        })
    }
}

/// What a record without reported usage said, to count its tokens with the model's tokenizer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextToCount {
    /// The request's chat messages (a JSON array in the OpenAI format), when it sent messages.
    pub messages: Option<String>,
    /// The request's prompt text, when it sent a plain prompt (or a system prompt beside the messages).
    pub prompt: Option<String>,
    /// The response's text (the content of every choice, or every streamed delta, joined).
    pub completion: String,
}

/// What the caller knows that a body may lack.
#[derive(Clone, Debug, Default)]
pub struct Hints {
    pub provider: Option<String>,
    pub format: Option<String>,
    pub model: Option<String>,
    pub at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_usage_sources_have_one_name_each() {
        for s in [Status::Ok, Status::Error, Status::Rejected] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("failed"), None);
        assert_eq!([Some(200), Some(399), None].map(Status::of_http), [Status::Ok; 3]);
        assert_eq!([Some(400), Some(503)].map(Status::of_http), [Status::Error; 2]);
        assert_eq!(UsageSource::ALL.map(UsageSource::as_str), ["reported", "counted", "approximate"]);
    }

    #[test]
    fn a_record_state_takes_only_a_record_status() {
        let rec = UsageRecord { format: "openai_chat", status: Status::Error, ..Default::default() };
        let mut state = rec.to_state();
        assert_eq!(state["status"], "error");
        assert_eq!(UsageRecord::from_state(&state).unwrap(), rec);
        state["status"] = "rejected".into();
        assert!(UsageRecord::from_state(&state).unwrap_err().to_string().contains("bad \"status\""));
        assert_eq!(UsageRecord::from_state_text(&rec.to_state().to_string()).unwrap(), rec);
        assert!(UsageRecord::from_state_text("{").unwrap_err().to_string().starts_with("not a UsageRecord state: "));
    }
}
