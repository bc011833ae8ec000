//! `price_logs` at the boundary: file paths (or record texts) in, Arrow tables of priced lines and rejects out.
//! Reading and pricing run with the GIL released.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use pyo3::prelude::*;

use crate::error::Error;
use crate::ledger::groups::{Column, Grouping};
use crate::ledger::read::DEFAULT_MAX_LINE_BYTES;
use crate::ledger::reconcile::{reconcile, rejected_for_no_price, Tolerance, CAUSES};
use crate::ledger::reprice::{reprice, CacheAs, Reprice};
use crate::ledger::{
    run, FileRanges, Files, LedgerOptions, NamedStream, Page, Pages, Progress, RunOptions, Source, Spill, Streams,
    Texts,
};
use crate::money::{amount_text, money_field};
use crate::prices::book::PriceBook;
use crate::py::args::Arg;
use crate::py::capsule::{self, ArrowTable};
use crate::py::convert::opt_instant;
use crate::py::errors::{guard, invalid_argument, invalid_type, to_py, IntoPy};
use crate::py::prices::PyPriceBook;
use crate::usage::Hints;

/// One Arrow table of a run's batches (one schema, at least one batch).
fn table(batches: Vec<RecordBatch>) -> PyResult<ArrowTable> {
    let schema = batches[0].schema();
    Ok(ArrowTable::new(schema, batches))
}

/// The options both entry points share, as one dict (the keywords of `price_logs` that say how to price): the
/// book, what records lack, how to price.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct LogOptions<'py> {
    book: Option<PyRef<'py, PyPriceBook>>,
    format: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    default_at: Option<Bound<'py, PyAny>>,
    service_tier: Option<String>,
    approximate: bool,
    num_threads: Option<Bound<'py, PyAny>>,
}

impl LogOptions<'_> {
    /// The options converted: the book, the hints for what records lack, how to price.
    fn convert(self, py: Python<'_>) -> PyResult<(Arc<PriceBook>, Hints, LedgerOptions)> {
        let threads = crate::py::args::threads(self.num_threads.as_ref())?;
        let book = self.book.map_or_else(PriceBook::default_book, |b| b.book.clone());
        let default_at = opt_instant(self.default_at.as_ref(), "default_at")?;
        if let Some(f) = &self.format {
            crate::usage::formats::check_format(f).map_err(|e| to_py(py, e))?;
        }
        let hints = Hints { provider: self.provider, format: self.format, model: self.model, at: None };
        let pricing =
            LedgerOptions { default_at, service_tier: self.service_tier, approximate: self.approximate, threads };
        Ok((book, hints, pricing))
    }
}

/// What pricing files gives Python: priced lines, rejects, records read, spill files, the totals of a run that
/// keeps no rows, and the run's spill folder (to remove when the result is gone).
type PricedFiles = (ArrowTable, ArrowTable, u64, Vec<String>, Option<ArrowTable>, Option<String>);

