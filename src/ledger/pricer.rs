//! Pricing records one after another ([`Pricer`], caching what repeats), and chunks of them on all cores
//! ([`price_items`]).

use std::sync::Arc;

use arrow_array::RecordBatch;
use rayon::prelude::*;

use super::flat::{self, Declined, Flat, Labels};
use super::groups::{Grouping, Groups};
use super::logpush;
use super::output::{lines_batch, rejects_batch};
use super::read;
use super::{Item, LedgerOptions, Read, Text, COST_COLUMNS};
use crate::cost::record::{no_model, price_record, tier_of, RecordOptions};
use crate::cost::{compute, compute_fast, Cost};
use crate::error::Result;
use crate::json::Quotes;
use crate::prices::book::EffectiveSheet;
use crate::prices::calendar::day_of;
use crate::prices::units::{self, Side, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, UNITS};
use crate::prices::PriceBook;
use crate::usage::Usage;
use crate::usage::{Hints, Status, UsageRecord, UsageSource};
use rustc_hash::FxHashMap;

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

/// What a priced line keeps of its cost: the columns, the total, the price entry used.
pub(crate) struct Priced {
    pub(crate) total: i128,
    pub(crate) columns: [i128; COST_COLUMNS.len()],
    pub(crate) model: usize,
    pub(crate) from_day: Option<i32>,
    /// The region the line was priced in (the record's, e.g. Anthropic's `inference_geo`).
    pub(crate) region: Option<Arc<str>>,
}

impl Priced {
    fn of(cost: &Cost) -> Priced {
        let mut columns = [0i128; COST_COLUMNS.len()];
        for item in cost.all_items() {
            columns[cost_column(item.unit)] += item.amount;
        }
        debug_assert_eq!(columns.iter().sum::<i128>(), cost.total);
        Priced {
            total: cost.total,
            columns,
            model: cost.sheet.model,
            from_day: cost.effective_from().map(|f| day_of(f) as i32),
            region: cost.sheet.region.as_deref().map(Arc::from),
        }
    }
}

/// A value, or why there is none (kept for the records that repeat its key).
type Outcome<T> = std::result::Result<T, String>;

/// Values cached per key, each with the key's qualifier (a provider; a tier and region) and its outcome.
type Keyed<K, Q, T> = FxHashMap<K, Vec<(Q, Outcome<T>)>>;

/// Prices records one after another, doing what repeats across records once: a (provider, model) name is
/// resolved once, and the prices of a (model, entry, window, tier) built once. Records that need more (billed
/// parts on other models, gateway cache hits) go through [`price_record`], which gives the same amounts.
pub struct Pricer<'b> {
    book: &'b Arc<PriceBook>,
    opts: &'b LedgerOptions,
    now: i64,
    /// model name → [(provider, resolution)].
    names: Keyed<String, Option<String>, usize>,
    /// (model, entry, window) → [((tier, region), prices)].
    sheets: Keyed<(usize, usize, Option<usize>), TierRegion, Arc<EffectiveSheet>>,
    /// Recent lookups of a requested model (with the served model and tier a line names, no region) whose price
    /// entry has no time-of-day windows, with the span of time that entry holds for: most lines of a log repeat a
    /// few models (a Logpush line names its served model and tier on every line: 4% of pricing one, measured).
    memo: Vec<Memo>,
}

/// A (model name, provider, served model, tier) resolved to model `mi`, whose prices `sheet` hold from `from`
/// until `until`.
struct Memo {
    model: Box<str>,
    provider: Option<Box<str>>,
    served: Option<Box<str>>,
    tier: Option<Box<str>>,
    from: i64,
    until: i64,
    mi: usize,
    sheet: Arc<EffectiveSheet>,
}

/// A sheet's service tier and region, as a record gives them.
type TierRegion = (Option<String>, Option<String>);

/// Recent lookups kept (a scan of them is cheaper than the lookups; logs use few models at a time).
const MEMO: usize = 16;

