//! Pricing a table of usage rows (Arrow arrays in, an Arrow record batch out), on every core.
//!
//! Every row is priced to the same amount as one `price()` call, or rejected with its reason: rows read = rows
//! priced + rows rejected. Rows of the common shape are priced by their sheet's linear form (`cost::linear`,
//! equal to `compute_fast`), the others by the general path (`compute`). Work that repeats across rows is done
//! once per distinct value: a model name is resolved once per thread, and the prices for a (model, entry, window,
//! tier, region) once per thread.

use std::mem::MaybeUninit;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float64Array, Int32Array,
    RecordBatch, StringArray,
};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::linear::{Layout, Linear, MAX_COUNT};
use super::{compute, compute_fast};
use crate::error::{Error, Result};
use crate::money::{money_array, MONEY_TYPE};
use crate::parallel;
use crate::prices::book::{EffectiveSheet, PriceBook};
use crate::prices::calendar::{day_of, instant_in_range, parse_instant, MICROS_PER_DAY};
use crate::prices::units::{CACHE_WRITE, CACHE_WRITE_1H, INPUT, N_UNITS, OUTPUT, REQUESTS, UNITS};
use crate::usage::Usage;

const CHUNK: usize = 1 << 12;
/// No model: see `Scratch::mis`.
const NONE: u32 = u32::MAX;
const _: () = assert!(CHUNK % 8 == 0, "chunks split validity bitmaps at byte boundaries");

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
    /// The source's output count leaves out reasoning tokens (Gemini's thoughts): add them.
    pub output_excludes_reasoning: bool,
}

impl<'a> TableInput<'a> {
    /// A table of a model column and count columns alone (its rows: the model column's), the counts read as
    /// they are; the other roles are set with `TableInput { timestamp: Some(&ts), ..TableInput::new(..) }`.
    pub fn new(model: &'a ArrayRef, counts: Vec<(usize, &'a ArrayRef, String)>) -> Self {
        TableInput {
            rows: model.len(),
            model,
            provider: None,
            timestamp: None,
            default_at: None,
            service_tier: None,
            region: None,
            cache_hit: None,
            counts,
            input_excludes_cache: false,
            output_excludes_reasoning: false,
        }
    }
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

    /// `f(k, value)` for rows `start..start + n`, with the column's kind matched once (tight loops).
    fn each(&self, start: usize, n: usize, mut f: impl FnMut(usize, Option<&'a str>)) {
        macro_rules! each {
            ($a:expr) => {
                match $a.nulls() {
                    None => (0..n).for_each(|k| f(k, Some($a.value(start + k)))),
                    Some(nulls) => (0..n).for_each(|k| f(k, nulls.is_valid(start + k).then(|| $a.value(start + k)))),
                }
            };
        }
        match self {
            Strs::Utf8(a) => each!(a),
            Strs::Large(a) => each!(a),
            Strs::View(a) => each!(a),
            _ => (0..n).for_each(|k| f(k, self.get(start + k))),
        }
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

    /// The count at row `i`, or why it is not one (a null is missing, never read as 0).
    #[inline]
    fn get(&self, i: usize) -> std::result::Result<u64, String> {
        fn signed(v: i64) -> std::result::Result<u64, String> {
            u64::try_from(v).map_err(|_| format!("= {v} is negative (counts are never negative)"))
        }
        fn float(v: f64) -> std::result::Result<u64, String> {
            crate::usage::count_from_float("", v).map_err(|e| match e {
                Error::InvalidUsage { message, .. } => format!("= {message}"),
                other => other.to_string(),
            })
        }
        macro_rules! val {
            ($a:expr, $conv:expr) => {
                if $a.is_null(i) {
                    Err(MISSING.to_string())
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
            Ints::Null => Err(MISSING.to_string()),
        }
    }
}

/// Why a null count rejects its row: a missing count (pandas' NaN, a null) is not 0.
const MISSING: &str = "is null (a missing count is not read as 0; fill it with 0 if none were used)";

/// Row by row, `out[k]` from `get(k)`: an unreadable row gets the default (no time, count 0) and is listed in
/// `bad` with the reason.
fn fill_rows<T: Default>(
    out: &mut [T],
    bad: &mut Vec<(usize, String)>,
    get: impl Fn(usize) -> std::result::Result<T, String>,
) {
    for (k, o) in out.iter_mut().enumerate() {
        *o = get(k).unwrap_or_else(|why| {
            bad.push((k, why));
            T::default()
        });
    }
}

impl Times<'_> {
    /// Rows `start..start + out.len()` into `out` (microseconds), column-wise; `None` for null rows, and
    /// unreadable text listed in `bad`.
    fn fill(&self, start: usize, out: &mut [Option<i64>], bad: &mut Vec<(usize, String)>) {
        fill_rows(out, bad, |k| self.get(start + k));
    }
}

impl Ints<'_> {
    /// Rows `start..start + out.len()` into `out`, column-wise (tight loops, no per-row dispatch). Rows that
    /// are not valid counts (nulls included) get 0 and are listed in `bad` with the reason.
    fn fill(&self, start: usize, out: &mut [u64], bad: &mut Vec<(usize, String)>) {
        macro_rules! fill_int {
            ($a:expr, $signed:expr) => {{
                let values = &$a.values()[start..start + out.len()];
                // Negative counts are rare: a vectorized copy, then a look for them only if there are any.
                out.iter_mut().zip(values).for_each(|(o, v)| *o = *v as i128 as u64);
                if $signed && out.iter().fold(0, |m, v| m | v) >> 63 != 0 {
                    for (k, (o, v)) in out.iter_mut().zip(values).enumerate() {
                        if (*v as i128) < 0 {
                            bad.push((k, format!("= {v} is negative (counts are never negative)")));
                            *o = 0;
                        }
                    }
                }
                if let Some(nulls) = $a.nulls() {
                    bad.retain(|(k, _)| nulls.is_valid(start + *k));
                    for (k, o) in out.iter_mut().enumerate() {
                        if nulls.is_null(start + k) {
                            *o = 0;
                            bad.push((k, MISSING.to_string()));
                        }
                    }
                    bad.sort_by_key(|(k, _)| *k);
                }
            }};
        }
        match self {
            Ints::I64(a) => fill_int!(a, true),
            Ints::I32(a) => fill_int!(a, true),
            Ints::I16(a) => fill_int!(a, true),
            Ints::I8(a) => fill_int!(a, true),
            Ints::U64(a) => fill_int!(a, false),
            Ints::U32(a) => fill_int!(a, false),
            Ints::U16(a) => fill_int!(a, false),
            Ints::U8(a) => fill_int!(a, false),
            Ints::F64(_) | Ints::F32(_) | Ints::Null => fill_rows(out, bad, |k| self.get(start + k)),
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

    /// `Ok(None)` for null; an error text for an unreadable string or a time outside the years 1 to 9999.
    #[inline]
    fn get(&self, i: usize) -> std::result::Result<Option<i64>, String> {
        let micros = match self {
            Times::Micros(values, a, mul, div) => (!a.is_null(i)).then(|| match (*mul, *div) {
                (1, 1) => Some(values[i]),
                (m, 1) => values[i].checked_mul(m),
                (_, d) => Some(values[i].div_euclid(d)),
            }),
            Times::Days32(a) => (!a.is_null(i)).then(|| Some(a.value(i) as i64 * MICROS_PER_DAY)),
            Times::Millis64(a) => (!a.is_null(i)).then(|| a.value(i).checked_mul(1000)),
            Times::Text(s) => match s.get(i) {
                None => None,
                Some(text) => Some(Some(parse_instant(text)?)),
            },
        };
        match micros {
            None => Ok(None),
            Some(None) => Err("is outside the years 1 to 9999".into()),
            Some(Some(m)) => instant_in_range(m).map(Some),
        }
    }
}

/// The result columns, written in place: each chunk of rows owns its slices.
struct Out<'o> {
    total: &'o mut [i128],
    /// Validity bitmaps (Arrow's bit order): priced rows, rows with a model, rows with a dated entry.
    priced: &'o mut [u8],
    /// Model indexes (dictionary keys), valid where `has_model`.
    model: &'o mut [i32],
    has_model: &'o mut [u8],
    /// First day of the price entry, valid where `has_day`.
    from_day: &'o mut [i32],
    has_day: &'o mut [u8],
    items: Vec<&'o mut [i128]>,
    /// (row, reason) of the rejected rows.
    rejects: Vec<(usize, Arc<str>)>,
}

/// A chunk's part of the result columns before it is zeroed: the wide columns as uninitialized room.
struct Room<'o> {
    total: &'o mut [MaybeUninit<i128>],
    model: &'o mut [MaybeUninit<i32>],
    from_day: &'o mut [MaybeUninit<i32>],
    /// The rest of the chunk's columns (its wide columns still empty).
    out: Out<'o>,
}

impl<'o> Room<'o> {
    /// The chunk's columns, the wide ones zeroed here, on the chunk's own thread.
    fn zeroed(self) -> Out<'o> {
        fn zero<T: Copy + Default>(room: &mut [MaybeUninit<T>]) -> &mut [T] {
            for v in room.iter_mut() {
                v.write(T::default());
            }
            // SAFETY: every element was just written; MaybeUninit<T> has T's layout.
            unsafe { &mut *(room as *mut [MaybeUninit<T>] as *mut [T]) }
        }
        Out { total: zero(self.total), model: zero(self.model), from_day: zero(self.from_day), ..self.out }
    }
}

