//! Reading usage out of provider responses and gateway or tracing logs, into one normalized [`UsageRecord`].
//!
//! Every source says it differently; each reader below states its source's rule and converts to the book's rule
//! (see [`crate::usage`]): `input_tokens` is the whole prompt, cache included; `output_tokens` the whole output,
//! reasoning included. Field names and rules: OpenAI's, Anthropic's, Google's and AWS's API references, the
//! gateways' log schemas (Cloudflare AI Gateway, LiteLLM, Langfuse, Helicone) and the OpenTelemetry GenAI semantic
//! conventions, as summarized in the project's reference notes.
//!
//! The registry [`FORMATS`] names every format; detection tries them in a fixed order and, when nothing
//! matches, the error names the keys it saw and the formats it tried.

use std::borrow::Cow;

use rust_decimal::Decimal;

use super::Usage;
use crate::error::{Error, Result};
use crate::json::{self, count, kind, Kind, Obj, Raw};
use crate::prices::calendar::{parse_instant, FIRST_INSTANT, LAST_INSTANT};
use crate::prices::units::{self, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT, N_UNITS, OUTPUT};

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

/// One request's usage, normalized.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageRecord {
    /// The format it was read as (a name from [`FORMATS`]).
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
    /// `ok`, or `error` for failed requests (kept, with zero usage).
    pub status: &'static str,
    pub status_code: Option<u16>,
    pub metadata: Vec<(String, Meta)>,
    /// The cost the source reported, read exactly from its JSON text.
    pub reported_cost: Option<Decimal>,
    pub id: Option<String>,
    /// Whether the source reported usage (`false` for failed requests and records without counts).
    pub has_usage: bool,
    /// For a record without usage: the request's and response's text, so the tokens can be counted.
    pub text: Option<Box<TextToCount>>,
}

/// A record as one JSON value and back, every field exact (counts as integers, the reported cost as its decimal
/// text, float labels by their bits): what `UsageRecord` pickles to, so a record can reach a worker process.
impl UsageRecord {
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
            "status": self.status, "status_code": self.status_code, "metadata": meta,
            "reported_cost": self.reported_cost.map(|d| d.to_string()), "id": self.id, "has_usage": self.has_usage,
            "text": self.text.as_ref().map(|t| json!([t.messages, t.prompt, t.completion])),
        })
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
        let format = fixed("format", format_names().chain(["generic", ""]).collect())?;
        let status = fixed("status", vec!["ok", "error", ""])?;
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

/// The formats, in detection order, with what each reads.
pub const FORMATS: &[(&str, &str)] = &[
    ("cloudflare_logpush", "Cloudflare AI Gateway Logpush `ai_gateway_events` (usage inside ResponseBody)"),
    ("cloudflare_logs", "Cloudflare AI Gateway Logs API items (tokens_in / tokens_out)"),
    ("litellm", "LiteLLM standard logging payload and spend logs"),
    ("langfuse", "Langfuse observation exports (usageDetails, calculatedTotalCost)"),
    ("helicone", "Helicone request exports"),
    ("otel", "OpenTelemetry GenAI spans (gen_ai.* attributes), as JSON spans or OTLP JSON"),
    ("openai_batch", "OpenAI Batch API output lines"),
    ("anthropic_batch", "Anthropic Message Batches results"),
    ("openai_responses", "OpenAI Responses API (and its response.completed stream event)"),
    ("anthropic", "Anthropic Messages (also through Bedrock InvokeModel and Vertex)"),
    ("gemini", "Google Gemini and Vertex AI generateContent (usageMetadata)"),
    ("bedrock", "AWS Bedrock Converse / ConverseStream and InvokeModel metrics"),
    ("cohere", "Cohere chat and embed (billed_units)"),
    ("openai_chat", "OpenAI Chat Completions and compatible APIs (Azure, Mistral, DeepSeek, xAI, Groq, …)"),
];

pub fn format_names() -> impl Iterator<Item = &'static str> {
    FORMATS.iter().map(|(n, _)| *n)
}

fn err(message: impl Into<String>) -> Error {
    Error::UsageFormat(message.into())
}

/// A format name a log is read with: one of [`FORMATS`], else an argument error listing them (raised before any
/// reading: a typo would otherwise reject every record).
pub fn check_format(name: &str) -> Result<()> {
    if format_names().any(|n| n == name) {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "unknown format {name:?}; formats: {} (or none, to detect each record's)",
        format_names().collect::<Vec<_>>().join(", ")
    )))
}

/// Reads one record from JSON text (an object, a list of stream chunks, or a server-sent-events stream).
pub fn extract_text(text: &str, hints: &Hints) -> Result<UsageRecord> {
    if let Some(f) = &hints.format {
        if f != "generic" && !format_names().any(|n| n == f) {
            return Err(err(format!(
                "unknown format {f:?}; formats: {}",
                format_names().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.starts_with("data:") || trimmed.starts_with("event:") {
        let events = sse_events(trimmed);
        return extract_stream(&events.iter().map(|s| s.as_ref()).collect::<Vec<_>>(), hints);
    }
    if trimmed.starts_with('{') {
        // One pass: the object's members straight from the text (no separate validation pass).
        let obj = Obj::parse(trimmed).map_err(|e| err(format!("not valid JSON: {e}")))?;
        return extract_obj(&obj, hints);
    }
    let raw = json::parse_raw(trimmed).map_err(|e| err(format!("not valid JSON: {e}")))?;
    extract_raw(raw, hints)
}

/// Reads one record from bytes (UTF-8 JSON or an SSE stream).
pub fn extract_bytes(bytes: &[u8], hints: &Hints) -> Result<UsageRecord> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| err(format!("not UTF-8: invalid byte at offset {}", e.valid_up_to())))?;
    extract_text(text, hints)
}

/// The `data:` payloads of a server-sent-events stream (`[DONE]` left out).
pub fn sse_events(text: &str) -> Vec<Cow<'_, str>> {
    fn flush<'t>(current: &mut Option<Cow<'t, str>>, out: &mut Vec<Cow<'t, str>>) {
        if let Some(event) = current.take() {
            if event.trim() != "[DONE]" {
                out.push(event);
            }
        }
    }
    let mut out: Vec<Cow<'_, str>> = Vec::new();
    // An event is usually one `data:` line (borrowed); several lines join with newlines (owned).
    let mut current: Option<Cow<'_, str>> = None;
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data:") {
            let data = data.strip_prefix(' ').unwrap_or(data);
            current = Some(match current.take() {
                None => Cow::Borrowed(data),
                Some(prev) => Cow::Owned(format!("{prev}\n{data}")),
            });
        } else if line.trim().is_empty() {
            flush(&mut current, &mut out);
        }
    }
    flush(&mut current, &mut out);
    out
}

fn extract_raw(raw: Raw<'_>, hints: &Hints) -> Result<UsageRecord> {
    match kind(raw) {
        Kind::Object => {
            let obj = json::object(raw).ok_or_else(|| err("not a JSON object"))?;
            extract_obj(&obj, hints)
        }
        Kind::Array => {
            let items = json::array(raw).unwrap_or_default();
            let texts: Vec<&str> = items.iter().map(|r| r.get()).collect();
            extract_stream(&texts, hints)
        }
        other => Err(err(format!("expected a JSON object or a list of stream chunks, got a {other:?}"))),
    }
}

