//! Totals per group computed while pricing, for runs that keep no rows (`price_logs(..., keep_rows=False)`, the
//! command line without `--out`): each priced line is added to its group's sums as it is priced, so nothing is
//! built, spilled or read back per line. The sums are exactly those of `PricedLogs.summary` over the same lines
//! (`test_totals_of_a_run_without_rows_equal_the_summary_of_its_rows` in `tests/test_ledger.py` checks it, with
//! periods and time zones; `fast_lane_equals_the_general_path` checks both lanes total alike).

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use arrow_array::builder::{Date32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use chrono::{Offset, TimeZone};
use rustc_hash::FxBuildHasher;

use super::{flat::Labels, Line, COST_COLUMNS, SUMMARY_COLUMNS, TAKEN_NAMES};
use crate::error::{Error, Result};
use crate::money::{add_amounts, amount_of, money_builder, money_field};
use crate::prices::calendar::{civil_from_days, day_of, days_from_civil};
use crate::prices::units::unit_of_usage_field;
use crate::prices::PriceBook;

/// A column of a priced line a run without rows can group by (besides its labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Source,
    Id,
    Provider,
    Model,
    ServedModel,
    ServiceTier,
    Status,
    UsageSource,
    PricedProvider,
    PricedModel,
    PricedRegion,
}

impl Column {
    pub const ALL: [Column; 11] = [
        Column::Source,
        Column::Id,
        Column::Provider,
        Column::Model,
        Column::ServedModel,
        Column::ServiceTier,
        Column::Status,
        Column::UsageSource,
        Column::PricedProvider,
        Column::PricedModel,
        Column::PricedRegion,
    ];

    /// Its name in `PricedLogs.table`.
    pub fn name(self) -> &'static str {
        match self {
            Column::Source => "source",
            Column::Id => "id",
            Column::Provider => "provider",
            Column::Model => "model",
            Column::ServedModel => "served_model",
            Column::ServiceTier => "service_tier",
            Column::Status => "status",
            Column::UsageSource => "usage_source",
            Column::PricedProvider => "priced_provider",
            Column::PricedModel => "priced_model",
            Column::PricedRegion => "priced_region",
        }
    }

    /// A line's value in this column.
    fn of<'l>(self, l: &'l Line<'_>, source: &'l str, book: &'l PriceBook) -> Option<&'l str> {
        let priced = || l.cost.as_ref().map(|p| &book.models[p.model]);
        match (self, l.view()) {
            (Column::Source, _) => Some(source),
            (Column::UsageSource, _) => Some(l.usage_source.as_str()),
            (Column::PricedModel, _) => priced().map(|m| m.id.as_str()),
            (Column::PricedProvider, _) => priced().map(|m| book.providers[m.provider].id.as_str()),
            (Column::PricedRegion, _) => l.cost.as_ref().and_then(|p| p.region.as_deref()),
            (Column::Id, Ok(r)) => r.id.as_deref(),
            (Column::Id, Err(f)) => f.id.as_deref(),
            (Column::Provider, Ok(r)) => r.provider.as_deref(),
            (Column::Provider, Err(f)) => f.provider.as_deref(),
            (Column::Model, Ok(r)) => r.model.as_deref(),
            (Column::Model, Err(f)) => Some(f.model),
            (Column::ServedModel, Ok(r)) => r.served_model.as_deref(),
            (Column::ServedModel, Err(f)) => f.served.as_deref(),
            (Column::ServiceTier, Ok(r)) => r.service_tier.as_deref(),
            (Column::ServiceTier, Err(f)) => f.tier.as_deref(),
            (Column::Status, Ok(r)) => Some(r.status.as_str()),
            (Column::Status, Err(f)) => Some(f.status.as_str()),
        }
    }
}

/// A period of time to total by: the day, the ISO week (from Monday) or the month a line ran in, in a time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

