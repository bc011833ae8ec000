//! The Arrow batches of a run: priced lines (`lines_batch`), rejects, an empty pair, and batches of differing
//! label columns made one schema ([`unify`]).

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

use super::flat::{Flat, Labels};
use super::pricer::{price_entries, Line, Pricer};
use super::{excerpt, LedgerOptions, COST_COLUMNS, TAKEN_NAMES};
use crate::error::{Error, Result};
use crate::money::{amount_of, money_builder};
use crate::prices::PriceBook;
use crate::usage::batch::{labels_of, LabelValue, RecordColumns};
use crate::usage::Extras;

pub(crate) fn internal(e: arrow_schema::ArrowError) -> Error {
    Error::arrow("priced log table")(e)
}

/// The count columns every priced-line batch has, whether or not its lines use them.
const ALWAYS_COUNTS: [&str; 5] =
    ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"];

/// The priced lines as one Arrow batch (`labels`: the fast lane's labels), in three stages: the room each column
/// needs, the rows appended, the columns put in their order.
pub(super) fn lines_batch(
    book: &PriceBook,
    source_name: &str,
    lines: &[Line<'_>],
    labels: &Labels,
) -> Result<RecordBatch> {
    let mut extra = RecordColumns::planned(&ALWAYS_COUNTS);
    let room = Room::of(book, lines, labels, &mut extra);
    extra.ready(lines.len());
    let mut columns = LineColumns::with_room(lines.len(), source_name, &room)?;
    for l in lines {
        columns.append(book, source_name, l, labels, &mut extra);
    }
    columns.finish(&mut extra)
}

/// The fast lane's labels of an item.
fn flat_labels<'l>(labels: &'l Labels, f: &Flat<'_>) -> &'l [super::flat::Label] {
    &labels.spans[f.labels.0 as usize..f.labels.1 as usize]
}

/// The bytes of each string column of a batch: builders get their room at once (builders that grow copy what
/// they hold).
#[derive(Default)]
struct Room {
    id: usize,
    provider: usize,
    model: usize,
    served: usize,
    tier: usize,
    priced_provider: usize,
    priced_model: usize,
    priced_region: usize,
}

impl Room {
    /// Measures the lines, and notes their counts and labels in `extra`.
    fn of(book: &PriceBook, lines: &[Line<'_>], labels: &Labels, extra: &mut RecordColumns) -> Room {
        let len = |s: Option<&str>| s.map_or(0, str::len);
        let mut room = Room::default();
        for l in lines {
            match l.view() {
                Ok(r) => {
                    extra.note(&r.usage, labels_of(r));
                    room.id += len(r.id.as_deref());
                    room.provider += len(r.provider.as_deref());
                    room.model += len(r.model.as_deref());
                    room.served += len(r.served_model.as_deref());
                    room.tier += len(r.service_tier.as_deref());
                }
                Err(f) => {
                    let spans = flat_labels(labels, f).iter();
                    extra.note(&f.usage(), spans.map(|s| (labels.get(s.key), (s.value.1 - s.value.0) as usize)));
                    room.id += len(f.id.as_deref());
                    room.provider += len(f.provider.as_deref());
                    room.model += f.model.len();
                    room.served += len(f.served.as_deref());
                    room.tier += len(f.tier.as_deref());
                }
            }
            if let Some(c) = &l.cost {
                let model = &book.models[c.model];
                room.priced_model += model.id.len();
                room.priced_provider += book.providers[model.provider].id.len();
                room.priced_region += c.region.as_deref().map_or(0, str::len);
            }
        }
        room
    }
}

/// The builders of a priced-line batch's own columns (the counts and labels are in a [`RecordColumns`]).
struct LineColumns {
    source: StringBuilder,
    line: Int64Builder,
    id: StringBuilder,
    timestamp: TimestampMicrosecondBuilder,
    provider: StringBuilder,
    model: StringBuilder,
    served: StringBuilder,
    tier: StringBuilder,
    cache_hit: BooleanBuilder,
    status: StringBuilder,
    usage_source: StringBuilder,
    costs: Vec<Decimal128Builder>,
    total: Decimal128Builder,
    reported: Decimal128Builder,
    priced_provider: StringBuilder,
    priced_model: StringBuilder,
    priced_region: StringBuilder,
    price_from: Date32Builder,
    extras: ExtraColumns,
}

/// The builders of the extras' columns ([`EXTRA_COLUMNS`](super::EXTRA_COLUMNS), in that order).
struct ExtraColumns {
    duration_ms: Decimal128Builder,
    ttft_ms: Decimal128Builder,
    trace_id: StringBuilder,
    request_id: StringBuilder,
    endpoint: StringBuilder,
    rate_limited: BooleanBuilder,
    custom_cost: BooleanBuilder,
    cache_reference_id: StringBuilder,
    cost_breakdown: StringBuilder,
}

/// Milliseconds (or money) as a decimal128(38, 18) value; null when absent. (Readers keep durations to 18
/// places and within range, so `amount_of` takes every one.)
fn append_decimal(b: &mut Decimal128Builder, d: Option<rust_decimal::Decimal>) {
    match d.and_then(amount_of) {
        Some(v) => b.append_value(v),
        None => b.append_null(),
    }
}

impl ExtraColumns {
    fn with_capacity(n: usize) -> ExtraColumns {
        let strs = |bytes: usize| StringBuilder::with_capacity(n, bytes);
        ExtraColumns {
            duration_ms: money_builder(n),
            ttft_ms: money_builder(n),
            trace_id: strs(0),
            request_id: strs(n * 16),
            endpoint: strs(n * 16),
            rate_limited: BooleanBuilder::with_capacity(n),
            custom_cost: BooleanBuilder::with_capacity(n),
            cache_reference_id: strs(0),
            cost_breakdown: strs(0),
        }
    }

    fn append(&mut self, e: &Extras) {
        append_decimal(&mut self.duration_ms, e.duration_ms);
        append_decimal(&mut self.ttft_ms, e.ttft_ms);
        self.trace_id.append_option(e.trace_id.as_deref());
        self.request_id.append_option(e.request_id.as_deref());
        self.endpoint.append_option(e.endpoint.as_deref());
        self.rate_limited.append_option(e.rate_limited);
        self.custom_cost.append_option(e.custom_cost);
        self.cache_reference_id.append_option(e.cache_reference_id.as_deref());
        if e.cost_breakdown.is_empty() {
            self.cost_breakdown.append_null();
        } else {
            // A JSON object of decimal strings, exact, in the source's order.
            let parts: serde_json::Map<String, serde_json::Value> =
                e.cost_breakdown.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.to_string()))).collect();
            self.cost_breakdown.append_value(serde_json::Value::Object(parts).to_string());
        }
    }

    /// A lane's item's extras, as the general path keeps them.
    fn append_flat(&mut self, f: &Flat<'_>) {
        append_decimal(&mut self.duration_ms, f.duration_ms);
        self.ttft_ms.append_null();
        self.trace_id.append_null();
        self.request_id.append_option(f.request_id);
        self.endpoint.append_option(f.endpoint);
        self.rate_limited.append_option(f.rate_limited);
        self.custom_cost.append_option(f.custom_cost);
        self.cache_reference_id.append_null();
        self.cost_breakdown.append_null();
    }

    fn finish(&mut self) -> Vec<(Field, ArrayRef)> {
        let utf8 = |name: &str| Field::new(name, DataType::Utf8, true);
        let boolean = |name: &str| Field::new(name, DataType::Boolean, true);
        let decimal = |name: &str| Field::new(name, DataType::Decimal128(38, 18), true);
        vec![
            (decimal("duration_ms"), Arc::new(self.duration_ms.finish()) as ArrayRef),
            (decimal("ttft_ms"), Arc::new(self.ttft_ms.finish())),
            (utf8("trace_id"), Arc::new(self.trace_id.finish())),
            (utf8("request_id"), Arc::new(self.request_id.finish())),
            (utf8("endpoint"), Arc::new(self.endpoint.finish())),
            (boolean("rate_limited"), Arc::new(self.rate_limited.finish())),
            (boolean("custom_cost"), Arc::new(self.custom_cost.finish())),
            (utf8("cache_reference_id"), Arc::new(self.cache_reference_id.finish())),
            (utf8("cost_breakdown"), Arc::new(self.cost_breakdown.finish())),
        ]
    }
}