/// Prices log files: returns (priced lines, rejects, records read, spill files, totals, spill folder). With
/// `totals_by`, the lines are totalled by those keys (and `period` in `tz`) as they are priced, and no rows are
/// kept. `spill`: `None` spills once more than [`crate::ledger::SPILL_ABOVE`] bytes were read (decompressed), `True` always,
/// `False` never; into a folder of the run's own inside `spill_dir` (default: the system's temporary folder).
/// `ranges`: a byte range `(start, end)` per path, each read by [`crate::ledger::read::read_range`] (an engine's
/// task reading its part of a file); the inputs are then named `path@start-end`.
///
/// `objects`: the inputs are named streams (the objects of an object store), not files, and `paths` is empty: an
/// iterator of `(name, bytes | stream)`, each item taken only once the one before it is read, in the run's reading
/// thread (so the caller may list and fetch the following objects while those are read and priced, and need never
/// hold the whole listing). A stream is
/// an object with `read(n) -> bytes` (a pyarrow `NativeFile`, a Python file), read in large blocks with the GIL
/// taken only for each call. An exception from the iterator stops the run and is raised as it is; one from
/// `read` stops it naming the input (the caller cleans its messages of credentials).
///
/// `pages`: the records arrive as pages of Arrow string columns (a database table read in pages), one input named
/// by the one path: `pages()` returns the next page — an Arrow table (or record batch) whose first column holds the
/// records' JSON texts and, with `key`, whose second column holds each row's name (a reject's `source` is then
/// `{name} {key} '{row name}'`) — or `None` after the last. The columns are read in place (no Python string per
/// row); the GIL is taken only to call `pages`. An exception it raises stops the run and is raised as it is
/// (`progress` sees the bytes of the texts).
#[pyfunction]
#[pyo3(signature = (paths, options, *, spill=None, spill_dir=None, progress=None, totals_by=None, period=None, tz="UTC", max_line_bytes=None, ranges=None, objects=None, pages=None, key=None))]
#[allow(clippy::too_many_arguments)]
pub fn price_log_files(
    py: Python<'_>,
    paths: Vec<String>,
    options: LogOptions<'_>,
    spill: Option<bool>,
    spill_dir: Option<String>,
    progress: Option<Py<PyAny>>,
    totals_by: Option<Vec<String>>,
    period: Option<&str>,
    tz: &str,
    max_line_bytes: Option<usize>,
    ranges: Option<Vec<(u64, u64)>>,
    objects: Option<Bound<'_, PyAny>>,
    pages: Option<Py<PyAny>>,
    key: Option<String>,
) -> PyResult<PricedFiles> {
    let how = RunHow { spill, spill_dir, progress, totals_by, period, tz, max_line_bytes, stop: None };
    let raised = Raised::default();
    if let Some(next) = pages {
        return match <[String; 1]>::try_from(paths) {
            Ok(_) if ranges.is_some() || objects.is_some() => {
                Err(invalid_argument(py, "pages= is one input: give neither ranges= nor objects= with it".into()))
            }
            Ok([name]) => price_pages(py, name, next, key, options, how, &raised),
            Err(_) => Err(invalid_argument(py, "pages= is one input: give its one name as paths".into())),
        };
    }
    if key.is_some() {
        return Err(invalid_argument(py, "key= names the rows of pages=; give it only with pages=".into()));
    }
    match (ranges, objects) {
        (None, None) => price_source(py, &mut Files(paths), options, how, &raised),
        (Some(_), Some(_)) => Err(invalid_argument(py, "ranges= is for files, not for objects=".into())),
        (None, Some(_)) if !paths.is_empty() => {
            Err(invalid_argument(py, "objects= names its inputs itself: give no paths with it".into()))
        }
        (None, Some(objects)) => {
            // An iterator with a stop() is told when the run stops early (see `RunHow::stop`).
            let stop = objects.getattr("stop").ok().filter(|s| s.is_callable()).map(Bound::unbind);
            price_objects(py, objects, options, RunHow { stop, ..how }, &raised)
        }
        (Some(r), None) if r.len() != paths.len() => {
            let msg = format!("ranges: {} ranges for {} paths (one (start, end) per path)", r.len(), paths.len());
            Err(invalid_argument(py, msg))
        }
        (Some(r), None) => {
            let ranges = paths.into_iter().zip(r).map(|(p, (a, b))| (p, a, b)).collect();
            price_source(py, &mut FileRanges::new(ranges), options, how, &raised)
        }
    }
}

/// Prices the named streams an iterator gives (see [`price_log_files`]).
fn price_objects(
    py: Python<'_>,
    objects: Bound<'_, PyAny>,
    options: LogOptions<'_>,
    how: RunHow<'_>,
    raised: &Raised,
) -> PyResult<PricedFiles> {
    let Ok(objects) = objects.try_iter() else {
        let kind = objects.get_type().name()?;
        return Err(invalid_type(py, format!("objects must be an iterator of (name, bytes or stream), not {kind}")));
    };
    let objects = objects.unbind();
    let next = || -> Result<Option<NamedStream>, Error> {
        Python::attach(|py| {
            let item = match objects.bind(py).clone().next() {
                None => return Ok(None),
                Some(item) => item.map_err(|e| raised.keep(e))?,
            };
            let Ok((name, body)) = item.extract::<(String, Bound<'_, PyAny>)>() else {
                let kind = item.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                let msg = format!("objects must give (name, bytes or stream) pairs, not {kind}");
                return Err(raised.keep(invalid_type(py, msg)));
            };
            let reader: Box<dyn std::io::Read + Send> = match body.cast::<pyo3::types::PyBytes>() {
                Ok(bytes) => Box::new(std::io::Cursor::new(bytes.as_bytes().to_vec())),
                Err(_) => Box::new(PyStream { stream: body.unbind() }),
            };
            Ok(Some((name, reader)))
        })
    };
    price_source(py, &mut Streams::new(next), options, how, raised)
}

