//! The Arrow batches of a run: priced lines ([`lines_batch`]), rejects, an empty pair, and batches of differing
//! label columns made one schema ([`unify`]).

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

use super::flat::{Flat, Labels};
use super::pricer::{price_entries, Line, Pricer};
use super::{excerpt, LedgerOptions, COST_COLUMNS, FIXED_COLUMNS};
use crate::error::{Error, Result};
use crate::prices::PriceBook;
use crate::usage::batch::{labels_of, LabelValue, RecordColumns};

pub(crate) fn internal(e: arrow_schema::ArrowError) -> Error {
    Error::Internal(format!("priced log table: {e}"))
}

fn money_builder(n: usize) -> Result<Decimal128Builder> {
    Decimal128Builder::with_capacity(n).with_precision_and_scale(38, 18).map_err(internal)
}

/// The priced lines as one Arrow batch (`labels`: the fast lane's labels).
pub(super) fn lines_batch(
    book: &PriceBook,
    source_name: &str,
    lines: &[Line<'_>],
    labels: &Labels,
) -> Result<RecordBatch> {
    let n = lines.len();
    // Room for every value at once (builders that grow copy what they hold): the bytes of each string column.
    let always = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"];
    let mut extra = RecordColumns::planned(&always);
    let flat_labels = |f: &Flat<'_>| &labels.spans[f.labels.0 as usize..f.labels.1 as usize];
    let len = |s: Option<&str>| s.map_or(0, str::len);
    let [mut id_bytes, mut provider_bytes, mut model_bytes, mut served_bytes, mut tier_bytes] = [0usize; 5];
    let (mut priced_provider_bytes, mut priced_model_bytes) = (0, 0);
    for l in lines {
        match l.view() {
            Ok(r) => {
                extra.note(&r.usage, labels_of(r));
                id_bytes += len(r.id.as_deref());
                provider_bytes += len(r.provider.as_deref());
                model_bytes += len(r.model.as_deref());
                served_bytes += len(r.served_model.as_deref());
                tier_bytes += len(r.service_tier.as_deref());
            }
            Err(f) => {
                let spans = flat_labels(f).iter();
                extra.note(&f.usage(), spans.map(|s| (labels.get(s.key), (s.value.1 - s.value.0) as usize)));
                id_bytes += len(f.id);
                provider_bytes += len(f.provider.as_deref());
                model_bytes += f.model.len();
            }
        }
        if let Some(c) = &l.cost {
            let model = &book.models[c.model];
            priced_model_bytes += model.id.len();
            priced_provider_bytes += book.providers[model.provider].id.len();
        }
    }
    extra.ready(n);
    let strs = |bytes: usize| StringBuilder::with_capacity(n, bytes);
    let (mut source, mut id, mut provider, mut model, mut served, mut tier, mut status) = (
        strs(n * source_name.len()),
        strs(id_bytes),
        strs(provider_bytes),
        strs(model_bytes),
        strs(served_bytes),
        strs(tier_bytes),
        strs(n * 5),
    );
    let (mut pprov, mut pmodel) = (strs(priced_provider_bytes), strs(priced_model_bytes));
    let mut line_no = Int64Builder::with_capacity(n);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut from = Date32Builder::with_capacity(n);
    let mut hit = BooleanBuilder::with_capacity(n);
    let mut reported = money_builder(n)?;
    let mut total = money_builder(n)?;
    let mut costs: Vec<Decimal128Builder> = COST_COLUMNS.iter().map(|_| money_builder(n)).collect::<Result<_>>()?;
    let mut usage_source = StringBuilder::with_capacity(n, n * 8);
    for l in lines {
        usage_source.append_value(l.usage_source);
        source.append_value(source_name);
        line_no.append_value(l.line as i64);
        ts.append_value(l.at);
        let (cache_hit, line_status, reported_cost) = match l.view() {
            Ok(r) => {
                id.append_option(r.id.as_deref());
                provider.append_option(r.provider.as_deref());
                model.append_option(r.model.as_deref());
                served.append_option(r.served_model.as_deref());
                tier.append_option(r.service_tier.as_deref());
                (r.cache_hit, r.status, r.reported_cost)
            }
            Err(f) => {
                id.append_option(f.id);
                provider.append_option(f.provider.as_deref());
                model.append_value(f.model);
                served.append_null();
                tier.append_null();
                (f.cache_hit, f.status, f.reported_cost)
            }
        };
        hit.append_value(cache_hit);
        status.append_value(line_status);
        match reported_cost.and_then(crate::usage::batch::decimal_18) {
            Some(v) => reported.append_value(v),
            None => reported.append_null(),
        }
        let sums = l.cost.as_ref().map_or([0; COST_COLUMNS.len()], |c| c.columns);
        match &l.cost {
            Some(c) => {
                total.append_value(c.total);
                let model = &book.models[c.model];
                pprov.append_value(&book.providers[model.provider].id);
                pmodel.append_value(&model.id);
                from.append_option(c.from_day);
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
        match l.view() {
            Ok(r) => extra.append(r),
            Err(f) => {
                let mine = flat_labels(f);
                let label = |key: &str| {
                    mine.iter().find(|s| labels.get(s.key) == key).map(|s| LabelValue::Text(labels.get(s.value)))
                };
                extra.append_with(&f.usage(), label);
            }
        }
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
    for (f, c) in extra.finish_labels(&FIXED_COLUMNS) {
        fields.push(f);
        columns.push(c);
    }
    fields.extend([
        utf8("service_tier"),
        Field::new("cache_hit", DataType::Boolean, false),
        Field::new("status", DataType::Utf8, false),
    ]);
    columns.extend([Arc::new(tier.finish()) as ArrayRef, Arc::new(hit.finish()), Arc::new(status.finish())]);
    fields.push(Field::new("usage_source", DataType::Utf8, false));
    columns.push(Arc::new(usage_source.finish()));
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