/// The first problem recorded for row `k` in `bad` (sorted by row), moving `next` past rows up to `k` (rows
/// rejected earlier for another reason leave their entries behind).
#[inline]
fn take_bad<'b, T>(bad: &'b [(usize, T)], next: &mut usize, k: usize) -> Option<&'b T> {
    while bad.get(*next).is_some_and(|(row, _)| *row < k) {
        *next += 1;
    }
    let found = bad.get(*next).filter(|(row, _)| *row == k).map(|(_, t)| t);
    while bad.get(*next).is_some_and(|(row, _)| *row == k) {
        *next += 1;
    }
    found
}

#[inline(always)]
fn set_bit(bits: &mut [u8], k: usize) {
    bits[k >> 3] |= 1 << (k & 7);
}

impl Out<'_> {
    #[inline]
    fn set_model(&mut self, k: usize, mi: usize) {
        self.model[k] = mi as i32;
        set_bit(self.has_model, k);
    }
}

/// A model name's resolution, or why it failed (shared by the rows that name it).
type Resolved = std::result::Result<usize, Arc<str>>;

/// A name's first 16 bytes, zero-padded, as two words: with its length, all of a name of up to 16 bytes.
#[inline(always)]
fn name_key(b: &[u8]) -> [u64; 2] {
    let mut head = [0u8; 16];
    let n = b.len().min(16);
    head[..n].copy_from_slice(&b[..n]);
    [u64::from_le_bytes(head[..8].try_into().unwrap()), u64::from_le_bytes(head[8..].try_into().unwrap())]
}

/// `name_key` of the string at `start..start + len` of an Arrow values buffer, without branching on the length
/// when 16 bytes can be read there (the bytes past the string are masked off).
#[inline(always)]
fn name_key_in(data: &[u8], start: usize, len: usize) -> [u64; 2] {
    match data.get(start..start + 16) {
        Some(w) => {
            // All ones for the string's bytes in each word: 8 bytes, fewer, or none.
            let mask = |bytes: usize| ((1u128 << (8 * bytes.min(8))) - 1) as u64;
            let word = |i: usize| u64::from_le_bytes(w[i..i + 8].try_into().unwrap());
            [word(0) & mask(len), word(8) & mask(len.saturating_sub(8))]
        }
        None => name_key(&data[start..start + len]),
    }
}

/// Whether two names with the same length and `name_key` are equal: the bytes after their first 16.
#[inline(always)]
fn same_rest(a: &str, b: &str) -> bool {
    a.len() <= 16 || short_eq(&a.as_bytes()[16..], &b.as_bytes()[16..])
}

/// One remembered (provider, model) pair: the names' keys and lengths, the names, and the model index (`NONE`
/// when the pair does not resolve; the map says why).
#[derive(Clone)]
struct NameSlot<'a> {
    key: [u64; 4],
    lens: u64,
    provider: &'a str,
    model: &'a str,
    mi: u32,
}

/// Model names met in a chunk and what they resolved to: a small direct-mapped table in front of a hash map,
/// because most log tables name a few models over and over.
struct NameCache<'a> {
    slots: Vec<NameSlot<'a>>,
    rest: FxHashMap<(Option<&'a str>, &'a str), Resolved>,
}

