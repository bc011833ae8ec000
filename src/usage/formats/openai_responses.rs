//! The `openai_responses` format: OpenAI Responses API (and its response.completed stream event).

use crate::error::Result;
use crate::json::Obj;
use crate::prices::units::{CACHE_READ, CACHE_WRITE, INPUT, OUTPUT};
use crate::usage::record::{Status, UsageRecord};
use crate::usage::Usage;

use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("openai_responses", "OpenAI Responses API (and its response.completed stream event)", |o, _| {
        openai_responses(o)
    })
    .detect(detect)
    .loose(detect_loose);

fn detect(p: &Probe<'_, '_>) -> bool {
    matches!(p.kind(), Some("response.completed" | "response.incomplete" | "response.failed"))
        || p.o.str("object").as_deref() == Some("response")
}

/// Loose: `usage.input_tokens` with its details objects (after Anthropic's own signals, which share the key).
fn detect_loose(p: &Probe<'_, '_>) -> bool {
    p.usage_has("input_tokens") && (p.usage_has("input_tokens_details") || p.usage_has("output_tokens_details"))
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
        rec.status = Status::Error;
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