/// A time zone: a fixed offset (minutes east of UTC) or a zone of the tz database.
#[derive(Clone, Copy, Debug)]
enum Zone {
    Offset(i32),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// A zone as Arrow names one: `+HH:MM` / `-HH:MM` (or without the colon), or a tz database name.
    fn parse(tz: &str) -> Result<Zone> {
        let b = tz.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let two = |i: usize| i32::from(b[i] - b'0') * 10 + i32::from(b[i + 1] - b'0');
        let offset = match b {
            [s @ (b'+' | b'-'), _, _, b':', _, _] if digits(1..3) && digits(4..6) => Some((*s, two(1), two(4))),
            [s @ (b'+' | b'-'), _, _, _, _] if digits(1..5) => Some((*s, two(1), two(3))),
            _ => None,
        };
        if let Some((sign, h, m)) = offset {
            if h < 24 && m < 60 {
                let minutes = h * 60 + m;
                return Ok(Zone::Offset(if sign == b'-' { -minutes } else { minutes }));
            }
        }
        tz.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            Error::InvalidArgument(format!(
                "unknown time zone {tz:?}: give a tz database name (America/New_York, UTC) or an offset (+05:30)"
            ))
        })
    }

    /// The local day number of an instant (microseconds since the epoch).
    fn local_day(&self, micros: i64) -> i64 {
        let offset_seconds = match self {
            Zone::Offset(m) => i64::from(*m) * 60,
            Zone::Named(tz) => {
                let secs = micros.div_euclid(1_000_000);
                match chrono::DateTime::from_timestamp(secs, 0) {
                    Some(t) => i64::from(tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc()),
                    None => 0,
                }
            }
        };
        day_of(micros + offset_seconds * 1_000_000)
    }
}

/// Whether a label of this key is given the column `metadata.<key>` (its name is a column's).
fn clashes(key: &str) -> bool {
    TAKEN_NAMES.contains(&key) || unit_of_usage_field(key).is_some()
}

/// Whether the totals have a column of this name besides their keys (so it cannot be one of them).
fn summed(key: &str) -> bool {
    SUMMARY_COLUMNS.contains(&key) || COST_COLUMNS.contains(&key) || ["total_cost", "reported_cost"].contains(&key)
}

/// What a group key reads of a line.
#[derive(Clone, Debug)]
enum By {
    Column(Column),
    /// A label (its key in the metadata).
    Label(String),
}

/// How a run totals its lines: by these keys (as named by the caller), and a period when asked.
#[derive(Clone, Debug)]
pub struct Grouping {
    keys: Vec<(String, By)>,
    period: Option<(Period, Zone)>,
}

impl Grouping {
    /// Keys are named as the columns of `PricedLogs.table` are: a label by its key (`metadata.<key>` when the key
    /// is also a column's name), or one of [`Column::ALL`]. `period`: `day`, `week`, `month` or none; `tz`: a tz
    /// database name or a UTC offset.
    pub fn new(keys: &[String], period: Option<&str>, tz: &str) -> Result<Grouping> {
        let keys = keys
            .iter()
            .map(|k| {
                let by = if let Some(c) = Column::ALL.into_iter().find(|c| c.name() == k) {
                    By::Column(c)
                } else if summed(k) {
                    return Err(Error::InvalidArgument(format!(
                        "cannot group by '{k}': the summary has a column of that name (a label named '{k}' is the \
                         column 'metadata.{k}')"
                    )));
                } else if clashes(k) {
                    return Err(Error::InvalidArgument(format!(
                        "cannot group by {k:?} in a run that keeps no rows: group by a label or one of {}, or keep \
                         the rows",
                        Column::ALL.map(Column::name).join(", ")
                    )));
                } else {
                    match k.strip_prefix("metadata.") {
                        Some(label) if clashes(label) => By::Label(label.to_string()),
                        _ => By::Label(k.clone()),
                    }
                };
                Ok((k.clone(), by))
            })
            .collect::<Result<Vec<_>>>()?;
        for (i, (k, _)) in keys.iter().enumerate() {
            if keys[..i].iter().any(|(j, _)| j == k) {
                return Err(Error::InvalidArgument(format!("{k:?} is given twice to group by")));
            }
        }
        let period = match period {
            None => None,
            Some(p) => Some((
                match p {
                    "day" => Period::Day,
                    "week" => Period::Week,
                    "month" => Period::Month,
                    _ => {
                        return Err(Error::InvalidArgument(format!(
                            "period must be one of day, week, month or none, not {p:?}"
                        )))
                    }
                },
                Zone::parse(tz)?,
            )),
        };
        Ok(Grouping { keys, period })
    }

