//! Usage extraction alone (no Python): every line of a JSON Lines file read into a record on one thread, timed
//! from bytes in memory to records. `RECORDS=path cargo bench --bench extract_core`; `benches/bench_extract.py`
//! writes the file (a realistic mix) and runs this beside its Python competitors.

use std::time::Instant;

use tokenprice::usage::formats::extract_bytes;
use tokenprice::usage::Hints;

fn main() {
    let path = std::env::var("RECORDS").unwrap_or_else(|_| "benches/corpus/records.jsonl".into());
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run benches/bench_extract.py first)"));
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let hints = Hints::default();
    let mut best = f64::MAX;
    let mut checksum = 0u64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut sum = 0u64;
        for line in &lines {
            let r = extract_bytes(line, &hints).expect("every benchmark record reads");
            sum = sum.wrapping_add(r.usage.input_tokens());
        }
        best = best.min(start.elapsed().as_secs_f64());
        checksum = sum;
    }
    let mb = data.len() as f64 / 1e6;
    println!(
        "{} records, {mb:.1} MB, 1 thread: {:.3} s, {:.0} MB/s (checksum {checksum})",
        lines.len(),
        best,
        mb / best
    );
}
