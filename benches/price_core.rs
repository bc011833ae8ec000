//! The table-pricing engine alone (no Python): ten million generated rows, timed from Arrow arrays in memory
//! to the priced record batch. `cargo bench --bench price_core`. The Python benchmark against the competitors
//! is `benches/bench_price.py`.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use tokenprice::cost::table::{counts_of, price_table, TableInput, TableOptions};
use tokenprice::prices::PriceBook;
use xorshift::xorshift;

#[path = "../tests/common/xorshift.rs"]
mod xorshift;

fn main() {
    let rows: usize = std::env::var("ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let book = PriceBook::default_book();
    // The mix of benches/bench_price.py: (model, provider, may be long-context).
    let mix = [
        ("gpt-4o", "openai", false),
        ("gpt-4o-mini", "openai", false),
        ("gpt-4.1-mini", "openai", false),
        ("o3", "openai", false),
        ("gpt-5", "openai", false),
        ("claude-sonnet-4-5", "anthropic", true),
        ("claude-3-5-haiku", "anthropic", false),
        ("gemini-2.5-pro", "google", true),
        ("gemini-2.5-flash", "google", false),
        ("deepseek-chat", "deepseek", false),
        ("mistral-large-latest", "mistral", false),
    ];
    let models: Vec<(&str, &str, bool)> =
        mix.iter().copied().filter(|(m, p, _)| book.resolve(m, Some(p)).is_ok()).collect();
    assert!(!models.is_empty(), "the default book prices none of the sample models");
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
    let start = 1_735_689_600_000_000i64; // 2025-01-01
    let span = 630 * 86_400_000_000i64;
    let mut model = Vec::with_capacity(rows);
    let mut provider = Vec::with_capacity(rows);
    let mut ts = Vec::with_capacity(rows);
    let (mut input, mut cached, mut output) =
        (Vec::with_capacity(rows), Vec::with_capacity(rows), Vec::with_capacity(rows));
    for _ in 0..rows {
        let (m, p, long) = models[(next() % models.len() as u64) as usize];
        model.push(m);
        provider.push(p);
        ts.push(start + (next() % span as u64) as i64);
        let i =
            if long && next() % 20 == 0 { 200_001 + (next() % 700_000) as i64 } else { 50 + (next() % 20_000) as i64 };
        input.push(i);
        cached.push(if next() % 10 < 4 { (next() % i as u64) as i64 } else { 0 });
        output.push(1 + (next() % 4000) as i64);
    }
    let model: ArrayRef = Arc::new(StringArray::from(model));
    let provider: ArrayRef = Arc::new(StringArray::from(provider));
    let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC"));
    let counts: Vec<(usize, ArrayRef, String)> = vec![
        (0, Arc::new(Int64Array::from(input)), "input_tokens".into()),
        (2, Arc::new(Int64Array::from(cached)), "cache_read_tokens".into()),
        (1, Arc::new(Int64Array::from(output)), "output_tokens".into()),
    ];
    let counts = counts.iter().map(|(u, a, n)| (*u, a, n.clone())).collect();
    let input = TableInput { provider: Some(&provider), timestamp: Some(&ts), ..TableInput::new(&model, counts) };
    // THREADS=1 (or 2): one setting only, e.g. under `perf stat`.
    let settings: Vec<usize> = match std::env::var("THREADS").ok().and_then(|v| v.parse().ok()) {
        Some(t) => vec![t],
        None => vec![1, 2],
    };
    for threads in settings {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let batch =
                price_table(&book, &input, &TableOptions { threads: Some(threads), ..Default::default() }).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(counts_of(&batch), (rows, 0));
        }
        println!("{rows} rows, {threads} thread(s): {best:.3} s ({:.1} M rows/s)", rows as f64 / best / 1e6);
    }
}
