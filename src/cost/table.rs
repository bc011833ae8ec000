//! Pricing a table of usage rows (Arrow arrays in, an Arrow record batch out), on every core.
//!
//! Every row is priced exactly like one `price()` call (the same `compute`), or rejected with its reason: rows
//! read = rows priced + rows rejected. Work that repeats across rows is done once per distinct value: a model
//! name is resolved once per chunk (once per dictionary value for categorical columns), and the prices for a
//! (model, entry, window, tier, region) once per chunk.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::compute;
use super::money::SCALE;
use crate::error::{Error, Result};
use crate::parallel;
use crate::prices::book::{EffectiveSheet, PriceBook};
use crate::prices::calendar::{day_of, in_window, minute_of_day, parse_instant, MICROS_PER_DAY};
use crate::prices::units::{CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT, N_UNITS, REQUESTS, UNITS};
use crate::usage::Usage;

const CHUNK: usize = 1 << 15;

/// The columns of a usage table, already looked up by name (the caller maps names; see the Python `price_table`).
pub struct TableInput<'a> {
    pub rows: usize,
    pub model: &'a ArrayRef,
    pub provider: Option<&'a ArrayRef>,
    pub timestamp: Option<&'a ArrayRef>,
    /// Used for rows without a timestamp (or when there is no timestamp column).
    pub default_at: Option<i64>,
    pub service_tier: Option<&'a ArrayRef>,
    pub region: Option<&'a ArrayRef>,
    /// A gateway cache hit costs nothing (the gateway answered; the provider was not called).
    pub cache_hit: Option<&'a ArrayRef>,
    /// Count columns: (unit id, column, column name).
    pub counts: Vec<(usize, &'a ArrayRef, String)>,
    /// The source's input count leaves out cache reads and writes (Anthropic, Bedrock): add them.
    pub input_excludes_cache: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct TableOptions {
    /// Add one cost column per priced unit (`input_cost`, `cache_read_cost`, ...).
    pub itemized: bool,
    /// `total_cost` as float64 instead of decimal128(38, 18).
    pub as_float: bool,
    pub threads: Option<usize>,
}

/// A string column, read without copying.
enum Strs<'a> {
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    /// Dictionary keys (already normalised) into decoded values.
    Dict(Vec<Option<usize>>, Box<Strs<'a>>),
    Null,
}

impl<'a> Strs<'a> {
    fn new(a: &'a ArrayRef, name: &str) -> Result<Strs<'a>> {
        Ok(match a.data_type() {
            DataType::Utf8 => Strs::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Strs::Large(a.as_string::<i64>()),
            DataType::Utf8View => Strs::View(a.as_string_view()),
            DataType::Null => Strs::Null,
            DataType::Dictionary(_, _) => {
                let dict = a.as_any_dictionary();
                let keys = dict.normalized_keys();
                let keys = (0..a.len()).map(|i| if a.is_null(i) { None } else { Some(keys[i]) }).collect();
                // Dictionary values live as long as the array; re-borrow them from it.
                let values: &'a ArrayRef = dictionary_values(dict);
                Strs::Dict(keys, Box::new(Strs::new(values, name)?))
            }
            other => {
                return Err(Error::InvalidArgument(format!("column {name:?} must hold strings; it holds {other}")))
            }
        })
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strs::Utf8(a) => (!a.is_null(i)).then(|| a.value(i)),
            Strs::Large(a) => (!a.is_null(i)).then(|| a.value(i)),
            Strs::View(a) => (!a.is_null(i)).then(|| a.value(i)),
            Strs::Dict(keys, values) => keys[i].and_then(|k| values.get(k)),
            Strs::Null => None,
        }
    }
}

/// The values array of a dictionary, with the lifetime of the dictionary array itself.
fn dictionary_values(dict: &dyn arrow_array::AnyDictionaryArray) -> &ArrayRef {
    dict.values()
}

/// An integer count column.
enum Ints<'a> {
    I64(&'a arrow_array::Int64Array),
    I32(&'a arrow_array::Int32Array),
    I16(&'a arrow_array::Int16Array),
    I8(&'a arrow_array::Int8Array),
    U64(&'a arrow_array::UInt64Array),
    U32(&'a arrow_array::UInt32Array),
    U16(&'a arrow_array::UInt16Array),
    U8(&'a arrow_array::UInt8Array),
    F64(&'a arrow_array::Float64Array),
    F32(&'a arrow_array::Float32Array),
    Null,
}

impl<'a> Ints<'a> {
    fn new(a: &'a ArrayRef, name: &str) -> Result<Ints<'a>> {
        Ok(match a.data_type() {
            DataType::Int64 => Ints::I64(a.as_primitive::<Int64Type>()),
            DataType::Int32 => Ints::I32(a.as_primitive::<Int32Type>()),
            DataType::Int16 => Ints::I16(a.as_primitive::<Int16Type>()),
            DataType::Int8 => Ints::I8(a.as_primitive::<Int8Type>()),
            DataType::UInt64 => Ints::U64(a.as_primitive::<UInt64Type>()),
            DataType::UInt32 => Ints::U32(a.as_primitive::<UInt32Type>()),
            DataType::UInt16 => Ints::U16(a.as_primitive::<UInt16Type>()),
            DataType::UInt8 => Ints::U8(a.as_primitive::<UInt8Type>()),
            DataType::Float64 => Ints::F64(a.as_primitive::<Float64Type>()),
            DataType::Float32 => Ints::F32(a.as_primitive::<Float32Type>()),
            DataType::Null => Ints::Null,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "count column {name:?} must hold integers; it holds {other}"
                )))
            }
        })
    }

    /// The count at row `i`: `Ok(0)` for null, an error text for negative or fractional values.
    #[inline]
    fn get(&self, i: usize) -> std::result::Result<u64, &'static str> {
        fn signed(v: i64) -> std::result::Result<u64, &'static str> {
            u64::try_from(v).map_err(|_| "is negative")
        }
        fn float(v: f64) -> std::result::Result<u64, &'static str> {
            if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.8e19) {
                return Err(if v < 0.0 { "is negative" } else { "is not a whole number" });
            }
            Ok(v as u64)
        }
        macro_rules! val {
            ($a:expr, $conv:expr) => {
                if $a.is_null(i) {
                    Ok(0)
                } else {
                    $conv($a.value(i))
                }
            };
        }
        match self {
            Ints::I64(a) => val!(a, signed),
            Ints::I32(a) => val!(a, |v: i32| signed(v as i64)),
            Ints::I16(a) => val!(a, |v: i16| signed(v as i64)),
            Ints::I8(a) => val!(a, |v: i8| signed(v as i64)),
            Ints::U64(a) => val!(a, Ok),
            Ints::U32(a) => val!(a, |v: u32| Ok(v as u64)),
            Ints::U16(a) => val!(a, |v: u16| Ok(v as u64)),
            Ints::U8(a) => val!(a, |v: u8| Ok(v as u64)),
            Ints::F64(a) => val!(a, float),
            Ints::F32(a) => val!(a, |v: f32| float(v as f64)),
            Ints::Null => Ok(0),
        }
    }
}

/// A timestamp column, as microseconds since the epoch (UTC).
enum Times<'a> {
    Micros(&'a [i64], &'a ArrayRef, i64, i64), // values, array (for nulls), multiply, divide
    Days32(&'a arrow_array::Date32Array),
    Millis64(&'a arrow_array::Date64Array),
    Text(Strs<'a>),
}

impl<'a> Times<'a> {
    fn new(a: &'a ArrayRef, name: &str) -> Result<Times<'a>> {
        Ok(match a.data_type() {
            DataType::Timestamp(unit, _) => {
                let (values, mul, div): (&[i64], i64, i64) = match unit {
                    TimeUnit::Second => (a.as_primitive::<TimestampSecondType>().values(), 1_000_000, 1),
                    TimeUnit::Millisecond => (a.as_primitive::<TimestampMillisecondType>().values(), 1000, 1),
                    TimeUnit::Microsecond => (a.as_primitive::<TimestampMicrosecondType>().values(), 1, 1),
                    TimeUnit::Nanosecond => (a.as_primitive::<TimestampNanosecondType>().values(), 1, 1000),
                };
                Times::Micros(values, a, mul, div)
            }
            DataType::Date32 => Times::Days32(a.as_primitive::<Date32Type>()),
            DataType::Date64 => Times::Millis64(a.as_primitive::<Date64Type>()),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
                Times::Text(Strs::new(a, name)?)
            }
            other => {
                return Err(Error::InvalidArgument(format!(
                    "column {name:?} must hold timestamps, dates or ISO 8601 strings; it holds {other}"
                )))
            }
        })
    }

    /// `Ok(None)` for null; an error text for an unreadable string.
    #[inline]
    fn get(&self, i: usize) -> std::result::Result<Option<i64>, String> {
        Ok(match self {
            Times::Micros(values, a, mul, div) => {
                (!a.is_null(i)).then(|| values[i].saturating_mul(*mul).div_euclid(*div))
            }
            Times::Days32(a) => (!a.is_null(i)).then(|| a.value(i) as i64 * MICROS_PER_DAY),
            Times::Millis64(a) => (!a.is_null(i)).then(|| a.value(i).saturating_mul(1000)),
            Times::Text(s) => match s.get(i) {
                None => None,
                Some(text) => Some(parse_instant(text)?),
            },
        })
    }
}

/// The priced result of one chunk of rows.
#[derive(Default)]
struct ChunkOut {
    total: Vec<Option<i128>>,
    status: Vec<Option<Arc<str>>>,
    model: Vec<Option<u32>>,
    from_day: Vec<Option<i32>>,
    items: Vec<Vec<Option<i128>>>,
}

/// A model name's resolution, or why it failed (shared by the rows that name it).
type Resolved = std::result::Result<usize, Arc<str>>;

#[derive(Hash, PartialEq, Eq)]
struct SheetKey<'a> {
    model: usize,
    entry: usize,
    window: Option<usize>,
    tier: Option<&'a str>,
    region: Option<&'a str>,
}

struct Columns<'a> {
    model: Strs<'a>,
    provider: Option<Strs<'a>>,
    timestamp: Option<Times<'a>>,
    tier: Option<Strs<'a>>,
    region: Option<Strs<'a>>,
    cache_hit: Option<&'a BooleanArray>,
    counts: Vec<(usize, Ints<'a>, &'a str)>,
}

/// Prices every row; the result has one row per input row, in order.
pub fn price_table(book: &Arc<PriceBook>, input: &TableInput<'_>, options: &TableOptions) -> Result<RecordBatch> {
    let cols = Columns {
        model: Strs::new(input.model, "model")?,
        provider: input.provider.map(|a| Strs::new(a, "provider")).transpose()?,
        timestamp: input.timestamp.map(|a| Times::new(a, "timestamp")).transpose()?,
        tier: input.service_tier.map(|a| Strs::new(a, "service_tier")).transpose()?,
        region: input.region.map(|a| Strs::new(a, "region")).transpose()?,
        cache_hit: match input.cache_hit {
            None => None,
            Some(a) => Some(a.as_boolean_opt().ok_or_else(|| {
                Error::InvalidArgument(format!("column \"cache_hit\" must hold booleans; it holds {}", a.data_type()))
            })?),
        },
        counts: input
            .counts
            .iter()
            .map(|(u, a, name)| Ok((*u, Ints::new(a, name)?, name.as_str())))
            .collect::<Result<_>>()?,
    };
    for (_, a, name) in &input.counts {
        if a.len() != input.rows {
            return Err(Error::InvalidArgument(format!(
                "column {name:?} has {} rows, the table {}",
                a.len(),
                input.rows
            )));
        }
    }
    // Itemized columns: the units a count column feeds, and requests.
    let mut item_units: Vec<usize> = input.counts.iter().map(|(u, _, _)| *u).collect();
    if input.counts.iter().any(|(u, _, _)| *u == CACHE_WRITE_1H) && !item_units.contains(&CACHE_WRITE) {
        item_units.push(CACHE_WRITE);
    }
    if !item_units.contains(&REQUESTS) {
        item_units.push(REQUESTS);
    }
    item_units.sort();
    item_units.dedup();
    let item_units = if options.itemized { item_units } else { Vec::new() };

    let starts: Vec<usize> = (0..input.rows).step_by(CHUNK).collect();
    let chunks: Vec<Result<ChunkOut>> = parallel::install(options.threads, || {
        starts
            .par_iter()
            .map(|&s| price_chunk(book, input, &cols, s, (s + CHUNK).min(input.rows), &item_units))
            .collect()
    })?;
    let mut out = ChunkOut { items: vec![Vec::with_capacity(input.rows); item_units.len()], ..Default::default() };
    for c in chunks {
        let c = c?;
        out.total.extend(c.total);
        out.status.extend(c.status);
        out.model.extend(c.model);
        out.from_day.extend(c.from_day);
        for (dst, src) in out.items.iter_mut().zip(c.items) {
            dst.extend(src);
        }
    }
    build_batch(book, out, &item_units, options)
}

fn decimal_column(values: Vec<Option<i128>>) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values)
            .with_precision_and_scale(38, SCALE as i8)
            .expect("38, 18 is a valid decimal type"),
    )
}

