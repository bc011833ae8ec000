//! The `openai_batch` format: OpenAI Batch API output lines.

use crate::error::Result;
use crate::json::Obj;
use crate::usage::record::{Hints, Status, UsageRecord};

use super::common::*;
use super::extract_obj;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("openai_batch", "OpenAI Batch API output lines", openai_batch).detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("custom_id") && p.o.obj("response").is_some_and(|r| r.has("body") || r.has("status_code"))
}

/// OpenAI Batch output line: `{"custom_id", "response": {"status_code", "body": <chat or responses body>}, "error"}`.
/// Batch rates apply.
fn openai_batch(o: &Obj<'_>, hints: &Hints) -> Result<UsageRecord> {
    let response = o.obj("response");
    let code = response.as_ref().and_then(|r| status_code(r, "status_code"));
    let body = response.as_ref().and_then(|r| r.obj("body"));
    let mut rec = match &body {
        Some(b) if b.has("usage") => {
            let inner = Hints { format: None, ..hints.clone() };
            extract_obj(b, &inner)?
        }
        _ => UsageRecord { status: Status::Error, ..Default::default() },
    };
    rec.format = "openai_batch";
    rec.service_tier = Some("batch".into());
    rec.status_code = code;
    if code.is_some_and(|c| c >= 400) || o.present("error").is_some() {
        rec.status = Status::Error;
    }
    rec.id = text(o, "custom_id").or(rec.id);
    rec.provider = rec.provider.or(Some("openai".into()));
    Ok(rec)
}
