//! Pricing a [`UsageRecord`] read from a response or a log: the served model when the book knows it, the record's
//! service tier, each billed part on its own model, and a gateway cache hit as the gateway charges it (nothing).

use std::sync::Arc;

use super::{price_model, Cost};
use crate::error::{Error, Result};
use crate::prices::PriceBook;
use crate::usage::UsageRecord;

/// How to price a record; each field, when set, wins over what the record says.
#[derive(Clone, Debug, Default)]
pub struct RecordOptions {
    pub model: Option<String>,
    pub provider: Option<String>,
    pub at: Option<i64>,
    pub service_tier: Option<String>,
    /// The provider region the call was served in (`None`: the record's own, e.g. Anthropic's `inference_geo`;
    /// without one, the provider's default prices).
    pub region: Option<String>,
}

/// A record's service tier in the book's vocabulary: the providers' words for the standard tier mean none.
pub fn tier_of(tier: Option<&str>) -> Option<String> {
    let t = tier?.trim().to_ascii_lowercase();
    match t.as_str() {
        "" | "default" | "auto" | "standard" | "on_demand" | "standard_only" => None,
        "scale" => Some("priority".into()),
        _ => Some(t),
    }
}

/// Resolves a model, using the record's provider only when the book knows that provider (a gateway's provider
/// name the book lacks falls back to the model's first party).
///
/// A known provider resolves exactly as `price` does: its own price list, then the fallbacks its price file
/// declares (Azure → OpenAI, ...); the cost names the provider whose price was used.
pub fn resolve(book: &PriceBook, model: &str, provider: Option<&str>) -> Result<usize> {
    match provider {
        Some(p) if book.provider_by_name(p).is_ok() => book.resolve(model, Some(p)),
        _ => book.resolve(model, None),
    }
}

/// The error for a record that names no model (neither requested nor served).
pub fn no_model(rec: &UsageRecord) -> Error {
    let format = if rec.format.is_empty() { "usage" } else { rec.format };
    Error::InvalidArgument(format!("the {format} record names no model: pass model="))
}

/// Prices a record. `now` is used when neither the options nor the record give a time.
pub fn price_record(book: &Arc<PriceBook>, rec: &UsageRecord, opts: &RecordOptions, now: i64) -> Result<Cost> {
    let provider = opts.provider.as_deref().or(rec.provider.as_deref());
    // The served model is what was billed, when the book prices it; else the requested one.
    let names: Vec<&str> = match &opts.model {
        Some(m) => vec![m.as_str()],
        None => rec.served_model.iter().chain(rec.model.iter()).map(|s| s.as_str()).collect(),
    };
    if names.is_empty() {
        return Err(no_model(rec));
    }
    let mut resolved = Err(Error::InvalidArgument(String::new()));
    for name in &names {
        resolved = resolve(book, name, provider);
        if resolved.is_ok() {
            break;
        }
    }
    let mi = resolved?;
    let at = opts.at.or(rec.timestamp).unwrap_or(now);
    let tier = match &opts.service_tier {
        Some(t) => tier_of(Some(t)),
        None => tier_of(rec.service_tier.as_deref()),
    };
    // Where the call ran is billed as the record says (Anthropic's US-only inference costs 1.1×).
    let region = opts.region.as_deref().or(rec.region.as_deref());
    // The record's usage covers its parts on its own model; parts on other models are priced on theirs.
    let own = rec.usage;
    let own_names = [rec.model.as_deref(), rec.served_model.as_deref()];
    let mut others = Vec::new();
    for (model, usage) in &rec.parts {
        // A part named like the record (requested or served) is the record's own, whichever name was priced.
        let part_mi = match model {
            Some(m) if opts.model.is_none() && !own_names.contains(&Some(m.as_str())) => resolve(book, m, provider)?,
            _ => mi,
        };
        if part_mi != mi {
            others.push(price_model(book, usage, part_mi, at, tier.as_deref(), region)?);
        }
    }
    let cost = price_model(book, &own, mi, at, tier.as_deref(), region)?;
    with_parts(cost, others, rec.cache_hit)
}

