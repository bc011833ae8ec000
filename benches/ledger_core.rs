//! The ledger alone (no Python): a JSON Lines log file read, every record extracted and priced at its own date,
//! timed from the file to Arrow batches of priced lines, and (a run that keeps no rows) to the totals per tenant
//! and feature. `LOGS=path THREADS=n cargo bench --bench ledger_core`; `benches/bench_logs.py` writes the file
//! (1 GB of gateway logs).

use std::time::Instant;

use tokenprice::ledger::groups::{Grouping, Groups};
use tokenprice::ledger::read::{read_file, DEFAULT_MAX_LINE_BYTES};
use tokenprice::ledger::{price_items, total_items, LedgerOptions};
use tokenprice::prices::PriceBook;
use tokenprice::usage::Hints;

fn main() {
    let path = std::env::var("LOGS").unwrap_or_else(|_| "benches/corpus/gateway-1g.jsonl".into());
    let threads = std::env::var("THREADS").ok().and_then(|t| t.parse().ok());
    let book = PriceBook::default_book();
    let opts = LedgerOptions { threads, ..Default::default() };
    let size = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{path}: {e} (run benches/bench_logs.py)")).len();
    let mb = size as f64 / 1e6;
    let hints = Hints::default();
    // MODE=rows or MODE=totals runs one of the two.
    let mode = std::env::var("MODE").unwrap_or_default();

    if mode != "totals" {
        rows_run(&book, &path, &hints, &opts, mb);
    }
    if mode != "rows" {
        totals_run(&book, &path, &hints, &opts, mb);
    }
}

fn rows_run(book: &std::sync::Arc<PriceBook>, path: &str, hints: &Hints, opts: &LedgerOptions, mb: f64) {
    let start = Instant::now();
    let (mut rows, mut priced, mut rejected) = (0usize, 0usize, 0usize);
    read_file(path, DEFAULT_MAX_LINE_BYTES, |items, _| {
        let (chunks, n) = price_items(book, path, items, hints, opts)?;
        rows += n as usize;
        for (p, r) in chunks {
            priced += p.num_rows();
            rejected += r.num_rows();
        }
        Ok(())
    })
    .expect("the log reads");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "rows: {rows} records ({priced} priced, {rejected} rejected), {mb:.0} MB: {secs:.2} s, {:.0} MB/s",
        mb / secs
    );
}

fn totals_run(book: &std::sync::Arc<PriceBook>, path: &str, hints: &Hints, opts: &LedgerOptions, mb: f64) {
    let start = Instant::now();
    let grouping = Grouping::new(&["tenant".into(), "feature".into()], None, "UTC").expect("a grouping");
    let mut groups = Groups::default();
    let (mut rows, mut rejected) = (0usize, 0usize);
    read_file(path, DEFAULT_MAX_LINE_BYTES, |items, _| {
        let (rejects, n) = total_items(book, path, items, hints, opts, &grouping, &mut groups)?;
        rows += n as usize;
        rejected += rejects.iter().map(|r| r.num_rows()).sum::<usize>();
        Ok(())
    })
    .expect("the log reads");
    let groups = groups.batch(&grouping).expect("the totals");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "totals: {rows} records ({rejected} rejected) in {} groups, {mb:.0} MB: {secs:.2} s, {:.0} MB/s",
        groups.num_rows(),
        mb / secs
    );
}
