//! Many records at once: each input (a JSON text) is read on all cores, a container (a Cloudflare Logs API page,
//! an OTLP export, a JSON array) gives one row per record inside it, and the rows become one Arrow record batch.
//! Nothing is dropped: an input that cannot be read is a row with its `error`.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use rayon::prelude::*;

use super::formats::{self, Mapping};
use super::{Hints, Meta, Status, UsageRecord, UsageSource};
use crate::error::{Error, Result};
use crate::json;
use crate::money::{amount_of, money_builder, money_field};
use crate::prices::units::{self, N_UNITS, UNITS};

/// One output row: the input it came from, and the record or why it could not be read.
pub type Row = (usize, std::result::Result<UsageRecord, String>);

/// One input of [`extract_all`]: JSON text, a null, or an item its caller could not turn into text (a Python
/// object holding itself, nested too deep, of a type that is not data), with why. Each is one row: a batch never
/// loses an item, and one bad item never stops the others.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    Text(&'a [u8]),
    Null,
    Unreadable(&'a str),
}

impl<'a> From<Option<&'a [u8]>> for Input<'a> {
    fn from(bytes: Option<&'a [u8]>) -> Self {
        bytes.map_or(Input::Null, Input::Text)
    }
}

/// Reads every input; containers expand into their records.
pub fn extract_all<'a, I: Copy + Sync + Into<Input<'a>>>(
    inputs: &[I],
    hints: &Hints,
    mapping: Option<&Mapping>,
    threads: Option<usize>,
) -> Result<Vec<Row>> {
    let read_one = |i: usize, input: Input<'a>| -> Vec<Row> {
        let bytes = match input {
            Input::Text(bytes) => bytes,
            Input::Null => return vec![(i, Err("no record (null)".to_string()))],
            Input::Unreadable(why) => return vec![(i, Err(why.to_string()))],
        };
        let one = |text: &str| -> std::result::Result<UsageRecord, String> {
            match mapping {
                Some(m) => formats::extract_mapped(text, m, hints),
                None => formats::extract_text(text, hints),
            }
            .map_err(|e| reason(&e))
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t.trim(),
            Err(e) => return vec![(i, Err(format!("not UTF-8: invalid byte at offset {}", e.valid_up_to())))],
        };
        if mapping.is_none() {
            if let Some(inner) = container_records(text, hints) {
                if inner.is_empty() {
                    return vec![(i, Err(EMPTY_CONTAINER.to_string()))];
                }
                return inner.iter().map(|e| (i, e.read(one))).collect();
            }
        }
        vec![(i, one(text))]
    };
    let rows: Vec<Vec<Row>> = crate::parallel::install(threads, || {
        inputs.par_iter().enumerate().with_min_len(64).map(|(i, input)| read_one(i, (*input).into())).collect()
    })?;
    Ok(rows.into_iter().flatten().collect())
}

/// Why a container without records is a reject (in `extract_usages` and `price_logs` alike): nothing is lost
/// without a trace.
pub const EMPTY_CONTAINER: &str =
    "holds no usage records (an empty list, a page without results, or an OTLP export without gen_ai spans)";

/// The keys that make an object a container of records (a Logs API page's `result`, an OTLP export's spans).
pub const CONTAINER_KEYS: [&str; 4] = ["result", "resourceSpans", "scopeSpans", "data"];

/// The records inside a container — a Cloudflare Logs API page, an OTLP export, a JSON array of records — or
/// `None` when `text` is one record (a list of one stream's chunks is one record). Only texts that can be
/// containers are parsed here (a cheap byte search first), so plain records parse once.
pub fn container_records<'t>(text: &'t str, hints: &Hints) -> Option<Vec<formats::Element<'t>>> {
    if hints.format.is_some() {
        return None;
    }
    let maybe = text.starts_with('[')
        || CONTAINER_KEYS.iter().any(|&k| {
            // `data` inside `metadata` is no page: look for the key itself.
            let needle = if k == "data" { "\"data\"" } else { k };
            memchr::memmem::find(text.as_bytes(), needle.as_bytes()).is_some()
        });
    if !maybe {
        return None;
    }
    let raw = json::parse_raw(text).ok()?;
    let inner = formats::records_of(raw);
    let is_container = inner.len() != 1 || inner[0].raw.get().as_ptr() != raw.get().as_ptr();
    let raws: Vec<json::Raw<'t>> = inner.iter().map(|e| e.raw).collect();
    (is_container && !looks_like_stream(&raws)).then_some(inner)
}

