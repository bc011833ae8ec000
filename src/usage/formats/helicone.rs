//! The `helicone` format: Helicone request exports.

use crate::error::Result;
use crate::json::Obj;
use crate::prices::units::{CACHE_READ, CACHE_WRITE, INPUT, OUTPUT};
use crate::usage::record::{Extras, Meta, Status, UsageRecord};

use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("helicone", "Helicone request exports", |o, _| helicone(o)).detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("costUSD") || (p.o.has("request_id") && p.o.has("request_created_at"))
}

/// Helicone request export (`HeliconeRequest`, `packages/llm-mapper/types.ts`). Its token columns do not overlap:
/// the body processors store `prompt_tokens` without the cached and audio tokens, and `costOfPrompt`
/// (`packages/cost/index.ts`) prices `prompt_cache_read_tokens`, `prompt_cache_write_tokens` and
/// `prompt_audio_tokens` on top of it, for every provider. So the whole prompt is their sum. Writes carry no
/// 5-minute / 1-hour split (priced as 5-minute). A cache hit is a row whose `cache_reference_id` names another
/// request (not the all-zero default): it is kept as the cache marker, with `delay_ms` (duration),
/// `time_to_first_token` (milliseconds), `request_id`, `target_url` (the endpoint) and a 429 as rate limited.
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
    rec.status = Status::of_http(rec.status_code);
    rec.reported_cost = money(o, "costUSD")?.or(money(o, "cost")?);
    let cache_reference_id = text(o, "cache_reference_id").filter(|id| id != DEFAULT_UUID);
    rec.cache_hit = cache_reference_id.is_some();
    rec.extras = Extras {
        duration_ms: duration_ms(o, "delay_ms", 1)?,
        ttft_ms: duration_ms(o, "time_to_first_token", 1)?,
        request_id: rec.id.clone(),
        endpoint: text(o, "target_url").or_else(|| text(o, "request_path")),
        rate_limited: (rec.status_code == Some(429)).then_some(true),
        cache_reference_id,
        ..Default::default()
    };
    let mut c = Counts::new();
    let prompt = n(o, "", "prompt_tokens")?;
    let reads = n(o, "", "prompt_cache_read_tokens")?;
    let writes = n(o, "", "prompt_cache_write_tokens")?;
    let audio_in = n(o, "", "prompt_audio_tokens")?;
    c.set(INPUT, add(add(prompt, reads, "prompt tokens")?, add(writes, audio_in, "prompt tokens")?, "prompt tokens")?);
    c.set(CACHE_READ, reads);
    c.set(CACHE_WRITE, writes);
    c.set(unit("input_audio_tokens"), audio_in);
    let completion = n(o, "", "completion_tokens")?;
    let audio_out = n(o, "", "completion_audio_tokens")?;
    c.set(OUTPUT, add(completion, audio_out, "completion tokens")?);
    c.set(unit("output_audio_tokens"), audio_out);
    rec.usage = c.usage();
    let given = o.present("prompt_tokens").is_some() || o.present("completion_tokens").is_some();
    rec.has_usage = usage_given(given, rec.status, &rec.usage);
    if let Some(p) = o.present("properties") {
        labels_member(p, "properties", &mut rec.metadata)?;
    }
    if let Some(u) = text(o, "request_user_id") {
        rec.metadata.push(("user".into(), Meta::Str(u)));
    }
    Ok(rec)
}

/// Helicone's `cache_reference_id` of a request not served from its cache.
const DEFAULT_UUID: &str = "00000000-0000-0000-0000-000000000000";