/// An empty slot's lengths (no name is 4 GB long).
const EMPTY: u64 = u64::MAX;

impl Default for NameCache<'_> {
    fn default() -> Self {
        let empty = NameSlot { key: [0; 4], lens: EMPTY, provider: "", model: "", mi: NONE };
        NameCache { slots: vec![empty; 256], rest: FxHashMap::default() }
    }
}

impl<'a> NameCache<'a> {
    /// The model index of a (provider, model) pair, or `NONE` if it does not resolve.
    #[inline(always)]
    fn index(&mut self, provider: Option<&'a str>, model: &'a str, resolve: impl FnOnce() -> Resolved) -> u32 {
        let key = |s: &str| name_key(s.as_bytes());
        self.index_keyed(key(model), provider.map_or([0, 0], key), provider, model, resolve)
    }

    /// `index` with the names' keys (`name_key`) already made.
    #[inline(always)]
    fn index_keyed(
        &mut self,
        [m0, m1]: [u64; 2],
        [p0, p1]: [u64; 2],
        provider: Option<&'a str>,
        model: &'a str,
        resolve: impl FnOnce() -> Resolved,
    ) -> u32 {
        // Lengths: the model's, and the provider's plus one (0 for none).
        let lens = model.len() as u64 | (provider.map_or(0, |p| p.len() as u64 + 1) << 32);
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let h = (m0 ^ m1.rotate_left(29) ^ lens).wrapping_mul(K) ^ (p0 ^ p1.rotate_left(29)).wrapping_mul(K >> 1);
        // Two places a name may be: two names sharing their first place do not evict each other.
        let (a, b) = ((h >> 56) as usize, (h >> 48 & 0xFF) as usize);
        for at in [a, b] {
            let slot = &self.slots[at];
            // Word by word: comparing the arrays whole reads back the words just written as one vector, which
            // stalls (no store forwarding).
            if slot.key[0] == m0
                && slot.key[1] == m1
                && slot.key[2] == p0
                && slot.key[3] == p1
                && slot.lens == lens
                && same_rest(slot.model, model)
                && provider.is_none_or(|p| same_rest(slot.provider, p))
            {
                return slot.mi;
            }
        }
        let mi = match self.rest.entry((provider, model)).or_insert_with(resolve) {
            Ok(mi) => *mi as u32,
            Err(_) => NONE,
        };
        let at = if self.slots[a].lens == EMPTY { a } else { b };
        self.slots[at] = NameSlot { key: [m0, m1, p0, p1], lens, provider: provider.unwrap_or(""), model, mi };
        mi
    }

    /// The resolution of a (provider, model) pair, or why it fails.
    fn get_or_resolve(
        &mut self,
        provider: Option<&'a str>,
        model: &'a str,
        resolve: impl FnOnce() -> Resolved,
    ) -> Resolved {
        self.rest.entry((provider, model)).or_insert_with(resolve).clone()
    }
}

/// Byte equality without a `memcmp` call for the short strings model names are.
#[inline(always)]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    match n {
        8..=16 => {
            let r = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
            r(a, 0) == r(b, 0) && r(a, n - 8) == r(b, n - 8)
        }
        4..=7 => {
            let r = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap());
            r(a, 0) == r(b, 0) && r(a, n - 4) == r(b, n - 4)
        }
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

/// A sheet met while pricing a table: what it is for, its prices, their linear form for the table's columns.
type KnownSheet<'a> = (SheetKey<'a>, Arc<EffectiveSheet>, Option<Linear>);

#[derive(Clone, PartialEq, Eq)]
struct SheetKey<'a> {
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
    /// The count columns' units, in the same order.
    layout: Layout,
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
        layout: Layout {
            units: input.counts.iter().map(|(u, _, _)| *u).collect(),
            input_excludes_cache: input.input_excludes_cache,
            output_excludes_reasoning: input.output_excludes_reasoning,
        },
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
    let item_units = item_units(&input.counts.iter().map(|(u, _, _)| *u).collect::<Vec<_>>(), options.itemized);

    let rows = input.rows;
    let bytes = rows.div_ceil(8);
    // The wide columns are not zeroed here (one serial pass over 10 million rows, which the threads would then
    // write again): each chunk zeroes its own part first (see `Room`), and they get their length once all have.
    let mut total: Vec<i128> = Vec::with_capacity(rows);
    let mut priced = vec![0u8; bytes];
    let mut model: Vec<i32> = Vec::with_capacity(rows);
    let mut has_model = vec![0u8; bytes];
    let mut from_day: Vec<i32> = Vec::with_capacity(rows);
    let mut has_day = vec![0u8; bytes];
    // One zeroed column per item (not `vec![vec![0; rows]; n]`, which builds, zeroes and drops a column even
    // when `n` is 0: 160 MB for ten million rows, a fifth of a non-itemized call).
    let mut items: Vec<Vec<i128>> = item_units.iter().map(|_| vec![0i128; rows]).collect();
    // Split every output column into the same chunks of rows; each chunk is priced on its own thread.
    let rejects = {
        let mut parts: Vec<(usize, Room<'_>)> = Vec::with_capacity(rows / CHUNK + 1);
        let mut t = &mut total.spare_capacity_mut()[..rows];
        let mut rest = (
            &mut priced[..],
            &mut model.spare_capacity_mut()[..rows],
            &mut has_model[..],
            &mut from_day.spare_capacity_mut()[..rows],
            &mut has_day[..],
        );
        let mut its: Vec<&mut [i128]> = items.iter_mut().map(|v| &mut v[..]).collect();
        let mut start = 0;
        while start < rows {
            let n = CHUNK.min(rows - start);
            let (t1, t2) = std::mem::take(&mut t).split_at_mut(n);
            // Bitmaps split at byte boundaries: CHUNK is a multiple of 8.
            let nb = n.div_ceil(8);
            let (p1, p2) = std::mem::take(&mut rest.0).split_at_mut(nb);
            let (m1, m2) = std::mem::take(&mut rest.1).split_at_mut(n);
            let (hm1, hm2) = std::mem::take(&mut rest.2).split_at_mut(nb);
            let (f1, f2) = std::mem::take(&mut rest.3).split_at_mut(n);
            let (hd1, hd2) = std::mem::take(&mut rest.4).split_at_mut(nb);
            let mut chunk_items = Vec::with_capacity(its.len());
            for it in its.iter_mut() {
                let (a, b) = std::mem::take(it).split_at_mut(n);
                chunk_items.push(a);
                *it = b;
            }
            let out = Out {
                total: &mut [],
                priced: p1,
                model: &mut [],
                has_model: hm1,
                from_day: &mut [],
                has_day: hd1,
                items: chunk_items,
                rejects: Vec::new(),
            };
            parts.push((start, Room { total: t1, model: m1, from_day: f1, out }));
            t = t2;
            rest = (p2, m2, hm2, f2, hd2);
            start += n;
        }
        let rejected: Vec<Vec<(usize, Arc<str>)>> = parallel::install(options.threads, || {
            parts
                .into_par_iter()
                .map_init(
                    || Scratch::new(book, cols.counts.len()),
                    |scratch, (start, room)| {
                        let mut out = room.zeroed();
                        price_chunk(book, input, &cols, start, &item_units, &mut out, scratch);
                        out.rejects
                    },
                )
                .collect()
        })?;
        rejected.into_iter().flatten().collect::<Vec<_>>()
    };
    // SAFETY: the chunks cover rows 0..rows exactly once, and every chunk zeroed its part of these columns
    // (`Room::zeroed`) before pricing; `install` returned, so all chunks are done.
    unsafe {
        total.set_len(rows);
        model.set_len(rows);
        from_day.set_len(rows);
    }
    build_batch(
        book,
        Results { total, priced, model, has_model, from_day, has_day, items, rejects },
        cols.region.as_ref(),
        &item_units,
        options,
    )
}