/// Whether a JSON array holds the chunks of one stream rather than separate records: OpenAI chunks, Anthropic and
/// Responses API events, Bedrock ConverseStream events, or Gemini chunks that share one prompt (its stream repeats
/// `promptTokenCount` in every chunk; separate responses rarely do).
pub fn looks_like_stream(items: &[json::Raw<'_>]) -> bool {
    let objs: Vec<json::Obj<'_>> = items.iter().filter_map(json::object).collect();
    let event = objs.iter().take(4).any(|o| {
        o.str("object").is_some_and(|s| s == "chat.completion.chunk")
            || o.str("type").is_some_and(|t| {
                t.starts_with("message_") || t.starts_with("content_block") || t.starts_with("response.")
            })
            || ["messageStart", "contentBlockDelta", "contentBlockStart", "messageStop"].iter().any(|k| o.has(k))
    });
    if event {
        return true;
    }
    let prompts: Vec<Option<String>> = objs
        .iter()
        .map(|o| o.obj("usageMetadata").and_then(|u| u.get("promptTokenCount")).map(|v| v.get().to_string()))
        .collect();
    prompts.len() > 1 && prompts.iter().all(|p| p.is_some() && *p == prompts[0])
}

fn reason(e: &Error) -> String {
    match e {
        Error::UsageFormat(m) => m.clone(),
        other => other.to_string(),
    }
}

/// The usage-count and metadata columns of a set of records: a count column for each field in `always` and each
/// field some record uses, and one string column per metadata label, in order of first appearance. Shared by the
/// extraction table and the priced-log table.
pub struct RecordColumns {
    used: [bool; N_UNITS],
    units: Vec<usize>,
    counts: Vec<UInt64Builder>,
    keys: Vec<String>,
    /// The bytes of each label's values (for the builders' room).
    bytes: Vec<usize>,
    labels: Vec<StringBuilder>,
    /// The label columns were given up front: other keys are not columns.
    fixed_keys: bool,
}

/// A label's value as a row holds it: text, or a value read from JSON.
pub enum LabelValue<'v> {
    Text(&'v str),
    Meta(&'v Meta),
}

impl RecordColumns {
    /// The columns of `records`; with `labels`, exactly those label columns and every count, whatever the
    /// records hold (a schema known before they are read: batches of one job agree).
    pub fn new<'r>(
        records: impl Iterator<Item = &'r UsageRecord>,
        always: &[&str],
        rows: usize,
        labels: Option<&[String]>,
    ) -> Self {
        let mut columns = RecordColumns::planned(always);
        if let Some(labels) = labels {
            columns.used = [true; N_UNITS];
            columns.keys = labels.to_vec();
            columns.bytes = vec![0; labels.len()];
            columns.fixed_keys = true;
        }
        for rec in records {
            columns.note(&rec.usage, labels_of(rec));
        }
        columns.ready(rows);
        columns
    }

    /// Columns for the fields in `always`, before any row is noted.
    pub fn planned(always: &[&str]) -> Self {
        let mut used = [false; N_UNITS];
        for f in always {
            used[units::unit_of_usage_field(f).expect("a usage field")] = true;
        }
        RecordColumns {
            used,
            units: Vec::new(),
            counts: Vec::new(),
            keys: Vec::new(),
            bytes: Vec::new(),
            labels: Vec::new(),
            fixed_keys: false,
        }
    }

    /// Notes a row's usage and labels (key, bytes of the value) first, for every row: the columns it needs.
    pub fn note<'k>(&mut self, usage: &super::Usage, labels: impl Iterator<Item = (&'k str, usize)>) {
        for (u, c) in usage.counts.iter().enumerate() {
            if *c > 0 && u != units::REQUESTS {
                self.used[u] = true;
            }
        }
        for (k, len) in labels {
            // Labels are few: a scan beats a set.
            match self.keys.iter().position(|known| known == k) {
                Some(i) => self.bytes[i] += len,
                None if self.fixed_keys => {}
                None => {
                    self.keys.push(k.to_string());
                    self.bytes.push(len);
                }
            }
        }
    }

    /// Makes the builders for `rows` rows, once every row is noted.
    pub fn ready(&mut self, rows: usize) {
        self.units = (0..N_UNITS).filter(|u| self.used[*u]).collect();
        self.counts = self.units.iter().map(|_| UInt64Builder::with_capacity(rows)).collect();
        self.labels = self.bytes.iter().map(|b| StringBuilder::with_capacity(rows, *b)).collect();
    }

    pub fn append(&mut self, rec: &UsageRecord) {
        // A repeated key: the last value wins.
        let label = |key: &str| rec.metadata.iter().rev().find(|(k, _)| k == key).map(|(_, v)| LabelValue::Meta(v));
        self.append_with(&rec.usage, label);
    }

    /// Appends a row: its counts, and each label's value (`label(key)`) or a null.
    pub fn append_with<'v>(&mut self, usage: &super::Usage, label: impl Fn(&str) -> Option<LabelValue<'v>>) {
        for (b, u) in self.counts.iter_mut().zip(&self.units) {
            b.append_value(usage.counts[*u]);
        }
        for (b, key) in self.labels.iter_mut().zip(&self.keys) {
            match label(key) {
                Some(LabelValue::Text(s)) => b.append_value(s),
                Some(LabelValue::Meta(Meta::Str(s))) => b.append_value(s),
                Some(LabelValue::Meta(v)) => {
                    // Written straight into the builder's value (no String per row); cannot fail.
                    let _ = write!(b, "{v}");
                    b.append_value("");
                }
                None => b.append_null(),
            }
        }
    }

    pub fn append_null(&mut self) {
        self.counts.iter_mut().for_each(|b| b.append_null());
        self.labels.iter_mut().for_each(|b| b.append_null());
    }

    /// The count columns, named by their usage fields.
    pub fn finish_counts(&mut self) -> Vec<(Field, ArrayRef)> {
        let finished = self.counts.iter_mut().zip(&self.units);
        finished
            .map(|(b, u)| (Field::new(UNITS[*u].usage_field, DataType::UInt64, true), Arc::new(b.finish()) as ArrayRef))
            .collect()
    }

    /// The label columns, named by their keys (`metadata.<key>` where a key would clash with a column in `fixed`
    /// or a usage field).
    pub fn finish_labels(&mut self, fixed: &[&str]) -> Vec<(Field, ArrayRef)> {
        let finished = self.keys.iter().zip(self.labels.iter_mut());
        finished
            .map(|(k, b)| {
                let clash = fixed.contains(&k.as_str()) || units::unit_of_usage_field(k).is_some();
                let name = if clash { format!("metadata.{k}") } else { k.clone() };
                (Field::new(name, DataType::Utf8, true), Arc::new(b.finish()) as ArrayRef)
            })
            .collect()
    }
}