impl<'b> Pricer<'b> {
    pub fn new(book: &'b Arc<PriceBook>, opts: &'b LedgerOptions) -> Pricer<'b> {
        let now = crate::prices::calendar::now_micros();
        Pricer { book, opts, now, names: FxHashMap::default(), sheets: FxHashMap::default(), memo: Vec::new() }
    }

    fn resolve(&mut self, model: &str, provider: Option<&str>) -> std::result::Result<usize, String> {
        if let Some(known) = self.names.get(model) {
            if let Some((_, r)) = known.iter().find(|(p, _)| p.as_deref() == provider) {
                return r.clone();
            }
        }
        let r = crate::cost::record::resolve(self.book, model, provider).map_err(|e| e.to_string());
        self.names.entry(model.to_string()).or_default().push((provider.map(str::to_string), r.clone()));
        r
    }

    fn sheet(
        &mut self,
        mi: usize,
        at: i64,
        tier: Option<&str>,
        region: Option<&str>,
    ) -> std::result::Result<Arc<EffectiveSheet>, String> {
        let book = self.book;
        let ei = book.entry_index(mi, at).map_err(|e| e.to_string())?;
        let window = book.window_at(mi, ei, at);
        let known = self.sheets.entry((mi, ei, window)).or_default();
        let pos = match known.iter().position(|((t, r), _)| t.as_deref() == tier && r.as_deref() == region) {
            Some(pos) => pos,
            None => {
                // Only prices are kept: a failure names the record's own date, so it is not shared.
                let sheet = book.sheet_for(mi, at, tier, region).map_err(|e| e.to_string())?;
                known.push(((tier.map(str::to_string), region.map(str::to_string)), Ok(sheet)));
                known.len() - 1
            }
        };
        known[pos].1.clone()
    }

    /// The usage of a record that reported none, counted from its texts ([`UsageRecord::counted`]).
    fn count(&self, rec: &UsageRecord) -> std::result::Result<(UsageRecord, UsageSource), String> {
        rec.counted(self.opts.approximate)
    }

    /// Prices one record at `at`.
    fn price(&mut self, rec: &UsageRecord, at: i64) -> std::result::Result<Priced, String> {
        if !rec.parts.is_empty() {
            let ropts =
                RecordOptions { at: Some(at), service_tier: self.opts.service_tier.clone(), ..Default::default() };
            return price_record(self.book, rec, &ropts, self.now).map(|c| Priced::of(&c)).map_err(|e| e.to_string());
        }
        let plain = Plain {
            provider: rec.provider.as_deref(),
            served: rec.served_model.as_deref(),
            model: rec.model.as_deref(),
            tier: rec.service_tier.as_deref(),
            region: rec.region.as_deref(),
            usage: &rec.usage,
            cache_hit: rec.cache_hit,
        };
        self.price_plain(&plain, at).map_err(|e| e.unwrap_or_else(|| no_model(rec).to_string()))
    }

    /// Prices a usage on one model at `at`, as [`price_record`] prices a record without parts; `Err(None)` when
    /// no model is named.
    fn price_plain(&mut self, p: &Plain<'_>, at: i64) -> std::result::Result<Priced, Option<String>> {
        let tier = tier_of(self.opts.service_tier.as_deref().or(p.tier));
        let memo_key = p.model.filter(|_| p.region.is_none());
        if let Some(model) = memo_key {
            let hit = self.memo.iter().find(|m| {
                m.from <= at
                    && at < m.until
                    && same(&m.model, model)
                    && same_opt(m.provider.as_deref(), p.provider)
                    && same_opt(m.served.as_deref(), p.served)
                    && same_opt(m.tier.as_deref(), tier.as_deref())
            });
            if let Some(m) = hit {
                return cost_of(self.book, m.mi, &m.sheet, p).map_err(Some);
            }
        }
        // The served model is what was billed, when the book prices it; else the requested one.
        let mut resolved = None;
        for name in p.served.iter().chain(p.model.iter()) {
            let r = self.resolve(name, p.provider);
            let found = r.is_ok();
            resolved = Some(r);
            if found {
                break;
            }
        }
        let mi = resolved.ok_or(None)?.map_err(Some)?;
        let sheet = self.sheet(mi, at, tier.as_deref(), p.region)?;
        if let Some(model) = memo_key {
            let entries = &self.book.models[mi].entries;
            if entries[sheet.entry].windows.is_empty() {
                // The entry in force from its date until the earliest later one's (as `entry_index` picks).
                let from = entries[sheet.entry].from.unwrap_or(i64::MIN);
                let later = entries[sheet.entry + 1..].iter().filter_map(|e| e.from).filter(|f| *f > from);
                let memo = Memo {
                    model: model.into(),
                    provider: p.provider.map(Into::into),
                    served: p.served.map(Into::into),
                    tier: tier.as_deref().map(Into::into),
                    from,
                    until: later.min().unwrap_or(i64::MAX),
                    mi,
                    sheet: sheet.clone(),
                };
                if self.memo.len() == MEMO {
                    self.memo.remove(0);
                }
                self.memo.push(memo);
            }
        }
        cost_of(self.book, mi, &sheet, p).map_err(Some)
    }
}