    /// The first day of the period of an instant, as a day number (0 when no period is asked).
    fn period_of(&self, micros: i64) -> i32 {
        let Some((period, zone)) = &self.period else { return 0 };
        let day = zone.local_day(micros);
        let start = match period {
            Period::Day => day,
            // 1970-01-01 was a Thursday: Monday-based weekday = (day + 3) mod 7.
            Period::Week => day - (day + 3).rem_euclid(7),
            Period::Month => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1)
            }
        };
        start as i32
    }
}

/// A group's sums: lines, cost columns, total, and the reported cost of the lines that report one.
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    rows: i64,
    costs: [i128; COST_COLUMNS.len()],
    total: i128,
    reported: i128,
    reported_rows: u64,
    /// A sum passed what an amount column holds.
    overflow: bool,
}

impl Sums {
    /// Adds `other`'s sums; a sum past what an amount column holds marks the group (`overflow`), whose totals are
    /// then an error, never a wrapped number.
    fn add(&mut self, other: &Sums) {
        self.rows += other.rows;
        let mut overflow = other.overflow;
        let pairs = self.costs.iter_mut().zip(other.costs);
        for (a, b) in pairs.chain([(&mut self.total, other.total), (&mut self.reported, other.reported)]) {
            match add_amounts(*a, b) {
                Some(sum) => *a = sum,
                None => overflow = true,
            }
        }
        self.reported_rows += other.reported_rows;
        self.overflow |= overflow;
    }
}

struct Group {
    hash: u64,
    period: i32,
    values: Box<[Option<Box<str>>]>,
    sums: Sums,
}

/// The groups met so far, and which label keys were met on a priced line (for the error naming a missing one).
#[derive(Default)]
pub struct Groups {
    index: hashbrown::HashTable<usize>,
    groups: Vec<Group>,
    /// Per key of the grouping: met on some line.
    found: Vec<bool>,
    /// Every label key met, while some key is not yet found.
    labels: Vec<String>,
}

fn hash_of<'v>(period: i32, values: impl Iterator<Item = Option<&'v str>>) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    period.hash(&mut h);
    for v in values {
        v.hash(&mut h);
    }
    h.finish()
}

