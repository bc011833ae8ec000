//! `price_logs` at the boundary: file paths (or record texts) in, Arrow tables of priced lines and rejects out.
//! Reading and pricing run with the GIL released.

use std::sync::Arc;

use arrow_array::RecordBatch;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;

use crate::error::Error;
use crate::ledger::groups::{Column, Grouping, Groups};
use crate::ledger::read::read_file;
use crate::ledger::{price_items, total_items, Item, LedgerOptions};
use crate::prices::book::PriceBook;
use crate::py::errors::{guard, IntoPy};
use crate::py::pricing::{instant_of, PyPriceBook};
use crate::usage::extract::Hints;

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
    let hints = Hints {
        provider: provider.map(str::to_string),
        format: format.map(str::to_string),
        model: model.map(str::to_string),
        at: None,
    };
    let service_tier = service_tier.map(str::to_string);
    Ok((book, hints, LedgerOptions { default_at, service_tier, approximate, threads }))
}

/// What pricing files gives Python: priced lines, rejects, records read, spill files, and the totals of a run that
/// keeps no rows.
type PricedFiles = (PyTable, PyTable, u64, Vec<String>, Option<PyTable>);

/// Prices log files: returns (priced lines, rejects, records read, spill files, totals). With `totals_by`, the
/// lines are totalled by those keys (and `period` in `tz`) as they are priced, and no rows are kept.
#[pyfunction]
#[pyo3(signature = (paths, *, book=None, format=None, provider=None, model=None, default_at=None, service_tier=None, approximate=false, num_threads=None, spill_dir=None, progress=None, totals_by=None, period=None, tz="UTC"))]
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
    num_threads: Option<usize>,
    spill_dir: Option<String>,
    progress: Option<Py<PyAny>>,
    totals_by: Option<Vec<String>>,
    period: Option<&str>,
    tz: &str,
) -> PyResult<PricedFiles> {
    guard(py, || {
        let (book, hints, opts) =
            setup(book, format, provider, model, default_at, service_tier, approximate, num_threads)?;
        // A run that keeps no rows: its lines are totalled by these keys as they are priced.
        let grouping = totals_by.map(|keys| Grouping::new(&keys, period, tz)).transpose().py_err(py)?;
        let mut groups = Groups::default();
        let raised: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
        let done = py.detach(|| -> Result<_, Error> {
            let (mut priced, mut rejects, mut read) = (Vec::new(), Vec::new(), 0u64);
            // Spilled: each block's priced lines go to an Arrow IPC file; a writer thread writes one block while the
            // next is priced, and takes a block only when it is done with the last (a rendezvous channel), so
            // memory holds two blocks of priced lines at most.
            let (spill_tx, spill_rx) = std::sync::mpsc::sync_channel::<Vec<RecordBatch>>(0);
            std::thread::scope(|scope| {
                let writer = spill_dir.as_deref().map(|dir| {
                    scope.spawn(move || -> Result<Vec<String>, Error> {
                        let mut spilled = Vec::new();
                        for batches in spill_rx {
                            spilled.extend(crate::ledger::spill(dir, spilled.len(), batches)?);
                        }
                        Ok(spilled)
                    })
                });
                let reading = (|| -> Result<(), Error> {
                    for path in &paths {
                        read_file(path, |items, taken| {
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
                                let called = Python::attach(|py| callback.call1(py, (path.as_str(), taken, read + n)));
                                if let Err(e) = called {
                                    *raised.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                                    return Err(Error::InvalidArgument("stopped by the progress callback".into()));
                                }
                            }
                            read += n;
                            let (p, r): (Vec<_>, Vec<_>) = chunks.into_iter().unzip();
                            match &writer {
                                // The writer gone means it failed: its error is reported below.
                                Some(_) => {
                                    if spill_tx.send(p).is_err() {
                                        return Err(Error::Internal("the spill writer stopped".into()));
                                    }
                                }
                                None => priced.extend(p),
                            }
                            rejects.extend(nonempty(r));
                            Ok(())
                        })?;
                    }
                    Ok(())
                })();
                drop(spill_tx);
                let spilled = match writer {
                    Some(w) => w.join().unwrap_or_else(|_| Err(Error::Internal("the spill writer panicked".into()))),
                    None => Ok(Vec::new()),
                };
                // A write error explains a stopped reading; otherwise the reading's own error.
                let spilled = spilled?;
                reading?;
                Ok((priced, rejects, read, spilled))
            })
        });
        if let Some(e) = raised.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let (priced, rejects, read, spilled) = done.py_err(py)?;
        let totals = match &grouping {
            Some(g) => {
                let batch = groups.batch(g).py_err(py)?;
                let schema = batch.schema();
                Some(PyTable::try_new(vec![batch], schema)?)
            }
            None => None,
        };
        let (empty_priced, empty_rejects) = crate::ledger::empty(&book).py_err(py)?;
        Ok((table(py, priced, empty_priced)?, table(py, rejects, empty_rejects)?, read, spilled, totals))
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
    num_threads: Option<usize>,
) -> PyResult<(PyTable, PyTable, u64)> {
    guard(py, || {
        let (book, hints, opts) =
            setup(book, format, provider, model, default_at, service_tier, approximate, num_threads)?;
        let (chunks, read) = py
            .detach(|| {
                let items: Vec<Item<'_>> =
                    texts.iter().enumerate().map(|(i, t)| (i as u64 + 1, t.as_deref().map(str::as_bytes))).collect();
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
