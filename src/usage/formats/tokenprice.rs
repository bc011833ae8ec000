//! The `tokenprice` format: the lines tokenprice's own JSON Lines sink writes, one priced call each (the schema is
//! in docs/service.md): counts by the price book's rule (input includes cache), the model and provider priced,
//! the labels, and the cost computed when the call returned (read back as the reported cost).

use crate::error::Result;
use crate::json::{self, count, Obj};
use crate::prices::units;
use crate::usage::record::{Status, UsageRecord};
use crate::usage::Usage;

use super::common::*;
use super::{never, Format, Probe};

pub(super) static FORMAT: Format = Format {
    name: "tokenprice",
    describe: "tokenprice's own call log (the JSON Lines sink of instrument(); schema in docs/service.md)",
    detect,
    detect_loose: never,
    read: |o, _| tokenprice(o),
};

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("tokenprice")
}

/// Usage fields by name (`{"input_tokens": 10, "cache_read_tokens": 4}`); an unknown name is an error, never
/// dropped.
fn usage_at(o: &Obj<'_>, path: &str) -> Result<Usage> {
    let mut c = Counts::new();
    for (k, v) in &o.members {
        let u = units::unit_of_usage_field(k).ok_or_else(|| err(format!("{path}.{k}: not a usage field")))?;
        c.set(u, count(*v).map_err(|e| err(format!("{path}.{k}: {e}")))?.unwrap_or(0));
    }
    let usage = c.usage();
    usage.validate()?;
    Ok(usage)
}

fn tokenprice(o: &Obj<'_>) -> Result<UsageRecord> {
    // The sink writes these fields under the record's own names.
    let [provider, model, served_model, service_tier, region, id] =
        ["provider", "model", "served_model", "service_tier", "region", "id"].map(|key| text(o, key));
    let mut rec = UsageRecord {
        format: "tokenprice",
        provider,
        model,
        served_model,
        service_tier,
        region,
        id,
        ..Default::default()
    };
    rec.timestamp = time(o, "timestamp")?;
    rec.reported_cost = money(o, "cost")?;
    rec.extras.duration_ms = duration_ms(o, "duration_ms", 1)?;
    rec.extras.endpoint = text(o, "endpoint");
    if o.str("status").as_deref() == Some("error") {
        rec.status = Status::Error;
    }
    if let Some(u) = o.obj("usage") {
        rec.usage = usage_at(&u, "usage")?;
        rec.has_usage = true;
    }
    for (i, part) in o.arr("parts").unwrap_or_default().into_iter().enumerate() {
        let part = json::object(part).ok_or_else(|| err(format!("parts[{i}]: not an object")))?;
        let usage = part.obj("usage").ok_or_else(|| err(format!("parts[{i}]: no usage")))?;
        rec.parts.push((text(&part, "model"), usage_at(&usage, &format!("parts[{i}].usage"))?));
    }
    if let Some(m) = o.present("labels") {
        labels_member(m, "labels", &mut rec.metadata)?;
    }
    if !rec.has_usage && rec.status == Status::Ok {
        return Err(no_usage_on_success("tokenprice", "usage"));
    }
    Ok(rec)
}