/// Whether a shape's detector accepts `o`.
fn detect(o: &Obj<'_>) -> Option<&'static str> {
    let usage = o.obj("usage");
    let usage_has = |k: &str| usage.as_ref().is_some_and(|u| u.has(k));
    if o.has("ResponseBody") || (o.has("Gateway") && o.has("Model")) {
        return Some("cloudflare_logpush");
    }
    if o.has("tokens_in") || o.has("tokens_out") {
        return Some("cloudflare_logs");
    }
    if o.has("response_cost") || (o.has("spend") && (o.has("request_id") || o.has("call_type"))) {
        return Some("litellm");
    }
    if o.has("usageDetails") || o.has("calculatedTotalCost") || (o.str("type").as_deref() == Some("GENERATION")) {
        return Some("langfuse");
    }
    if o.has("costUSD") || (o.has("request_id") && o.has("request_created_at")) {
        return Some("helicone");
    }
    if o.has("resourceSpans")
        || o.has("scopeSpans")
        || attributes(o).is_some_and(|a| a.iter().any(|(k, _)| k.starts_with("gen_ai.")))
    {
        return Some("otel");
    }
    if o.has("custom_id") && o.obj("response").is_some_and(|r| r.has("body") || r.has("status_code")) {
        return Some("openai_batch");
    }
    if o.has("custom_id") && o.obj("result").is_some() {
        return Some("anthropic_batch");
    }
    let t = o.str("type");
    if matches!(t.as_deref(), Some("response.completed" | "response.incomplete" | "response.failed")) {
        return Some("openai_responses");
    }
    if o.str("object").as_deref() == Some("response") {
        return Some("openai_responses");
    }
    if matches!(t.as_deref(), Some("message" | "message_start" | "message_delta"))
        || usage_has("cache_creation_input_tokens")
        || usage_has("cache_read_input_tokens")
        || usage_has("server_tool_use")
    {
        return Some("anthropic");
    }
    if o.has("usageMetadata") || o.has("usage_metadata") {
        return Some("gemini");
    }
    if usage_has("inputTokens")
        || usage_has("outputTokens")
        || o.has("amazon-bedrock-invocationMetrics")
        || o.obj("metadata").is_some_and(|m| m.obj("usage").is_some_and(|u| u.has("inputTokens")))
        || o.has("inputTextTokenCount")
        || o.has("prompt_token_count")
    {
        return Some("bedrock");
    }
    if usage_has("billed_units") || o.obj("meta").is_some_and(|m| m.has("billed_units")) {
        return Some("cohere");
    }
    if usage_has("input_tokens") && (usage_has("input_tokens_details") || usage_has("output_tokens_details")) {
        return Some("openai_responses");
    }
    if usage_has("prompt_tokens")
        || usage_has("completion_tokens")
        || o.str("object").is_some_and(|s| s.starts_with("chat.completion") || s == "text_completion")
    {
        return Some("openai_chat");
    }
    if usage_has("input_tokens") || usage_has("output_tokens") {
        // Anthropic and the Responses API agree when no cache counts are given.
        return Some("anthropic");
    }
    None
}

fn no_format(o: &Obj<'_>) -> Error {
    let mut keys: Vec<&str> = o.keys();
    keys.truncate(20);
    err(format!(
        "the record matches no known usage format: it has the keys [{}]; formats tried: {} (pass format= or a \
         generic mapping)",
        keys.join(", "),
        format_names().collect::<Vec<_>>().join(", ")
    ))
}

/// Reads one JSON object.
pub fn extract_obj(o: &Obj<'_>, hints: &Hints) -> Result<UsageRecord> {
    let format = match hints.format.as_deref() {
        Some(f) => format_names().find(|n| *n == f).ok_or_else(|| err(format!("unknown format {f:?}")))?,
        None => detect(o).ok_or_else(|| no_format(o))?,
    };
    let mut rec = match format {
        "cloudflare_logpush" => cloudflare_logpush(o)?,
        "cloudflare_logs" => cloudflare_logs(o)?,
        "litellm" => litellm(o)?,
        "langfuse" => langfuse(o)?,
        "helicone" => helicone(o)?,
        "otel" => otel(o)?,
        "openai_batch" => openai_batch(o, hints)?,
        "anthropic_batch" => anthropic_batch(o)?,
        "openai_responses" => openai_responses(o)?,
        "anthropic" => anthropic(o)?,
        "gemini" => gemini(o)?,
        "bedrock" => bedrock(o)?,
        "cohere" => cohere(o)?,
        "openai_chat" => openai_chat(o)?,
        _ => return Err(err(format!("unknown format {format:?}"))),
    };
    if rec.format.is_empty() {
        rec.format = format;
    }
    finish(rec, hints)
}

/// Fills what the caller knows and the body lacks, and checks the usage.
fn finish(mut rec: UsageRecord, hints: &Hints) -> Result<UsageRecord> {
    if rec.provider.is_none() {
        rec.provider = hints.provider.as_deref().map(normalize_provider);
    }
    if rec.model.is_none() {
        rec.model = hints.model.clone();
    }
    if rec.timestamp.is_none() {
        rec.timestamp = hints.at;
    }
    if rec.status.is_empty() {
        rec.status = "ok";
    }
    rec.usage.validate().map_err(|e| err(format!("{}: {e}", rec.format)))?;
    for (_, u) in &rec.parts {
        u.validate().map_err(|e| err(format!("{} (a part): {e}", rec.format)))?;
    }
    Ok(rec)
}

/// Gateway and SDK provider names as the price book names providers.
/// The provider named at `key` (normalized; one allocation).
fn provider_at(o: &Obj<'_>, key: &str) -> Option<String> {
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
struct Counts {
    c: [u64; N_UNITS],
}

impl Counts {
    fn new() -> Self {
        Counts { c: Usage::default().counts }
    }

    fn set(&mut self, unit: usize, v: u64) {
        self.c[unit] = v;
    }

    fn usage(&self) -> Usage {
        Usage { counts: self.c }
    }
}

fn unit(field: &str) -> usize {
    units::unit_of_usage_field(field).expect("a usage field of the unit table")
}

/// A count at `key` of `o` (0 when absent or null); the error names `path.key`.
fn n(o: &Obj<'_>, path: &str, key: &str) -> Result<u64> {
    Ok(opt(o, path, key)?.unwrap_or(0))
}

fn opt(o: &Obj<'_>, path: &str, key: &str) -> Result<Option<u64>> {
    match o.get(key) {
        None => Ok(None),
        Some(raw) => count(raw).map_err(|e| err(format!("{}{key}: {e}", dotted(path)))),
    }
}

fn dotted(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    }
}

/// Sum of parts, the whole checked: `sum` would overflow only on absurd inputs.
fn add(a: u64, b: u64, what: &str) -> Result<u64> {
    a.checked_add(b).ok_or_else(|| err(format!("{what}: the counts add up to more than 2^64")))
}

fn text(o: &Obj<'_>, key: &str) -> Option<String> {
    o.str(key).map(|s| s.into_owned()).filter(|s| !s.is_empty())
}

/// A decimal at `key` (a number, or a number written as a string).
fn money(o: &Obj<'_>, key: &str) -> Result<Option<Decimal>> {
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
    json::decimal(&t).map(to_money_scale).ok_or_else(|| err(format!("{key}: {t} is not a decimal number")))
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
fn time(o: &Obj<'_>, key: &str) -> Result<Option<i64>> {
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

fn epoch(t: &str) -> std::result::Result<i64, String> {
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
fn flatten_meta(prefix: &str, raw: Raw<'_>, out: &mut Vec<(String, Meta)>) {
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

fn flatten_members(prefix: &str, o: &Obj<'_>, out: &mut Vec<(String, Meta)>) {
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

fn meta_key(prefix: &str, k: &str) -> String {
    if prefix.is_empty() {
        k.to_string()
    } else {
        format!("{prefix}.{k}")
    }
}

fn meta_value(raw: Raw<'_>) -> Option<Meta> {
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
fn labels_member(raw: Raw<'_>, key: &str, out: &mut Vec<(String, Meta)>) -> Result<()> {
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
            if s.trim().is_empty() {
                return Ok(());
            }
            match json::parse_raw(s.trim()) {
                Ok(inner) if kind(inner) == Kind::Object => meta_object(raw, "", out),
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
fn meta_object(raw: Raw<'_>, prefix: &str, out: &mut Vec<(String, Meta)>) {
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

pub(crate) fn status_of(code: Option<u16>) -> &'static str {
    match code {
        Some(c) if c >= 400 => "error",
        _ => "ok",
    }
}

fn status_code(o: &Obj<'_>, key: &str) -> Option<u16> {
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
// Provider responses

/// OpenAI Chat Completions, and the compatible APIs. `prompt_tokens` includes cached tokens
/// (`prompt_tokens_details.cached_tokens`; Mistral's `num_cached_tokens`, DeepSeek's `prompt_cache_hit_tokens`);
/// `completion_tokens` includes reasoning. xAI reports reasoning outside `completion_tokens`: when
/// `total_tokens` = prompt + completion + reasoning, reasoning is added to the output.
fn openai_chat(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec = UsageRecord {
        format: "openai_chat",
        model: text(o, "model"),
        id: text(o, "id"),
        service_tier: text(o, "service_tier"),
        provider: provider_at(o, "provider"),
        ..Default::default()
    };
    rec.timestamp = time(o, "created")?;
    if let Some(u) = o.obj("usage") {
        rec.usage = chat_usage(&u, "usage")?;
        rec.has_usage = true;
        rec.reported_cost = money(&u, "cost")?;
    }
    if rec.provider.as_deref() == Some("openrouter") || o.has("provider") && rec.reported_cost.is_some() {
        // OpenRouter names the upstream provider; the cost it reports is OpenRouter's charge.
        rec.metadata.push(("upstream_provider".into(), Meta::Str(rec.provider.clone().unwrap_or_default())));
        rec.provider = Some("openrouter".into());
    }
    Ok(rec)
}

fn chat_usage(u: &Obj<'_>, path: &str) -> Result<Usage> {
    let mut c = Counts::new();
    let prompt = n(u, path, "prompt_tokens")?;
    let mut completion = n(u, path, "completion_tokens")?;
    let pd = u.obj("prompt_tokens_details");
    let cd = u.obj("completion_tokens_details");
    let pd_path = format!("{path}.prompt_tokens_details");
    let cd_path = format!("{path}.completion_tokens_details");
    let mut cached = match &pd {
        Some(d) => n(d, &pd_path, "cached_tokens")?,
        None => 0,
    };
    for key in ["num_cached_tokens", "prompt_cache_hit_tokens", "cached_tokens"] {
        if cached == 0 {
            cached = n(u, path, key)?;
        }
    }
    let reasoning = match &cd {
        Some(d) => n(d, &cd_path, "reasoning_tokens")?,
        None => n(u, path, "reasoning_tokens")?,
    };
    if reasoning > 0 {
        if let Some(total) = opt(u, path, "total_tokens")? {
            if total == prompt.saturating_add(completion).saturating_add(reasoning) && total != prompt + completion {
                completion = add(completion, reasoning, "completion_tokens + reasoning_tokens")?;
            }
        }
    }
    c.set(INPUT, prompt);
    c.set(OUTPUT, completion);
    c.set(CACHE_READ, cached);
    c.set(unit("reasoning_tokens"), reasoning);
    if let Some(d) = &pd {
        c.set(CACHE_WRITE, n(d, &pd_path, "cache_write_tokens")?);
        c.set(unit("input_audio_tokens"), n(d, &pd_path, "audio_tokens")?);
        c.set(unit("input_image_tokens"), n(d, &pd_path, "image_tokens")?);
        c.set(unit("input_video_tokens"), n(d, &pd_path, "video_tokens")?);
    }
    if let Some(d) = &cd {
        c.set(unit("output_audio_tokens"), n(d, &cd_path, "audio_tokens")?);
        c.set(unit("output_image_tokens"), n(d, &cd_path, "image_tokens")?);
    }
    if let Some(searches) = opt(u, path, "num_sources_used")? {
        let _ = searches; // xAI live-search sources: not a per-call fee the book prices.
    }
    Ok(c.usage())
}

/// OpenAI Responses API: `input_tokens` includes cached; `output_tokens` includes reasoning. Also the
/// `response.completed` stream event, which wraps the response.
fn openai_responses(o: &Obj<'_>) -> Result<UsageRecord> {
    if let Some(inner) = o.obj("response") {
        if o.str("type").is_some_and(|t| t.starts_with("response.")) {
            return openai_responses(&inner);
        }
    }
    let mut rec = UsageRecord {
        format: "openai_responses",
        model: text(o, "model"),
        id: text(o, "id"),
        service_tier: text(o, "service_tier"),
        ..Default::default()
    };
    rec.timestamp = time(o, "created_at")?;
    if o.str("status").as_deref() == Some("failed") {
        rec.status = "error";
    }
    if let Some(u) = o.obj("usage") {
        rec.usage = responses_usage(&u, "usage")?;
        rec.has_usage = true;
    }
    if let Some(meta) = o.present("metadata") {
        labels_member(meta, "metadata", &mut rec.metadata)?;
    }
    Ok(rec)
}

fn responses_usage(u: &Obj<'_>, path: &str) -> Result<Usage> {
    let mut c = Counts::new();
    c.set(INPUT, n(u, path, "input_tokens")?);
    c.set(OUTPUT, n(u, path, "output_tokens")?);
    if let Some(d) = u.obj("input_tokens_details") {
        let p = format!("{path}.input_tokens_details");
        c.set(CACHE_READ, n(&d, &p, "cached_tokens")?);
        c.set(CACHE_WRITE, n(&d, &p, "cache_write_tokens")?);
        c.set(unit("input_audio_tokens"), n(&d, &p, "audio_tokens")?);
        c.set(unit("input_image_tokens"), n(&d, &p, "image_tokens")?);
    }
    if let Some(d) = u.obj("output_tokens_details") {
        let p = format!("{path}.output_tokens_details");
        c.set(unit("reasoning_tokens"), n(&d, &p, "reasoning_tokens")?);
        c.set(unit("output_audio_tokens"), n(&d, &p, "audio_tokens")?);
    }
    Ok(c.usage())
}

/// Anthropic Messages: `input_tokens` EXCLUDES cache reads and writes, which are added here. Writes split by TTL
/// from `cache_creation` when given (else all 5-minute). `usage.iterations` become parts.
fn anthropic(o: &Obj<'_>) -> Result<UsageRecord> {
    let msg = if o.str("type").as_deref() == Some("message_start") { o.obj("message") } else { None };
    let o = msg.as_ref().unwrap_or(o);
    let mut rec = UsageRecord { format: "anthropic", model: text(o, "model"), id: text(o, "id"), ..Default::default() };
    if o.str("type").as_deref() == Some("error") {
        rec.status = "error";
    }
    if let Some(u) = o.obj("usage") {
        rec.usage = anthropic_usage(&u, "usage")?;
        rec.has_usage = true;
        rec.service_tier = text(&u, "service_tier");
        rec.region = text(&u, "inference_geo").filter(|g| g != "not_available" && g != "global");
        if let Some(iters) = u.arr("iterations") {
            // Each iteration is a billed step (a compaction, an advisor on another model); the top-level counts
            // leave some of them out, so the record's usage is rebuilt as the sum of the steps on its own model.
            let mut own = Usage { counts: [0; N_UNITS] };
            for (i, it) in iters.iter().enumerate() {
                let Some(it) = json::object(it) else { continue };
                let path = format!("usage.iterations[{i}]");
                let step = anthropic_usage(&it, &path)?;
                let model = text(&it, "model");
                if model.is_none() || model == rec.model {
                    own.add(&step)?;
                }
                rec.parts.push((model.or_else(|| rec.model.clone()), step));
            }
            if !rec.parts.is_empty() {
                for field in ["reasoning_tokens", "web_searches"] {
                    own.counts[unit(field)] = rec.usage.counts[unit(field)];
                }
                own.counts[units::REQUESTS] = 1;
                rec.usage = own;
            }
        }
    }
    Ok(rec)
}

fn anthropic_usage(u: &Obj<'_>, path: &str) -> Result<Usage> {
    let mut c = Counts::new();
    let uncached = n(u, path, "input_tokens")?;
    let reads = n(u, path, "cache_read_input_tokens")?;
    let writes = n(u, path, "cache_creation_input_tokens")?;
    let (mut w5, mut w1h) = (writes, 0);
    if let Some(cc) = u.obj("cache_creation") {
        let p = format!("{path}.cache_creation");
        let (a, b) = (n(&cc, &p, "ephemeral_5m_input_tokens")?, n(&cc, &p, "ephemeral_1h_input_tokens")?);
        if a + b > 0 || writes == 0 {
            (w5, w1h) = (a, b);
        }
    }
    let input = add(add(uncached, reads, path)?, add(w5, w1h, path)?, path)?;
    c.set(INPUT, input);
    c.set(CACHE_READ, reads);
    c.set(CACHE_WRITE, w5);
    c.set(CACHE_WRITE_1H, w1h);
    c.set(OUTPUT, n(u, path, "output_tokens")?);
    if let Some(d) = u.obj("output_tokens_details") {
        c.set(unit("reasoning_tokens"), n(&d, &format!("{path}.output_tokens_details"), "thinking_tokens")?);
    }
    if let Some(s) = u.obj("server_tool_use") {
        c.set(unit("web_searches"), n(&s, &format!("{path}.server_tool_use"), "web_search_requests")?);
    }
    Ok(c.usage())
}

/// Google Gemini / Vertex `usageMetadata`: `promptTokenCount` includes cached content; tool-use prompt tokens are
/// billed as input though outside `promptTokenCount`; thoughts are billed as output though outside
/// `candidatesTokenCount`. Per-modality details give audio, image and video parts (documents are billed as images).
fn gemini(o: &Obj<'_>) -> Result<UsageRecord> {
    // The google-genai SDK's own dumps (`model_dump()`) use snake_case; the REST API camelCase.
    let snake = !o.has("usageMetadata") && o.has("usage_metadata");
    let camel_o = snake.then(|| camel(o));
    let o = camel_o.as_ref().unwrap_or(o);
    let mut rec = UsageRecord {
        format: "gemini",
        model: text(o, "modelVersion").or_else(|| text(o, "model")),
        id: text(o, "responseId"),
        ..Default::default()
    };
    rec.timestamp = time(o, "createTime")?;
    let key = "usageMetadata";
    if let Some(u) = o.obj(key).map(|u| if snake { camel(&u) } else { u }) {
        let mut c = Counts::new();
        let prompt = n(&u, key, "promptTokenCount")?;
        let tool = n(&u, key, "toolUsePromptTokenCount")?;
        let thoughts = n(&u, key, "thoughtsTokenCount")?;
        let candidates = n(&u, key, "candidatesTokenCount")?;
        c.set(INPUT, add(prompt, tool, key)?);
        c.set(CACHE_READ, n(&u, key, "cachedContentTokenCount")?);
        c.set(OUTPUT, add(candidates, thoughts, key)?);
        c.set(unit("reasoning_tokens"), thoughts);
        let modalities = |field: &str, targets: &[(&str, &str)], c: &mut Counts| -> Result<()> {
            let Some(list) = u.arr(field) else { return Ok(()) };
            let mut sums = vec![0u64; targets.len()];
            for (i, item) in list.iter().enumerate() {
                let Some(item) = json::object(item).map(|i| if snake { camel(&i) } else { i }) else { continue };
                let m = item.str("modality").unwrap_or_default().to_ascii_uppercase();
                let m = if m == "DOCUMENT" { "IMAGE".to_string() } else { m };
                if let Some(t) = targets.iter().position(|(name, _)| *name == m) {
                    sums[t] += n(&item, &format!("{key}.{field}[{i}]"), "tokenCount")?;
                }
            }
            for ((_, field), v) in targets.iter().zip(sums) {
                c.set(unit(field), v);
            }
            Ok(())
        };
        let input = [("AUDIO", "input_audio_tokens"), ("IMAGE", "input_image_tokens"), ("VIDEO", "input_video_tokens")];
        modalities("promptTokensDetails", &input, &mut c)?;
        let cached = [("AUDIO", "cache_audio_read_tokens"), ("IMAGE", "cache_image_read_tokens")];
        modalities("cacheTokensDetails", &cached, &mut c)?;
        let output =
            [("AUDIO", "output_audio_tokens"), ("IMAGE", "output_image_tokens"), ("VIDEO", "output_video_tokens")];
        modalities("candidatesTokensDetails", &output, &mut c)?;
        rec.usage = c.usage();
        rec.has_usage = true;
        rec.service_tier = text(&u, "serviceTier").map(|t| t.to_ascii_lowercase());
        if let Some(t) = text(&u, "trafficType") {
            rec.metadata.push(("traffic_type".into(), Meta::Str(t)));
        }
    }
    Ok(rec)
}

/// The object with snake_case keys written in camelCase (`prompt_token_count` → `promptTokenCount`).
fn camel<'a>(o: &Obj<'a>) -> Obj<'a> {
    let members = o
        .members
        .iter()
        .map(|(k, v)| {
            if !k.contains('_') {
                return (k.clone(), *v);
            }
            let mut out = String::with_capacity(k.len());
            let mut upper = false;
            for ch in k.chars() {
                if ch == '_' {
                    upper = true;
                } else if upper {
                    out.extend(ch.to_uppercase());
                    upper = false;
                } else {
                    out.push(ch);
                }
            }
            (Cow::Owned(out), *v)
        })
        .collect();
    Obj { members }
}

/// AWS Bedrock. Converse: `usage.inputTokens` EXCLUDES cache reads and writes (`cacheReadInputTokens`,
/// `cacheWriteInputTokens`, split by TTL in `cacheDetails`). ConverseStream's `metadata` event carries the same
/// usage. InvokeModel: `amazon-bedrock-invocationMetrics` (input excludes cache), Titan's
/// `inputTextTokenCount`, Llama's `prompt_token_count`. Bodies carry no model: pass `model=`.
fn bedrock(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec = UsageRecord { format: "bedrock", provider: Some("aws".into()), ..Default::default() };
    let meta = o.obj("metadata");
    let usage = o.obj("usage").or_else(|| meta.as_ref().and_then(|m| m.obj("usage")));
    let mut c = Counts::new();
    if let Some(u) = usage {
        let p = "usage";
        let uncached = n(&u, p, "inputTokens")?;
        let reads = match opt(&u, p, "cacheReadInputTokens")? {
            Some(v) => v,
            None => n(&u, p, "cacheReadInputTokenCount")?,
        };
        let writes = match opt(&u, p, "cacheWriteInputTokens")? {
            Some(v) => v,
            None => n(&u, p, "cacheWriteInputTokenCount")?,
        };
        let (mut w5, mut w1h) = (writes, 0);
        if let Some(details) = u.arr("cacheDetails") {
            let (mut a, mut b) = (0u64, 0u64);
            for (i, d) in details.iter().enumerate() {
                let Some(d) = json::object(d) else { continue };
                let v = n(&d, &format!("usage.cacheDetails[{i}]"), "inputTokens")?;
                if d.str("ttl").as_deref() == Some("1h") {
                    b += v;
                } else {
                    a += v;
                }
            }
            if a + b == writes {
                (w5, w1h) = (a, b);
            }
        }
        c.set(INPUT, add(add(uncached, reads, p)?, writes, p)?);
        c.set(CACHE_READ, reads);
        c.set(CACHE_WRITE, w5);
        c.set(CACHE_WRITE_1H, w1h);
        c.set(OUTPUT, n(&u, p, "outputTokens")?);
        rec.has_usage = true;
    } else if let Some(m) = o.obj("amazon-bedrock-invocationMetrics") {
        let p = "amazon-bedrock-invocationMetrics";
        let reads = n(&m, p, "cacheReadInputTokenCount")?;
        let writes = n(&m, p, "cacheWriteInputTokenCount")?;
        c.set(INPUT, add(add(n(&m, p, "inputTokenCount")?, reads, p)?, writes, p)?);
        c.set(CACHE_READ, reads);
        c.set(CACHE_WRITE, writes);
        c.set(OUTPUT, n(&m, p, "outputTokenCount")?);
        rec.has_usage = true;
    } else if o.has("inputTextTokenCount") {
        c.set(INPUT, n(o, "", "inputTextTokenCount")?);
        let mut out = 0;
        for (i, r) in o.arr("results").unwrap_or_default().iter().enumerate() {
            if let Some(r) = json::object(r) {
                out = add(out, n(&r, &format!("results[{i}]"), "tokenCount")?, "results")?;
            }
        }
        c.set(OUTPUT, out);
        rec.has_usage = true;
    } else if o.has("prompt_token_count") {
        c.set(INPUT, n(o, "", "prompt_token_count")?);
        c.set(OUTPUT, n(o, "", "generation_token_count")?);
        rec.has_usage = true;
    }
    rec.usage = c.usage();
    if let Some(pc) = o.obj("performanceConfig") {
        if pc.str("latency").as_deref() == Some("optimized") {
            rec.service_tier = Some("priority".into());
        }
    }
    if let Some(t) = o.obj("serviceTier").and_then(|s| text(&s, "type")) {
        rec.service_tier = Some(t.to_ascii_lowercase());
    }
    Ok(rec)
}

/// Cohere: `usage.billed_units` (chat) or `meta.billed_units` (embed) are what is billed.
fn cohere(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec =
        UsageRecord { format: "cohere", provider: Some("cohere".into()), id: text(o, "id"), ..Default::default() };
    let billed = o
        .obj("usage")
        .and_then(|u| u.obj("billed_units"))
        .or_else(|| o.obj("meta").and_then(|m| m.obj("billed_units")));
    if let Some(b) = billed {
        let mut c = Counts::new();
        c.set(INPUT, n(&b, "billed_units", "input_tokens")?);
        c.set(OUTPUT, n(&b, "billed_units", "output_tokens")?);
        rec.usage = c.usage();
        rec.has_usage = true;
    }
    Ok(rec)
}

/// OpenAI Batch output line: `{"custom_id", "response": {"status_code", "body": <chat or responses body>}, "error"}`.
/// Batch rates apply.
fn openai_batch(o: &Obj<'_>, hints: &Hints) -> Result<UsageRecord> {
    let response = o.obj("response");
    let code = response.as_ref().and_then(|r| status_code(r, "status_code"));
    let body = response.as_ref().and_then(|r| r.obj("body"));
    let mut rec = match &body {
        Some(b) if b.has("usage") => {
            let inner = Hints { format: None, ..hints.clone() };
            extract_obj(b, &inner)?
        }
        _ => UsageRecord { status: "error", ..Default::default() },
    };
    rec.format = "openai_batch";
    rec.service_tier = Some("batch".into());
    rec.status_code = code;
    if code.is_some_and(|c| c >= 400) || o.present("error").is_some() {
        rec.status = "error";
    }
    rec.id = text(o, "custom_id").or(rec.id);
    rec.provider = rec.provider.or(Some("openai".into()));
    Ok(rec)
}

/// Anthropic Message Batches result: `{"custom_id", "result": {"type": "succeeded", "message": {...}}}`. Batch
/// rates apply; errored, canceled and expired requests are kept with zero usage.
fn anthropic_batch(o: &Obj<'_>) -> Result<UsageRecord> {
    let result = o.obj("result").unwrap_or_default();
    let mut rec = match result.obj("message") {
        Some(m) => anthropic(&m)?,
        None => UsageRecord::default(),
    };
    rec.format = "anthropic_batch";
    rec.service_tier = Some("batch".into());
    rec.provider = Some("anthropic".into());
    if result.str("type").as_deref() != Some("succeeded") {
        rec.status = "error";
    }
    rec.id = text(o, "custom_id").or(rec.id);
    Ok(rec)
}

// ---------------------------------------------------------------------------------------------------------------
// Streams

/// A stream given as its chunks (a list, or SSE `data:` payloads), by each provider's rule: OpenAI's usage is in
/// the final chunk; Anthropic's starts in `message_start` and `message_delta` carries cumulative counts; Gemini's
/// chunks are cumulative (the last counts); the Responses API's `response.completed` event holds the response;
/// Bedrock's `metadata` event holds the usage.
pub fn extract_stream(chunks: &[&str], hints: &Hints) -> Result<UsageRecord> {
    if chunks.is_empty() {
        return Err(err("an empty stream: no chunks"));
    }
    // OpenAI-style streams (the common case) need only their last chunk with usage: read from the end.
    let other_kinds = ["\"message_start\"", "\"response.", "\"usageMetadata\"", "\"metadata\""];
    if hints.format.is_none() && !chunks.iter().any(|c| other_kinds.iter().any(|k| c.contains(k))) {
        for (i, c) in chunks.iter().enumerate().rev() {
            if !c.contains("\"usage\"") {
                continue;
            }
            let o = Obj::parse(c).map_err(|e| err(format!("stream chunk {i}: not a JSON object: {e}")))?;
            if o.obj("usage").is_none() {
                continue;
            }
            let mut rec = openai_chat(&o)?;
            if rec.model.is_none() || rec.id.is_none() || rec.timestamp.is_none() {
                if let Ok(first) = Obj::parse(chunks[0]) {
                    rec.model = rec.model.or_else(|| text(&first, "model"));
                    rec.id = rec.id.or_else(|| text(&first, "id"));
                    rec.timestamp = rec.timestamp.or_else(|| time(&first, "created").ok().flatten());
                }
            }
            return finish(rec, hints);
        }
    }
    let mut objs = Vec::with_capacity(chunks.len());
    for (i, c) in chunks.iter().enumerate() {
        let o = Obj::parse(c).map_err(|e| err(format!("stream chunk {i}: not a JSON object: {e}")))?;
        objs.push(o);
    }
    if objs.is_empty() {
        return Err(err("an empty stream: no chunks"));
    }
    let kind_of = |o: &Obj<'_>| o.str("type").map(|t| t.into_owned());
    if objs.iter().any(|o| kind_of(o).as_deref() == Some("message_start")) {
        let start = objs.iter().find(|o| kind_of(o).as_deref() == Some("message_start")).expect("checked");
        let msg = start.obj("message").ok_or_else(|| err("message_start without a message"))?;
        let mut rec = anthropic(&msg)?;
        let mut usage = msg.obj("usage").map(|u| u.members.clone()).unwrap_or_default();
        for o in objs.iter().filter(|o| kind_of(o).as_deref() == Some("message_delta")) {
            if let Some(d) = o.obj("usage") {
                // Delta counts are cumulative: each replaces the one before.
                for (k, v) in d.members {
                    if kind(v) != Kind::Null {
                        usage.retain(|(key, _)| *key != k);
                        usage.push((k, v));
                    }
                }
            }
        }
        let merged = Obj { members: usage };
        rec.usage = anthropic_usage(&merged, "usage")?;
        rec.has_usage = true;
        rec.format = "anthropic";
        return finish(rec, hints);
    }
    if let Some(done) = objs.iter().rev().find(|o| {
        matches!(kind_of(o).as_deref(), Some("response.completed" | "response.incomplete" | "response.failed"))
    }) {
        return extract_obj(done, hints);
    }
    if objs.iter().any(|o| o.has("usageMetadata")) {
        let last = objs.iter().rev().find(|o| o.has("usageMetadata")).expect("checked");
        let mut rec = gemini(last)?;
        if rec.model.is_none() {
            rec.model = objs.iter().find_map(|o| text(o, "modelVersion"));
        }
        return finish(rec, hints);
    }
    if let Some(m) = objs.iter().rev().find(|o| o.obj("metadata").is_some_and(|m| m.has("usage"))) {
        let rec = bedrock(m)?;
        return finish(rec, hints);
    }
    // OpenAI-style: the last chunk with a usage object; model and id from any chunk.
    let Some(last) = objs.iter().rev().find(|o| o.obj("usage").is_some()) else {
        return Err(err(format!(
            "a stream of {} chunks with no usage in any of them (OpenAI sends usage only when the request sets \
             stream_options={{\"include_usage\": true}})",
            objs.len()
        )));
    };
    let mut rec = match hints.format.as_deref() {
        Some(_) => return extract_obj(last, hints),
        None => match detect(last) {
            Some("openai_chat") | None => openai_chat(last)?,
            Some(_) => return extract_obj(last, hints),
        },
    };
    rec.model = rec.model.or_else(|| objs.iter().find_map(|o| text(o, "model")));
    rec.id = rec.id.or_else(|| objs.iter().find_map(|o| text(o, "id")));
    rec.timestamp = match rec.timestamp {
        Some(t) => Some(t),
        None => objs.iter().find_map(|o| time(o, "created").ok().flatten()),
    };
    finish(rec, hints)
}

// ---------------------------------------------------------------------------------------------------------------
// Gateways and tracing

/// Cloudflare AI Gateway Logs API item. It carries `tokens_in` / `tokens_out` only (no cache split), the
/// gateway's `cost` estimate, `cached` for gateway cache hits, `step` > 0 for fallbacks, and `metadata` as a JSON
/// string (REST) or an object (Worker binding).
fn cloudflare_logs(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec = UsageRecord {
        format: "cloudflare_logs",
        provider: provider_at(o, "provider"),
        model: text(o, "model"),
        id: text(o, "id"),
        cache_hit: o.bool("cached").unwrap_or(false),
        ..Default::default()
    };
    rec.timestamp = time(o, "created_at")?;
    rec.status_code = status_code(o, "status_code");
    rec.status = if o.bool("success") == Some(false) { "error" } else { status_of(rec.status_code) };
    let mut c = Counts::new();
    c.set(INPUT, n(o, "", "tokens_in")?);
    c.set(OUTPUT, n(o, "", "tokens_out")?);
    rec.usage = c.usage();
    rec.has_usage = o.present("tokens_in").is_some() || o.present("tokens_out").is_some();
    rec.reported_cost = money(o, "cost")?;
    if let Some(m) = o.present("metadata") {
        labels_member(m, "metadata", &mut rec.metadata)?;
    }
    if let Some(step) = o.present("step").and_then(json::number_text).and_then(|t| t.parse::<i64>().ok()) {
        rec.metadata.push(("step".into(), Meta::Int(step)));
    }
    if o.bool("custom_cost") == Some(true) {
        rec.metadata.push(("custom_cost".into(), Meta::Bool(true)));
    }
    Ok(rec)
}

/// Cloudflare AI Gateway Logpush (`ai_gateway_events`): the usage is inside `ResponseBody`, the provider's own
/// body as JSON text or an SSE stream (read by that provider's rule). An encrypted body (`{type, key, iv, data}`)
/// cannot be read and is rejected with that reason. Failed requests are kept with zero usage.
fn cloudflare_logpush(o: &Obj<'_>) -> Result<UsageRecord> {
    let provider = provider_at(o, "Provider");
    let code = status_code(o, "StatusCode");
    let cached = o.bool("Cached").unwrap_or(false);
    let failed = code.is_some_and(|c| c >= 400);
    let inner_hints = Hints { provider: provider.clone(), format: None, model: text(o, "Model"), at: None };
    let body = o.present("ResponseBody");
    let mut rec = match body {
        Some(b) if kind(b) == Kind::Object => {
            let bo = json::object(b).unwrap_or_default();
            if bo.has("iv") && bo.has("data") && bo.has("key") {
                return Err(err("cloudflare_logpush: ResponseBody is encrypted (Logpush encryption): decrypt the logs first, or use the Logs API"));
            }
            extract_obj(&bo, &inner_hints)?
        }
        Some(b) if kind(b) == Kind::String => {
            let s = json::string(b).unwrap_or_default();
            match extract_text(&s, &inner_hints) {
                // A body without usage (a reply whose usage the app's client dropped): count its texts instead.
                Ok(r) if !r.has_usage && !failed && !cached => match texts_to_count(o.present("RequestBody"), &s) {
                    Some((text, _)) => UsageRecord { text: Some(Box::new(text)), ..r },
                    None => r,
                },
                Ok(r) => r,
                Err(_) if failed || cached => UsageRecord::default(),
                // No usage in the body (a stream sent without `stream_options.include_usage`): keep the texts,
                // so the ledger can count the tokens (marked counted, not reported).
                Err(e) => match texts_to_count(o.present("RequestBody"), &s) {
                    Some((text, model)) => UsageRecord { model, text: Some(Box::new(text)), ..Default::default() },
                    None => return Err(err(format!("cloudflare_logpush: ResponseBody: {}", strip_kind(&e)))),
                },
            }
        }
        _ if failed || cached => UsageRecord::default(),
        _ => return Err(err("cloudflare_logpush: the record has no ResponseBody to read usage from")),
    };
    rec.format = "cloudflare_logpush";
    rec.provider = provider.or(rec.provider);
    let requested = text(o, "RequestedModel").or_else(|| text(o, "Model"));
    if let (Some(req), Some(served)) = (&requested, &rec.model) {
        if req != served {
            rec.served_model = Some(served.clone());
        }
    }
    if requested.is_some() {
        rec.model = requested;
    }
    rec.timestamp = time(o, "Timestamp")?.or(rec.timestamp);
    rec.status_code = code;
    rec.status = status_of(code);
    rec.cache_hit = cached;
    rec.id = text(o, "ID").or_else(|| text(o, "Id")).or_else(|| text(o, "LogID")).or(rec.id);
    if let Some(m) = o.present("Metadata") {
        labels_member(m, "Metadata", &mut rec.metadata)?;
    }
    if let Some(metrics) = o.obj("Metrics") {
        rec.reported_cost = money(&metrics, "cost")?.or(rec.reported_cost);
    }
    if let Some(cost) = money(o, "Cost")? {
        rec.reported_cost = Some(cost);
    }
    if let Some(step) = o.present("Step").and_then(json::number_text).and_then(|t| t.parse::<i64>().ok()) {
        rec.metadata.push(("step".into(), Meta::Int(step)));
    }
    Ok(rec)
}

/// A request body (JSON text or object) and a response body (JSON or an SSE stream) without usage: the texts to
/// count, when the request's messages or prompt and the response's text can be read, and the model the response
/// names.
fn texts_to_count(request: Option<Raw<'_>>, response: &str) -> Option<(TextToCount, Option<String>)> {
    let request = request?;
    let owned;
    let req = match kind(request) {
        Kind::Object => json::object(request)?,
        Kind::String => {
            owned = json::string(request)?;
            Obj::parse(owned.trim()).ok()?
        }
        _ => return None,
    };
    let messages = req.get("messages").filter(|m| kind(m) == Kind::Array).map(|m| m.get().to_string());
    // Anthropic's system prompt sits beside the messages; completions APIs send a prompt.
    let prompt = req.str("prompt").or_else(|| req.str("system")).map(|s| s.into_owned());
    if messages.is_none() && prompt.is_none() {
        return None;
    }
    let (completion, model) = response_text(response)?;
    Some((TextToCount { messages, prompt, completion }, model))
}

/// The generated text of a response body or stream — OpenAI choices (message content or deltas), Anthropic content
/// blocks or text deltas — and the model its first event names. `None` if the body is neither.
fn response_text(body: &str) -> Option<(String, Option<String>)> {
    let body = body.trim();
    let events: Vec<Cow<'_, str>> = if body.starts_with("data:") || body.starts_with("event:") {
        sse_events(body)
    } else {
        vec![Cow::Borrowed(body)]
    };
    let mut out = String::new();
    let mut any = false;
    let mut model = None;
    for event in &events {
        let Ok(o) = Obj::parse(event.trim()) else { continue };
        if model.is_none() {
            model = text(&o, "model").or_else(|| o.obj("message").and_then(|m| text(&m, "model")));
        }
        if let Some(choices) = o.arr("choices") {
            any = true;
            for c in choices.iter().filter_map(json::object) {
                let part = c.obj("delta").or_else(|| c.obj("message"));
                if let Some(text) = part.as_ref().and_then(|p| p.str("content")) {
                    out.push_str(&text);
                }
                if let Some(text) = c.str("text") {
                    out.push_str(&text);
                }
            }
        }
        if let Some(blocks) = o.arr("content") {
            any = true;
            for b in blocks.iter().filter_map(json::object) {
                if let Some(text) = b.str("text") {
                    out.push_str(&text);
                }
            }
        }
        if let Some(delta) = o.obj("delta") {
            if let Some(text) = delta.str("text") {
                any = true;
                out.push_str(&text);
            }
        }
    }
    any.then_some((out, model))
}

fn strip_kind(e: &Error) -> String {
    match e {
        Error::UsageFormat(m) => m.clone(),
        other => other.to_string(),
    }
}

/// LiteLLM: the standard logging payload (`response_cost`, `prompt_tokens`, `startTime`, `cache_hit`,
/// `metadata.spend_logs_metadata`, `request_tags`, `end_user`) and spend-log rows (`spend`, `request_id`,
/// metadata as a JSON string). Counts follow OpenAI's rule; `metadata.usage_object`, when present, gives the
/// cache and reasoning split.
fn litellm(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec = UsageRecord {
        format: "litellm",
        provider: provider_at(o, "custom_llm_provider"),
        model: text(o, "model"),
        id: text(o, "id").or_else(|| text(o, "request_id")),
        ..Default::default()
    };
    rec.timestamp = time(o, "startTime")?;
    rec.cache_hit = match o.get("cache_hit") {
        Some(v) if kind(v) == Kind::String => json::string(v).is_some_and(|s| s.eq_ignore_ascii_case("true")),
        Some(v) => json::boolean(v).unwrap_or(false),
        None => false,
    };
    rec.status = match o.str("status").as_deref() {
        Some("failure") | Some("error") => "error",
        _ => "ok",
    };
    rec.reported_cost = match money(o, "response_cost")? {
        Some(c) => Some(c),
        None => money(o, "spend")?,
    };
    let meta_raw = o.present("metadata");
    let meta = meta_raw.and_then(|m| if kind(m) == Kind::String { None } else { json::object(m) });
    // The full usage object, when LiteLLM kept it.
    let usage_obj = meta.as_ref().and_then(|m| m.obj("usage_object")).or_else(|| o.obj("usage"));
    rec.usage = match &usage_obj {
        Some(u) if u.has("prompt_tokens") => chat_usage(u, "metadata.usage_object")?,
        _ => {
            let mut c = Counts::new();
            c.set(INPUT, n(o, "", "prompt_tokens")?);
            c.set(OUTPUT, n(o, "", "completion_tokens")?);
            c.usage()
        }
    };
    rec.has_usage = o.present("prompt_tokens").is_some() || usage_obj.is_some();
    let mut labels = Vec::new();
    if let Some(m) = meta_raw {
        if kind(m) == Kind::String {
            labels_member(m, "metadata", &mut labels)?;
        } else if let Some(m) = &meta {
            for (key, prefix) in [
                ("spend_logs_metadata", ""),
                ("requester_metadata", ""),
                ("user_api_key_team_id", "team_id"),
                ("user_api_key_team_alias", "team"),
                ("user_api_key_alias", "api_key_alias"),
                ("user_api_key_user_id", "user"),
                ("user_api_key_end_user_id", "end_user"),
            ] {
                if let Some(v) = m.present(key) {
                    meta_object(v, prefix, &mut labels);
                }
            }
        }
    }
    // Spend-log rows keep their labels as columns.
    for (key, name) in [("team_id", "team_id"), ("user", "user"), ("end_user", "end_user")] {
        if let Some(v) = o.present(key).and_then(meta_value) {
            if !matches!(&v, Meta::Str(s) if s.is_empty()) {
                labels.retain(|(k, _)| k != name);
                labels.push((name.to_string(), v));
            }
        }
    }
    if let Some(tags) = o.arr("request_tags") {
        let tags: Vec<String> = tags.iter().filter_map(|t| json::string(t).map(|s| s.into_owned())).collect();
        if !tags.is_empty() {
            labels.push(("tags".into(), Meta::Str(tags.join(","))));
        }
    }
    if let Some(t) = o.str("model_group") {
        labels.push(("model_group".into(), Meta::Str(t.into_owned())));
    }
    rec.metadata = labels;
    Ok(rec)
}

/// Langfuse observation export: `usageDetails` buckets are disjoint (`input` excludes `input_cached_tokens`), so
/// the prompt total is the sum of every `input*` bucket and the output the sum of every `output*` bucket; older
/// exports use `usage: {input, output}`. `calculatedTotalCost` is Langfuse's own estimate.
fn langfuse(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec = UsageRecord {
        format: "langfuse",
        model: text(o, "model").or_else(|| text(o, "providedModelName")),
        id: text(o, "id"),
        ..Default::default()
    };
    rec.timestamp = time(o, "startTime")?;
    if o.str("level").as_deref() == Some("ERROR") {
        rec.status = "error";
    }
    rec.reported_cost = money(o, "calculatedTotalCost")?;
    if rec.reported_cost.is_none() {
        if let Some(cd) = o.obj("costDetails") {
            rec.reported_cost = money(&cd, "total")?;
        }
    }
    let details = o.obj("usageDetails").or_else(|| o.obj("usage"));
    if let Some(d) = details {
        let mut c = Counts::new();
        let (mut input, mut output) = (0u64, 0u64);
        for (k, v) in &d.members {
            let key = k.to_ascii_lowercase();
            if key == "total" || key == "unit" || kind(v) == Kind::Null {
                continue;
            }
            let value = count(v).map_err(|e| err(format!("usageDetails.{k}: {e}")))?.unwrap_or(0);
            let target = if key.starts_with("input") || key.starts_with("prompt") {
                input = add(input, value, "usageDetails")?;
                if key.contains("cache_read") || key.contains("cached") {
                    Some(CACHE_READ)
                } else if key.contains("cache_creation") || key.contains("cache_write") {
                    Some(CACHE_WRITE)
                } else if key.contains("audio") {
                    Some(unit("input_audio_tokens"))
                } else if key.contains("image") {
                    Some(unit("input_image_tokens"))
                } else {
                    None
                }
            } else if key.starts_with("output") || key.starts_with("completion") {
                output = add(output, value, "usageDetails")?;
                if key.contains("reasoning") {
                    Some(unit("reasoning_tokens"))
                } else if key.contains("audio") {
                    Some(unit("output_audio_tokens"))
                } else {
                    None
                }
            } else {
                None
            };
            if let Some(t) = target {
                c.set(t, c.c[t].saturating_add(value));
            }
        }
        c.set(INPUT, input);
        c.set(OUTPUT, output);
        rec.usage = c.usage();
        rec.has_usage = true;
    }
    if let Some(m) = o.present("metadata") {
        labels_member(m, "metadata", &mut rec.metadata)?;
    }
    for key in ["traceId", "userId", "sessionId"] {
        if let Some(v) = text(o, key) {
            let name = match key {
                "traceId" => "trace_id",
                "userId" => "user",
                _ => "session",
            };
            rec.metadata.push((name.into(), Meta::Str(v)));
        }
    }
    Ok(rec)
}

/// Helicone request export. `prompt_tokens` follows OpenAI's rule (cache included) — unless the cache counts are
/// larger than it, in which case it is the uncached part (as Anthropic reports) and they are added.
fn helicone(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec = UsageRecord {
        format: "helicone",
        provider: provider_at(o, "provider"),
        model: text(o, "request_model").or_else(|| text(o, "model")),
        served_model: text(o, "response_model"),
        id: text(o, "request_id"),
        ..Default::default()
    };
    rec.timestamp = time(o, "request_created_at")?;
    rec.status_code = status_code(o, "response_status");
    rec.status = status_of(rec.status_code);
    rec.reported_cost = money(o, "costUSD")?.or(money(o, "cost")?);
    let mut c = Counts::new();
    let prompt = n(o, "", "prompt_tokens")?;
    let reads = n(o, "", "prompt_cache_read_tokens")?;
    let writes = n(o, "", "prompt_cache_write_tokens")?;
    let input = if reads.saturating_add(writes) > prompt { add(add(prompt, reads, "")?, writes, "")? } else { prompt };
    c.set(INPUT, input);
    c.set(CACHE_READ, reads);
    c.set(CACHE_WRITE, writes);
    c.set(OUTPUT, n(o, "", "completion_tokens")?);
    c.set(unit("input_audio_tokens"), n(o, "", "prompt_audio_tokens")?);
    c.set(unit("output_audio_tokens"), n(o, "", "completion_audio_tokens")?);
    rec.usage = c.usage();
    rec.has_usage = o.present("prompt_tokens").is_some() || o.present("completion_tokens").is_some();
    if let Some(p) = o.present("properties") {
        labels_member(p, "properties", &mut rec.metadata)?;
    }
    if let Some(u) = text(o, "request_user_id") {
        rec.metadata.push(("user".into(), Meta::Str(u)));
    }
    if rec.served_model.as_deref() == rec.model.as_deref() {
        rec.served_model = None;
    }
    Ok(rec)
}

/// A span's attributes as (key, value) pairs: a plain object, or OTLP's `[{"key", "value": {"stringValue": …}}]`.
fn attributes<'a>(o: &Obj<'a>) -> Option<Vec<(String, Raw<'a>)>> {
    let raw = o.present("attributes")?;
    match kind(raw) {
        Kind::Object => Some(json::object(raw)?.members.into_iter().map(|(k, v)| (k.into_owned(), v)).collect()),
        Kind::Array => {
            let mut out = Vec::new();
            for item in json::array(raw)? {
                let Some(kv) = json::object(item) else { continue };
                let Some(key) = kv.str("key") else { continue };
                let Some(value) = kv.obj("value") else { continue };
                if let Some((_, v)) = value.members.iter().find(|(k, _)| k.ends_with("Value")) {
                    out.push((key.into_owned(), *v));
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// The GenAI spans of an OTLP JSON export (`resourceSpans[].scopeSpans[].spans[]`), as raw JSON.
pub fn otlp_spans<'a>(o: &Obj<'a>) -> Vec<Raw<'a>> {
    let mut out = Vec::new();
    let scopes: Vec<Raw<'a>> = match o.arr("resourceSpans") {
        Some(rs) => rs.iter().filter_map(json::object).flat_map(|r| r.arr("scopeSpans").unwrap_or_default()).collect(),
        None => o.arr("scopeSpans").unwrap_or_default(),
    };
    for s in scopes {
        if let Some(s) = json::object(s) {
            out.extend(s.arr("spans").unwrap_or_default());
        }
    }
    out
}

/// OpenTelemetry GenAI span: `gen_ai.usage.input_tokens` includes cached tokens (the convention says it SHOULD),
/// with `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_creation.input_tokens` and
/// `gen_ai.usage.reasoning.output_tokens` as parts. Attributes outside `gen_ai.*` become metadata. An OTLP
/// export with one GenAI span reads as that span (use `extract_usages` for many).
fn otel(o: &Obj<'_>) -> Result<UsageRecord> {
    if o.has("resourceSpans") || o.has("scopeSpans") {
        let spans = otlp_spans(o);
        let genai: Vec<Obj<'_>> = spans
            .iter()
            .filter_map(json::object)
            .filter(|s| attributes(s).is_some_and(|a| a.iter().any(|(k, _)| k.starts_with("gen_ai.usage."))))
            .collect();
        return match genai.as_slice() {
            [one] => otel(one),
            [] => Err(err("otel: the export holds no span with gen_ai.usage.* attributes")),
            many => Err(err(format!(
                "otel: the export holds {} GenAI spans; read them with extract_usages (one record per span)",
                many.len()
            ))),
        };
    }
    let attrs = attributes(o).unwrap_or_default();
    let get = |k: &str| attrs.iter().rev().find(|(key, _)| key == k).map(|(_, v)| *v);
    let s = |k: &str| get(k).and_then(json::string).map(|v| v.into_owned());
    let num = |k: &str| -> Result<u64> {
        match get(k) {
            Some(v) => Ok(count(v).map_err(|e| err(format!("{k}: {e}")))?.unwrap_or(0)),
            None => Ok(0),
        }
    };
    let mut rec = UsageRecord {
        format: "otel",
        provider: s("gen_ai.provider.name").or_else(|| s("gen_ai.system")).map(|p| normalize_provider(&p)),
        model: s("gen_ai.request.model"),
        served_model: s("gen_ai.response.model"),
        id: text(o, "spanId").or_else(|| text(o, "span_id")),
        ..Default::default()
    };
    if rec.model.is_none() {
        rec.model = rec.served_model.take();
    } else if rec.served_model == rec.model {
        rec.served_model = None;
    }
    rec.timestamp = match time(o, "startTimeUnixNano")? {
        Some(t) => Some(t),
        None => time(o, "start_time")?,
    };
    let mut c = Counts::new();
    c.set(INPUT, num("gen_ai.usage.input_tokens")?);
    c.set(OUTPUT, num("gen_ai.usage.output_tokens")?);
    c.set(CACHE_READ, num("gen_ai.usage.cache_read.input_tokens")?);
    c.set(CACHE_WRITE, num("gen_ai.usage.cache_creation.input_tokens")?);
    c.set(unit("reasoning_tokens"), num("gen_ai.usage.reasoning.output_tokens")?);
    rec.usage = c.usage();
    rec.has_usage = get("gen_ai.usage.input_tokens").is_some() || get("gen_ai.usage.output_tokens").is_some();
    rec.service_tier = s("gen_ai.openai.response.service_tier").or_else(|| s("openai.response.service_tier"));
    if let Some(st) = o.obj("status") {
        if matches!(st.str("code").as_deref(), Some("STATUS_CODE_ERROR" | "ERROR"))
            || st.get("code").is_some_and(|c| c.get() == "2")
        {
            rec.status = "error";
        }
    }
    if let Some(e) = s("error.type") {
        rec.status = "error";
        rec.metadata.push(("error_type".into(), Meta::Str(e)));
    }
    for (k, v) in &attrs {
        if !k.starts_with("gen_ai.") && k != "error.type" {
            if let Some(m) = meta_value(*v) {
                rec.metadata.push((k.clone(), m));
            }
        }
    }
    Ok(rec)
}

// ---------------------------------------------------------------------------------------------------------------
// Generic mapping

/// Where each field sits in a record the registry does not know: dotted paths (`usage.in`, `meta.tenant`).
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    pub model: Option<String>,
    pub provider: Option<String>,
    pub timestamp: Option<String>,
    pub id: Option<String>,
    pub reported_cost: Option<String>,
    pub service_tier: Option<String>,
    pub cache_hit: Option<String>,
    /// (usage field, path) for each count.
    pub counts: Vec<(String, String)>,
    /// (label name, path); a path to an object adds all its members.
    pub metadata: Vec<(String, String)>,
    /// The input count leaves out cache reads and writes (Anthropic's and Bedrock's rule): add them.
    pub input_excludes_cache: bool,
}

fn at_path<'a>(o: &Obj<'a>, path: &str) -> Option<Raw<'a>> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut cur = o.present(first)?;
    for p in parts {
        cur = json::object(cur)?.present(p)?;
    }
    Some(cur)
}

/// Reads one object by a [`Mapping`].
pub fn extract_mapped(text: &str, m: &Mapping, hints: &Hints) -> Result<UsageRecord> {
    let o = Obj::parse(text.trim()).map_err(|e| err(format!("not a JSON object: {e}")))?;
    let str_at =
        |p: &Option<String>| p.as_ref().and_then(|p| at_path(&o, p)).and_then(json::string).map(|s| s.into_owned());
    let mut rec = UsageRecord {
        format: "generic",
        model: str_at(&m.model),
        provider: str_at(&m.provider).map(|p| normalize_provider(&p)),
        id: str_at(&m.id),
        service_tier: str_at(&m.service_tier),
        ..Default::default()
    };
    if let Some(p) = &m.timestamp {
        if let Some(raw) = at_path(&o, p) {
            rec.timestamp = time_value(raw).map_err(|e| err(format!("{p}: {e}")))?;
        }
    }
    if let Some(p) = &m.reported_cost {
        if let Some(raw) = at_path(&o, p) {
            let t = json::number_text(raw)
                .ok_or_else(|| err(format!("{p}: {} is not a number", json::excerpt(raw.get(), 40))))?;
            rec.reported_cost =
                Some(json::decimal(&t).ok_or_else(|| err(format!("{p}: {t} is not a decimal number")))?);
        }
    }
    if let Some(p) = &m.cache_hit {
        rec.cache_hit = at_path(&o, p).and_then(json::boolean).unwrap_or(false);
    }
    let mut c = Counts::new();
    for (field, path) in &m.counts {
        let u =
            units::unit_of_usage_field(field).ok_or_else(|| err(format!("mapping: {field:?} is not a usage field")))?;
        if let Some(raw) = at_path(&o, path) {
            let v = count(raw).map_err(|e| err(format!("{path}: {e}")))?.unwrap_or(0);
            c.set(u, v);
            rec.has_usage = true;
        }
    }
    if m.input_excludes_cache {
        let extra = c.c[CACHE_READ].saturating_add(c.c[CACHE_WRITE]).saturating_add(c.c[CACHE_WRITE_1H]);
        c.set(INPUT, add(c.c[INPUT], extra, "input")?);
    }
    rec.usage = c.usage();
    for (name, path) in &m.metadata {
        if let Some(raw) = at_path(&o, path) {
            if kind(raw) == Kind::Object {
                meta_object(raw, "", &mut rec.metadata);
            } else {
                meta_object(raw, name, &mut rec.metadata);
            }
        }
    }
    finish(rec, hints)
}

/// The raw records of a container: a Cloudflare Logs API envelope (`{"result": [...]}`), an OTLP export (one
/// record per GenAI span), a JSON array of records, or the object itself.
pub fn records_of<'a>(raw: Raw<'a>) -> Vec<Raw<'a>> {
    match kind(raw) {
        Kind::Array => json::array(raw).unwrap_or_default(),
        Kind::Object => {
            let Some(o) = json::object(raw) else { return vec![raw] };
            if o.has("resourceSpans") || o.has("scopeSpans") {
                return otlp_spans(&o)
                    .into_iter()
                    .filter(|s| {
                        json::object(s).is_some_and(|s| {
                            attributes(&s).is_some_and(|a| a.iter().any(|(k, _)| k.starts_with("gen_ai.usage.")))
                        })
                    })
                    .collect();
            }
            if let (Some(result), true) = (o.arr("result"), o.has("success")) {
                return result;
            }
            vec![raw]
        }
        _ => vec![raw],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> UsageRecord {
        extract_text(text, &Hints::default()).unwrap()
    }

    #[test]
    fn openai_cached_tokens_are_inside_the_prompt() {
        let r = read(
            r#"{"id":"c1","object":"chat.completion","created":1735689600,"model":"gpt-4o-2024-08-06","usage":{"prompt_tokens":2422,"completion_tokens":120,"total_tokens":2542,"prompt_tokens_details":{"cached_tokens":2304},"completion_tokens_details":{"reasoning_tokens":64}}}"#,
        );
        assert_eq!(r.format, "openai_chat");
        assert_eq!((r.usage.get("input_tokens"), r.usage.get("cache_read_tokens")), (Some(2422), Some(2304)));
        assert_eq!((r.usage.get("output_tokens"), r.usage.get("reasoning_tokens")), (Some(120), Some(64)));
        assert_eq!(r.timestamp, Some(1_735_689_600_000_000));
    }

    #[test]
    fn anthropic_cache_is_added_to_the_prompt() {
        let r = read(
            r#"{"type":"message","model":"claude-sonnet-4-5","usage":{"input_tokens":21,"cache_creation_input_tokens":2051,"cache_read_input_tokens":100,"cache_creation":{"ephemeral_5m_input_tokens":51,"ephemeral_1h_input_tokens":2000},"output_tokens":503}}"#,
        );
        assert_eq!(r.usage.get("input_tokens"), Some(21 + 2051 + 100));
        assert_eq!(r.usage.get("cache_write_tokens"), Some(51));
        assert_eq!(r.usage.get("cache_write_1h_tokens"), Some(2000));
    }

    #[test]
    fn costs_are_exact_and_bad_counts_name_their_field() {
        let r = read(
            r#"{"id":"x","created_at":"2025-05-01T12:00:00Z","model":"gpt-4o-mini","provider":"openai","tokens_in":10,"tokens_out":2,"cost":0.0018345,"metadata":"{\"team\":\"AI\",\"user\":12345}","cached":false}"#,
        );
        assert_eq!(r.reported_cost.unwrap().to_string(), "0.0018345");
        assert_eq!(r.metadata, vec![("team".into(), Meta::Str("AI".into())), ("user".into(), Meta::Int(12345))]);
        let e =
            extract_text(r#"{"model":"gpt-4o","usage":{"prompt_tokens":-3,"completion_tokens":1}}"#, &Hints::default())
                .unwrap_err();
        assert_eq!(e.to_string(), "usage record: usage.prompt_tokens: -3 is negative");
        let e = extract_text(r#"{"foo":1}"#, &Hints::default()).unwrap_err();
        assert!(e.to_string().contains("has the keys [foo]"), "{e}");
    }

    #[test]
    fn never_panics_on_odd_json() {
        for t in [
            "",
            "[]",
            "[1]",
            "null",
            "{\"usage\":7}",
            "{\"usage\":{\"prompt_tokens\":\"x\"}}",
            "data: {\n\n",
            "{\"usageMetadata\":[]}",
            "[{\"type\":\"message_start\"}]",
            "{\"ResponseBody\":5}",
            "{\"resourceSpans\":[{}]}",
        ] {
            let _ = extract_text(t, &Hints::default());
        }
    }
}