/// Itemized columns: the units the count columns feed, and requests (none unless `itemized`).
fn item_units(count_units: &[usize], itemized: bool) -> Vec<usize> {
    if !itemized {
        return Vec::new();
    }
    let mut units = count_units.to_vec();
    if units.contains(&CACHE_WRITE_1H) {
        units.push(CACHE_WRITE);
    }
    units.push(REQUESTS);
    units.sort();
    units.dedup();
    units
}

fn item_name(unit: usize) -> String {
    format!("{}_cost", UNITS[unit].usage_field.trim_end_matches("_tokens"))
}

/// Input columns kept beside the result under another name: a table of read records (`extract_usages`) has its
/// own `status` (whether the record was read), which the result's `status` (why a row is not priced) would repeat.
pub const RENAMED_BESIDE: [(&str, &str); 1] = [("status", "input_status")];

/// An input column's name beside the result's columns ([`RENAMED_BESIDE`]).
pub fn kept_name(name: &str) -> &str {
    RENAMED_BESIDE.iter().find(|(from, _)| *from == name).map_or(name, |(_, to)| to)
}

/// The names of the columns `price_table` adds, in order (for a caller that puts them beside the input's own).
pub fn result_names(count_units: &[usize], options: &TableOptions) -> Vec<String> {
    let mut names = vec!["total_cost".to_string()];
    names.extend(item_units(count_units, options.itemized).into_iter().map(item_name));
    names.extend(["priced_model", "priced_provider", "priced_region", "price_from", "status"].map(String::from));
    names
}

/// The whole table's result columns, before they become Arrow arrays.
struct Results {
    total: Vec<i128>,
    priced: Vec<u8>,
    model: Vec<i32>,
    has_model: Vec<u8>,
    from_day: Vec<i32>,
    has_day: Vec<u8>,
    items: Vec<Vec<i128>>,
    rejects: Vec<(usize, Arc<str>)>,
}

fn money_column(values: Vec<i128>, valid: &Option<NullBuffer>, as_float: bool) -> ArrayRef {
    if as_float {
        let floats: Vec<f64> = values.iter().map(|v| *v as f64 / 1e18).collect();
        Arc::new(Float64Array::new(floats.into(), valid.clone()))
    } else {
        Arc::new(money_array(values, valid.clone()))
    }
}

fn build_batch(
    book: &PriceBook,
    out: Results,
    region: Option<&Strs<'_>>,
    item_units: &[usize],
    options: &TableOptions,
) -> Result<RecordBatch> {
    let money_type = if options.as_float { DataType::Float64 } else { MONEY_TYPE };
    let rows = out.total.len();
    let nulls = |bits: Vec<u8>| {
        let buffer = NullBuffer::new(BooleanBuffer::new(bits.into(), 0, rows));
        (buffer.null_count() > 0).then_some(buffer)
    };
    // The region each priced row was priced in, as the book names it (null: none, or not priced).
    let is_priced = |row: usize| out.priced[row / 8] & (1 << (row % 8)) != 0;
    let priced_region: ArrayRef = match region {
        None => null_strings(rows),
        Some(r) => Arc::new(StringArray::from_iter((0..rows).map(|row| {
            r.get(row).map(str::trim).filter(|s| !s.is_empty() && is_priced(row)).map(str::to_ascii_lowercase)
        }))),
    };
    let valid = nulls(out.priced);
    let mut fields = vec![Field::new("total_cost", money_type.clone(), true)];
    let mut columns: Vec<ArrayRef> = vec![money_column(out.total, &valid, options.as_float)];
    for (u, values) in item_units.iter().zip(out.items) {
        fields.push(Field::new(item_name(*u), money_type.clone(), true));
        columns.push(money_column(values, &valid, options.as_float));
    }
    // Model and provider ids as dictionary columns over the book's models (no string per row): both share the
    // model keys; the provider column's dictionary holds each model's provider id.
    let model_values: ArrayRef = Arc::new(StringArray::from_iter_values(book.models.iter().map(|m| m.id.as_str())));
    let provider_values: ArrayRef =
        Arc::new(StringArray::from_iter_values(book.models.iter().map(|m| book.providers[m.provider].id.as_str())));
    let keys = Int32Array::new(out.model.into(), nulls(out.has_model));
    let dict_type = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    // SAFETY: every key is the index of a model of `book`, so it is within both value arrays.
    let model_column = unsafe { DictionaryArray::<Int32Type>::new_unchecked(keys.clone(), model_values) };
    let provider_column = unsafe { DictionaryArray::<Int32Type>::new_unchecked(keys, provider_values) };
    fields.push(Field::new("priced_model", dict_type.clone(), true));
    columns.push(Arc::new(model_column));
    fields.push(Field::new("priced_provider", dict_type, true));
    columns.push(Arc::new(provider_column));
    fields.push(Field::new("priced_region", DataType::Utf8, true));
    columns.push(priced_region);
    fields.push(Field::new("price_from", DataType::Date32, true));
    columns.push(Arc::new(Date32Array::new(out.from_day.into(), nulls(out.has_day))));
    // Status: null for priced rows, the reason for the others.
    let status: ArrayRef = if out.rejects.is_empty() {
        null_strings(rows)
    } else {
        let mut rejects = out.rejects;
        rejects.sort_by_key(|(row, _)| *row);
        let mut builder = StringBuilder::with_capacity(rows, rejects.iter().map(|(_, r)| r.len()).sum());
        let mut next = rejects.iter().peekable();
        for row in 0..rows {
            match next.peek() {
                Some((r, reason)) if *r == row => {
                    builder.append_value(reason);
                    next.next();
                }
                _ => builder.append_null(),
            }
        }
        Arc::new(builder.finish())
    };
    fields.push(Field::new("status", DataType::Utf8, true));
    columns.push(status);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(Error::arrow("result table"))
}

