//! The ledger: log records in, priced lines out. Raw record → `UsageRecord` (see [`crate::usage::extract`]) →
//! priced line (each at the price in force at its own timestamp) → Arrow batches of priced lines and of rejects.
//! Nothing is lost: every record read is either a priced line or a reject with its reason and place.

pub mod read;

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use rayon::prelude::*;

use crate::cost::record::{price_record, RecordOptions};
use crate::cost::Cost;
use crate::error::{Error, Result};
use crate::prices::calendar::day_of;
use crate::prices::units::{self, Side, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, UNITS};
use crate::prices::PriceBook;
use crate::usage::batch::RecordColumns;
use crate::usage::extract::UsageRecord;

/// Where a record came from: a file and its line (1-based), or a batch row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub source: Arc<str>,
    pub line: u64,
}

/// A record read from a log, or why it could not be read, with its place and the start of its text.
#[derive(Clone, Debug)]
pub struct Read {
    pub place: Place,
    pub record: std::result::Result<UsageRecord, String>,
    pub excerpt: String,
}

/// How to price a log.
#[derive(Clone, Debug, Default)]
pub struct LedgerOptions {
    /// For records without a timestamp (otherwise they are rejected: old rows are never priced at today's rate).
    pub default_at: Option<i64>,
    /// Price every record in this tier instead of its own.
    pub service_tier: Option<String>,
    pub threads: Option<usize>,
}

/// The cost columns of a priced line; they add up to `total_cost` exactly.
pub const COST_COLUMNS: [&str; 5] = ["input_cost", "cache_read_cost", "cache_write_cost", "output_cost", "other_cost"];

/// Which cost column an item's unit goes to.
fn cost_column(unit: usize) -> usize {
    match unit {
        CACHE_READ | units::CACHE_AUDIO_READ | units::CACHE_IMAGE_READ => 1,
        CACHE_WRITE | CACHE_WRITE_1H => 2,
        u if UNITS[u].side == Side::Input => 0,
        u if UNITS[u].side == Side::Output => 3,
        _ => 4,
    }
}

/// One priced line.
struct Line<'r> {
    read: &'r Read,
    record: &'r UsageRecord,
    cost: Option<Cost>,
    at: i64,
}

/// Prices every record; returns (priced lines, rejects). Rows in = priced + rejected.
pub fn price_reads(book: &Arc<PriceBook>, reads: &[Read], opts: &LedgerOptions) -> Result<(RecordBatch, RecordBatch)> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
    let priced: Vec<std::result::Result<Line<'_>, String>> = crate::parallel::install(opts.threads, || {
        reads
            .par_iter()
            .with_min_len(256)
            .map(|read| {
                let record = read.record.as_ref().map_err(|e| e.clone())?;
                let Some(at) = record.timestamp.or(opts.default_at) else {
                    return Err("no timestamp: pass default_at= to price records without one".to_string());
                };
                // A failed request is kept and costs nothing (providers do not bill errors).
                if record.status == "error" && !record.has_usage {
                    return Ok(Line { read, record, cost: None, at });
                }
                let ropts =
                    RecordOptions { at: Some(at), service_tier: opts.service_tier.clone(), ..Default::default() };
                let cost = price_record(book, record, &ropts, now).map_err(|e| e.to_string())?;
                Ok(Line { read, record, cost: Some(cost), at })
            })
            .collect()
    })?;
    let mut lines = Vec::with_capacity(priced.len());
    let mut rejects = Vec::new();
    for (read, p) in reads.iter().zip(priced) {
        match p {
            Ok(line) => lines.push(line),
            Err(why) => rejects.push((read, why)),
        }
    }
    Ok((lines_batch(&lines)?, rejects_batch(&rejects)?))
}

fn internal(e: arrow_schema::ArrowError) -> Error {
    Error::Internal(format!("priced log table: {e}"))
}

fn money_builder(n: usize) -> Result<Decimal128Builder> {
    Decimal128Builder::with_capacity(n).with_precision_and_scale(38, 18).map_err(internal)
}