/// A record's labels as (key, bytes of the value as text), for [`RecordColumns::note`].
pub fn labels_of(rec: &UsageRecord) -> impl Iterator<Item = (&str, usize)> {
    rec.metadata.iter().map(|(k, v)| (k.as_str(), if let Meta::Str(s) = v { s.len() } else { 8 }))
}

/// The usage fields always given a column; others get one when a row uses them.
const ALWAYS: [&str; 7] = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "requests",
];

/// Fixed column names (a metadata key equal to one of these is prefixed with `metadata.`).
const FIXED: [&str; 16] = [
    "source_index",
    "id",
    "format",
    "provider",
    "model",
    "served_model",
    "timestamp",
    "service_tier",
    "region",
    "cache_hit",
    "status",
    "usage_source",
    "status_code",
    "reported_cost",
    "parts",
    "error",
];

/// How extraction finishes its rows into a batch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Finish<'a> {
    /// Records without usage but with their texts are counted ([`UsageRecord::counted`], as `price_logs` counts
    /// them); on a model whose tokenizer is not public they are rejected, or estimated when this is set.
    pub approximate: bool,
    /// The label columns, given up front: then every usage count and exactly these labels are columns, so that
    /// the batches of one job have one schema whatever labels each holds.
    pub labels: Option<&'a [String]>,
}

