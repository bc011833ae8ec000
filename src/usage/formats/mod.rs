//! Reading usage out of provider responses and gateway or tracing logs, into one normalized [`UsageRecord`].
//!
//! Every source says it differently; each reader states its source's rule and converts to the book's rule (see
//! [`crate::usage`]): `input_tokens` is the whole prompt, cache included; `output_tokens` the whole output,
//! reasoning included. Field names and rules: OpenAI's, Anthropic's, Google's and AWS's API references, the
//! gateways' log schemas (Cloudflare AI Gateway, LiteLLM, Langfuse, Helicone) and the OpenTelemetry GenAI semantic
//! conventions, as summarized in the project's reference notes.
//!
//! One file per source (`formats/<source>.rs`), each defining its [`Format`]: name, what it reads, how it is
//! detected, how it is read. The registry [`FORMATS`] is the only list of formats (the Python API, the CLI and the
//! error messages all read it). Detection is two passes over the registry, in its order: first every format's own
//! signals ([`Format::detect`]), then the loose signals several APIs share ([`Format::detect_loose`], e.g. a bare
//! `usage.input_tokens`); the first match wins. When nothing matches, the error names the keys it saw and the
//! formats it tried. Shared reading helpers live in `common.rs`; streams in [`crate::usage::stream`]; records read by
//! a caller-given mapping in [`generic`].
//!
//! # Adding a format
//!
//! Write `src/usage/formats/<source>.rs` with a reader `fn(&Obj, &Hints) -> Result<UsageRecord>` that states its
//! source's counting rule and converts it to the book's, a detector `fn(&Probe) -> bool` on keys only that source
//! writes, and `pub(super) static FORMAT: Format = Format::new(name, describe, read).detect(detect)` (and
//! `.loose(detect_loose)` for signals it shares with other APIs).
//! Then register it here: `mod <source>;` and one line `&<source>::FORMAT,` in [`FORMATS`], at the place its
//! detection must be tried (before any format whose signals its records also carry). Give it a fixture file
//! `tests/fixtures/usage/<source>.json` (sample records and every field expected): `cargo test` checks that each
//! registered format is detected by its own samples, pytest that each reads as expected. Python's `usage_formats()`,
//! `price_logs(format=...)` and the CLI's `--format` help list it with no further change.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::json::{self, kind, Kind, Obj, Raw};
use crate::usage::record::{Hints, UsageRecord};
use crate::usage::stream::{extract_stream, sse_events};

pub(crate) mod anthropic;
mod anthropic_batch;
pub(crate) mod bedrock;
mod cloudflare_logpush;
mod cloudflare_logs;
mod cohere;
pub(crate) mod common;
pub(crate) mod gemini;
pub mod generic;
mod helicone;
mod langfuse;
mod litellm;
mod openai_batch;
pub(crate) mod openai_chat;
mod openai_responses;
pub(crate) mod otel;
mod tokenprice;

use common::err;
pub use common::{normalize_provider, provider_id, to_money_scale};
pub use generic::{extract_mapped, extract_mapped_bytes, Mapping, MappingKey};