/// An exception raised by Python code the run calls (the progress callback, the objects' iterator), kept to be
/// raised as it is once the run has stopped.
#[derive(Default)]
struct Raised(std::sync::Mutex<Option<PyErr>>);

impl Raised {
    /// Keeps `e` (unless one was kept already: the first stopped the run; the objects' iterator runs in the run's
    /// reading thread, beside the progress callback) and gives the core's error that stops the run.
    fn keep(&self, e: PyErr) -> Error {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
        Error::InvalidArgument("stopped by an exception raised in Python".into())
    }

    fn take(&self) -> Option<PyErr> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Prices the pages `next` gives as one input named `name` (see [`price_log_files`]).
fn price_pages(
    py: Python<'_>,
    name: String,
    next: Py<PyAny>,
    key: Option<String>,
    options: LogOptions<'_>,
    how: RunHow<'_>,
    raised: &Raised,
) -> PyResult<PricedFiles> {
    if !next.bind(py).is_callable() {
        return Err(invalid_type(py, "pages must be callable () -> an Arrow table or None".to_string()));
    }
    let stop = |e: PyErr| raised.keep(e);
    let page = || -> Result<Option<Page>, Error> {
        Python::attach(|py| {
            let got = next.call0(py).map_err(stop)?;
            if got.is_none(py) {
                return Ok(None);
            }
            let (_, batches) = capsule::table(got.bind(py), "a page").map_err(stop)?;
            batches
                .iter()
                .map(|b| match (b.num_columns(), &key) {
                    (0, _) => Err(Error::InvalidArgument(format!("{name}: a page has no column of records"))),
                    (1, Some(k)) => Err(Error::InvalidArgument(format!(
                        "{name}: a page has no second column to name its rows by (key={k:?})"
                    ))),
                    (_, k) => Ok((b.column(0).clone(), k.is_some().then(|| b.column(1).clone()))),
                })
                .collect::<Result<Page, Error>>()
                .map(Some)
        })
    };
    let label = name.clone();
    price_source(py, &mut Pages::new(label, key.as_deref(), page), options, how, raised)
}

/// A Python stream (`read(n) -> bytes`) as a Rust reader: the GIL is taken for each call only, and the reader is
/// asked for large blocks (the core reads 1 MB at a time), so a stream that releases the GIL while it waits
/// (pyarrow's `NativeFile.read`) lets the other Python threads run.
struct PyStream {
    stream: Py<PyAny>,
}

impl std::io::Read for PyStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let got = self.stream.call_method1(py, "read", (buf.len(),)).map_err(|e| {
                let kind = e.get_type(py).name().map(|n| n.to_string()).unwrap_or_default();
                std::io::Error::other(format!("{kind}: {}", e.value(py)))
            })?;
            let got = got.bind(py);
            let bytes = got
                .cast::<pyo3::types::PyBytes>()
                .map_err(|_| std::io::Error::other("the stream's read() did not return bytes"))?
                .as_bytes();
            if bytes.len() > buf.len() {
                return Err(std::io::Error::other("the stream's read(n) returned more than n bytes"));
            }
            buf[..bytes.len()].copy_from_slice(bytes);
            Ok(bytes.len())
        })
    }
}

/// How a run over files or streams goes: the keywords both entry points share.
struct RunHow<'a> {
    spill: Option<bool>,
    spill_dir: Option<String>,
    progress: Option<Py<PyAny>>,
    totals_by: Option<Vec<String>>,
    period: Option<&'a str>,
    tz: &'a str,
    max_line_bytes: Option<usize>,
    /// Called (its own errors ignored) when the run is stopped by Python (an interrupt, an exception of the
    /// progress callback), before the run waits for its reading thread: the objects' iterator, whose `__next__`
    /// may be waiting on a fetch that does not answer, gives up its wait.
    stop: Option<Py<PyAny>>,
}

