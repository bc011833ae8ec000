//! The ledger alone (no Python): a JSON Lines log file read, every record extracted and priced at its own date,
//! timed from the file to Arrow batches of priced lines, and (a run that keeps no rows) to the totals per tenant
//! and feature, both through [`tokenprice::ledger::run`]. `LOGS=path THREADS=n cargo bench --bench ledger_core`;
//! `benches/bench_logs.py` writes the file (1 GB of gateway logs).

use std::time::Instant;

use tokenprice::ledger::groups::Grouping;
use tokenprice::ledger::{run, Files, LedgerOptions, RunOptions};
use tokenprice::prices::PriceBook;

fn main() {
    let path = std::env::var("LOGS").unwrap_or_else(|_| "benches/corpus/gateway-1g.jsonl".into());
    let threads = std::env::var("THREADS").ok().and_then(|t| t.parse().ok());
    let book = PriceBook::default_book();
    let size = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{path}: {e} (run benches/bench_logs.py)")).len();
    let mb = size as f64 / 1e6;
    // Rows kept as `price_logs` keeps them: spilled to Arrow files past 64 MB read (memory stays bounded).
    let rows = RunOptions { pricing: LedgerOptions { threads, ..Default::default() }, ..Default::default() };
    let grouping = Grouping::new(&["tenant".into(), "feature".into()], None, "UTC").expect("a grouping");
    let totals = RunOptions { totals: Some(grouping), ..rows.clone() };
    // MODE=rows or MODE=totals runs one of the two.
    let mode = std::env::var("MODE").unwrap_or_default();

    for (name, options) in [("rows", &rows), ("totals", &totals)] {
        if !mode.is_empty() && mode != name {
            continue;
        }
        let start = Instant::now();
        let done = run(&mut Files(vec![path.clone()]), &book, options, |_| Ok(())).expect("the log reads");
        let secs = start.elapsed().as_secs_f64();
        let priced: usize = done.priced.iter().map(|b| b.num_rows()).sum();
        let spilled = done.spilled.len();
        if let Some(folder) = done.folder {
            folder.remove();
        }
        let rejected: usize = done.rejects.iter().map(|b| b.num_rows()).sum();
        let groups = done.totals.as_ref().map_or(String::new(), |t| format!(" in {} groups", t.num_rows()));
        println!(
            "{name}: {} records ({priced} rows in memory, {spilled} files spilled, {rejected} rejected){groups}, {mb:.0} MB: {secs:.2} s, {:.0} MB/s",
            done.records_read,
            mb / secs
        );
    }
}