/// One source's format: its name, what it reads, how its records are recognized and how they are read.
pub struct Format {
    /// The name `format=` takes and records carry (`UsageRecord::format`).
    pub name: &'static str,
    /// What it reads, in one line (listed by `usage_formats()` and the CLI).
    pub describe: &'static str,
    /// The format's own signals: keys or values only its records carry.
    pub detect: fn(&Probe<'_, '_>) -> bool,
    /// Signals several APIs share, tried only when no format's own signals matched.
    pub detect_loose: fn(&Probe<'_, '_>) -> bool,
    /// Reads one record (the hints pass on to a body read inside it).
    pub read: fn(&Obj<'_>, &Hints) -> Result<UsageRecord>,
}

impl Format {
    /// A format that detection never picks (only `format=` names it) until [`Format::detect`] or
    /// [`Format::loose`] give it signals.
    pub const fn new(
        name: &'static str,
        describe: &'static str,
        read: fn(&Obj<'_>, &Hints) -> Result<UsageRecord>,
    ) -> Format {
        Format { name, describe, detect: never, detect_loose: never, read }
    }

    /// With its own signals.
    pub const fn detect(self, detect: fn(&Probe<'_, '_>) -> bool) -> Format {
        Format { detect, ..self }
    }

    /// With signals it shares with other APIs (tried after every format's own).
    pub const fn loose(self, detect_loose: fn(&Probe<'_, '_>) -> bool) -> Format {
        Format { detect_loose, ..self }
    }
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Format").field("name", &self.name).finish()
    }
}

/// A detector that never matches (for a format without loose signals).
pub(crate) fn never(_: &Probe<'_, '_>) -> bool {
    false
}

/// What detectors look at, read once per record: the object, its `usage` object and its `type`.
pub struct Probe<'o, 'a> {
    pub o: &'o Obj<'a>,
    pub usage: Option<Obj<'a>>,
    pub kind: Option<Cow<'a, str>>,
}

impl<'o, 'a> Probe<'o, 'a> {
    pub fn new(o: &'o Obj<'a>) -> Self {
        Probe { o, usage: o.obj("usage"), kind: o.str("type") }
    }

    /// Whether the record's `usage` object has `key`.
    pub fn usage_has(&self, key: &str) -> bool {
        self.usage.as_ref().is_some_and(|u| u.has(key))
    }

    /// The record's `type`.
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }
}

/// The formats, in detection order (see the module comment).
pub static FORMATS: &[&Format] = &[
    &tokenprice::FORMAT,
    &cloudflare_logpush::FORMAT,
    &cloudflare_logs::FORMAT,
    &litellm::FORMAT,
    &langfuse::FORMAT,
    &helicone::FORMAT,
    &otel::FORMAT,
    &openai_batch::FORMAT,
    &anthropic_batch::FORMAT,
    &openai_responses::FORMAT,
    &openai_chat::FORMAT,
    &anthropic::FORMAT,
    &gemini::FORMAT,
    &bedrock::FORMAT,
    &cohere::FORMAT,
];

/// The names of [`FORMATS`], in order.
pub fn format_names() -> impl Iterator<Item = &'static str> {
    FORMATS.iter().map(|f| f.name)
}

/// The format named `name`.
pub fn format_named(name: &str) -> Option<&'static Format> {
    FORMATS.iter().copied().find(|f| f.name == name)
}

/// Every format name `extract_usage(format=...)` accepts, with what each reads: [`FORMATS`], then the generic
/// mapping's.
pub fn usage_formats() -> impl Iterator<Item = (&'static str, &'static str)> {
    FORMATS.iter().map(|f| (f.name, f.describe)).chain([(generic::NAME, generic::DESCRIBE)])
}

/// A format name a log is read with: one of [`FORMATS`], else an argument error listing them (raised before any
/// reading: a typo would otherwise reject every record).
pub fn check_format(name: &str) -> Result<()> {
    if format_named(name).is_some() {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "unknown format {name:?}; formats: {} (or none, to detect each record's)",
        format_names().collect::<Vec<_>>().join(", ")
    )))
}