/// The priced lines as one Arrow batch.
fn lines_batch(lines: &[Line<'_>]) -> Result<RecordBatch> {
    let n = lines.len();
    let strs = || StringBuilder::with_capacity(n, n * 8);
    let (mut source, mut id, mut provider, mut model, mut served, mut pprov, mut pmodel, mut tier, mut status) =
        (strs(), strs(), strs(), strs(), strs(), strs(), strs(), strs(), strs());
    let mut line_no = Int64Builder::with_capacity(n);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut from = Date32Builder::with_capacity(n);
    let mut hit = BooleanBuilder::with_capacity(n);
    let mut reported = money_builder(n)?;
    let mut total = money_builder(n)?;
    let mut costs: Vec<Decimal128Builder> = COST_COLUMNS.iter().map(|_| money_builder(n)).collect::<Result<_>>()?;
    // Usage columns: the common ones always, others when some line uses them; then one column per label.
    let always = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"];
    let mut extra = RecordColumns::new(lines.iter().map(|l| l.record), &always, n);
    for l in lines {
        let r = l.record;
        source.append_value(&*l.read.place.source);
        line_no.append_value(l.read.place.line as i64);
        id.append_option(r.id.as_deref());
        ts.append_value(l.at);
        provider.append_option(r.provider.as_deref());
        model.append_option(r.model.as_deref());
        served.append_option(r.served_model.as_deref());
        tier.append_option(r.service_tier.as_deref());
        hit.append_value(r.cache_hit);
        status.append_value(r.status);
        match r.reported_cost.and_then(crate::usage::batch::decimal_18) {
            Some(v) => reported.append_value(v),
            None => reported.append_null(),
        }
        let mut sums = [0i128; COST_COLUMNS.len()];
        match &l.cost {
            Some(c) => {
                for item in c.all_items() {
                    sums[cost_column(item.unit)] += item.amount;
                }
                debug_assert_eq!(sums.iter().sum::<i128>(), c.total);
                total.append_value(c.total);
                pprov.append_value(c.provider_id());
                pmodel.append_value(c.model_id());
                match c.effective_from() {
                    Some(f) => from.append_value(day_of(f) as i32),
                    None => from.append_null(),
                }
            }
            None => {
                total.append_value(0);
                pprov.append_null();
                pmodel.append_null();
                from.append_null();
            }
        }
        for (b, v) in costs.iter_mut().zip(sums) {
            b.append_value(v);
        }
        extra.append(r);
    }
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, true);
    let money = |name: &str| Field::new(name, DataType::Decimal128(38, 18), true);
    let mut fields = vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        utf8("id"),
        Field::new("timestamp", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        utf8("provider"),
        utf8("model"),
        utf8("served_model"),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(source.finish()),
        Arc::new(line_no.finish()),
        Arc::new(id.finish()),
        Arc::new(ts.finish()),
        Arc::new(provider.finish()),
        Arc::new(model.finish()),
        Arc::new(served.finish()),
    ];
    let fixed: Vec<&str> = ["source", "line", "id", "timestamp", "provider", "model", "served_model"]
        .into_iter()
        .chain(["service_tier", "cache_hit", "status", "priced_provider", "priced_model", "price_from"])
        .chain(["reported_cost", "total_cost"])
        .chain(COST_COLUMNS)
        .collect();
    for (f, c) in extra.finish_labels(&fixed) {
        fields.push(f);
        columns.push(c);
    }
    fields.extend([
        utf8("service_tier"),
        Field::new("cache_hit", DataType::Boolean, false),
        Field::new("status", DataType::Utf8, false),
    ]);
    columns.extend([Arc::new(tier.finish()) as ArrayRef, Arc::new(hit.finish()), Arc::new(status.finish())]);
    for (f, c) in extra.finish_counts() {
        fields.push(f);
        columns.push(c);
    }
    for (name, b) in COST_COLUMNS.iter().zip(costs.iter_mut()) {
        fields.push(money(name));
        columns.push(Arc::new(b.finish()));
    }
    fields.extend([money("total_cost"), money("reported_cost"), utf8("priced_provider"), utf8("priced_model")]);
    columns.extend([
        Arc::new(total.finish()) as ArrayRef,
        Arc::new(reported.finish()),
        Arc::new(pprov.finish()),
        Arc::new(pmodel.finish()),
    ]);
    fields.push(Field::new("price_from", DataType::Date32, true));
    columns.push(Arc::new(from.finish()));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(internal)
}

/// The rejects as one Arrow batch: source, line, reason, excerpt.
fn rejects_batch(rejects: &[(&Read, String)]) -> Result<RecordBatch> {
    let n = rejects.len();
    let mut source = StringBuilder::with_capacity(n, n * 16);
    let mut line = Int64Builder::with_capacity(n);
    let mut reason = StringBuilder::with_capacity(n, n * 32);
    let mut excerpt = StringBuilder::with_capacity(n, n * 32);
    for (read, why) in rejects {
        source.append_value(&*read.place.source);
        line.append_value(read.place.line as i64);
        reason.append_value(why);
        excerpt.append_value(&read.excerpt);
    }
    let schema = Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("excerpt", DataType::Utf8, false),
    ]);
    let columns: Vec<ArrayRef> =
        vec![Arc::new(source.finish()), Arc::new(line.finish()), Arc::new(reason.finish()), Arc::new(excerpt.finish())];
    RecordBatch::try_new(Arc::new(schema), columns).map_err(internal)
}

/// Batches whose columns differ (each block has the metadata labels it met) as batches of one schema: the union
/// of the columns in order of first appearance, missing ones null.
pub fn unify(batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let mut fields: Vec<Arc<Field>> = Vec::new();
    for b in &batches {
        for f in b.schema().fields() {
            if !fields.iter().any(|g| g.name() == f.name()) {
                fields.push(Arc::new(f.as_ref().clone().with_nullable(true)));
            }
        }
    }
    let schema = Arc::new(Schema::new(fields.clone()));
    batches
        .iter()
        .map(|b| {
            let columns: Vec<ArrayRef> = fields
                .iter()
                .map(|f| match b.column_by_name(f.name()) {
                    Some(c) => c.clone(),
                    None => arrow_array::new_null_array(f.data_type(), b.num_rows()),
                })
                .collect();
            RecordBatch::try_new(schema.clone(), columns).map_err(internal)
        })
        .collect()
}

/// Writes one block of priced lines to `dir/part-NNNNN.arrow` (Arrow IPC file format) and returns the path.
pub fn spill(dir: &str, n: usize, batch: &RecordBatch) -> Result<String> {
    // The same schema as the in-memory result (every column nullable; see `unify`).
    let batch = &unify(vec![batch.clone()])?[0];
    let path = std::path::Path::new(dir).join(format!("part-{n:05}.arrow"));
    let name = path.display().to_string();
    let io = |e: &dyn std::fmt::Display| Error::Io { path: name.clone(), message: e.to_string() };
    let file = std::fs::File::create(&path).map_err(|e| io(&e))?;
    let mut writer =
        arrow_ipc::writer::FileWriter::try_new(std::io::BufWriter::new(file), &batch.schema()).map_err(|e| io(&e))?;
    writer.write(batch).map_err(|e| io(&e))?;
    writer.finish().map_err(|e| io(&e))?;
    Ok(name)
}
