//! The `cohere` format: Cohere chat and embed (billed_units).

use crate::error::Result;
use crate::json::Obj;
use crate::prices::units::{INPUT, OUTPUT};
use crate::usage::record::UsageRecord;

use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("cohere", "Cohere chat and embed (billed_units)", |o, _| cohere(o)).detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.usage_has("billed_units") || p.o.obj("meta").is_some_and(|m| m.has("billed_units"))
}

/// Cohere: `usage.billed_units` (chat) or `meta.billed_units` (embed) are what is billed.
fn cohere(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec =
        UsageRecord { format: "cohere", provider: Some("cohere".into()), id: text(o, "id"), ..Default::default() };
    let billed = o
        .obj("usage")
        .and_then(|u| u.obj("billed_units"))
        .or_else(|| o.obj("meta").and_then(|m| m.obj("billed_units")));
    if let Some(b) = billed {
        let mut c = Counts::new();
        c.set(INPUT, n(&b, "billed_units", "input_tokens")?);
        c.set(OUTPUT, n(&b, "billed_units", "output_tokens")?);
        rec.usage = c.usage();
        rec.has_usage = true;
    }
    Ok(rec)
}
