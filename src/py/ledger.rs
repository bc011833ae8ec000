//! `price_logs` at the boundary: file paths (or record texts) in, Arrow tables of priced lines and rejects out.
//! Reading and pricing run with the GIL released.

use std::sync::Arc;

use arrow_array::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;

use crate::error::Error;
use crate::ledger::groups::{Column, Grouping, Groups};
use crate::ledger::read::{read_file, DEFAULT_MAX_LINE_BYTES};
use crate::ledger::{price_items, total_items, Item, LedgerOptions, SpillDir, SPILL_ABOVE};
use crate::prices::book::PriceBook;
use crate::py::errors::{guard, invalid_argument, invalid_type, to_py, IntoPy};
use crate::py::pricing::{instant_of, PyPriceBook};
use crate::usage::Hints;

/// One Arrow table from blocks whose metadata columns may differ (see [`crate::ledger::unify`]).
fn table(py: Python<'_>, batches: Vec<RecordBatch>, empty: RecordBatch) -> PyResult<PyTable> {
    let batches = if batches.is_empty() { vec![empty] } else { batches };
    let unified = crate::ledger::unify(batches).py_err(py)?;
    let schema = unified[0].schema();
    PyTable::try_new(unified, schema)
}

/// The batches that hold rows: most chunks reject nothing, and their empty reject batches are not kept.
fn nonempty(batches: Vec<RecordBatch>) -> impl Iterator<Item = RecordBatch> {
    batches.into_iter().filter(|b| b.num_rows() > 0)
}

/// The arguments both entry points share, converted: the book, what records lack, how to price.
#[allow(clippy::too_many_arguments)]
fn setup(
    py: Python<'_>,
    book: Option<&PyPriceBook>,
    format: Option<&str>,
    provider: Option<&str>,
    model: Option<&str>,
    default_at: Option<&Bound<'_, PyAny>>,
    service_tier: Option<&str>,
    approximate: bool,
    threads: Option<usize>,
) -> PyResult<(Arc<PriceBook>, Hints, LedgerOptions)> {
    let book = book.map_or_else(PriceBook::default_book, |b| b.book.clone());
    let default_at = match default_at {
        Some(v) if !v.is_none() => Some(instant_of(Some(v), "default_at")?),
        _ => None,
    };
    if let Some(f) = format {
        crate::usage::formats::check_format(f).map_err(|e| crate::py::errors::to_py(py, e))?;
    }
    let hints = Hints {
        provider: provider.map(str::to_string),
        format: format.map(str::to_string),
        model: model.map(str::to_string),
        at: None,
    };
    let service_tier = service_tier.map(str::to_string);
    Ok((book, hints, LedgerOptions { default_at, service_tier, approximate, threads }))
}

/// What pricing files gives Python: priced lines, rejects, records read, spill files, the totals of a run that
/// keeps no rows, and the run's spill folder (to remove when the result is gone).
type PricedFiles = (PyTable, PyTable, u64, Vec<String>, Option<PyTable>, Option<String>);

