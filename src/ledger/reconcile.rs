//! Reconciliation: the cost the logs report (`reported_cost`) against the computed one (`total_cost`), over the
//! priced lines' Arrow batches, column by column. Lines beyond the tolerance get their likely cause; the three
//! other prices that tell causes apart (today's, the standard tier's, without cache) are computed only for them.

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use arrow_array::{Array, ArrayRef, BooleanArray, Decimal128Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rust_decimal::Decimal;

use super::reprice::{column, CacheAs, Lines, Reprice};
use super::{label_column_in, FIXED_COLUMNS, MISMATCH_COLUMNS};
use crate::error::{Error, Result};
use crate::money::{money_builder, money_field};
use crate::prices::units::{unit_of_usage_field, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT};
use crate::prices::PriceBook;

/// The causes of a mismatch, tried in this order (indexed by [`Cause`]).
pub const CAUSES: [&str; 11] = [
    "gateway cache hit",
    "custom cost",
    "gateway reported 0",
    "no price for the model",
    "long context tier",
    "batch/tier",
    "price date",
    "cache charged twice",
    "cache tokens ignored",
    "cache priced differently",
    "unexplained",
];

/// A cause, as an index into [`CAUSES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The source charged a call its gateway answered from its own cache.
    GatewayCacheHit,
    /// The reported cost is the caller's own price (Cloudflare `custom_cost: true`, set by `cf-aig-custom-cost`).
    CustomCost,
    /// The source reported 0 for usage that costs something: it did not price the model or did not read the usage.
    GatewayReportedZero,
    /// tokenprice has no price for the model (the records rejected for that reason; never a priced line).
    NoPrice,
    LongContextTier,
    BatchTier,
    PriceDate,
    /// Cache tokens charged as plain input and again at their cache price (cloudflare/ai#550, BerriAI/litellm#14849).
    CacheChargedTwice,
    /// Cache tokens charged as plain input, the discount ignored (BerriAI/litellm#16341).
    CacheTokensIgnored,
    /// The cache tokens charged at some other rate: between free and charged twice.
    CachePricedDifferently,
    Unexplained,
}

/// A prompt above this many tokens is billed at a long-context tier by some providers.
const LONG_CONTEXT_TOKENS: u64 = 200_000;

/// A line mismatches when |reported − computed| > absolute + relative × |computed| (USD).
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub absolute: Decimal,
    pub relative: Decimal,
}

/// What a reconciliation finds. Money is in units of 10^-18 USD.
#[derive(Debug)]
pub struct Reconciliation {
    /// One row per mismatching line, largest |difference| first: id, source, line, model, reported, computed,
    /// difference, cause, then the line's labels.
    pub mismatches: RecordBatch,
    /// Lines with a reported cost.
    pub compared: u64,
    pub reported_total: i128,
    pub computed_total: i128,
    /// Per cause (in [`CAUSES`] order): mismatching lines, and their differences summed. The records rejected for
    /// want of a price count as `no price for the model` (with no money: their cost is not known).
    pub causes: [(u64, i128); CAUSES.len()],
}

/// The money columns reconciliation compares, of one batch.
struct Amounts<'a> {
    reported: &'a Decimal128Array,
    computed: &'a Decimal128Array,
}

impl<'a> Amounts<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Amounts<'a>> {
        let money = |name: &str| -> Result<&'a Decimal128Array> {
            let c = column(batch, name, "reconcile")?;
            match c.data_type() {
                DataType::Decimal128(_, 18) => Ok(c.as_primitive::<Decimal128Type>()),
                t => Err(Error::InvalidArgument(format!("reconcile: {name} is {t}, not decimal128(38, 18)"))),
            }
        };
        Ok(Amounts { reported: money("reported_cost")?, computed: money("total_cost")? })
    }
}

/// Money of scale 18 as a decimal, when it fits one (amounts up to some 79 billion USD).
fn decimal(amount: i128) -> Option<Decimal> {
    Decimal::try_from_i128_with_scale(amount, 18).ok()
}

impl Tolerance {
    /// Whether `reported` is within the tolerance of `value`: |reported − value| ≤ absolute + relative × |value|.
    /// (Amounts too large for a 96-bit decimal are compared in floating point.)
    pub fn near(&self, reported: i128, value: i128) -> bool {
        let exact = (|| {
            let (r, v) = (decimal(reported)?, decimal(value)?);
            let bound = self.absolute.checked_add(self.relative.checked_mul(v.abs())?)?;
            Some(r.checked_sub(v)?.abs() <= bound)
        })();
        exact.unwrap_or_else(|| {
            let f = |d: Decimal| f64::try_from(d).unwrap_or(f64::MAX);
            let (r, v) = (reported as f64 / 1e18, value as f64 / 1e18);
            (r - v).abs() <= f(self.absolute) + f(self.relative) * v.abs()
        })
    }
}

