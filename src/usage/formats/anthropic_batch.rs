//! The `anthropic_batch` format: Anthropic Message Batches results.

use crate::error::Result;
use crate::json::Obj;
use crate::usage::record::{Status, UsageRecord};

use super::anthropic::anthropic;
use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("anthropic_batch", "Anthropic Message Batches results", |o, _| anthropic_batch(o)).detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("custom_id") && p.o.obj("result").is_some()
}

/// Anthropic Message Batches result: `{"custom_id", "result": {"type": "succeeded", "message": {...}}}`. Batch
/// rates apply; errored, canceled and expired requests are kept with zero usage.
fn anthropic_batch(o: &Obj<'_>) -> Result<UsageRecord> {
    let result = o.obj("result").unwrap_or_default();
    let mut rec = match result.obj("message") {
        Some(m) => anthropic(&m)?,
        None => UsageRecord::default(),
    };
    rec.format = "anthropic_batch";
    rec.service_tier = Some("batch".into());
    rec.provider = Some("anthropic".into());
    if result.str("type").as_deref() != Some("succeeded") {
        rec.status = Status::Error;
    }
    rec.id = text(o, "custom_id").or(rec.id);
    Ok(rec)
}