/// `a == b`, without a call for texts up to 16 bytes (model and provider names, compared for every line).
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    // Two 8-byte words overlapping in the middle cover 8 to 16 bytes; shorter ones a byte at a time.
    let word = |t: &[u8], at: usize| u64::from_le_bytes(t[at..at + 8].try_into().expect("8 bytes"));
    match a.len() {
        0..=7 => a.iter().zip(b).all(|(x, y)| x == y),
        n @ 8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

#[inline]
fn same_opt(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// The cost of a usage on model `mi` at the prices of `sheet`; a gateway cache hit costs nothing.
fn cost_of(book: &PriceBook, mi: usize, sheet: &EffectiveSheet, p: &Plain<'_>) -> std::result::Result<Priced, String> {
    let counts = p.usage.unit_counts();
    let mut columns = [0i128; COST_COLUMNS.len()];
    let fast = sheet
        .fast
        .as_ref()
        .and_then(|plan| compute_fast(plan, &counts, |unit, amount| columns[cost_column(unit)] += amount));
    let mut total = match fast {
        Some(total) => total,
        None => {
            columns = [0; COST_COLUMNS.len()];
            compute(sheet, &counts, |item| columns[cost_column(item.unit)] += item.amount).map_err(|e| e.to_string())?
        }
    };
    // A gateway cache hit is priced (so a price missing is still said) and then costs nothing.
    if p.cache_hit {
        (total, columns) = (0, [0; COST_COLUMNS.len()]);
    }
    let from = book.models[mi].entries[sheet.entry].from;
    let region = sheet.region.as_deref().map(Arc::from);
    Ok(Priced { total, columns, model: mi, from_day: from.map(|f| day_of(f) as i32), region })
}

/// What pricing a record without parts reads of it.
struct Plain<'a> {
    provider: Option<&'a str>,
    served: Option<&'a str>,
    model: Option<&'a str>,
    tier: Option<&'a str>,
    region: Option<&'a str>,
    usage: &'a Usage,
    cache_hit: bool,
}

/// What a priced line was read as: a record (the general path), or an item read by a lane (a Logs API item, a
/// Logpush line).
pub(crate) enum What<'r> {
    Record(&'r UsageRecord),
    /// A record whose tokens were counted from its texts.
    Counted(Box<UsageRecord>),
    Flat(&'r Flat<'r>),
}

/// One priced line.
pub(crate) struct Line<'r> {
    pub(crate) line: u64,
    what: What<'r>,
    /// Where the counts came from.
    pub(crate) usage_source: UsageSource,
    pub(crate) cost: Option<Priced>,
    pub(crate) at: i64,
}

impl Line<'_> {
    /// The record the line was read as, or the fast lane's item.
    pub(crate) fn view(&self) -> std::result::Result<&UsageRecord, &Flat<'_>> {
        match &self.what {
            What::Record(r) => Ok(r),
            What::Counted(r) => Ok(r),
            What::Flat(f) => Err(f),
        }
    }
}

/// A line of a chunk as read: by a lane, or by the general path (one line may hold several records). The lanes'
/// items are most lines and are kept inline (a box would be an allocation a line); the entries' vector is reused
/// from chunk to chunk.
#[allow(clippy::large_enum_variant)]
pub(super) enum Entry<'t> {
    Read(Box<Read<'t>>),
    Flat { line: u64, text: &'t [u8], flat: Flat<'t> },
}