/// A mismatching line: where it is, its amounts and its cause.
struct Mismatch {
    batch: u32,
    row: u32,
    reported: i128,
    computed: i128,
    cause: Cause,
}

/// Reconciles the priced lines `batches` (one schema or several; see [`super::unify`]): `rejects_without_price`
/// records were rejected for want of a price (see [`rejected_for_no_price`]). `now`: the time of "today's price"
/// (microseconds, UTC; `None`: the clock's).
pub fn reconcile(
    batches: &[RecordBatch],
    rejects_without_price: u64,
    book: &Arc<PriceBook>,
    tolerance: &Tolerance,
    now: Option<i64>,
) -> Result<Reconciliation> {
    let now = now.unwrap_or_else(crate::prices::calendar::now_micros);
    let mut causes = [(0u64, 0i128); CAUSES.len()];
    let (mut compared, mut reported_total, mut computed_total) = (0u64, 0i128, 0i128);
    let mut found = Vec::new();
    let overflow = || Error::Overflow("reconcile: the total cost".into());
    for (b, batch) in batches.iter().enumerate() {
        let cols = Lines::of(batch, "reconcile")?;
        let amounts = Amounts::of(batch)?;
        for row in 0..batch.num_rows() {
            if amounts.reported.is_null(row) {
                continue;
            }
            let (reported, computed) = (amounts.reported.value(row), amounts.computed.value(row));
            compared += 1;
            reported_total = reported_total.checked_add(reported).ok_or_else(overflow)?;
            computed_total = computed_total.checked_add(computed).ok_or_else(overflow)?;
            if tolerance.near(reported, computed) {
                continue;
            }
            let cause = cause_of(&cols, row, reported, computed, book, tolerance, now);
            found.push(Mismatch { batch: b as u32, row: row as u32, reported, computed, cause });
        }
    }
    // Largest difference first; equal ones in the order of the lines.
    found.sort_by_key(|m| std::cmp::Reverse(m.reported.wrapping_sub(m.computed).unsigned_abs()));
    for m in &found {
        let (n, money) = &mut causes[m.cause as usize];
        *n += 1;
        *money = money.checked_add(m.reported - m.computed).ok_or_else(overflow)?;
    }
    causes[Cause::NoPrice as usize].0 += rejects_without_price;
    Ok(Reconciliation {
        mismatches: mismatches_batch(batches, &found)?,
        compared,
        reported_total,
        computed_total,
        causes,
    })
}

/// How a record rejected for want of a price reads in the rejects' `reason` ([`Error::UnknownPricedModel`]).
const NO_PRICE_REASON: &str = "no price is known for model";

/// How many of the rejects (batches with a `reason` column) were rejected for want of a price.
pub fn rejected_for_no_price(rejects: &[RecordBatch]) -> Result<u64> {
    let mut n = 0;
    for batch in rejects {
        let reasons = column(batch, "reason", "reconcile")?
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::InvalidArgument("reconcile: the rejects' reason is not text".into()))?;
        n += reasons.iter().filter(|r| r.is_some_and(|r| r.starts_with(NO_PRICE_REASON))).count() as u64;
    }
    Ok(n)
}

/// The cause of one mismatching line: the first of [`CAUSES`] that explains it. The cache hypotheses reprice the
/// line with its cache tokens counted each way and compare exactly (within the tolerance), in decimals.
fn cause_of(
    cols: &Lines<'_>,
    row: usize,
    reported: i128,
    computed: i128,
    book: &Arc<PriceBook>,
    tolerance: &Tolerance,
    now: i64,
) -> Cause {
    let near = |value: Option<i128>| value.is_some_and(|v| tolerance.near(reported, v));
    let tier = Lines::text(cols.service_tier, row);
    let cached = [CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H].iter().any(|u| cols.count(*u, row) > 0);
    let way = |how: Reprice| cols.reprice(book, row, &how);
    let reprice = |cache| way(Reprice { cache, ..Reprice::default() });
    let flag = |c: Option<&BooleanArray>| c.is_some_and(|c| c.is_valid(row) && c.value(row));
    if flag(cols.cache_hit) {
        Cause::GatewayCacheHit
    } else if flag(cols.custom_cost) {
        Cause::CustomCost
    } else if reported == 0 && computed > 0 {
        // The source had no price for the model, or did not read its usage (cloudflare/ai#491, #20536).
        Cause::GatewayReportedZero
    } else if cols.count(INPUT, row) > LONG_CONTEXT_TOKENS {
        Cause::LongContextTier
    } else if !matches!(tier, None | Some("default" | "standard" | "auto"))
        && near(way(Reprice { service_tier: Some("standard".into()), ..Reprice::default() }))
    {
        Cause::BatchTier
    } else if way(Reprice { at: Some(now), ..Reprice::default() })
        .is_some_and(|t| t != computed && tolerance.near(reported, t))
    {
        Cause::PriceDate
    } else if cached && near(reprice(CacheAs::ChargedTwice)) {
        Cause::CacheChargedTwice
    } else if cached && near(reprice(CacheAs::PlainInput)) {
        Cause::CacheTokensIgnored
    } else if cached && within(reported, reprice(CacheAs::Free), reprice(CacheAs::ChargedTwice)) {
        Cause::CachePricedDifferently
    } else {
        Cause::Unexplained
    }
}

