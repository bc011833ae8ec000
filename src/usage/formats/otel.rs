//! The `otel` format: OpenTelemetry GenAI spans (gen_ai.* attributes), as JSON spans or OTLP JSON.

use rust_decimal::Decimal;

use crate::error::Result;
use crate::json::{self, count, kind, Kind, Obj, Raw};
use crate::prices::units::{CACHE_READ, CACHE_WRITE, INPUT, OUTPUT};
use crate::usage::record::{Meta, Status, UsageRecord};

use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("otel", "OpenTelemetry GenAI spans (gen_ai.* attributes), as JSON spans or OTLP JSON", |o, _| otel(o))
        .detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("resourceSpans")
        || p.o.has("scopeSpans")
        || attributes(p.o).is_some_and(|a| a.iter().any(|(k, _)| k.starts_with("gen_ai.")))
}

/// A span's attributes as (key, value) pairs: a plain object, or OTLP's `[{"key", "value": {"stringValue": …}}]`.
pub(crate) fn attributes<'a>(o: &Obj<'a>) -> Option<Vec<(String, Raw<'a>)>> {
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

/// The GenAI spans (those with `gen_ai.usage.*` attributes) of an OTLP JSON export
/// (`resourceSpans[].scopeSpans[].spans[]`, as opentelemetry-proto's `ExportTraceServiceRequest` is written in
/// JSON), each with the `resource` object of its own `resourceSpans` entry (none for a bare `scopeSpans` list).
pub(crate) fn genai_spans<'a>(o: &Obj<'a>) -> Vec<(Raw<'a>, Option<Raw<'a>>)> {
    let scopes: Vec<(Raw<'a>, Option<Raw<'a>>)> = match o.arr("resourceSpans") {
        Some(rs) => rs
            .iter()
            .filter_map(json::object)
            .flat_map(|r| {
                let resource = r.present("resource");
                r.arr("scopeSpans").unwrap_or_default().into_iter().map(move |s| (s, resource))
            })
            .collect(),
        None => o.arr("scopeSpans").unwrap_or_default().into_iter().map(|s| (s, None)).collect(),
    };
    let mut out = Vec::new();
    for (s, resource) in scopes {
        let Some(s) = json::object(s) else { continue };
        for span in s.arr("spans").unwrap_or_default() {
            let genai = json::object(span)
                .and_then(|s| attributes(&s))
                .is_some_and(|a| a.iter().any(|(k, _)| k.starts_with("gen_ai.usage.")));
            if genai {
                out.push((span, resource));
            }
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
        return match genai_spans(o).as_slice() {
            [(span, resource)] => {
                let span = json::object(*span).ok_or_else(|| err("otel: a span is not a JSON object"))?;
                let mut rec = otel(&span)?;
                if let Some(resource) = resource {
                    resource_labels(*resource, &mut rec.metadata);
                }
                Ok(rec)
            }
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
    // The span's duration (its end less its start, in nanoseconds) and its trace (OTLP/JSON `traceId`).
    rec.extras.trace_id = text(o, "traceId").or_else(|| text(o, "trace_id"));
    rec.extras.duration_ms = span_duration_ms(o)?;
    // The endpoint: OpenLLMetry writes the client's base URL (`gen_ai.openai.api_base`, instrumentation 0.33.12).
    rec.extras.endpoint = s("gen_ai.openai.api_base").filter(|u| !u.is_empty());
    // The deprecated names (before semantic conventions 1.27) are still written by older instrumentations
    // (OpenLLMetry): `gen_ai.usage.prompt_tokens` / `completion_tokens`, with the same meaning.
    let input_key = ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"].into_iter().find(|k| get(k).is_some());
    let output_key =
        ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"].into_iter().find(|k| get(k).is_some());
    let mut c = Counts::new();
    c.set(INPUT, input_key.map_or(Ok(0), num)?);
    c.set(OUTPUT, output_key.map_or(Ok(0), num)?);
    c.set(CACHE_READ, num("gen_ai.usage.cache_read.input_tokens")?);
    c.set(CACHE_WRITE, num("gen_ai.usage.cache_creation.input_tokens")?);
    c.set(unit("reasoning_tokens"), num("gen_ai.usage.reasoning.output_tokens")?);
    rec.usage = c.usage();
    rec.has_usage = input_key.is_some() || output_key.is_some();
    rec.service_tier = s("gen_ai.openai.response.service_tier").or_else(|| s("openai.response.service_tier"));
    if let Some(st) = o.obj("status") {
        if matches!(st.str("code").as_deref(), Some("STATUS_CODE_ERROR" | "ERROR"))
            || st.get("code").is_some_and(|c| c.get() == "2")
        {
            rec.status = Status::Error;
        }
    }
    if let Some(e) = s("error.type") {
        rec.status = Status::Error;
        rec.metadata.push(("error_type".into(), Meta::Str(e)));
    }
    if !rec.has_usage && rec.status == Status::Ok {
        return Err(no_usage_on_success(
            "otel",
            "gen_ai.usage.input_tokens / output_tokens (or the deprecated prompt_tokens / completion_tokens)",
        ));
    }
    for (k, v) in &attrs {
        if is_label(k) {
            if let Some(m) = meta_value(*v) {
                rec.metadata.push((k.clone(), m));
            }
        }
    }
    Ok(rec)
}

/// Whether a span attribute is a label a user groups by: the conversation and response ids (per-conversation
/// cost), and the application's own attributes — not the GenAI conventions' other attributes, nor what
/// instrumentations add about themselves (`llm.headers`, `llm.usage.total_tokens`, `openai.response.*`,
/// `traceloop.*`).
fn is_label(key: &str) -> bool {
    if key == "gen_ai.conversation.id" || key == "gen_ai.response.id" {
        return true;
    }
    key != "error.type" && !INSTRUMENTATION_PREFIXES.iter().any(|p| key.starts_with(p))
}

const INSTRUMENTATION_PREFIXES: [&str; 5] = ["gen_ai.", "llm.", "openai.", "traceloop.", "telemetry."];

/// A span's resource attributes that name the service (`service.name`, `deployment.environment`, ...), as
/// labels after the span's own (a span's attribute of the same name wins); not the SDK's (`telemetry.sdk.*`) nor a
/// process instance's id. `resource` is the `resource` object of the span's `resourceSpans` entry.
pub(crate) fn resource_labels(resource: Raw<'_>, out: &mut Vec<(String, Meta)>) {
    let Some(attrs) = json::object(resource).as_ref().and_then(attributes) else { return };
    for (k, v) in attrs {
        if k.starts_with("telemetry.") || k == "service.instance.id" || out.iter().any(|(key, _)| *key == k) {
            continue;
        }
        if let Some(m) = meta_value(v) {
            out.push((k, m));
        }
    }
}

/// A span's duration in milliseconds: `endTimeUnixNano` less `startTimeUnixNano` (OTLP/JSON writes them as decimal
/// strings of nanoseconds), exact; `None` when either is missing; an error when they are not whole numbers or the
/// span ends before it starts.
fn span_duration_ms(o: &Obj<'_>) -> Result<Option<Decimal>> {
    let nanos = |key: &str| -> Result<Option<i128>> {
        match o.present(key) {
            None => Ok(None),
            Some(v) => json::number_text(v).and_then(|t| t.parse::<i128>().ok()).map(Some).ok_or_else(|| {
                err(format!("{key}: {} is not a whole number of nanoseconds", json::excerpt(v.get(), 40)))
            }),
        }
    };
    let (Some(start), Some(end)) = (nanos("startTimeUnixNano")?, nanos("endTimeUnixNano")?) else { return Ok(None) };
    if end < start {
        return Err(err(format!("endTimeUnixNano {end} is before startTimeUnixNano {start}")));
    }
    // Nanoseconds to milliseconds: scale 6, exact.
    Decimal::try_from_i128_with_scale(end - start, 6)
        .map(|d| Some(d.normalize()))
        .map_err(|_| err("the span's duration is too large".to_string()))
}