/// Prices a chunk's entries in order on this thread; returns (priced lines, rejects), `source` naming where they
/// came from, `labels` holding the fast lane's labels. Rows in = priced + rejected. With `totals`, the priced
/// lines are added to those groups instead of made into rows (then `None`).
pub(super) fn price_entries(
    pricer: &mut Pricer<'_>,
    source: &str,
    entries: &[Entry<'_>],
    labels: &Labels,
    totals: Option<(&Grouping, &mut Groups)>,
    room: &mut Vec<Line<'static>>,
) -> Result<(Option<RecordBatch>, RecordBatch)> {
    let mut lines = reuse(std::mem::take(room));
    lines.reserve(entries.len());
    let mut rejects = Vec::new();
    for entry in entries {
        let (line, text, priced) = match entry {
            Entry::Read(read) => (read.line, read.text, price_read(pricer, read)),
            Entry::Flat { line, text, flat } => (*line, *text, price_flat(pricer, flat)),
        };
        match priced {
            Ok((what, usage_source, cost, at)) => lines.push(Line { line, what, usage_source, cost, at }),
            Err(why) => rejects.push((line, text, why)),
        }
    }
    let rows = match totals {
        Some((grouping, groups)) => {
            groups.add_lines(grouping, pricer.book, source, &lines, labels);
            None
        }
        None => Some(lines_batch(pricer.book, source, &lines, labels)?),
    };
    *room = reuse(lines);
    Ok((rows, rejects_batch(source, &rejects)?))
}

/// A priced line's parts: what it was read as, where its counts come from, its cost (none for a failed request),
/// its time.
type PricedParts<'r> = (What<'r>, UsageSource, Option<Priced>, i64);

fn price_read<'r>(pricer: &mut Pricer<'_>, read: &'r Read<'r>) -> std::result::Result<PricedParts<'r>, String> {
    let record = read.record.as_ref().map_err(|e| e.clone())?;
    let Some(at) = record.timestamp.or(pricer.opts.default_at) else {
        return Err("no timestamp: pass default_at= to price records without one".to_string());
    };
    // A failed request is kept and costs nothing (providers do not bill errors).
    if record.status == Status::Error && !record.has_usage {
        return Ok((What::Record(record), UsageSource::Reported, None, at));
    }
    if record.needs_counting() {
        let (counted, source) = pricer.count(record)?;
        let cost = Some(pricer.price(&counted, at)?);
        return Ok((What::Counted(Box::new(counted)), source, cost, at));
    }
    if record.status == Status::Ok && !record.has_usage && !record.cache_hit {
        return Err(no_usage(record.format, record.reported_cost));
    }
    let cost = Some(pricer.price(record, at)?);
    Ok((What::Record(record), UsageSource::Reported, cost, at))
}

/// Why a successful request whose record reports no usage, and holds no text to count it from, is a reject: its
/// cost cannot be known from it, and a cost of zero would go into the totals without a word (`price()` refuses
/// such a response too; the gateways' own formats say why in their words). A cost the source reported is named in
/// the reason (a model billed by cost, not tokens: the reject keeps it).
fn no_usage(format: &str, reported: Option<rust_decimal::Decimal>) -> String {
    // The cost the source reported, named: the reject keeps it where the totals of reported costs cannot.
    let reported =
        reported.map(|c| format!("; the source reported a cost of {} USD", c.normalize())).unwrap_or_default();
    format!(
        "the {format} record reports no usage and holds no text to count it from, so it cannot be priced (a stream \
         needs its final usage chunk; a gateway that could not read the provider's usage logs none){reported}"
    )
}