/// A string column of `rows` nulls whose offsets (all zero) are never written: zeroed memory from the system
/// allocator (`calloc` for all but tiny sizes, which takes fresh pages from the kernel for large ones), as `StringArray::new_null`
/// would otherwise zero 40 MB for ten million rows on one thread after the pricing.
fn null_strings(rows: usize) -> ArrayRef {
    use std::alloc::{GlobalAlloc, Layout, System};
    /// Memory from `System.alloc_zeroed`, given back when the last Arrow buffer over it goes.
    struct Zeros(std::ptr::NonNull<u8>, Layout);
    // SAFETY: the memory is only read (through Arrow buffers) and freed once, on drop.
    unsafe impl Send for Zeros {}
    unsafe impl Sync for Zeros {}
    impl std::panic::RefUnwindSafe for Zeros {}
    impl Drop for Zeros {
        fn drop(&mut self) {
            // SAFETY: allocated by `System` with this layout, freed once.
            unsafe { System.dealloc(self.0.as_ptr(), self.1) }
        }
    }
    let len = (rows + 1) * std::mem::size_of::<i32>();
    // Alignment 16 (at most `malloc`'s): `System` then calls `calloc`, which skips zeroing fresh pages.
    let layout = Layout::from_size_align(len, 16).expect("a valid layout");
    // SAFETY: `layout` has a non-zero size.
    let Some(ptr) = std::ptr::NonNull::new(unsafe { System.alloc_zeroed(layout) }) else {
        std::alloc::handle_alloc_error(layout)
    };
    // SAFETY: `ptr` points to `len` zeroed bytes owned by the `Zeros`, which frees them when the buffer goes.
    let buffer = unsafe { arrow_buffer::Buffer::from_custom_allocation(ptr, len, Arc::new(Zeros(ptr, layout))) };
    // SAFETY: all offsets are 0: monotonic, and within the (empty) values.
    let offsets =
        unsafe { arrow_buffer::OffsetBuffer::new_unchecked(arrow_buffer::ScalarBuffer::new(buffer, 0, rows + 1)) };
    Arc::new(StringArray::new(
        offsets,
        arrow_buffer::Buffer::from_vec(Vec::<u8>::new()),
        Some(NullBuffer::new_null(rows)),
    ))
}

/// Per-thread buffers and caches, reused from chunk to chunk (fresh large buffers per chunk would cost page
/// faults, and the caches keep their hits).
struct Scratch<'a> {
    counts: Vec<Vec<u64>>,
    times: Vec<Option<i64>>,
    names: NameCache<'a>,
    /// Per model: the sheets met so far (a handful each), searched by a short scan.
    sheets: Vec<Vec<KnownSheet<'a>>>,
    /// Rows the fast pass leaves to the general one.
    slow: Vec<u32>,
    /// The fast pass's model per row (`NONE`: left to the general pass), and provider names.
    mis: Vec<u32>,
    providers: Vec<Option<&'a str>>,
    /// Per model: the time spans over which rows without a tier or region get one sheet (a price entry
    /// without time-of-day windows), one per entry, with the sheet's linear form.
    spans: Vec<Vec<(Span, Option<Linear>)>>,
}

/// A time span `[from, until)` (microseconds) priced by one sheet; see `Scratch::spans`.
#[derive(Clone, Copy)]
struct Span {
    from: i64,
    until: i64,
    slot: u32,
    from_day: Option<i32>,
}

impl Scratch<'_> {
    fn new(book: &PriceBook, columns: usize) -> Self {
        Scratch {
            counts: vec![Vec::new(); columns],
            times: Vec::new(),
            names: NameCache::default(),
            sheets: vec![Vec::new(); book.models.len()],
            spans: vec![Vec::new(); book.models.len()],
            slow: Vec::new(),
            mis: Vec::new(),
            providers: Vec::new(),
        }
    }
}

/// A chunk's count and time values, read column-wise before the passes over its rows.
struct ChunkValues<'s> {
    /// Per count column, the chunk's values (0 where invalid).
    counts: Vec<&'s [u64]>,
    /// Invalid counts and times as (row in the chunk, reason), in row order.
    bad_counts: Vec<(usize, Arc<str>)>,
    bad_times: Vec<(usize, String)>,
    /// The time column's own microseconds when they need no conversion; otherwise the times are in `converted`.
    in_place: Option<&'s [i64]>,
    converted: &'s [Option<i64>],
}

impl ChunkValues<'_> {
    #[inline(always)]
    fn time_of(&self, k: usize) -> Option<i64> {
        match self.in_place {
            Some(values) => Some(values[k]),
            None => self.converted[k],
        }
    }
}

/// A chunk being priced: the table, where the chunk starts, and its values.
struct Chunk<'c, 'a> {
    book: &'c Arc<PriceBook>,
    input: &'c TableInput<'c>,
    cols: &'c Columns<'a>,
    start: usize,
    values: ChunkValues<'c>,
}

impl<'a> Chunk<'_, 'a> {
    /// A (provider, model) name's resolution, or why it fails; the caches call it once per name, and the book's
    /// cache makes the message (with its closest names) once per name for all threads and calls.
    fn resolution(&self, model: &str, provider: Option<&str>) -> Resolved {
        self.book.resolve_or_reason(model, provider)
    }

    /// Row `i`'s (table row) model resolution through `names`, `None` without a model name.
    fn resolve(&self, names: &mut NameCache<'a>, i: usize) -> Option<Resolved> {
        let model_name = self.cols.model.get(i)?;
        let provider_name = self.cols.provider.as_ref().and_then(|p| p.get(i));
        Some(names.get_or_resolve(provider_name, model_name, || self.resolution(model_name, provider_name)))
    }
}

