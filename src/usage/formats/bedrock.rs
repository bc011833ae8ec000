//! The `bedrock` format: AWS Bedrock Converse / ConverseStream and InvokeModel metrics.

use crate::error::Result;
use crate::json::{self, Obj};
use crate::prices::units::{CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT, OUTPUT};
use crate::usage::record::UsageRecord;

use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("bedrock", "AWS Bedrock Converse / ConverseStream and InvokeModel metrics", |o, _| bedrock(o))
        .detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.usage_has("inputTokens")
        || p.usage_has("outputTokens")
        || p.o.has("amazon-bedrock-invocationMetrics")
        || p.o.obj("metadata").is_some_and(|m| m.obj("usage").is_some_and(|u| u.has("inputTokens")))
        || p.o.has("inputTextTokenCount")
        || p.o.has("prompt_token_count")
}

/// AWS Bedrock. Converse: `usage.inputTokens` EXCLUDES cache reads and writes (`cacheReadInputTokens`,
/// `cacheWriteInputTokens`, split by TTL in `cacheDetails`). ConverseStream's `metadata` event carries the same
/// usage. InvokeModel: `amazon-bedrock-invocationMetrics` (input excludes cache), Titan's
/// `inputTextTokenCount`, Llama's `prompt_token_count`. Bodies carry no model: pass `model=`.
pub(crate) fn bedrock(o: &Obj<'_>) -> Result<UsageRecord> {
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
                    b = add(b, v, "usage.cacheDetails")?;
                } else {
                    a = add(a, v, "usage.cacheDetails")?;
                }
            }
            if a.checked_add(b) == Some(writes) {
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