fn price_flat<'r>(pricer: &mut Pricer<'_>, flat: &'r Flat<'r>) -> std::result::Result<PricedParts<'r>, String> {
    if flat.status == Status::Error && !flat.has_usage {
        return Ok((What::Flat(flat), UsageSource::Reported, None, flat.at));
    }
    let usage = flat.usage();
    let plain = Plain {
        provider: flat.provider.as_deref(),
        served: flat.served.as_deref(),
        model: Some(flat.model),
        tier: flat.tier.as_deref(),
        region: None,
        usage: &usage,
        cache_hit: flat.cache_hit,
    };
    // The lane reads only items that name a model.
    let cost = pricer.price_plain(&plain, flat.at).map_err(Option::unwrap_or_default)?;
    Ok((What::Flat(flat), UsageSource::Reported, Some(cost), flat.at))
}

/// Lines per unit of parallel work: a block's chunks must be many enough to balance across cores. Rows kept are
/// one Arrow batch per chunk, spilled and mapped back; fewer, larger batches keep that mapping small (3 GB of logs
/// kept their rows in 517 MB with 2,048 lines a chunk, 731 MB with 1,024; measured), while totals gain from the
/// finer balance (5% faster with 1,024).
const CHUNK_LINES: usize = 2048;
const TOTAL_CHUNK_LINES: usize = 1024;

/// The fewest lines a chunk is cut to when a block is small.
const MIN_CHUNK_LINES: usize = 128;

/// Lines per chunk for a block of `n` lines on `threads` threads: at most `most`, and few enough that every thread
/// gets about four chunks, so a small block (a Logpush object of 3,000 lines: three chunks of 1,024 on two threads,
/// one thread idle for the third) still spreads evenly.
fn chunk_lines(n: usize, threads: usize, most: usize) -> usize {
    n.div_ceil(4 * threads.max(1)).clamp(MIN_CHUNK_LINES, most)
}

/// What a thread keeps from chunk to chunk: the pricer's caches, and buffers reused (a fresh one per chunk is a
/// megabyte of new pages each time).
struct Worker<'b> {
    pricer: Pricer<'b>,
    reads: Vec<Read<'static>>,
    entries: Vec<Entry<'static>>,
    labels: Labels,
    /// Where the strings of the fast lane's line are.
    quotes: Quotes,
    /// The Logpush lane's body, unescaped.
    body: String,
    /// Room for a chunk's priced lines.
    lines: Vec<Line<'static>>,
    /// The totals of a run that keeps no rows.
    groups: Groups,
}

/// A worker lent to one of the splits rayon makes of the chunks (each split starts from `map_init`'s init), and
/// given back to the pool when the split ends: so caches and buffers last the whole call, not one split.
struct Lent<'p, 'b> {
    worker: Option<Worker<'b>>,
    pool: &'p std::sync::Mutex<Vec<Worker<'b>>>,
}

impl Drop for Lent<'_, '_> {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            self.pool.lock().unwrap_or_else(|p| p.into_inner()).push(w);
        }
    }
}

