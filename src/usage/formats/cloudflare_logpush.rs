//! The `cloudflare_logpush` format: Cloudflare AI Gateway Logpush `ai_gateway_events` (usage inside ResponseBody).

use crate::error::{Error, Result};
use crate::json::{self, kind, Kind, Obj, Raw};
use crate::usage::record::{Extras, Hints, Meta, Status, TextToCount, UsageRecord};

use std::borrow::Cow;

use crate::usage::stream::sse_events;

use super::common::*;
use super::{extract_obj, extract_text};
use super::{Format, Probe};

pub(super) static FORMAT: Format = Format::new(
    "cloudflare_logpush",
    "Cloudflare AI Gateway Logpush `ai_gateway_events` (usage inside ResponseBody)",
    |o, _| cloudflare_logpush(o),
)
.detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("ResponseBody") || (p.o.has("Gateway") && p.o.has("Model"))
}

/// Cloudflare AI Gateway Logpush (`ai_gateway_events`): the usage is inside `ResponseBody`, the provider's own
/// body as JSON text or an SSE stream (read by that provider's rule). An encrypted body (`{type: "encrypted",
/// data}`, with `key` and `iv` when wrapped) cannot be read and is rejected with that reason. Failed requests are kept with zero usage.
fn cloudflare_logpush(o: &Obj<'_>) -> Result<UsageRecord> {
    let provider = provider_at(o, "Provider");
    let code = status_code(o, "StatusCode");
    let cached = o.bool("Cached").unwrap_or(false);
    let failed = code.is_some_and(|c| c >= 400);
    let inner_hints = Hints { provider: provider.clone(), format: None, model: text(o, "Model"), at: None };
    let body = o.present("ResponseBody");
    let mut rec = match body {
        Some(b) if kind(b) == Kind::Object => {
            if is_encrypted(b) {
                return Err(err("cloudflare_logpush: ResponseBody is encrypted (Logpush encryption): decrypt the logs first, or use the Logs API"));
            }
            extract_obj(&json::object(b).unwrap_or_default(), &inner_hints)?
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
    rec.status = Status::of_http(code);
    rec.cache_hit = cached;
    rec.id = text(o, "ID").or_else(|| text(o, "Id")).or_else(|| text(o, "LogID")).or(rec.id);
    if let Some(m) = o.present("Metadata").filter(|m| !is_encrypted(*m)) {
        labels_member(m, "Metadata", &mut rec.metadata)?;
    }
    // The gateway's own extras replace any the body had (Logpush dataset `ai_gateway_events`: `Endpoint`,
    // `RateLimited`, `Metrics.durationMs`; cloudflare-docs `ai-gateway/observability/logging/logpush.mdx`).
    rec.extras = Extras {
        request_id: text(o, "ID").or_else(|| text(o, "Id")).or_else(|| text(o, "LogID")),
        endpoint: text(o, "Endpoint"),
        rate_limited: o.bool("RateLimited"),
        ..Default::default()
    };
    if let Some(metrics) = o.obj("Metrics") {
        rec.reported_cost = money(&metrics, "cost")?.or(rec.reported_cost);
        rec.extras.duration_ms = duration_ms(&metrics, "durationMs", 1)?;
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