/// A record's cost from its parts: its own cost (`first`), the parts priced on other models (`others`, added to
/// the total), or nothing at all when the gateway answered from its cache (`cache_hit`: the usage is kept, the
/// items and the other parts are not, and the cost says why it is zero).
pub fn with_parts(mut cost: Cost, mut others: Vec<Cost>, cache_hit: bool) -> Result<Cost> {
    // The parts are steps of one call: the call is counted once, by its own part.
    for o in &mut others {
        o.calls = 0;
    }
    if cache_hit {
        cost.total = 0;
        cost.items.clear();
        cost.waived = Some(format!(
            "Gateway cache hit: the gateway answered from its cache and did not call {} ({}), so the call costs \
             nothing.",
            cost.model_id(),
            cost.provider_id()
        ));
        return Ok(cost);
    }
    for o in &others {
        cost.total = cost.total.checked_add(o.total).ok_or_else(|| Error::Overflow("total cost".into()))?;
    }
    cost.others = others;
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::SCALE;
    use crate::prices::calendar::parse_instant;
    use crate::usage::Usage;

    #[test]
    fn parts_named_like_the_record_are_not_billed_twice_when_the_served_model_differs() {
        let book = PriceBook::default_book();
        let step = Usage::from_fields([("input_tokens", 1000), ("output_tokens", 100)]).unwrap();
        let mut both = step;
        both.add(&step).unwrap();
        both.counts[crate::prices::units::REQUESTS] = 1;
        let rec = UsageRecord {
            format: "anthropic",
            model: Some("claude-sonnet-4-5".into()),
            served_model: Some("claude-opus-4-1".into()),
            usage: both,
            parts: vec![(Some("claude-sonnet-4-5".into()), step), (Some("claude-sonnet-4-5".into()), step)],
            ..Default::default()
        };
        let at = parse_instant("2025-10-01").unwrap();
        let cost = price_record(&book, &rec, &RecordOptions { at: Some(at), ..Default::default() }, at).unwrap();
        let served = book.resolve("claude-opus-4-1", None).unwrap();
        assert!(cost.others.is_empty());
        assert_eq!(cost.total, price_model(&book, &both, served, at, None, None).unwrap().total);
    }

    #[test]
    fn a_record_is_priced_in_the_region_asked_for() {
        let def = serde_json::json!({
            "schema": 1, "id": "acme", "owns": [{"starts_with": "acme-"}],
            "regions": {"eu": {"multiplier": "1.1"}},
            "models": [{"id": "acme-1", "prices": [{"input_per_mtok": "1", "output_per_mtok": "2"}]}]
        });
        let defs = vec![crate::prices::schema::provider_from_value(&def, "test").unwrap()];
        let book = Arc::new(PriceBook::from_defs(defs, "test").unwrap());
        let usage = Usage::from_fields([("input_tokens", 1_000_000), ("output_tokens", 1_000_000)]).unwrap();
        let rec = UsageRecord { format: "openai", model: Some("acme-1".into()), usage, ..Default::default() };
        let at = parse_instant("2026-06-01").unwrap();
        let home = price_record(&book, &rec, &RecordOptions { at: Some(at), ..Default::default() }, at).unwrap();
        let opts = RecordOptions { at: Some(at), region: Some("eu".into()), ..Default::default() };
        let eu = price_record(&book, &rec, &opts, at).unwrap();
        assert_eq!(eu.sheet.region.as_deref(), Some("eu"));
        let usd = 10i128.pow(SCALE);
        assert_eq!((home.total, eu.total), (3 * usd, 33 * usd / 10));
        // An unknown region is an error, never ignored.
        let bad = RecordOptions { region: Some("mars".into()), ..opts };
        assert!(matches!(price_record(&book, &rec, &bad, at), Err(Error::UnknownOption { .. })));
    }

    /// An Anthropic response says where it ran (`usage.inference_geo`, shape from
    /// https://platform.claude.com/docs/en/build-with-claude/data-residency): "us" is billed at 1.1x on Claude
    /// Opus 4.6 and later, the standard rate on earlier models; "global" is the standard rate.
    #[test]
    fn a_record_is_priced_in_the_region_it_ran_in() {
        let book = PriceBook::default_book();
        let body = |model: &str, geo: &str| {
            format!(
                r#"{{"type": "message", "model": "{model}", "usage": {{"input_tokens": 100000,
                "output_tokens": 100000, "inference_geo": "{geo}"}}}}"#
            )
        };
        let at = parse_instant("2026-03-01").unwrap();
        let opts = RecordOptions { at: Some(at), ..Default::default() };
        let total = |model: &str, geo: &str| {
            let rec = crate::usage::formats::extract_text(&body(model, geo), &Default::default()).unwrap();
            let cost = price_record(&book, &rec, &opts, at).unwrap();
            (crate::money::amount_text(cost.total), cost.sheet.region.clone())
        };
        // claude-opus-4-6: 100k tokens each way at 5 + 25 per million; US-only 1.1x.
        assert_eq!(total("claude-opus-4-6", "global"), ("3".into(), None));
        assert_eq!(total("claude-opus-4-6", "us"), ("3.3".into(), Some("us".into())));
        // Sonnet 4.5 predates US-only pricing: the standard 3 + 15.
        assert_eq!(total("claude-sonnet-4-5-20250929", "us"), ("1.8".into(), Some("us".into())));
        // A region asked for wins over the record's.
        let rec = crate::usage::formats::extract_text(&body("claude-opus-4-6", "us"), &Default::default()).unwrap();
        let global = RecordOptions { region: Some("global".into()), ..opts.clone() };
        assert_eq!(crate::money::amount_text(price_record(&book, &rec, &global, at).unwrap().total), "3");
    }
}