impl Groups {
    fn add(&mut self, hash: u64, period: i32, values: &[Option<Cow<'_, str>>], sums: &Sums) {
        let groups = &mut self.groups;
        let same = |g: &Group| {
            g.period == period && g.values.iter().map(|v| v.as_deref()).eq(values.iter().map(|v| v.as_deref()))
        };
        match self.index.find(hash, |&i| same(&groups[i])) {
            Some(&i) => groups[i].sums.add(sums),
            None => {
                let values = values.iter().map(|v| v.as_deref().map(Box::from)).collect();
                groups.push(Group { hash, period, values, sums: *sums });
                self.index.insert_unique(hash, groups.len() - 1, |&i| groups[i].hash);
            }
        }
    }

    /// Adds another run's (or thread's) groups to these.
    pub fn merge(&mut self, other: Groups) {
        if self.found.len() < other.found.len() {
            self.found.resize(other.found.len(), false);
        }
        for (a, b) in self.found.iter_mut().zip(&other.found) {
            *a |= b;
        }
        for l in other.labels {
            if !self.labels.contains(&l) {
                self.labels.push(l);
            }
        }
        for g in other.groups {
            let values: Vec<Option<Cow<'_, str>>> = g.values.iter().map(|v| v.as_deref().map(Cow::Borrowed)).collect();
            self.add(g.hash, g.period, &values, &g.sums);
        }
    }

    /// Adds a chunk's priced lines (`source` names where they came from, `labels` holds the fast lane's labels).
    pub(super) fn add_lines(
        &mut self,
        grouping: &Grouping,
        book: &PriceBook,
        source: &str,
        lines: &[Line<'_>],
        labels: &Labels,
    ) {
        if self.found.len() < grouping.keys.len() {
            // A column is always there; a label once a line has it.
            self.found = grouping.keys.iter().map(|(_, by)| matches!(by, By::Column(_))).collect();
        }
        let n_keys = grouping.keys.len();
        let mut values: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(n_keys);
        for l in lines {
            let label_of = |key: &str| -> Option<Cow<'_, str>> {
                match l.view() {
                    // A repeated key: the last value wins (as in the table).
                    Ok(r) => r.metadata.iter().rev().find(|(k, _)| k == key).map(|(_, v)| match v {
                        crate::usage::Meta::Str(s) => Cow::Borrowed(s.as_str()),
                        other => Cow::Owned(other.to_string()),
                    }),
                    Err(f) => labels.spans[f.labels.0 as usize..f.labels.1 as usize]
                        .iter()
                        .find(|s| labels.get(s.key) == key)
                        .map(|s| Cow::Borrowed(labels.get(s.value))),
                }
            };
            values.clear();
            for (i, (_, by)) in grouping.keys.iter().enumerate() {
                let v = match by {
                    By::Column(c) => c.of(l, source, book).map(Cow::Borrowed),
                    By::Label(key) => {
                        let v = label_of(key);
                        self.found[i] |= v.is_some();
                        v
                    }
                };
                values.push(v);
            }
            if self.found.iter().any(|f| !f) {
                self.note_labels(l, labels);
            }
            let period = grouping.period_of(l.at);
            let mut sums = Sums { rows: 1, ..Sums::default() };
            if let Some(c) = &l.cost {
                sums.costs = c.columns;
                sums.total = c.total;
            }
            let reported = match l.view() {
                Ok(r) => r.reported_cost,
                Err(f) => f.reported_cost,
            };
            if let Some(v) = reported.and_then(amount_of) {
                sums.reported = v;
                sums.reported_rows = 1;
            }
            let hash = hash_of(period, values.iter().map(|v| v.as_deref()));
            self.add(hash, period, &values, &sums);
        }
    }

    fn note_labels(&mut self, l: &Line<'_>, labels: &Labels) {
        let mut note = |k: &str| {
            if !self.labels.iter().any(|known| known == k) {
                self.labels.push(k.to_string());
            }
        };
        match l.view() {
            Ok(r) => r.metadata.iter().for_each(|(k, _)| note(k)),
            Err(f) => {
                labels.spans[f.labels.0 as usize..f.labels.1 as usize].iter().for_each(|s| note(labels.get(s.key)))
            }
        }
    }

    /// The totals as one Arrow batch: `period` (the first day of each, when asked), the keys, `rows`, the cost
    /// columns, `total_cost` and `reported_cost` (null where no line of the group reports a cost). A label key
    /// no priced line has is an error naming the labels there are — unless no line was priced at all: then the
    /// totals are empty (and the rejects say why), not an error that would hide them.
    pub fn batch(&self, grouping: &Grouping) -> Result<RecordBatch> {
        for (i, (name, by)) in grouping.keys.iter().enumerate() {
            let priced = !self.groups.is_empty();
            if priced && matches!(by, By::Label(_)) && !self.found.get(i).copied().unwrap_or(false) {
                // Named as the table would name their columns, in order (threads meet them in any order).
                let mut known: Vec<String> = self
                    .labels
                    .iter()
                    .map(|l| if clashes(l) { format!("'metadata.{l}'") } else { format!("'{l}'") })
                    .collect();
                known.sort();
                return Err(Error::InvalidArgument(format!(
                    "no column '{name}' to group by; labels in these logs: [{}]",
                    known.join(", ")
                )));
            }
        }
        // No keys and no period: one group even of no lines (rows 0, null sums), as pyarrow gives.
        let nothing = Group { hash: 0, period: 0, values: Box::new([]), sums: Sums::default() };
        let all_in_one = grouping.keys.is_empty() && grouping.period.is_none() && self.groups.is_empty();
        // In order of the period and the keys, nulls last (as pyarrow sorts a summary), so Python need not sort.
        let mut order: Vec<&Group> = if all_in_one { vec![&nothing] } else { self.groups.iter().collect() };
        order.sort_by(|a, b| {
            a.period.cmp(&b.period).then_with(|| a.values.iter().map(null_last).cmp(b.values.iter().map(null_last)))
        });
        if let Some(g) = order.iter().find(|g| g.sums.overflow) {
            let mut named: Vec<String> = grouping
                .keys
                .iter()
                .zip(g.values.iter())
                .map(|((k, _), v)| format!("{k}={}", v.as_deref().unwrap_or("null")))
                .collect();
            if grouping.period.is_some() {
                // The period's first day (days since 1970-01-01).
                let day = chrono::DateTime::from_timestamp(i64::from(g.period) * 86_400, 0).map(|d| d.date_naive());
                named.insert(0, format!("period={}", day.map_or_else(|| g.period.to_string(), |d| d.to_string())));
            }
            return Err(Error::InvalidArgument(format!(
                "the costs of the group [{}] add up to 10^20 USD or more, more than an amount column holds \
                 (decimal128(38, 18)): look for absurd costs or counts in its lines",
                named.join(", ")
            )));
        }
        let n = order.len();
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        if grouping.period.is_some() {
            let mut b = Date32Builder::with_capacity(n);
            order.iter().for_each(|g| b.append_value(g.period));
            fields.push(Field::new("period", DataType::Date32, true));
            columns.push(Arc::new(b.finish()));
        }
        for (i, (name, _)) in grouping.keys.iter().enumerate() {
            let mut b = StringBuilder::with_capacity(n, 16 * n);
            order.iter().for_each(|g| b.append_option(g.values[i].as_deref()));
            fields.push(Field::new(name, DataType::Utf8, true));
            columns.push(Arc::new(b.finish()));
        }
        let mut rows = Int64Builder::with_capacity(n);
        order.iter().for_each(|g| rows.append_value(g.sums.rows));
        fields.push(Field::new("rows", DataType::Int64, true));
        columns.push(Arc::new(rows.finish()));
        let names = COST_COLUMNS.iter().copied().chain(["total_cost", "reported_cost"]);
        for (c, name) in names.enumerate() {
            let mut b = money_builder(n);
            for g in &order {
                match c {
                    _ if g.sums.rows == 0 => b.append_null(), // a group of no lines (above)
                    _ if c < COST_COLUMNS.len() => b.append_value(g.sums.costs[c]),
                    _ if c == COST_COLUMNS.len() => b.append_value(g.sums.total),
                    _ if g.sums.reported_rows > 0 => b.append_value(g.sums.reported),
                    _ => b.append_null(),
                }
            }
            fields.push(money_field(name));
            columns.push(Arc::new(b.finish()));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(Error::arrow("priced log table"))
    }
}

/// A group value's place in order: values by their bytes, then null.
fn null_last(v: &Option<Box<str>>) -> (bool, Option<&[u8]>) {
    (v.is_none(), v.as_deref().map(str::as_bytes))
}