impl LineColumns {
    fn with_room(n: usize, source_name: &str, room: &Room) -> Result<LineColumns> {
        let strs = |bytes: usize| StringBuilder::with_capacity(n, bytes);
        Ok(LineColumns {
            source: strs(n * source_name.len()),
            line: Int64Builder::with_capacity(n),
            id: strs(room.id),
            timestamp: TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"),
            provider: strs(room.provider),
            model: strs(room.model),
            served: strs(room.served),
            tier: strs(room.tier),
            cache_hit: BooleanBuilder::with_capacity(n),
            status: strs(n * 5),
            usage_source: strs(n * 8),
            costs: COST_COLUMNS.iter().map(|_| money_builder(n)).collect(),
            total: money_builder(n),
            reported: money_builder(n),
            priced_provider: strs(room.priced_provider),
            priced_model: strs(room.priced_model),
            priced_region: strs(room.priced_region),
            price_from: Date32Builder::with_capacity(n),
            extras: ExtraColumns::with_capacity(n),
        })
    }

    /// Appends one priced line (its counts and labels to `extra`).
    #[inline]
    fn append(
        &mut self,
        book: &PriceBook,
        source_name: &str,
        l: &Line<'_>,
        labels: &Labels,
        extra: &mut RecordColumns,
    ) {
        self.usage_source.append_value(l.usage_source.as_str());
        self.source.append_value(source_name);
        self.line.append_value(l.line as i64);
        self.timestamp.append_value(l.at);
        let (cache_hit, line_status, reported_cost) = match l.view() {
            Ok(r) => {
                self.id.append_option(r.id.as_deref());
                self.provider.append_option(r.provider.as_deref());
                self.model.append_option(r.model.as_deref());
                self.served.append_option(r.served_model.as_deref());
                self.tier.append_option(r.service_tier.as_deref());
                self.extras.append(&r.extras);
                (r.cache_hit, r.status, r.reported_cost)
            }
            Err(f) => {
                self.id.append_option(f.id.as_deref());
                self.provider.append_option(f.provider.as_deref());
                self.model.append_value(f.model);
                self.served.append_option(f.served.as_deref());
                self.tier.append_option(f.tier.as_deref());
                self.extras.append_flat(f);
                (f.cache_hit, f.status, f.reported_cost)
            }
        };
        self.cache_hit.append_value(cache_hit);
        self.status.append_value(line_status.as_str());
        match reported_cost.and_then(amount_of) {
            Some(v) => self.reported.append_value(v),
            None => self.reported.append_null(),
        }
        let sums = l.cost.as_ref().map_or([0; COST_COLUMNS.len()], |c| c.columns);
        match &l.cost {
            Some(c) => {
                self.total.append_value(c.total);
                let model = &book.models[c.model];
                self.priced_provider.append_value(&book.providers[model.provider].id);
                self.priced_model.append_value(&model.id);
                self.priced_region.append_option(c.region.as_deref());
                self.price_from.append_option(c.from_day);
            }
            None => {
                self.total.append_value(0);
                self.priced_provider.append_null();
                self.priced_model.append_null();
                self.priced_region.append_null();
                self.price_from.append_null();
            }
        }
        for (b, v) in self.costs.iter_mut().zip(sums) {
            b.append_value(v);
        }
        match l.view() {
            Ok(r) => extra.append(r),
            Err(f) => {
                let mine = flat_labels(labels, f);
                let label = |key: &str| {
                    mine.iter().find(|s| labels.get(s.key) == key).map(|s| LabelValue::Text(labels.get(s.value)))
                };
                extra.append_with(&f.usage(), label);
            }
        }
    }

