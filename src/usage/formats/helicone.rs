//! The `helicone` format: Helicone request exports.

use crate::error::Result;
use crate::json::Obj;
use crate::prices::units::{CACHE_READ, CACHE_WRITE, INPUT, OUTPUT};
use crate::usage::record::{Meta, Status, UsageRecord};

use super::common::*;
use super::{never, Format, Probe};

pub(super) static FORMAT: Format = Format {
    name: "helicone",
    describe: "Helicone request exports",
    detect,
    detect_loose: never,
    read: |o, _| helicone(o),
};

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("costUSD") || (p.o.has("request_id") && p.o.has("request_created_at"))
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
    rec.status = Status::of_http(rec.status_code);
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
