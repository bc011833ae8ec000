//! Priced lines priced another way: on another model, tier, date or book, or without caching. The what-ifs of
//! `PricedLogs.reprice` and `savings`, and the other prices that tell reconciliation's causes apart, read the
//! lines' Arrow batches column by column and reprice each line from its counts.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};

use crate::cost::price_model;
use crate::cost::record::{resolve, tier_of};
use crate::error::{Error, Result};
use crate::money::money_builder;
use crate::prices::units::{
    unit_of_usage_field, CACHE_AUDIO_READ, CACHE_IMAGE_READ, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT,
};
use crate::prices::PriceBook;
use crate::usage::Usage;

/// How a repricing counts the cache tokens (reads and both writes, which are parts of `input_tokens`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheAs {
    /// At their cache prices, as the book says (a gateway cache hit stays free).
    Book,
    /// As plain input (no cache discount or write premium), and a gateway cache hit priced as the call it answered.
    PlainInput,
    /// As plain input and again at their cache prices.
    ChargedTwice,
    /// Not charged at all.
    Free,
}

/// The other way to price the lines. Every field left empty keeps the line's own.
#[derive(Clone, Debug)]
pub struct Reprice {
    /// Model names (requested or priced) → the model to price instead, by that model's own first party and with
    /// no region.
    pub model_map: HashMap<String, String>,
    pub service_tier: Option<String>,
    /// The price date for every line (µs since the epoch, UTC), instead of each line's time.
    pub at: Option<i64>,
    pub cache: CacheAs,
}

impl Default for Reprice {
    fn default() -> Self {
        Reprice { model_map: HashMap::new(), service_tier: None, at: None, cache: CacheAs::Book }
    }
}

/// Each line's total priced `how` (decimal128(38, 18), one array per batch), null where the line cannot be priced
/// so (a model the book does not know, a date before its prices).
pub fn reprice(batches: &[RecordBatch], book: &Arc<PriceBook>, how: &Reprice) -> Result<Vec<ArrayRef>> {
    batches
        .iter()
        .map(|batch| {
            let lines = Lines::of(batch, "reprice")?;
            let mut out = money_builder(batch.num_rows());
            for row in 0..batch.num_rows() {
                out.append_option(lines.reprice(book, row, how));
            }
            Ok(Arc::new(out.finish()) as ArrayRef)
        })
        .collect()
}

pub(super) fn column<'a>(batch: &'a RecordBatch, name: &str, job: &str) -> Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| Error::InvalidArgument(format!("{job}: the lines have no {name} column")))
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    batch.column_by_name(name).and_then(|c| c.as_string_opt::<i32>())
}

/// The columns of priced lines that pricing them again reads, of one batch.
pub(super) struct Lines<'a> {
    pub cache_hit: Option<&'a BooleanArray>,
    pub custom_cost: Option<&'a BooleanArray>,
    pub service_tier: Option<&'a StringArray>,
    timestamp: &'a arrow_array::TimestampMicrosecondArray,
    /// (unit, counts) of each usage column.
    counts: Vec<(usize, &'a arrow_array::UInt64Array)>,
    /// The model priced (priced, served, requested: the first there) and its provider.
    models: [Option<&'a StringArray>; 3],
    provider: Option<&'a StringArray>,
    /// The region the line was priced in (kept when it is priced another way).
    region: Option<&'a StringArray>,
}

impl<'a> Lines<'a> {
    pub fn of(batch: &'a RecordBatch, job: &str) -> Result<Lines<'a>> {
        let timestamp = column(batch, "timestamp", job)?
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or_else(|| Error::InvalidArgument(format!("{job}: timestamp is not in microseconds")))?;
        let counts = batch
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                Some((unit_of_usage_field(f.name())?, batch.column(i).as_primitive_opt::<UInt64Type>()?))
            })
            .collect();
        Ok(Lines {
            cache_hit: batch.column_by_name("cache_hit").and_then(|c| c.as_boolean_opt()),
            custom_cost: batch.column_by_name("custom_cost").and_then(|c| c.as_boolean_opt()),
            service_tier: strings(batch, "service_tier"),
            timestamp,
            counts,
            models: [strings(batch, "priced_model"), strings(batch, "served_model"), strings(batch, "model")],
            provider: strings(batch, "priced_provider"),
            region: strings(batch, "priced_region"),
        })
    }

    pub fn count(&self, unit: usize, row: usize) -> u64 {
        self.counts.iter().find(|(u, _)| *u == unit).map_or(0, |(_, c)| if c.is_valid(row) { c.value(row) } else { 0 })
    }

    pub fn text(column: Option<&'a StringArray>, row: usize) -> Option<&'a str> {
        column.filter(|c| c.is_valid(row)).map(|c| c.value(row))
    }

    /// The line's total priced `how`: on the model that was priced (or the one `model_map` gives for its
    /// requested or priced name), at `at` (else the line's time), in `service_tier` (else the line's), in the
    /// line's region (none for a mapped model), with its cache tokens counted `cache`. `None` when it cannot be
    /// priced so.
    pub fn reprice(&self, book: &Arc<PriceBook>, row: usize, how: &Reprice) -> Option<i128> {
        let priced = self.models.iter().find_map(|c| Lines::text(*c, row))?;
        let requested = Lines::text(self.models[2], row);
        let mapped = requested.and_then(|r| how.model_map.get(r)).or_else(|| how.model_map.get(priced));
        let (model, provider, region) = match mapped {
            Some(m) if m != priced => (m.as_str(), None, None),
            _ => (priced, Lines::text(self.provider, row), Lines::text(self.region, row)),
        };
        let mi = resolve(book, model, provider).ok()?;
        let mut usage = Usage::default();
        for (unit, counts) in &self.counts {
            usage.counts[*unit] = if counts.is_valid(row) { counts.value(row) } else { 0 };
        }
        let c = &mut usage.counts;
        let cached = c[CACHE_READ].checked_add(c[CACHE_WRITE])?.checked_add(c[CACHE_WRITE_1H])?;
        match how.cache {
            CacheAs::Book => {}
            CacheAs::ChargedTwice => c[INPUT] = c[INPUT].checked_add(cached)?,
            CacheAs::PlainInput | CacheAs::Free => {
                if how.cache == CacheAs::Free {
                    c[INPUT] = c[INPUT].checked_sub(cached)?;
                }
                for unit in [CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, CACHE_AUDIO_READ, CACHE_IMAGE_READ] {
                    c[unit] = 0;
                }
            }
        }
        let tier = tier_of(how.service_tier.as_deref().or(Lines::text(self.service_tier, row)));
        let at = how.at.unwrap_or_else(|| self.timestamp.value(row));
        let cost = price_model(book, &usage, mi, at, tier.as_deref(), region).ok()?;
        let hit = how.cache == CacheAs::Book && self.cache_hit.is_some_and(|c| c.is_valid(row) && c.value(row));
        Some(if hit { 0 } else { cost.total })
    }
}