/// Prices the `out.total.len()` rows from `start`: first the fast pass, for rows of the common shape (a known
/// model, a time, valid counts, no tier or region, not a cache hit), priced by their sheet's dot product (see
/// `cost::linear`); then the general pass, on every other row, which prices it like `price()` or says why not.
fn price_chunk<'a>(
    book: &Arc<PriceBook>,
    input: &TableInput<'_>,
    cols: &Columns<'a>,
    start: usize,
    item_units: &[usize],
    out: &mut Out<'_>,
    scratch: &mut Scratch<'a>,
) {
    let n = out.total.len();
    let Scratch { counts, times, names, sheets, slow, mis, providers, spans } = scratch;
    let chunk = Chunk { book, input, cols, start, values: read_chunk(cols, start, n, counts, times) };
    slow.clear();
    mis.truncate(n);
    mis.resize(n, NONE);
    if item_units.is_empty() {
        fast_models(&chunk, names, mis, providers);
    } else {
        mis.fill(NONE);
    }
    fast_pass(&chunk, mis, sheets, spans, out, slow);
    general_pass(&chunk, item_units, names, sheets, spans, slow, out);
}

/// Reads rows `start..start + n` of the count and time columns: counts converted into `counts`; times read in
/// place when they are microseconds without nulls, otherwise converted into `times`.
fn read_chunk<'s>(
    cols: &'s Columns<'_>,
    start: usize,
    n: usize,
    counts: &'s mut [Vec<u64>],
    times: &'s mut Vec<Option<i64>>,
) -> ChunkValues<'s> {
    let mut bad_counts: Vec<(usize, Arc<str>)> = Vec::new();
    for ((unit, col, name), values) in cols.counts.iter().zip(counts.iter_mut()) {
        // Every row is written below: only new room is zeroed.
        values.truncate(n);
        values.resize(n, 0);
        let mut bad = Vec::new();
        col.fill(start, values, &mut bad);
        let field = UNITS[*unit].usage_field;
        let what = if *name == field { field.to_string() } else { format!("{field} (column {name:?})") };
        bad_counts.extend(bad.into_iter().map(|(k, why)| (k, Arc::from(format!("{what} {why}")))));
    }
    bad_counts.sort_by_key(|(k, _)| *k);
    let mut bad_times: Vec<(usize, String)> = Vec::new();
    let in_place = match &cols.timestamp {
        Some(Times::Micros(values, a, 1, 1))
            if a.nulls().is_none() && values[start..start + n].iter().all(|v| instant_in_range(*v).is_ok()) =>
        {
            Some(&values[start..start + n])
        }
        _ => None,
    };
    if in_place.is_none() {
        times.truncate(n);
        times.resize(n, None);
        match &cols.timestamp {
            Some(t) => t.fill(start, times, &mut bad_times),
            None => times.fill(None),
        }
    }
    ChunkValues { counts: counts.iter().map(|v| &v[..n]).collect(), bad_counts, bad_times, in_place, converted: times }
}

/// The fast pass's first stage: each row's model in `mis`, `NONE` for the rows left to the general pass (no or
/// an unknown model, a bad time or count, a cache hit, a tier or region).
fn fast_models<'a>(
    chunk: &Chunk<'_, 'a>,
    names: &mut NameCache<'a>,
    mis: &mut [u32],
    providers: &mut Vec<Option<&'a str>>,
) {
    let (cols, start, n) = (chunk.cols, chunk.start, mis.len());
    let mut resolve_row = |k: usize, model_name: Option<&'a str>, provider_name: Option<&'a str>| {
        mis[k] = match model_name {
            None => NONE,
            Some(model_name) => names.index(provider_name, model_name, || chunk.resolution(model_name, provider_name)),
        }
    };
    match (&cols.model, &cols.provider) {
        // The common kinds in one loop over both columns; any other with a pass over the providers first.
        (Strs::Utf8(m), Some(Strs::Utf8(p))) if m.nulls().is_none() && p.nulls().is_none() => {
            let (mo, md, po, pd) = (m.value_offsets(), m.value_data(), p.value_offsets(), p.value_data());
            for (k, mi) in mis.iter_mut().enumerate() {
                let i = start + k;
                let (ms, ml) = (mo[i] as usize, (mo[i + 1] - mo[i]) as usize);
                let (ps, pl) = (po[i] as usize, (po[i + 1] - po[i]) as usize);
                let (model_name, provider_name) = (m.value(i), p.value(i));
                *mi = names.index_keyed(
                    name_key_in(md, ms, ml),
                    name_key_in(pd, ps, pl),
                    Some(provider_name),
                    model_name,
                    || chunk.resolution(model_name, Some(provider_name)),
                );
            }
        }
        (model, None) => model.each(start, n, |k, name| resolve_row(k, name, None)),
        (model, Some(p)) => {
            providers.clear();
            p.each(start, n, |_, name| providers.push(name));
            model.each(start, n, |k, name| resolve_row(k, name, providers[k]));
        }
    }
    // Then the rows with something unusual.
    for &(k, _) in &chunk.values.bad_times {
        mis[k] = NONE;
    }
    for &(k, _) in &chunk.values.bad_counts {
        mis[k] = NONE;
    }
    if let Some(c) = cols.cache_hit {
        for (k, mi) in mis.iter_mut().enumerate() {
            if c.is_valid(start + k) && c.value(start + k) {
                *mi = NONE;
            }
        }
    }
    for col in [&cols.tier, &cols.region].into_iter().flatten() {
        col.each(start, n, |k, v| {
            if v.is_some_and(|v| !v.is_empty()) {
                mis[k] = NONE;
            }
        });
    }
}

