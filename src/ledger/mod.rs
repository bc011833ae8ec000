//! The ledger: log records in, priced lines out. Raw record → `UsageRecord` (see [`crate::usage::formats`]) →
//! priced line (each at the price in force at its own timestamp) → Arrow batches of priced lines and of rejects.
//! Nothing is lost: every record read is either a priced line or a reject with its reason and place.

//!
//! [`pricer`] prices records (caching what repeats across them), [`output`] builds the Arrow batches, [`run`](mod@run)
//! runs a whole job over named inputs (reading, pricing, spilling, totals, progress), [`reconcile`] compares the
//! cost the logs report with the computed one.

pub mod flat;
pub mod groups;
pub mod logpush;
pub mod output;
pub mod pricer;
pub mod read;
pub mod reconcile;
pub mod reprice;
pub mod run;

pub(crate) use output::internal;
pub use output::{empty, unify};
pub use pricer::{price_items, Chunk, Pricer};
pub(crate) use pricer::{reuse, Line};
pub use run::{
    run, FileRanges, Files, NamedStream, Page, Pages, Progress, RowNames, Run, RunOptions, Source, Spill, SpillDir,
    Streams, Texts, SPILL_ABOVE,
};

use crate::usage::UsageRecord;

/// A record read from a log (or why it could not be read), its line (1-based; a batch's row number) and its text
/// (for the excerpt of a reject).
#[derive(Clone, Debug)]
pub struct Read<'t> {
    pub line: u64,
    pub record: std::result::Result<UsageRecord, String>,
    pub text: &'t [u8],
}

/// The start of a record's text, for a reject's excerpt.
pub fn excerpt(bytes: &[u8]) -> String {
    let end = bytes.len().min(160);
    let mut s = String::from_utf8_lossy(&bytes[..end]).into_owned();
    if bytes.len() > end {
        s.push('…');
    }
    s
}

/// How to price a log.
#[derive(Clone, Debug, Default)]
pub struct LedgerOptions {
    /// For records without a timestamp (otherwise they are rejected: old rows are never priced at today's rate).
    pub default_at: Option<i64>,
    /// Price every record in this tier instead of its own.
    pub service_tier: Option<String>,
    /// Records without usage but with their texts, on models whose tokenizer is not public (Claude, Gemini):
    /// estimate their tokens with [`APPROXIMATION_ENCODING`](crate::tokens::models::APPROXIMATION_ENCODING) (marked `approximate`) instead of rejecting them.
    pub approximate: bool,
    pub threads: Option<usize>,
}

/// The cost columns of a priced line; they add up to `total_cost` exactly.
pub const COST_COLUMNS: [&str; 5] = ["input_cost", "cache_read_cost", "cache_write_cost", "output_cost", "other_cost"];

/// The columns of a priced line's extras (`usage::Extras`), last in its batch.
pub const EXTRA_COLUMNS: [&str; 9] = [
    "duration_ms",
    "ttft_ms",
    "trace_id",
    "request_id",
    "endpoint",
    "rate_limited",
    "custom_cost",
    "cache_reference_id",
    "cost_breakdown",
];

/// The columns of a priced line before its extras: where it came from, what was priced and its costs.
const LINE_COLUMNS: [&str; 22] = [
    "source",
    "line",
    "id",
    "timestamp",
    "provider",
    "model",
    "served_model",
    "service_tier",
    "cache_hit",
    "status",
    "usage_source",
    "priced_provider",
    "priced_model",
    "priced_region",
    "price_from",
    "reported_cost",
    "total_cost",
    "input_cost",
    "cache_read_cost",
    "cache_write_cost",
    "output_cost",
    "other_cost",
];

/// The columns of a priced line other than its labels and counts: the line's columns, then its extras'.
pub const FIXED_COLUMNS: [&str; 31] = concat(LINE_COLUMNS, EXTRA_COLUMNS);

/// The columns a summary (or a run's totals) adds beside its keys and the cost columns.
pub const SUMMARY_COLUMNS: [&str; 2] = ["period", "rows"];

/// The columns `reprice()` and `savings()` (the Python layer's comparisons) add beside their keys, `rows` and
/// `total_cost`. A label of one of these names keeps its name in `.table`, and is the column `metadata.<name>` in
/// those results only, so that a comparison by it holds no name twice.
pub const COMPARISON_COLUMNS: [&str; 5] = ["repriced_cost", "uncached_cost", "difference", "saved", "unpriced"];

/// The columns a reconciliation's mismatches add beside a line's `id`, `source`, `line` and `model` (see
/// [`reconcile::reconcile`]). A label of one of these names keeps its name in `.table`, and is the column
/// `metadata.<name>` in the mismatches only.
pub const MISMATCH_COLUMNS: [&str; 4] = ["reported", "computed", "difference", "cause"];

/// A label's column in a result that has columns of the names `taken` besides its labels: its own name, or
/// `metadata.<name>` for a taken name — prefixed again while that is another label's name (`labels`), so no
/// name is there twice.
pub fn label_column_in(label: &str, taken: &[&str], labels: &[&str]) -> String {
    let mut name = label.to_string();
    while taken.contains(&name.as_str()) || (name != label && labels.contains(&name.as_str())) {
        name = format!("metadata.{name}");
    }
    name
}

/// The names a label cannot have as its column, besides the usage fields: a label of one of these names is given
/// the column `metadata.<name>`, so that neither `.table` nor a summary by it holds a name twice.
pub const TAKEN_NAMES: [&str; 33] = concat(FIXED_COLUMNS, SUMMARY_COLUMNS);

/// Two lists of names as one, in a constant (`C` must be `A + B`).
const fn concat<const A: usize, const B: usize, const C: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; C] {
    assert!(A + B == C, "the lengths must add up");
    let mut out = [""; C];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < C {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

/// Items to read and price: (line or row number, text).
pub type Item<'t> = (u64, Text<'t>);

/// The text of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text<'t> {
    Record(&'t [u8]),
    /// No record (a null row).
    Missing,
    /// A line (or array element) of `bytes` bytes, longer than the reader's cap: only its start is kept.
    TooLong {
        head: &'t [u8],
        bytes: u64,
        cap: u64,
    },
}

impl<'t> From<Option<&'t [u8]>> for Text<'t> {
    fn from(text: Option<&'t [u8]>) -> Text<'t> {
        text.map_or(Text::Missing, Text::Record)
    }
}