/// Prices log files: returns (priced lines, rejects, records read, spill files, totals, spill folder). With
/// `totals_by`, the lines are totalled by those keys (and `period` in `tz`) as they are priced, and no rows are
/// kept. `spill`: `None` spills once more than [`SPILL_ABOVE`] bytes were read (decompressed), `True` always,
/// `False` never; into a folder of the run's own inside `spill_dir` (default: the system's temporary folder).
#[pyfunction]
#[pyo3(signature = (paths, *, book=None, format=None, provider=None, model=None, default_at=None, service_tier=None, approximate=false, num_threads=None, spill=None, spill_dir=None, progress=None, totals_by=None, period=None, tz="UTC", max_line_bytes=None))]
#[allow(clippy::too_many_arguments)]
pub fn price_log_files(
    py: Python<'_>,
    paths: Vec<String>,
    book: Option<&PyPriceBook>,
    format: Option<&str>,
    provider: Option<&str>,
    model: Option<&str>,
    default_at: Option<&Bound<'_, PyAny>>,
    service_tier: Option<&str>,
    approximate: bool,
    num_threads: Option<&Bound<'_, PyAny>>,
    spill: Option<bool>,
    spill_dir: Option<String>,
    progress: Option<Py<PyAny>>,
    totals_by: Option<Vec<String>>,
    period: Option<&str>,
    tz: &str,
    max_line_bytes: Option<usize>,
) -> PyResult<PricedFiles> {
    guard(py, || {
        let num_threads = crate::py::args::threads(num_threads)?;
        let (book, hints, opts) =
            setup(py, book, format, provider, model, default_at, service_tier, approximate, num_threads)?;
        if let Some(p) = &progress {
            if !p.bind(py).is_callable() {
                let kind = p.bind(py).get_type().name()?;
                return Err(invalid_type(py, format!("progress must be callable (path, bytes, records), not {kind}")));
            }
        }
        if max_line_bytes == Some(0) {
            return Err(invalid_argument(py, "max_line_bytes must be at least 1".into()));
        }
        let max_line = max_line_bytes.unwrap_or(DEFAULT_MAX_LINE_BYTES);
        // A run that keeps no rows: its lines are totalled by these keys as they are priced.
        let grouping = totals_by.map(|keys| Grouping::new(&keys, period, tz)).transpose().py_err(py)?;
        // Rows kept in memory until this many bytes were read, then spilled (with what was kept so far).
        let spill_above = match (&grouping, spill) {
            (Some(_), _) | (None, Some(false)) => None,
            (None, Some(true)) => Some(0),
            (None, None) => Some(SPILL_ABOVE),
        };
        let spill_parent = spill_dir.unwrap_or_else(|| std::env::temp_dir().display().to_string());
        let mut groups = Groups::default();
        let raised: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
        let mut folder: Option<SpillDir> = None;
        let done = py.detach(|| -> Result<_, Error> {
            let (mut priced, mut rejects, mut read) = (Vec::new(), Vec::new(), 0u64);
            // Bytes read of the files before this one.
            let mut before = 0u64;
            // Spilled: each block's priced lines go to an Arrow IPC file; a writer thread writes one block while the
            // next is priced, and takes a block only when it is done with the last (a rendezvous channel), so
            // memory holds two blocks of priced lines at most.
            let (spill_tx, spill_rx) = std::sync::mpsc::sync_channel::<Vec<RecordBatch>>(0);
            let (folder_tx, folder_rx) = std::sync::mpsc::channel::<SpillDir>();
            std::thread::scope(|scope| {
                let writer = spill_above.map(|_| {
                    let parent = spill_parent.as_str();
                    scope.spawn(move || -> Result<Vec<String>, Error> {
                        let mut spilled = Vec::new();
                        let mut dir: Option<SpillDir> = None;
                        let result = (|| {
                            for batches in spill_rx {
                                // The run's folder, made when the first block is spilled.
                                let d = match &mut dir {
                                    Some(d) => d,
                                    None => dir.insert(SpillDir::create(parent)?),
                                };
                                spilled.extend(d.write(batches)?);
                            }
                            Ok(())
                        })();
                        if let Some(d) = dir {
                            let _ = folder_tx.send(d);
                        }
                        result.map(|()| spilled)
                    })
                });
                let mut spilling = false;
                let reading = (|| -> Result<(), Error> {
                    for path in &paths {
                        let mut last = 0u64;
                        read_file(path, max_line, |items, at| {
                            last = at.read;
                            let (chunks, n) = match &grouping {
                                Some(g) => {
                                    let (r, n) = total_items(&book, path, items, &hints, &opts, g, &mut groups)?;
                                    rejects.extend(nonempty(r));
                                    (Vec::new(), n)
                                }
                                None => price_items(&book, path, items, &hints, &opts)?,
                            };
                            // Progress: (path, bytes of the file read so far, records read so far), once per
                            // block; an exception from the callback (a KeyboardInterrupt) stops the run.
                            if let Some(callback) = &progress {
                                let called =
                                    Python::attach(|py| callback.call1(py, (path.as_str(), at.taken, read + n)));
                                if let Err(e) = called {
                                    *raised.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                                    return Err(Error::InvalidArgument("stopped by the progress callback".into()));
                                }
                            }
                            read += n;
                            let (p, r): (Vec<_>, Vec<_>) = chunks.into_iter().unzip();
                            rejects.extend(nonempty(r));
                            priced.extend(p);
                            // Past the threshold (bytes read, decompressed), the rows kept so far and every block
                            // after go to the spill writer. The writer gone means it failed: its error is
                            // reported below.
                            spilling |= spill_above.is_some_and(|above| before + at.read > above);
                            if spilling && !priced.is_empty() && spill_tx.send(std::mem::take(&mut priced)).is_err() {
                                return Err(Error::Internal("the spill writer stopped".into()));
                            }
                            Ok(())
                        })?;
                        before += last;
                    }
                    Ok(())
                })();
                drop(spill_tx);
                let spilled = match writer {
                    Some(w) => w.join().unwrap_or_else(|_| Err(Error::Internal("the spill writer panicked".into()))),
                    None => Ok(Vec::new()),
                };
                folder = folder_rx.try_recv().ok();
                // A write error explains a stopped reading; otherwise the reading's own error.
                let spilled = spilled?;
                reading?;
                Ok((priced, rejects, read, spilled))
            })
        });
        // A failed or interrupted run leaves no spill files behind.
        let done = match done {
            Ok(d) => d,
            Err(e) => {
                if let Some(f) = folder.take() {
                    f.remove();
                }
                return Err(raised.into_inner().unwrap_or_else(|p| p.into_inner()).unwrap_or_else(|| to_py(py, e)));
            }
        };
        if let Some(e) = raised.into_inner().unwrap_or_else(|p| p.into_inner()) {
            if let Some(f) = folder.take() {
                f.remove();
            }
            return Err(e);
        }
        let (priced, rejects, read, spilled) = done;
        let totals = match &grouping {
            Some(g) => {
                let batch = groups.batch(g).py_err(py)?;
                let schema = batch.schema();
                Some(PyTable::try_new(vec![batch], schema)?)
            }
            None => None,
        };
        let (empty_priced, empty_rejects) = crate::ledger::empty(&book).py_err(py)?;
        let folder = folder.map(|f| f.path());
        Ok((table(py, priced, empty_priced)?, table(py, rejects, empty_rejects)?, read, spilled, totals, folder))
    })
}

