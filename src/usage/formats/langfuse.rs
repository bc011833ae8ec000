//! The `langfuse` format: Langfuse observation exports (usageDetails, calculatedTotalCost).

use crate::error::Result;
use crate::json::{count, kind, Kind, Obj};
use crate::prices::units::{CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT, OUTPUT};
use crate::usage::record::{Extras, Meta, Status, UsageRecord};

use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("langfuse", "Langfuse observation exports (usageDetails, calculatedTotalCost)", |o, _| langfuse(o))
        .detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("usageDetails") || p.o.has("calculatedTotalCost") || p.kind() == Some("GENERATION")
}

/// Langfuse observation export (`token-and-cost-tracking.mdx`): `usageDetails` buckets are disjoint (`input`
/// excludes `input_cached_tokens`, `cache_read_input_tokens` and the cache-creation buckets), so the prompt total
/// is the sum of every input bucket and the output the sum of every `output*` bucket; a cache-creation key naming
/// `1h` (`input_cache_creation_1h`) is a 1-hour write. Older exports use `usage: {input, output}`.
/// `calculatedTotalCost` (v2: `totalCost`) is Langfuse's own estimate, `costDetails` its per-part cost; `latency`
/// and `timeToFirstToken` are seconds (kept as milliseconds), `traceId` groups the observations of a trace.
fn langfuse(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec = UsageRecord {
        format: "langfuse",
        model: text(o, "model").or_else(|| text(o, "providedModelName")),
        id: text(o, "id"),
        ..Default::default()
    };
    rec.timestamp = time(o, "startTime")?;
    if o.str("level").as_deref() == Some("ERROR") {
        rec.status = Status::Error;
    }
    rec.reported_cost = money(o, "calculatedTotalCost")?.or(money(o, "totalCost")?);
    if rec.reported_cost.is_none() {
        if let Some(cd) = o.obj("costDetails") {
            rec.reported_cost = money(&cd, "total")?;
        }
    }
    rec.extras = Extras {
        duration_ms: duration_ms(o, "latency", 1000)?,
        ttft_ms: duration_ms(o, "timeToFirstToken", 1000)?,
        trace_id: text(o, "traceId"),
        ..Default::default()
    };
    if let Some(cd) = o.obj("costDetails") {
        for (k, v) in &cd.members {
            if kind(v) != Kind::Null {
                rec.extras.cost_breakdown.push((k.to_string(), money_value(*v, &format!("costDetails.{k}"))?));
            }
        }
    }
    let details = o.obj("usageDetails").or_else(|| o.obj("usage"));
    if let Some(d) = details {
        let mut c = Counts::new();
        let (mut input, mut output) = (0u64, 0u64);
        // Whether a count is given: an empty `usageDetails` ({}, what an observation ingested without usage holds),
        // or only `total`/`unit` (the legacy `usage` object's, no count of their own), reports none.
        let mut given = false;
        for (k, v) in &d.members {
            let key = k.to_ascii_lowercase();
            if key == "total" || key == "unit" || kind(v) == Kind::Null {
                continue;
            }
            given = true;
            let value = count(v).map_err(|e| err(format!("usageDetails.{k}: {e}")))?.unwrap_or(0);
            let target = if key.starts_with("output") || key.starts_with("completion") {
                output = add(output, value, "usageDetails")?;
                if key.contains("reasoning") {
                    Some(unit("reasoning_tokens"))
                } else if key.contains("audio") {
                    Some(unit("output_audio_tokens"))
                } else {
                    None
                }
            } else if key.starts_with("input") || key.starts_with("prompt") || key.contains("cache") {
                // Anthropic-style keys (`cache_read_input_tokens`, `cache_creation_input_tokens`) are input
                // buckets too, as Langfuse's docs and exporters write them.
                input = add(input, value, "usageDetails")?;
                if key.contains("cache_read") || key.contains("cached") {
                    Some(CACHE_READ)
                } else if key.contains("cache_creation") || key.contains("cache_write") {
                    Some(if key.contains("1h") { CACHE_WRITE_1H } else { CACHE_WRITE })
                } else if key.contains("audio") {
                    Some(unit("input_audio_tokens"))
                } else if key.contains("image") {
                    Some(unit("input_image_tokens"))
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
        rec.has_usage = given;
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
