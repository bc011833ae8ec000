//! The ledger alone (no Python): a JSON Lines log file read, every record extracted and priced at its own date,
//! timed from the file to Arrow batches of priced lines. `LOGS=path THREADS=n cargo bench --bench ledger_core`;
//! `benches/bench_logs.py` writes the file (1 GB of gateway logs).

use std::time::Instant;

use tokenprice::ledger::read::read_file;
use tokenprice::ledger::{price_items, LedgerOptions};
use tokenprice::prices::PriceBook;
use tokenprice::usage::extract::Hints;

fn main() {
    let path = std::env::var("LOGS").unwrap_or_else(|_| "benches/corpus/gateway-1g.jsonl".into());
    let threads = std::env::var("THREADS").ok().and_then(|t| t.parse().ok());
    let book = PriceBook::default_book();
    let opts = LedgerOptions { threads, ..Default::default() };
    let size = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{path}: {e} (run benches/bench_logs.py)")).len();
    let start = Instant::now();
    let (mut rows, mut priced, mut rejected) = (0usize, 0usize, 0usize);
    read_file(&path, |items, _| {
        let (chunks, n) = price_items(&book, &path, items, &Hints::default(), &opts)?;
        rows += n as usize;
        for (p, r) in chunks {
            priced += p.num_rows();
            rejected += r.num_rows();
        }
        Ok(())
    })
    .expect("the log reads");
    let secs = start.elapsed().as_secs_f64();
    let mb = size as f64 / 1e6;
    println!("{rows} records ({priced} priced, {rejected} rejected), {mb:.0} MB: {secs:.2} s, {:.0} MB/s", mb / secs);
}