/// Prices records given as JSON texts (rows of a table): returns (priced lines, rejects, records read).
#[pyfunction]
#[pyo3(signature = (texts, *, source="table", book=None, format=None, provider=None, model=None, default_at=None, service_tier=None, approximate=false, num_threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn price_log_texts(
    py: Python<'_>,
    texts: Vec<Option<String>>,
    source: &str,
    book: Option<&PyPriceBook>,
    format: Option<&str>,
    provider: Option<&str>,
    model: Option<&str>,
    default_at: Option<&Bound<'_, PyAny>>,
    service_tier: Option<&str>,
    approximate: bool,
    num_threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<(PyTable, PyTable, u64)> {
    guard(py, || {
        let num_threads = crate::py::args::threads(num_threads)?;
        let (book, hints, opts) =
            setup(py, book, format, provider, model, default_at, service_tier, approximate, num_threads)?;
        let (chunks, read) = py
            .detach(|| {
                let items: Vec<Item<'_>> = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (i as u64 + 1, t.as_deref().map(str::as_bytes).into()))
                    .collect();
                price_items(&book, source, &items, &hints, &opts)
            })
            .py_err(py)?;
        let (p, r): (Vec<_>, Vec<_>) = chunks.into_iter().unzip();
        let (empty_priced, empty_rejects) = crate::ledger::empty(&book).py_err(py)?;
        Ok((table(py, p, empty_priced)?, table(py, r, empty_rejects)?, read))
    })
}

/// The columns of a priced line other than its labels and counts, and those of them a run without rows can group
/// by: (fixed columns, groupable columns).
#[pyfunction]
pub fn log_columns() -> (Vec<&'static str>, Vec<&'static str>) {
    (crate::ledger::FIXED_COLUMNS.to_vec(), Column::ALL.map(Column::name).to_vec())
}