/// The fast pass's second stage: the rows with a model in `mis` priced by their sheet's linear form; the rows it
/// does not price (`NONE`, no time, no linear form, a count too large for it) are pushed on `slow`.
fn fast_pass<'a>(
    chunk: &Chunk<'_, 'a>,
    mis: &[u32],
    sheets: &mut [Vec<KnownSheet<'a>>],
    spans: &mut [Vec<(Span, Option<Linear>)>],
    out: &mut Out<'_>,
    slow: &mut Vec<u32>,
) {
    let (cols, values) = (chunk.cols, &chunk.values);
    let mut x = Linear::row(cols.layout.units.len());
    // Whether any count of the chunk reaches `MAX_COUNT` (a power of two): then each row is looked at.
    let big = values.counts.iter().any(|v| v.iter().fold(0, |m, c| m | c) >= MAX_COUNT);
    for (k, &mi) in mis.iter().enumerate() {
        let mut priced = || -> Option<()> {
            if mi == NONE {
                return None;
            }
            let mi = mi as usize;
            let at = values.time_of(k).or(chunk.input.default_at)?;
            // The span's own copy of its sheet's linear form: one lookup per row.
            let (span, linear) = match spans[mi].iter().position(|(s, _)| s.from <= at && at < s.until) {
                Some(pos) => {
                    let (span, linear) = &spans[mi][pos];
                    (*span, linear.as_ref()?)
                }
                None => {
                    let span =
                        sheet_slot(chunk.book, &cols.layout, &mut sheets[mi], &mut spans[mi], mi, at, None, None)
                            .ok()?;
                    (span, sheets[mi][span.slot as usize].2.as_ref()?)
                }
            };
            for (v, values) in x.iter_mut().zip(values.counts.iter()) {
                *v = values[k];
            }
            if big && x.iter().any(|v| *v >= MAX_COUNT) {
                return None;
            }
            out.total[k] = linear.total(&x)?;
            set_bit(out.priced, k);
            out.set_model(k, mi);
            if let Some(day) = span.from_day {
                out.from_day[k] = day;
                set_bit(out.has_day, k);
            }
            Some(())
        };
        if priced().is_none() {
            slow.push(k as u32);
        }
    }
}

/// The general pass, on the rows the fast pass left (`slow`): each is priced with `compute` (the same arithmetic
/// as one `price()` call) or rejected with the first reason that applies.
fn general_pass<'a>(
    chunk: &Chunk<'_, 'a>,
    item_units: &[usize],
    names: &mut NameCache<'a>,
    sheets: &mut [Vec<KnownSheet<'a>>],
    spans: &mut [Vec<(Span, Option<Linear>)>],
    slow: &[u32],
    out: &mut Out<'_>,
) {
    let (cols, input, values) = (chunk.cols, chunk.input, &chunk.values);
    let tier_of = |i: usize| cols.tier.as_ref().and_then(|t| t.get(i)).filter(|s| !s.is_empty());
    let region_of = |i: usize| cols.region.as_ref().and_then(|r| r.get(i)).filter(|s| !s.is_empty());
    let hit = |i: usize| cols.cache_hit.is_some_and(|c| !c.is_null(i) && c.value(i));
    // One usage, reused: only the present columns change from row to row.
    let mut usage = Usage::default();
    let merge_writes = cols.counts.iter().any(|(u, _, _)| *u == CACHE_WRITE_1H);
    let mut item_amounts = [0i128; N_UNITS];
    let (mut next_bad, mut next_bad_time) = (0, 0);
    for &k in slow {
        let k = k as usize;
        let i = chunk.start + k;
        let reject = |out: &mut Out<'_>, mi: Option<usize>, reason: Arc<str>| {
            if let Some(mi) = mi {
                out.set_model(k, mi);
            }
            out.rejects.push((i, reason));
        };
        let mi = match chunk.resolve(names, i) {
            None => {
                reject(out, None, "no model".into());
                continue;
            }
            Some(Err(reason)) => {
                reject(out, None, reason);
                continue;
            }
            Some(Ok(mi)) => mi,
        };
        // A gateway cache hit: the provider was not called, nothing to pay.
        if hit(i) {
            set_bit(out.priced, k);
            out.set_model(k, mi);
            continue;
        }
        // Time (read column-wise before).
        if let Some(why) = take_bad(&values.bad_times, &mut next_bad_time, k) {
            reject(out, Some(mi), format!("timestamp: {why}").into());
            continue;
        }
        let Some(at) = values.time_of(k).or(input.default_at) else {
            reject(out, Some(mi), "no timestamp: pass default_at= to price rows without one".into());
            continue;
        };
        // Counts: read column-wise before; the absent ones stay 0 (`requests` 1).
        if let Some(reason) = take_bad(&values.bad_counts, &mut next_bad, k) {
            reject(out, Some(mi), reason.clone());
            continue;
        }
        if input.input_excludes_cache {
            usage.counts[INPUT] = 0; // recomputed below from this row's own counts
        }
        if input.output_excludes_reasoning {
            usage.counts[OUTPUT] = 0; // likewise
        }
        if merge_writes {
            usage.counts[CACHE_WRITE] = 0; // the merge below added the 1-hour writes of the last row
        }
        for (u, values) in cols.layout.units.iter().zip(values.counts.iter()) {
            usage.counts[*u] = values[k];
        }
        // The totals a vendor leaves parts out of, made whole; a sum past u64 is rejected, never saturated.
        if let Err(e) = usage.add_left_out_parts(input.input_excludes_cache, input.output_excludes_reasoning) {
            reject(out, Some(mi), e.to_string().into());
            continue;
        }
        if let Err(e) = usage.validate() {
            reject(out, Some(mi), e.to_string().into());
            continue;
        }
        let (tier, region) = (tier_of(i), region_of(i));
        let span = match sheet_slot(chunk.book, &cols.layout, &mut sheets[mi], &mut spans[mi], mi, at, tier, region) {
            Ok(span) => span,
            Err(e) => {
                reject(out, Some(mi), e.to_string().into());
                continue;
            }
        };
        let sheet: &EffectiveSheet = &sheets[mi][span.slot as usize].1;
        // The pricing units' view: the cache-write unit covers 5-minute and 1-hour writes (see `Usage::unit_counts`);
        // in place, as the next row refills these counts.
        if merge_writes {
            usage.counts[CACHE_WRITE] = usage.counts[CACHE_WRITE].saturating_add(usage.counts[CACHE_WRITE_1H]);
        }
        let fast = match &sheet.fast {
            Some(plan) if item_units.is_empty() => compute_fast(plan, &usage.counts, |_, _| {}),
            Some(plan) => {
                item_amounts.fill(0);
                compute_fast(plan, &usage.counts, |unit, amount| item_amounts[unit] = amount)
            }
            None => None,
        };
        // The general path gives the same amounts, and the reason when a row cannot be priced.
        let total = match fast {
            Some(total) => total,
            None => {
                item_amounts.fill(0);
                match compute(sheet, &usage.counts, |item| item_amounts[item.unit] = item.amount) {
                    Ok(total) => total,
                    Err(e) => {
                        reject(out, Some(mi), e.to_string().into());
                        continue;
                    }
                }
            }
        };
        out.total[k] = total;
        set_bit(out.priced, k);
        out.set_model(k, mi);
        if let Some(day) = span.from_day {
            out.from_day[k] = day;
            set_bit(out.has_day, k);
        }
        for (col, u) in out.items.iter_mut().zip(item_units) {
            col[k] = item_amounts[*u];
        }
    }
}