/// Prices every input of `source` with the GIL released (see [`price_log_files`]).
fn price_source<S: Source + Send>(
    py: Python<'_>,
    source: &mut S,
    options: LogOptions<'_>,
    how: RunHow<'_>,
    raised: &Raised,
) -> PyResult<PricedFiles> {
    let RunHow { spill, spill_dir, progress, totals_by, period, tz, max_line_bytes, stop } = how;
    guard(py, || {
        let (book, hints, pricing) = options.convert(py)?;
        if let Some(p) = &progress {
            if !p.bind(py).is_callable() {
                let kind = p.bind(py).get_type().name()?;
                return Err(invalid_type(
                    py,
                    format!("progress must be callable (path, bytes, records, bytes decompressed), not {kind}"),
                ));
            }
        }
        let options = RunOptions {
            hints,
            pricing,
            spill: Spill::from_choice(spill),
            spill_parent: spill_dir,
            totals: totals_by.map(|keys| Grouping::new(&keys, period, tz)).transpose().py_err(py)?,
            max_line_bytes: max_line_bytes.unwrap_or(DEFAULT_MAX_LINE_BYTES),
        };
        // After each block, and while the run waits for one: an exception from the progress callback, or a signal's
        // (Ctrl-C's KeyboardInterrupt: the run holds the main thread, so Python's handlers run only here), stops
        // the run and is raised as it is.
        let report = |at: &Progress<'_>| -> Result<(), Error> {
            Python::attach(|py| {
                let called = match &progress {
                    Some(callback) if !at.waiting => {
                        callback.call1(py, (at.input, at.taken, at.records, at.read)).map(drop)
                    }
                    _ => Ok(()),
                };
                called.and_then(|()| py.check_signals()).map_err(|e| {
                    // Kept first: what the iterator raises once stopped is not the cause.
                    let stopped = raised.keep(e);
                    if let Some(stop) = &stop {
                        let _ = stop.call0(py);
                    }
                    stopped
                })
            })
        };
        let done = py.detach(|| run(source, &book, &options, report));
        let run = match done {
            Ok(run) => run,
            Err(e) => return Err(raised.take().unwrap_or_else(|| to_py(py, e))),
        };
        let totals = run.totals.map(|t| table(vec![t])).transpose()?;
        let folder = run.folder.map(|f| f.path());
        Ok((table(run.priced)?, table(run.rejects)?, run.records_read, run.spilled, totals, folder))
    })
}

/// Prices records given as JSON texts (rows of a table): returns (priced lines, rejects, records read).
#[pyfunction]
#[pyo3(signature = (texts, options, *, source="table"))]
pub fn price_log_texts(
    py: Python<'_>,
    texts: Vec<Option<String>>,
    options: LogOptions<'_>,
    source: &str,
) -> PyResult<(ArrowTable, ArrowTable, u64)> {
    guard(py, || {
        let (book, hints, pricing) = options.convert(py)?;
        let options = RunOptions { hints, pricing, spill: Spill::Never, ..RunOptions::default() };
        let mut texts = Texts { name: source.to_string(), texts };
        let run = py.detach(|| run(&mut texts, &book, &options, |_| Ok(()))).py_err(py)?;
        Ok((table(run.priced)?, table(run.rejects)?, run.records_read))
    })
}

/// Totals records given as JSON texts by `totals_by` (and `period` in `tz`) as they are priced, building no
/// rows: returns (totals, rejects, records read). An engine's task sums its part of the logs so.
#[pyfunction]
#[pyo3(signature = (texts, options, *, totals_by, period=None, tz="UTC", source="table"))]
pub fn total_log_texts(
    py: Python<'_>,
    texts: Vec<Option<String>>,
    options: LogOptions<'_>,
    totals_by: Vec<String>,
    period: Option<&str>,
    tz: &str,
    source: &str,
) -> PyResult<(ArrowTable, ArrowTable, u64)> {
    guard(py, || {
        let (book, hints, pricing) = options.convert(py)?;
        let totals = Some(Grouping::new(&totals_by, period, tz).py_err(py)?);
        let options = RunOptions { hints, pricing, spill: Spill::Never, totals, ..RunOptions::default() };
        let mut texts = Texts { name: source.to_string(), texts };
        let run = py.detach(|| run(&mut texts, &book, &options, |_| Ok(()))).py_err(py)?;
        let totals = run.totals.ok_or_else(|| Error::Internal("a run with totals gave none".into())).py_err(py)?;
        Ok((table(vec![totals])?, table(run.rejects)?, run.records_read))
    })
}

