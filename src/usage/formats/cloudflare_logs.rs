//! The `cloudflare_logs` format: Cloudflare AI Gateway Logs API items (tokens_in / tokens_out).

use crate::error::Result;
use crate::json::{self, Obj};
use crate::prices::units::{INPUT, OUTPUT};
use crate::usage::record::{Extras, Meta, Status, UsageRecord};

use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("cloudflare_logs", "Cloudflare AI Gateway Logs API items (tokens_in / tokens_out)", |o, _| {
        cloudflare_logs(o)
    })
    .detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("tokens_in") || p.o.has("tokens_out")
}

/// Cloudflare AI Gateway Logs API item. It carries `tokens_in` / `tokens_out` only (no cache split), the
/// gateway's `cost` estimate, `cached` for gateway cache hits, `step` > 0 for fallbacks, and `metadata` as a JSON
/// string (REST) or an object (Worker binding). `custom_cost` (the caller priced the request with
/// `cf-aig-custom-cost`) is no label: it says how `cost` was set, not whose request it was; it is kept as an
/// extra, with `duration` (milliseconds), `path` (the endpoint) and `id` (fields of `LogListResponse`,
/// cloudflare-typescript `src/resources/ai-gateway/logs.ts`).
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
    rec.status = if o.bool("success") == Some(false) { Status::Error } else { Status::of_http(rec.status_code) };
    let mut c = Counts::new();
    c.set(INPUT, n(o, "", "tokens_in")?);
    c.set(OUTPUT, n(o, "", "tokens_out")?);
    rec.usage = c.usage();
    let given = o.present("tokens_in").is_some() || o.present("tokens_out").is_some();
    rec.has_usage = usage_given(given, rec.status, &rec.usage);
    // A success the gateway logged without counts is a usage it failed to parse (cloudflare/ai#491: Bedrock;
    // cloudflare-docs#20536: Anthropic, 0 tokens and cost 0), not a free call; a cache hit may cost nothing.
    if rec.status == Status::Ok && !rec.cache_hit && no_counts(&rec.usage) {
        return Err(no_usage_on_success("cloudflare_logs", "tokens_in / tokens_out"));
    }
    rec.reported_cost = money(o, "cost")?;
    if let Some(m) = o.present("metadata") {
        labels_member(m, "metadata", &mut rec.metadata)?;
    }
    rec.extras = Extras {
        duration_ms: duration_ms(o, "duration", 1)?,
        request_id: rec.id.clone(),
        endpoint: text(o, "path"),
        custom_cost: o.bool("custom_cost"),
        ..Default::default()
    };
    if let Some(step) = o.present("step").and_then(json::number_text).and_then(|t| t.parse::<i64>().ok()) {
        rec.metadata.push(("step".into(), Meta::Int(step)));
    }
    Ok(rec)
}