/// The rows as one Arrow batch: the fixed columns, the usage counts, then one string column per metadata key (in
/// order of first appearance, or as `finish.labels` gives them). `usage_source` says where a row's counts come
/// from (`reported`, `counted`, `approximate`).
pub fn to_batch(rows: &[Row], finish: &Finish<'_>) -> Result<RecordBatch> {
    let n = rows.len();
    // The records counted from their texts (few: streams sent without usage), or why they could not be.
    let counted: Vec<Option<std::result::Result<(UsageRecord, UsageSource), String>>> = rows
        .par_iter()
        .map(|(_, r)| match r {
            Ok(rec) if rec.needs_counting() => Some(rec.counted(finish.approximate)),
            _ => None,
        })
        .collect();
    let view = |k: usize| -> (std::result::Result<&UsageRecord, &str>, UsageSource) {
        match (&rows[k].1, &counted[k]) {
            (_, Some(Ok((rec, from)))) => (Ok(rec), *from),
            (_, Some(Err(why))) | (Err(why), None) => (Err(why.as_str()), UsageSource::Reported),
            (Ok(rec), None) => (Ok(rec), UsageSource::Reported),
        }
    };
    let mut extra = RecordColumns::new((0..n).filter_map(|k| view(k).0.ok()), &ALWAYS, n, finish.labels);
    let mut usage_source = StringBuilder::with_capacity(n, n * 8);
    let mut source = Int64Builder::with_capacity(n);
    let strs = || StringBuilder::with_capacity(n, n * 8);
    let (mut id, mut format, mut provider, mut model, mut served, mut tier, mut region, mut status, mut error) =
        (strs(), strs(), strs(), strs(), strs(), strs(), strs(), strs(), strs());
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut hit = BooleanBuilder::with_capacity(n);
    let mut code = Int32Builder::with_capacity(n);
    let mut cost = money_builder(n);
    let mut parts = Int32Builder::with_capacity(n);
    let opt = |b: &mut StringBuilder, v: &Option<String>| b.append_option(v.as_deref());
    for (k, (i, _)) in rows.iter().enumerate() {
        source.append_value(*i as i64);
        let (r, from) = view(k);
        match r {
            Ok(rec) => {
                usage_source.append_value(from.as_str());
                opt(&mut id, &rec.id);
                format.append_value(rec.format);
                opt(&mut provider, &rec.provider);
                opt(&mut model, &rec.model);
                opt(&mut served, &rec.served_model);
                ts.append_option(rec.timestamp);
                opt(&mut tier, &rec.service_tier);
                opt(&mut region, &rec.region);
                hit.append_value(rec.cache_hit);
                status.append_value(rec.status.as_str());
                code.append_option(rec.status_code.map(i32::from));
                match rec.reported_cost.map(amount_of) {
                    Some(Some(v)) => cost.append_value(v),
                    _ => cost.append_null(),
                }
                parts.append_value(rec.parts.len() as i32);
                error.append_null();
                extra.append(rec);
            }
            Err(why) => {
                usage_source.append_null();
                for b in [&mut id, &mut format, &mut provider, &mut model, &mut served, &mut tier, &mut region] {
                    b.append_null();
                }
                ts.append_null();
                hit.append_null();
                status.append_value(Status::Rejected.as_str());
                code.append_null();
                cost.append_null();
                parts.append_null();
                error.append_value(why);
                extra.append_null();
            }
        }
    }
    // Each column beside its field, in the table's order.
    let text = |name: &str, mut b: StringBuilder| column(Field::new(name, DataType::Utf8, true), b.finish());
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut out = vec![
        column(Field::new("source_index", DataType::Int64, false), source.finish()),
        text("id", id),
        text("format", format),
        text("provider", provider),
        text("model", model),
        text("served_model", served),
        column(Field::new("timestamp", utc, true), ts.finish()),
    ];
    out.extend(extra.finish_counts());
    out.extend([
        text("service_tier", tier),
        text("region", region),
        column(Field::new("cache_hit", DataType::Boolean, true), hit.finish()),
        text("status", status),
        text("usage_source", usage_source),
        column(Field::new("status_code", DataType::Int32, true), code.finish()),
        column(money_field("reported_cost"), cost.finish()),
        column(Field::new("parts", DataType::Int32, true), parts.finish()),
        text("error", error),
    ]);
    out.extend(extra.finish_labels(&FIXED));
    let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = out.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(Error::arrow("usage table"))
}

/// A finished column with its field.
fn column(field: Field, array: impl arrow_array::Array + 'static) -> (Field, ArrayRef) {
    (field, Arc::new(array))
}