/// Whether `reported` lies between the two prices (in either order), when both are known.
fn within(reported: i128, a: Option<i128>, b: Option<i128>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.min(b) <= reported && reported <= a.max(b))
}

/// The mismatches as one Arrow batch: id, source, line, model, reported, computed, difference, cause, then the
/// labels of the lines (every column that is not a fixed column or a count). A label named like one of the
/// mismatches' own columns ([`MISMATCH_COLUMNS`]: `cause`, ...) is the column `metadata.<name>` here.
fn mismatches_batch(batches: &[RecordBatch], found: &[Mismatch]) -> Result<RecordBatch> {
    let internal = super::internal;
    let n = found.len();
    let (mut reported, mut computed, mut difference) = (money_builder(n), money_builder(n), money_builder(n));
    let mut cause = StringBuilder::with_capacity(n, n * 16);
    for m in found {
        reported.append_value(m.reported);
        computed.append_value(m.computed);
        difference.append_value(m.reported - m.computed);
        cause.append_value(CAUSES[m.cause as usize]);
    }
    // The columns taken from the lines: these first, then the labels in order of first appearance; each as (its
    // name in the lines, its type).
    let mut names: Vec<(String, DataType)> =
        [("id", DataType::Utf8), ("source", DataType::Utf8), ("line", DataType::Int64), ("model", DataType::Utf8)]
            .map(|(n, t)| (n.to_string(), t))
            .to_vec();
    let taken = names.len();
    for batch in batches {
        for f in batch.schema().fields() {
            let label = !FIXED_COLUMNS.contains(&f.name().as_str()) && unit_of_usage_field(f.name()).is_none();
            if label && !names.iter().any(|(n, _)| n == f.name()) {
                names.push((f.name().clone(), f.data_type().clone()));
            }
        }
    }
    let labels: Vec<&str> = names[taken..].iter().map(|(n, _)| n.as_str()).collect();
    let shown: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, (n, _))| if i < taken { n.clone() } else { label_column_in(n, &MISMATCH_COLUMNS, &labels) })
        .collect();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, (name, kind)) in names.iter().enumerate() {
        // Each batch's rows of this column (nulls where a batch lacks it), put in the mismatches' order.
        let parts: Vec<ArrayRef> = batches
            .iter()
            .map(|b| match b.column_by_name(name) {
                Some(c) if c.data_type() == kind => c.clone(),
                _ => arrow_array::new_null_array(kind, b.num_rows()),
            })
            .collect();
        let refs: Vec<&dyn Array> = parts.iter().map(|p| p.as_ref()).collect();
        let picks: Vec<(usize, usize)> = found.iter().map(|m| (m.batch as usize, m.row as usize)).collect();
        let column = match refs.is_empty() {
            // No batches (a table of no rows may have none): the column, empty.
            true => arrow_array::new_empty_array(kind),
            false => arrow_select::interleave::interleave(&refs, &picks).map_err(internal)?,
        };
        fields.push(Field::new(&shown[i], kind.clone(), true));
        columns.push(column);
        if i + 1 == taken {
            fields.extend([money_field("reported"), money_field("computed"), money_field("difference")]);
            fields.push(Field::new("cause", DataType::Utf8, false));
            columns.extend([
                Arc::new(reported.finish()) as ArrayRef,
                Arc::new(computed.finish()),
                Arc::new(difference.finish()),
                Arc::new(cause.finish()),
            ]);
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reject_for_want_of_a_price_is_told_by_its_reason() {
        let e = Error::UnknownPricedModel { model: "m".into(), provider: None, suggestions: vec![] };
        assert!(e.to_string().starts_with(NO_PRICE_REASON), "{e}");
        let reasons = arrow_array::StringArray::from(vec![Some(e.to_string().as_str()), Some("not valid JSON"), None]);
        let batch = RecordBatch::try_from_iter([("reason", Arc::new(reasons) as ArrayRef)]).unwrap();
        assert_eq!(rejected_for_no_price(&[batch.clone(), batch]).unwrap(), 2);
    }
}