/// The format whose signals `o` carries: every format's own signals first, then the loose ones, in registry order.
pub fn detect(o: &Obj<'_>) -> Option<&'static Format> {
    let probe = Probe::new(o);
    FORMATS.iter().find(|f| (f.detect)(&probe)).or_else(|| FORMATS.iter().find(|f| (f.detect_loose)(&probe))).copied()
}

/// Reads one record from JSON text (an object, a list of stream chunks, or a server-sent-events stream).
pub fn extract_text(text: &str, hints: &Hints) -> Result<UsageRecord> {
    if let Some(f) = &hints.format {
        if f != generic::NAME && !format_names().any(|n| n == f) {
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
        Some(f) => format_named(f).ok_or_else(|| err(format!("unknown format {f:?}")))?,
        None => detect(o).ok_or_else(|| no_format(o))?,
    };
    let mut rec = (format.read)(o, hints)?;
    if rec.format.is_empty() {
        rec.format = format.name;
    }
    finish(rec, hints)
}

/// Fills what the caller knows and the body lacks, and checks the usage.
pub(crate) fn finish(mut rec: UsageRecord, hints: &Hints) -> Result<UsageRecord> {
    if rec.provider.is_none() {
        rec.provider = hints.provider.as_deref().map(normalize_provider);
    }
    if rec.model.is_none() {
        rec.model = hints.model.clone();
    }
    if rec.timestamp.is_none() {
        rec.timestamp = hints.at;
    }
    rec.usage.validate().map_err(|e| err(format!("{}: {e}", rec.format)))?;
    for (_, u) in &rec.parts {
        u.validate().map_err(|e| err(format!("{} (a part): {e}", rec.format)))?;
    }
    Ok(rec)
}

/// One record of a container: its JSON, and for a span of an OTLP export the `resource` it belongs to, whose
/// attributes (`service.name`, ...) label the span's record.
#[derive(Clone, Copy, Debug)]
pub struct Element<'a> {
    pub raw: Raw<'a>,
    pub resource: Option<Raw<'a>>,
}

impl<'a> Element<'a> {
    fn plain(raw: Raw<'a>) -> Self {
        Element { raw, resource: None }
    }

    /// The record `read` makes of the element's JSON, labelled by its span's resource.
    pub fn read<E>(
        &self,
        read: impl FnOnce(&'a str) -> std::result::Result<UsageRecord, E>,
    ) -> std::result::Result<UsageRecord, E> {
        let mut rec = read(self.raw.get())?;
        if let Some(resource) = self.resource {
            otel::resource_labels(resource, &mut rec.metadata);
        }
        Ok(rec)
    }
}

/// The records of a container: a Cloudflare Logs API envelope (`{"result": [...]}`), a Langfuse or Helicone API
/// page (`{"data": [...], "meta" | "error": ...}`), an OTLP export (one record per GenAI span, each with its own
/// resource), a JSON array of records, or the object itself.
pub fn records_of<'a>(raw: Raw<'a>) -> Vec<Element<'a>> {
    let plain = |items: Vec<Raw<'a>>| items.into_iter().map(Element::plain).collect();
    match kind(raw) {
        Kind::Array => plain(json::array(raw).unwrap_or_default()),
        Kind::Object => {
            let Some(o) = json::object(raw) else { return vec![Element::plain(raw)] };
            if o.has("resourceSpans") || o.has("scopeSpans") {
                let spans = otel::genai_spans(&o);
                // An export of one GenAI span is read whole (the reader labels it with its resource).
                return if spans.len() == 1 {
                    vec![Element::plain(raw)]
                } else {
                    spans.into_iter().map(|(raw, resource)| Element { raw, resource }).collect()
                };
            }
            if let (Some(result), true) = (o.arr("result"), o.has("success")) {
                return plain(result);
            }
            // The list pages of Langfuse (`{data, meta}`, v1 and v2) and Helicone (`{data, error}`).
            if let (Some(data), true) = (o.arr("data"), o.has("meta") || o.has("error")) {
                return plain(data);
            }
            vec![Element::plain(raw)]
        }
        _ => vec![Element::plain(raw)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Meta;

    fn read(text: &str) -> UsageRecord {
        extract_text(text, &Hints::default()).unwrap()
    }

    /// Counts whose sums pass 2^64 are errors, never an overflow (a panic in a debug build, a wrapped sum in a
    /// release one): xAI's total beside OpenAI's counts, Anthropic's cache writes by TTL, Bedrock's cache details.
    #[test]
    fn absurd_counts_are_errors_not_overflows() {
        let max = u64::MAX;
        let xai = format!(
            r#"{{"model":"grok-4","usage":{{"prompt_tokens":{max},"completion_tokens":1,"total_tokens":{max},"completion_tokens_details":{{"reasoning_tokens":1}}}}}}"#
        );
        // The total is not prompt + completion + reasoning (that passes 2^64): no reasoning is added to the output.
        let r = read(&xai);
        assert_eq!((r.usage.get("input_tokens"), r.usage.get("output_tokens")), (Some(max), Some(1)));
        let anthropic = format!(
            r#"{{"type":"message","model":"claude-sonnet-4-5","usage":{{"input_tokens":1,"output_tokens":1,"cache_creation":{{"ephemeral_5m_input_tokens":{max},"ephemeral_1h_input_tokens":1}}}}}}"#
        );
        let bedrock = format!(
            r#"{{"usage":{{"inputTokens":1,"outputTokens":1,"cacheWriteInputTokens":5,"cacheDetails":[{{"inputTokens":{max},"ttl":"5m"}},{{"inputTokens":{max},"ttl":"5m"}}]}}}}"#
        );
        for text in [anthropic, bedrock] {
            let e = extract_text(&text, &Hints::default()).unwrap_err().to_string();
            assert!(e.contains("2^64"), "{e}");
        }
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

#[cfg(test)]
mod detection_order {
    use super::*;

    fn detected(text: &str) -> Option<&'static str> {
        detect(&Obj::parse(text).unwrap()).map(|f| f.name)
    }

    /// Records carrying several formats' signals: a format's own signals beat every loose one, and the loose ones
    /// go Responses, then Chat Completions, then Anthropic (the order detection had before the registry).
    #[test]
    fn own_signals_first_then_the_loose_ones_in_order() {
        assert_eq!(
            detected(r#"{"type":"message","usage":{"input_tokens":1,"input_tokens_details":{}}}"#),
            Some("anthropic")
        );
        assert_eq!(
            detected(r#"{"object":"chat.completion","usage":{"input_tokens":1,"output_tokens_details":{}}}"#),
            Some("openai_responses")
        );
        assert_eq!(detected(r#"{"usage":{"input_tokens":1,"prompt_tokens":1}}"#), Some("openai_chat"));
        assert_eq!(detected(r#"{"usage":{"input_tokens":1,"output_tokens":2}}"#), Some("anthropic"));
        assert_eq!(detected(r#"{"usageMetadata":{},"usage":{"prompt_tokens":1}}"#), Some("gemini"));
        assert_eq!(detected(r#"{"usage":{"inputTokens":1,"billed_units":{}}}"#), Some("bedrock"));
        assert_eq!(detected(r#"{"tokens_in":1,"response_cost":2}"#), Some("cloudflare_logs"));
        assert_eq!(detected(r#"{"custom_id":"a","response":{"body":{}},"result":{}}"#), Some("openai_batch"));
        assert_eq!(detected(r#"{"model":"x"}"#), None);
    }

    #[test]
    fn names_are_unique_and_format_named_finds_each() {
        for (i, f) in FORMATS.iter().enumerate() {
            assert!(!f.name.is_empty() && !f.describe.is_empty(), "{f:?}");
            assert!(FORMATS[..i].iter().all(|g| g.name != f.name), "{} is registered twice", f.name);
            assert!(std::ptr::eq(format_named(f.name).unwrap(), *f));
            assert!(check_format(f.name).is_ok());
        }
        assert!(format_named(generic::NAME).is_none(), "the generic format needs a mapping: not in the registry");
        let e = check_format("cloudflare").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert!(e.to_string().contains(&format_names().collect::<Vec<_>>().join(", ")), "{e}");
        let listed: Vec<&str> = usage_formats().map(|(n, _)| n).collect();
        assert_eq!(listed[..FORMATS.len()], format_names().collect::<Vec<_>>()[..]);
        assert_eq!(listed[FORMATS.len()..], [generic::NAME]);
    }
}