/// Reads and prices `items` on all cores, in chunks; returns each chunk's (priced lines, rejects) in order, and
/// the number of records read (a line holding a container counts each record in it). With `totals` (a run that
/// keeps no rows), each priced line is added to its group as it is priced, and the chunks have no lines.
pub fn price_items(
    book: &Arc<PriceBook>,
    source: &str,
    items: &[Item<'_>],
    hints: &Hints,
    opts: &LedgerOptions,
    totals: Option<(&Grouping, &mut Groups)>,
) -> Result<(Vec<Chunk>, u64)> {
    price_items_in(book, source, items, hints, opts, lane(hints), totals)
}

/// The fast lane reads only what the general path would read the same way without hints.
fn lane(hints: &Hints) -> bool {
    hints.format.is_none() && hints.provider.is_none() && hints.model.is_none() && hints.at.is_none()
}

/// A chunk's priced lines (none when totalled) and rejects.
pub type Chunk = (Option<RecordBatch>, RecordBatch);

/// [`price_items`], with the fast lane (`lane`) or without, totalling into `totals` when given.
pub(super) fn price_items_in(
    book: &Arc<PriceBook>,
    source: &str,
    items: &[Item<'_>],
    hints: &Hints,
    opts: &LedgerOptions,
    lane: bool,
    totals: Option<(&Grouping, &mut Groups)>,
) -> Result<(Vec<Chunk>, u64)> {
    let pool = std::sync::Mutex::new(Vec::new());
    let grouping = totals.as_ref().map(|(g, _)| *g);
    let done: Vec<Result<(Chunk, u64)>> = crate::parallel::install(opts.threads, || {
        let most = if grouping.is_some() { TOTAL_CHUNK_LINES } else { CHUNK_LINES };
        items
            .par_chunks(chunk_lines(items.len(), rayon::current_num_threads(), most))
            .map_init(
                || {
                    let idle = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
                    Lent { worker: idle, pool: &pool }
                },
                |lent, chunk| {
                    let w = lent.worker.get_or_insert_with(|| Worker {
                        pricer: Pricer::new(book, opts),
                        reads: Vec::new(),
                        entries: Vec::new(),
                        labels: Labels::default(),
                        quotes: Quotes::default(),
                        body: String::new(),
                        lines: Vec::new(),
                        groups: Groups::default(),
                    });
                    let mut reads = reuse(std::mem::take(&mut w.reads));
                    let mut entries = reuse(std::mem::take(&mut w.entries));
                    entries.reserve(chunk.len());
                    w.labels.clear();
                    for &(line, text) in chunk {
                        let t = match text {
                            Text::Record(t) => t,
                            Text::Missing => {
                                let missing = Read { line, record: Err("no record (null)".into()), text: b"" };
                                entries.push(Entry::Read(Box::new(missing)));
                                continue;
                            }
                            Text::TooLong { head, bytes, cap } => {
                                let long = Read { line, record: Err(read::too_long(bytes, cap)), text: head };
                                entries.push(Entry::Read(Box::new(long)));
                                continue;
                            }
                        };
                        if lane {
                            let read = match flat::read(t, &mut w.labels, &mut w.quotes) {
                                Ok(flat) => Some(flat),
                                Err(Declined::Logpush) => logpush::read(t, &mut w.labels, &mut w.quotes, &mut w.body),
                                Err(Declined::General) => None,
                            };
                            if let Some(flat) = read {
                                entries.push(Entry::Flat { line, text: t, flat });
                                continue;
                            }
                        }
                        read::read_line(line, t, hints, &mut reads);
                        entries.extend(reads.drain(..).map(|r| Entry::Read(Box::new(r))));
                    }
                    let n = entries.len() as u64;
                    let sink = grouping.map(|g| (g, &mut w.groups));
                    let out = price_entries(&mut w.pricer, source, &entries, &w.labels, sink, &mut w.lines);
                    w.reads = reuse(reads);
                    w.entries = reuse(entries);
                    Ok((out?, n))
                },
            )
            .collect()
    })?;
    // Every worker is back in the pool: their totals are the call's.
    if let Some((_, groups)) = totals {
        for w in pool.into_inner().unwrap_or_else(|p| p.into_inner()) {
            groups.merge(w.groups);
        }
    }
    let mut out = Vec::with_capacity(done.len());
    let mut read = 0;
    for d in done {
        let (chunk, n) = d?;
        read += n;
        out.push(chunk);
    }
    Ok((out, read))
}

/// An emptied vector whose room is kept for items of another lifetime (the buffers outlive each chunk's text).
pub(crate) fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    // SAFETY: `v` is empty, so no value of `T` is reinterpreted; `T` and `U` have the same size and alignment
    // (asserted; here they are the same type up to lifetimes), so the allocation's layout is valid for `U`.
    assert!(
        std::mem::size_of::<T>() == std::mem::size_of::<U>() && std::mem::align_of::<T>() == std::mem::align_of::<U>()
    );
    let mut v = std::mem::ManuallyDrop::new(v);
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut U, 0, v.capacity()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `same` is `==` on texts of every length up to past 16, differing anywhere.
    #[test]
    fn same_is_equality() {
        let mut next = crate::testing::below(0x5a3e_0000_0000_0001);
        for _ in 0..50_000 {
            let n = next(24);
            let a: String = (0..n).map(|_| (b'a' + next(3) as u8) as char).collect();
            let b: String = if next(2) == 0 {
                a.clone()
            } else {
                (0..n + next(2)).map(|_| (b'a' + next(3) as u8) as char).collect()
            };
            assert_eq!(super::same(&a, &b), a == b, "{a} {b}");
            assert!(!super::same_opt(Some(&a), None));
        }
        assert!(super::same_opt(None, None));
    }

    /// The ledger's cached pricing gives exactly what `price_record` gives, record by record: the README's
    /// sample (every provider, dated price changes, cache hits, fallbacks, failed requests).
    #[test]
    fn cached_pricing_equals_price_record_with_served_models_and_tiers() {
        // Lines naming served models and tiers, in turns across price changes: the memo keys on both, and each
        // line's price is what `price_record` gives it alone.
        let book = PriceBook::default_book();
        let opts = LedgerOptions::default();
        let mut pricer = Pricer::new(&book, &opts);
        let served = [None, Some("gpt-4o-2024-08-06"), Some("gpt-4o-mini"), Some("no-such-model")];
        let tiers = [None, Some("default"), Some("flex"), Some("priority"), Some("batch"), Some("Scale"), Some("odd")];
        let days = ["2024-06-01T00:00:00Z", "2025-01-01T12:00:00Z", "2025-09-01T00:00:00Z", "2026-03-01T00:00:00Z"];
        let mut next = crate::testing::below(0x5eed_u64);
        let (mut compared, mut failed) = (0, 0);
        for _ in 0..4000 {
            let mut rec = UsageRecord {
                provider: Some("openai".into()),
                model: Some(["gpt-4o", "gpt-4o-mini", "o3"][next(3)].into()),
                served_model: served[next(served.len())].map(Into::into),
                service_tier: tiers[next(tiers.len())].map(Into::into),
                has_usage: true,
                ..Default::default()
            };
            rec.usage.counts[crate::prices::units::INPUT] = 1000 + next(5000) as u64;
            rec.usage.counts[crate::prices::units::OUTPUT] = next(800) as u64;
            let at = crate::prices::calendar::parse_instant(days[next(days.len())]).unwrap();
            let ropts = RecordOptions { at: Some(at), ..Default::default() };
            let want = price_record(&book, &rec, &ropts, 0).map(|c| Priced::of(&c));
            match (want, pricer.price(&rec, at)) {
                (Ok(w), Ok(g)) => {
                    assert_eq!((w.total, w.columns, w.model, w.from_day), (g.total, g.columns, g.model, g.from_day));
                    compared += 1;
                }
                (Err(w), Err(g)) => {
                    assert_eq!(w.to_string(), g);
                    failed += 1;
                }
                (w, g) => panic!("{rec:?}: price_record {:?} vs ledger {:?}", w.map(|p| p.total), g.map(|p| p.total)),
            }
        }
        assert!(compared > 1000 && failed > 100, "{compared} priced, {failed} failed");
    }

    #[test]
    fn cached_pricing_equals_price_record_on_the_sample() {
        use std::io::Read as _;
        let book = PriceBook::default_book();
        let opts = LedgerOptions::default();
        let mut pricer = Pricer::new(&book, &opts);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/logs/gateway.jsonl.gz");
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
        let (mut compared, mut failed) = (0, 0);
        for line in text.lines() {
            let mut reads = Vec::new();
            read::read_line(1, line.as_bytes(), &Hints::default(), &mut reads);
            for r in reads {
                let Ok(rec) = r.record else { continue };
                let Some(at) = rec.timestamp else { continue };
                let ropts = RecordOptions { at: Some(at), ..Default::default() };
                let want = price_record(&book, &rec, &ropts, 0).map(|c| Priced::of(&c));
                let got = pricer.price(&rec, at);
                match (want, got) {
                    (Ok(w), Ok(g)) => {
                        assert_eq!(
                            (w.total, w.columns, w.model, w.from_day),
                            (g.total, g.columns, g.model, g.from_day)
                        );
                        compared += 1;
                    }
                    (Err(w), Err(g)) => {
                        assert_eq!(w.to_string(), g);
                        failed += 1;
                    }
                    (w, g) => {
                        panic!("{line}: price_record {:?} vs ledger {:?}", w.map(|p| p.total), g.map(|p| p.total))
                    }
                }
            }
        }
        assert!(compared > 4000 && failed > 0, "{compared} priced, {failed} failed");
    }
}