fn float_column(values: &[Option<i128>]) -> ArrayRef {
    Arc::new(Float64Array::from(values.iter().map(|v| v.map(|x| x as f64 / 1e18)).collect::<Vec<_>>()))
}

fn build_batch(book: &PriceBook, out: ChunkOut, item_units: &[usize], options: &TableOptions) -> Result<RecordBatch> {
    let money_type = if options.as_float { DataType::Float64 } else { DataType::Decimal128(38, SCALE as i8) };
    let mut fields = vec![Field::new("total_cost", money_type.clone(), true)];
    let mut columns: Vec<ArrayRef> =
        vec![if options.as_float { float_column(&out.total) } else { decimal_column(out.total) }];
    for (u, values) in item_units.iter().zip(out.items) {
        let name = format!("{}_cost", UNITS[*u].usage_field.trim_end_matches("_tokens"));
        fields.push(Field::new(name, money_type.clone(), true));
        columns.push(if options.as_float { float_column(&values) } else { decimal_column(values) });
    }
    let model_ids: StringArray = out.model.iter().map(|m| m.map(|mi| book.models[mi as usize].id.as_str())).collect();
    let provider_ids: StringArray =
        out.model.iter().map(|m| m.map(|mi| book.providers[book.models[mi as usize].provider].id.as_str())).collect();
    let status: StringArray = out.status.iter().map(|s| s.as_deref()).collect();
    fields.push(Field::new("priced_model", DataType::Utf8, true));
    columns.push(Arc::new(model_ids));
    fields.push(Field::new("priced_provider", DataType::Utf8, true));
    columns.push(Arc::new(provider_ids));
    fields.push(Field::new("price_from", DataType::Date32, true));
    columns.push(Arc::new(Date32Array::from(out.from_day)));
    fields.push(Field::new("status", DataType::Utf8, true));
    columns.push(Arc::new(status));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Error::Internal(format!("result table: {e}")))
}

