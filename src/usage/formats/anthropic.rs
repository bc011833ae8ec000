//! The `anthropic` format: Anthropic Messages (also through Bedrock InvokeModel and Vertex).

use crate::error::Result;
use crate::json::{self, Obj};
use crate::prices::units::{self, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT, N_UNITS, OUTPUT};
use crate::usage::record::{Status, UsageRecord};
use crate::usage::Usage;

use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("anthropic", "Anthropic Messages (also through Bedrock InvokeModel and Vertex)", |o, _| anthropic(o))
        .detect(detect)
        .loose(detect_loose);

fn detect(p: &Probe<'_, '_>) -> bool {
    matches!(p.kind(), Some("message" | "message_start" | "message_delta"))
        || p.usage_has("cache_creation_input_tokens")
        || p.usage_has("cache_read_input_tokens")
        || p.usage_has("server_tool_use")
}

/// Loose: a bare `usage.input_tokens` / `output_tokens` (Anthropic and the Responses API agree when no cache
/// counts are given); tried last.
fn detect_loose(p: &Probe<'_, '_>) -> bool {
    p.usage_has("input_tokens") || p.usage_has("output_tokens")
}

/// Anthropic Messages: `input_tokens` EXCLUDES cache reads and writes, which are added here. Writes split by TTL
/// from `cache_creation` when given (else all 5-minute). `usage.iterations` become parts.
pub(crate) fn anthropic(o: &Obj<'_>) -> Result<UsageRecord> {
    let msg = if o.str("type").as_deref() == Some("message_start") { o.obj("message") } else { None };
    let o = msg.as_ref().unwrap_or(o);
    let mut rec = UsageRecord { format: "anthropic", model: text(o, "model"), id: text(o, "id"), ..Default::default() };
    if o.str("type").as_deref() == Some("error") {
        rec.status = Status::Error;
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

pub(crate) fn anthropic_usage(u: &Obj<'_>, path: &str) -> Result<Usage> {
    let mut c = Counts::new();
    let uncached = n(u, path, "input_tokens")?;
    let reads = n(u, path, "cache_read_input_tokens")?;
    let writes = n(u, path, "cache_creation_input_tokens")?;
    let (mut w5, mut w1h) = (writes, 0);
    if let Some(cc) = u.obj("cache_creation") {
        let p = format!("{path}.cache_creation");
        let (a, b) = (n(&cc, &p, "ephemeral_5m_input_tokens")?, n(&cc, &p, "ephemeral_1h_input_tokens")?);
        if a > 0 || b > 0 || writes == 0 {
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