/// The sheet for model `mi` at `at` in `tier` and `region`, as its position in `known` (the model's sheets met
/// so far, with their linear forms), found or added; when it is added for rows without a tier or region, the
/// time span it holds for is added to `spans`.
#[allow(clippy::too_many_arguments)]
fn sheet_slot<'a>(
    book: &Arc<PriceBook>,
    layout: &Layout,
    known: &mut Vec<KnownSheet<'a>>,
    spans: &mut Vec<(Span, Option<Linear>)>,
    mi: usize,
    at: i64,
    tier: Option<&'a str>,
    region: Option<&'a str>,
) -> Result<Span> {
    let ei = book.entry_index(mi, at)?;
    let entry = &book.models[mi].entries[ei];
    let window = book.window_at(mi, ei, at);
    let found =
        known.iter().position(|(k, _, _)| k.entry == ei && k.window == window && k.tier == tier && k.region == region);
    let added = found.is_none();
    let slot = match found {
        Some(pos) => pos,
        None => {
            // Only prices are kept: a failure names the row's own date, so it is not shared.
            let sheet = book.sheet_for(mi, at, tier, region)?;
            let linear = sheet.fast.as_ref().and_then(|plan| Linear::new(plan, layout));
            known.push((SheetKey { entry: ei, window, tier, region }, sheet, linear));
            known.len() - 1
        }
    };
    let from_day = entry.from.map(|f| day_of(f) as i32);
    let until = book.entry_until(mi, ei).unwrap_or(i64::MAX);
    let span = Span { from: entry.from.unwrap_or(i64::MIN), until, slot: slot as u32, from_day };
    // Once per sheet (the general pass looks sheets up row by row; the list must not grow with them).
    if added && tier.is_none() && region.is_none() && entry.windows.is_empty() {
        spans.push((span, known[slot].2.clone()));
    }
    Ok(span)
}

/// Row counts of a priced table: (priced, rejected).
pub fn counts_of(batch: &RecordBatch) -> (usize, usize) {
    let status = batch.column_by_name("status").expect("status column");
    let rejected = status.len() - status.null_count();
    (status.len() - rejected, rejected)
}

/// Sums a decimal cost column exactly (None if it is not decimal, or if the sum passes what an amount column
/// holds).
pub fn sum_decimal(column: &ArrayRef) -> Option<i128> {
    let a = column.as_any().downcast_ref::<Decimal128Array>()?;
    a.iter().flatten().try_fold(0, crate::money::add_amounts)
}

#[cfg(test)]
mod tests {
    use arrow_array::Int64Array;

    use super::*;
    use crate::prices::units::CACHE_READ;

    /// A sheet's time span is remembered once, however many rows look the sheet up (the general pass does, row
    /// by row), and a row at any time of the span finds it.
    #[test]
    fn each_sheet_adds_its_span_once() {
        let book = PriceBook::default_book();
        let mi = book.resolve("gpt-4o", Some("openai")).unwrap();
        let layout =
            Layout { units: vec![INPUT, CACHE_READ], input_excludes_cache: false, output_excludes_reasoning: false };
        let (mut known, mut spans) = (Vec::new(), Vec::new());
        let at = parse_instant("2025-06-01T00:00:00Z").unwrap();
        for k in 0..1000 {
            let span = sheet_slot(&book, &layout, &mut known, &mut spans, mi, at + k * 1_000_000, None, None).unwrap();
            assert!(span.from <= at + k * 1_000_000 && at + k * 1_000_000 < span.until);
        }
        assert_eq!((known.len(), spans.len()), (1, 1));
        // A tier: another sheet, and no span.
        sheet_slot(&book, &layout, &mut known, &mut spans, mi, at, Some("batch"), None).unwrap();
        assert_eq!((known.len(), spans.len()), (2, 1));
    }

    /// A name's key is the same read from its own bytes or from within a values buffer (masked), for every
    /// length around the word sizes and near the buffer's end.
    #[test]
    fn name_keys_agree_in_and_out_of_a_buffer() {
        let data: Vec<u8> = (0..64u8).map(|b| b'a' + b % 26).collect();
        for start in [0, 3, 40, 50, 60] {
            for len in 0..=(64 - start).min(24) {
                let own = name_key(&data[start..start + len]);
                assert_eq!(name_key_in(&data, start, len), own, "start {start}, length {len}");
                if len < 16 {
                    assert_eq!(own[(len >= 8) as usize] >> (8 * (len % 8)) & 0xFF, 0, "padding is zero");
                }
            }
        }
    }

    /// A table whose rows name a few unknown models, over many chunks and threads: each name is resolved once
    /// and its closest names looked for once, not once per row or per chunk; every such row says why.
    #[test]
    fn a_table_resolves_each_name_once_not_per_row() {
        let book = PriceBook::fresh_default();
        let rows = 100_000;
        let names = ["gpt-4o", "ft:gpt-4.1-mini:acme::x1", "gpt-4o-minii", "no-such-model"];
        let model: ArrayRef = Arc::new(StringArray::from_iter_values((0..rows).map(|i| names[i % 50 % 4])));
        let tokens: ArrayRef = Arc::new(Int64Array::from_iter_values((0..rows).map(|i| i as i64)));
        let counts = vec![(0, &tokens, "input_tokens".to_string())];
        let input = TableInput { default_at: Some(1_750_000_000_000_000), ..TableInput::new(&model, counts) };
        for threads in [1, 4] {
            let options = TableOptions { threads: Some(threads), ..TableOptions::default() };
            let batch = price_table(&book, &input, &options).unwrap();
            assert_eq!(counts_of(&batch), (rows / 50 * 13, rows / 50 * 37));
        }
        assert_eq!(book.resolution_work(), (names.len(), names.len() - 1));
    }
}