fn price_chunk(
    book: &Arc<PriceBook>,
    input: &TableInput<'_>,
    cols: &Columns<'_>,
    start: usize,
    end: usize,
    item_units: &[usize],
) -> Result<ChunkOut> {
    let n = end - start;
    let mut out = ChunkOut {
        total: Vec::with_capacity(n),
        status: Vec::with_capacity(n),
        model: Vec::with_capacity(n),
        from_day: Vec::with_capacity(n),
        items: vec![Vec::with_capacity(n); item_units.len()],
    };
    let mut models: FxHashMap<(Option<&str>, &str), Resolved> = FxHashMap::default();
    let mut sheets: FxHashMap<SheetKey<'_>, std::result::Result<Arc<EffectiveSheet>, Arc<str>>> = FxHashMap::default();
    let mut item_amounts = [0i128; N_UNITS];
    for i in start..end {
        let reject = |out: &mut ChunkOut, mi: Option<usize>, reason: Arc<str>| {
            out.total.push(None);
            out.status.push(Some(reason));
            out.model.push(mi.map(|m| m as u32));
            out.from_day.push(None);
            for col in out.items.iter_mut() {
                col.push(None);
            }
        };
        // Model.
        let Some(model_name) = cols.model.get(i) else {
            reject(&mut out, None, "no model".into());
            continue;
        };
        let provider_name = cols.provider.as_ref().and_then(|p| p.get(i));
        let resolved = models
            .entry((provider_name, model_name))
            .or_insert_with(|| book.resolve(model_name, provider_name).map_err(|e| e.to_string().into()))
            .clone();
        let mi = match resolved {
            Ok(mi) => mi,
            Err(reason) => {
                reject(&mut out, None, reason);
                continue;
            }
        };
        // A gateway cache hit: the provider was not called, nothing to pay.
        if cols.cache_hit.is_some_and(|c| !c.is_null(i) && c.value(i)) {
            out.total.push(Some(0));
            out.status.push(None);
            out.model.push(Some(mi as u32));
            out.from_day.push(None);
            for col in out.items.iter_mut() {
                col.push(Some(0));
            }
            continue;
        }
        // Time.
        let at = match cols.timestamp.as_ref().map(|t| t.get(i)).transpose() {
            Err(e) => {
                reject(&mut out, Some(mi), format!("timestamp: {e}").into());
                continue;
            }
            Ok(t) => t.flatten().or(input.default_at),
        };
        let Some(at) = at else {
            reject(&mut out, Some(mi), "no timestamp: pass default_at= to price rows without one".into());
            continue;
        };
        // Counts.
        let mut usage = Usage::default();
        let mut bad: Option<Arc<str>> = None;
        for (u, col, name) in &cols.counts {
            match col.get(i) {
                Ok(v) => usage.counts[*u] = v,
                Err(why) => {
                    bad = Some(format!("{name} {why}").into());
                    break;
                }
            }
        }
        if let Some(reason) = bad {
            reject(&mut out, Some(mi), reason);
            continue;
        }
        if input.input_excludes_cache {
            let c = &mut usage.counts;
            c[INPUT] =
                c[INPUT].saturating_add(c[CACHE_READ]).saturating_add(c[CACHE_WRITE]).saturating_add(c[CACHE_WRITE_1H]);
        }
        if let Err(e) = usage.validate() {
            reject(&mut out, Some(mi), e.to_string().into());
            continue;
        }
        // Price entry, window, tier, region: one sheet per distinct combination.
        let day = day_of(at);
        let ei = match book.entry_index(mi, day) {
            Ok(ei) => ei,
            Err(e) => {
                reject(&mut out, Some(mi), e.to_string().into());
                continue;
            }
        };
        let entry = &book.models[mi].entries[ei];
        let window = if entry.windows.is_empty() {
            None
        } else {
            entry.windows.iter().position(|w| {
                w.from_day.is_none_or(|f| f <= day)
                    && w.until_day.is_none_or(|u| day < u)
                    && in_window(minute_of_day(at, w.utc_offset_minutes), w.start_minute, w.end_minute)
            })
        };
        let tier = cols.tier.as_ref().and_then(|t| t.get(i)).filter(|s| !s.is_empty());
        let region = cols.region.as_ref().and_then(|r| r.get(i)).filter(|s| !s.is_empty());
        let key = SheetKey { model: mi, entry: ei, window, tier, region };
        let sheet = match sheets
            .entry(key)
            .or_insert_with(|| book.sheet_for(mi, at, tier, region).map_err(|e| e.to_string().into()))
        {
            Ok(s) => s.clone(),
            Err(reason) => {
                let reason = reason.clone();
                reject(&mut out, Some(mi), reason);
                continue;
            }
        };
        let counts = usage.unit_counts();
        item_amounts.fill(0);
        match compute(&sheet, &counts, |item| item_amounts[item.unit] = item.amount) {
            Ok(total) => {
                out.total.push(Some(total));
                out.status.push(None);
                out.model.push(Some(mi as u32));
                out.from_day.push(entry.from_day.map(|d| d as i32));
                for (col, u) in out.items.iter_mut().zip(item_units) {
                    col.push(Some(item_amounts[*u]));
                }
            }
            Err(e) => reject(&mut out, Some(mi), e.to_string().into()),
        }
    }
    Ok(out)
}

/// Row counts of a priced table: (priced, rejected).
pub fn counts_of(batch: &RecordBatch) -> (usize, usize) {
    let status = batch.column_by_name("status").expect("status column");
    let rejected = status.len() - status.null_count();
    (status.len() - rejected, rejected)
}

/// Sums a decimal cost column exactly (None if it is not decimal).
pub fn sum_decimal(column: &ArrayRef) -> Option<i128> {
    let a = column.as_any().downcast_ref::<Decimal128Array>()?;
    Some(a.iter().flatten().sum())
}
