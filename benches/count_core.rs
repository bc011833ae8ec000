//! Rust-level counting benchmark against tiktoken-rs (the Rust port of tiktoken's core) on the corpus that
//! `benches/corpus.py` builds. The Python benchmark (`benches/bench_count.py`) is the one against the real
//! competitor; this one isolates the core: `cargo bench --bench count_core`.

use std::time::Instant;

use tokenprice::tokens::{get_encoding, Allowed};

fn main() {
    let path = std::env::var("CORPUS").unwrap_or_else(|_| "benches/corpus/corpus.jsonl".into());
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("no corpus at {path}: run `python benches/corpus.py` first");
        return;
    };
    let docs: Vec<String> = text.lines().map(|l| serde_json::from_str::<String>(l).unwrap()).collect();
    let bytes: usize = docs.iter().map(|d| d.len()).sum();
    for (name, reference) in
        [("cl100k_base", tiktoken_rs::cl100k_base().unwrap()), ("o200k_base", tiktoken_rs::o200k_base().unwrap())]
    {
        let enc = get_encoding(name).unwrap();
        // Warm up (builds the vocabulary and fills caches as a long-running process would have them).
        let ours: Vec<usize> = docs.iter().map(|d| enc.count(d, Allowed::None).unwrap()).collect();
        let t = Instant::now();
        let ours2: Vec<usize> = docs.iter().map(|d| enc.count(d, Allowed::None).unwrap()).collect();
        let ours_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let theirs: Vec<usize> = docs.iter().map(|d| reference.encode_ordinary(d).len()).collect();
        let theirs_s = t.elapsed().as_secs_f64();
        let mismatches = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
        assert_eq!(ours, ours2);
        let t = Instant::now();
        let enc_ids: usize = docs.iter().map(|d| enc.encode(d, Allowed::None).unwrap().len()).sum();
        let enc_s = t.elapsed().as_secs_f64();
        println!(
            "{name}: tokenprice count {:.1} MB/s, encode {:.1} MB/s; tiktoken-rs {:.1} MB/s; ratio {:.1}x; {} of {} documents differ; tokens {}",
            bytes as f64 / ours_s / 1e6,
            bytes as f64 / enc_s / 1e6,
            bytes as f64 / theirs_s / 1e6,
            theirs_s / ours_s,
            mismatches,
            docs.len(),
            enc_ids
        );
    }
    let enc = get_encoding("cl100k_base").unwrap();
    for n in [100_000usize, 1_000_000, 10_000_000] {
        let s = "a".repeat(n);
        enc.count(&s, Allowed::None).unwrap();
        let t = Instant::now();
        let c = enc.count(&s, Allowed::None).unwrap();
        println!("{n} x 'a': {c} tokens in {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
    }
}