    /// The batch: its columns in their order (labels after `served_model`, counts after `usage_source`).
    fn finish(mut self, extra: &mut RecordColumns) -> Result<RecordBatch> {
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
            Arc::new(self.source.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.id.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.provider.finish()),
            Arc::new(self.model.finish()),
            Arc::new(self.served.finish()),
        ];
        for (f, c) in extra.finish_labels(&TAKEN_NAMES) {
            fields.push(f);
            columns.push(c);
        }
        fields.extend([
            utf8("service_tier"),
            Field::new("cache_hit", DataType::Boolean, false),
            Field::new("status", DataType::Utf8, false),
        ]);
        columns.extend([
            Arc::new(self.tier.finish()) as ArrayRef,
            Arc::new(self.cache_hit.finish()),
            Arc::new(self.status.finish()),
        ]);
        fields.push(Field::new("usage_source", DataType::Utf8, false));
        columns.push(Arc::new(self.usage_source.finish()));
        for (f, c) in extra.finish_counts() {
            fields.push(f);
            columns.push(c);
        }
        for (name, b) in COST_COLUMNS.iter().zip(self.costs.iter_mut()) {
            fields.push(money(name));
            columns.push(Arc::new(b.finish()));
        }
        fields.extend([
            money("total_cost"),
            money("reported_cost"),
            utf8("priced_provider"),
            utf8("priced_model"),
            utf8("priced_region"),
        ]);
        columns.extend([
            Arc::new(self.total.finish()) as ArrayRef,
            Arc::new(self.reported.finish()),
            Arc::new(self.priced_provider.finish()),
            Arc::new(self.priced_model.finish()),
            Arc::new(self.priced_region.finish()),
        ]);
        fields.push(Field::new("price_from", DataType::Date32, true));
        columns.push(Arc::new(self.price_from.finish()));
        for (f, c) in self.extras.finish() {
            fields.push(f);
            columns.push(c);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(internal)
    }
}

/// The rejects as one Arrow batch: source, line, reason, excerpt.
pub(super) fn rejects_batch(source_name: &str, rejects: &[(u64, &[u8], String)]) -> Result<RecordBatch> {
    let n = rejects.len();
    let mut source = StringBuilder::with_capacity(n, n * 16);
    let mut line = Int64Builder::with_capacity(n);
    let mut reason = StringBuilder::with_capacity(n, n * 32);
    let mut excerpts = StringBuilder::with_capacity(n, n * 32);
    for (line_no, text, why) in rejects {
        source.append_value(source_name);
        line.append_value(*line_no as i64);
        reason.append_value(why);
        excerpts.append_value(excerpt(text));
    }
    let schema = Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("excerpt", DataType::Utf8, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(source.finish()),
        Arc::new(line.finish()),
        Arc::new(reason.finish()),
        Arc::new(excerpts.finish()),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).map_err(internal)
}

/// An empty (priced lines, rejects) pair, for an input with no records.
pub fn empty(book: &Arc<PriceBook>) -> Result<(RecordBatch, RecordBatch)> {
    let opts = LedgerOptions::default();
    let (rows, rejects) =
        price_entries(&mut Pricer::new(book, &opts), "", &[], &Labels::default(), None, &mut Vec::new())?;
    Ok((rows.ok_or_else(|| Error::Internal("no rows".into()))?, rejects))
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