/// The columns of a priced line other than its labels and counts, and those of them a run without rows can group
/// by: (fixed columns, groupable columns).
#[pyfunction]
pub fn log_columns() -> (Vec<&'static str>, Vec<&'static str>) {
    (crate::ledger::FIXED_COLUMNS.to_vec(), Column::ALL.map(Column::name).to_vec())
}

/// What reconciling gives Python: (mismatches, lines compared, reported total, computed total, per cause (name,
/// count, sum of differences)); money as exact decimal text.
type Reconciled = (ArrowTable, u64, String, String, Vec<(&'static str, u64, String)>);

/// Reconciles priced lines (see [`crate::ledger::reconcile`]) against the book they were priced with; `rejects`
/// are the run's rejects (those for want of a price are counted); the tolerance parts are decimal texts.
#[pyfunction]
#[pyo3(signature = (lines, rejects, *, book=None, absolute, relative))]
pub fn reconcile_lines(
    py: Python<'_>,
    lines: &Arg<'_>,
    rejects: &Arg<'_>,
    book: Option<&PyPriceBook>,
    absolute: &str,
    relative: &str,
) -> PyResult<Reconciled> {
    guard(py, || {
        let part = |name: &str, text: &str| {
            <rust_decimal::Decimal as std::str::FromStr>::from_str(text).map_err(|e| {
                invalid_argument(py, format!("reconcile tolerance: the {name} part {text:?} is not a decimal: {e}"))
            })
        };
        let tolerance = Tolerance { absolute: part("absolute", absolute)?, relative: part("relative", relative)? };
        let (_, batches) = capsule::table(lines, "lines")?;
        let (_, rejects) = capsule::table(rejects, "rejects")?;
        let book = book.map_or_else(PriceBook::default_book, |b| b.book.clone());
        let done =
            py.detach(|| reconcile(&batches, rejected_for_no_price(&rejects)?, &book, &tolerance, None)).py_err(py)?;
        let causes = CAUSES.iter().zip(done.causes).map(|(c, (n, money))| (*c, n, amount_text(money))).collect();
        Ok((
            table(vec![done.mismatches])?,
            done.compared,
            amount_text(done.reported_total),
            amount_text(done.computed_total),
            causes,
        ))
    })
}

/// Each priced line's total priced another way (see [`crate::ledger::reprice`]): a table of one decimal128(38, 18)
/// column, `repriced`, chunked as `lines` is; null where a line cannot be priced so.
#[pyfunction]
#[pyo3(signature = (lines, *, book=None, model_map=None, service_tier=None, at=None, without_cache=false))]
pub fn reprice_lines(
    py: Python<'_>,
    lines: &Arg<'_>,
    book: Option<&PyPriceBook>,
    model_map: Option<HashMap<String, String>>,
    service_tier: Option<String>,
    at: Option<&Arg<'_>>,
    without_cache: bool,
) -> PyResult<ArrowTable> {
    guard(py, || {
        let (_, batches) = capsule::table(lines, "lines")?;
        let book = book.map_or_else(PriceBook::default_book, |b| b.book.clone());
        let cache = if without_cache { CacheAs::PlainInput } else { CacheAs::Book };
        let how = Reprice { model_map: model_map.unwrap_or_default(), service_tier, at: opt_instant(at, "at")?, cache };
        let columns = py.detach(|| reprice(&batches, &book, &how)).py_err(py)?;
        let schema = Arc::new(Schema::new(vec![money_field("repriced")]));
        let batches = columns
            .into_iter()
            .map(|c| RecordBatch::try_new(schema.clone(), vec![c]).map_err(|e| Error::Internal(e.to_string())))
            .collect::<Result<Vec<_>, _>>()
            .py_err(py)?;
        Ok(ArrowTable::new(schema, batches))
    })
}
