//! Build step: turns the published BPE vocabularies and the Unicode classes the OpenAI split patterns use into
//! compact binary tables in `OUT_DIR`, which `src/tokens/` embeds with `include_bytes!`.
//!
//! - Vocabularies come from the `tiktoken-rs` crate (which ships OpenAI's `.tiktoken` files): each rank's bytes are
//!   read back through its decoder, checked (ranks contiguous, tokens unique, all 256 single bytes present) and
//!   written as `u32 rank, u16 length, bytes` per token.
//! - Character classes come from `regex-syntax`, the same Unicode tables that the regex engines behind tiktoken
//!   use, so `\p{L}`, `\p{N}`, `\s`, ... mean exactly what they mean in the split patterns.

use std::collections::HashSet;
use std::env;
use std::fs;
use std::io::Write;
use std::path::Path;

use regex_syntax::hir::{Class, HirKind};

// The price-file schema, shared with the crate so that the files are checked by the same code that reads them.
#[allow(dead_code)]
#[path = "src/prices/calendar.rs"]
mod calendar;
#[allow(dead_code)]
#[path = "src/prices/schema.rs"]
mod schema;
#[allow(dead_code)]
#[path = "src/prices/units.rs"]
mod units;

/// Bit flags per code point; the same constants are declared in `src/tokens/classes.rs`.
const LETTER: u8 = 1;
const NUMBER: u8 = 2;
const SPACE: u8 = 4;
const UPPERISH: u8 = 8; // Lu | Lt | Lm | Lo | M  (o200k's first letter class)
const LOWERISH: u8 = 16; // Ll | Lm | Lo | M      (o200k's second letter class)
const MARK: u8 = 32;

fn class_ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::Parser::new().parse(pattern).expect("class pattern parses");
    match hir.kind() {
        HirKind::Class(Class::Unicode(cls)) => {
            cls.ranges().iter().map(|r| (r.start() as u32, r.end() as u32)).collect()
        }
        other => panic!("pattern {pattern} is not a Unicode class: {other:?}"),
    }
}

fn write_class_table(out_dir: &Path) {
    let mut flags = vec![0u8; 0x110000];
    let classes: [(&str, u8); 6] = [
        (r"\p{L}", LETTER),
        (r"\p{N}", NUMBER),
        (r"\s", SPACE),
        (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", UPPERISH),
        (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", LOWERISH),
        (r"\p{M}", MARK),
    ];
    for (pattern, bit) in classes {
        for (start, end) in class_ranges(pattern) {
            for cp in start..=end {
                flags[cp as usize] |= bit;
            }
        }
    }
    // Two-stage table: stage 1 maps cp >> 8 to a block number, stage 2 holds the distinct 256-entry blocks.
    let mut blocks: Vec<&[u8]> = Vec::new();
    let mut stage1: Vec<u8> = Vec::new();
    for chunk in flags.chunks(256) {
        let index = match blocks.iter().position(|b| *b == chunk) {
            Some(i) => i,
            None => {
                blocks.push(chunk);
                blocks.len() - 1
            }
        };
        // The tables of this Unicode version need far fewer than 65536 blocks; two bytes, little-endian.
        let index = u16::try_from(index).expect("fewer than 65536 distinct class blocks");
        stage1.extend_from_slice(&index.to_le_bytes());
    }
    let stage2: Vec<u8> = blocks.concat();
    fs::write(out_dir.join("class_stage1.bin"), stage1).unwrap();
    fs::write(out_dir.join("class_stage2.bin"), stage2).unwrap();
}

/// Writes one vocabulary; with `base`, only the ranks past the base's (whose ranks it must repeat exactly), so
/// p50k_base is stored as r50k_base plus its 24 whitespace tokens. Returns the whole table.
fn write_vocab(
    out_dir: &Path,
    name: &str,
    bpe: &tiktoken_rs::CoreBPE,
    base: Option<&[Option<Vec<u8>>]>,
) -> Vec<Option<Vec<u8>>> {
    let specials: HashSet<u32> = bpe
        .special_tokens()
        .iter()
        .map(|s| {
            let ids = bpe.encode_with_special_tokens(s);
            assert_eq!(ids.len(), 1, "{name}: special token {s} is one id");
            ids[0]
        })
        .collect();
    // Ranks are not contiguous around the special tokens (p50k_base has ordinary tokens 50257..50280 above
    // <|endoftext|> = 50256), so every rank is tried until a long run of unused ones.
    let mut tokens: Vec<Option<Vec<u8>>> = Vec::new();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let (mut rank, mut misses) = (0u32, 0u32);
    while misses < 10_000 {
        let bytes = if specials.contains(&rank) { None } else { bpe.decode_bytes(&[rank]).ok() };
        match bytes {
            Some(bytes) => {
                misses = 0;
                assert!(!bytes.is_empty(), "{name}: rank {rank} is empty");
                assert!(seen.insert(bytes.clone()), "{name}: rank {rank} repeats an earlier token");
                tokens.resize(rank as usize, None);
                tokens.push(Some(bytes));
            }
            None => misses += 1,
        }
        rank += 1;
    }
    for b in 0..=255u8 {
        assert!(seen.contains(&vec![b]), "{name}: single byte {b} is not a token; BPE could not encode it");
    }
    // Compact form (read by `Vocab::from_embedded`): a u32 count of rank slots, then per rank a one-byte length
    // (0: no token at this rank; 255: a u16 length follows) and the bytes; the whole deflated. Ranks are implicit.
    let inherited = base.map_or(0, |base| {
        assert!(tokens.len() >= base.len() && tokens[..base.len()] == *base, "{name}: does not extend its base");
        base.len()
    });
    let mut raw = Vec::with_capacity(seen.iter().map(|t| t.len() + 1).sum::<usize>() + 4);
    raw.extend_from_slice(&(tokens.len() as u32).to_le_bytes());
    for (rank, token) in tokens.iter().enumerate() {
        let bytes = if rank < inherited { &[][..] } else { token.as_deref().unwrap_or_default() };
        if bytes.len() < 255 {
            raw.push(bytes.len() as u8);
        } else {
            raw.push(255);
            raw.extend_from_slice(&u16::try_from(bytes.len()).expect("token shorter than 64 KiB").to_le_bytes());
        }
        raw.extend_from_slice(bytes);
    }
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflate.write_all(&raw).unwrap();
    fs::write(out_dir.join(format!("{name}.vocab")), deflate.finish().unwrap()).unwrap();
    tokens
}

/// Validates every `prices/*.toml` and embeds them as one JSON array, deflated. A broken file fails the build with the
/// file, line and field.
fn write_prices(out_dir: &Path) {
    println!("cargo:rerun-if-changed=prices");
    let mut paths: Vec<_> = fs::read_dir("prices")
        .expect("prices/ exists")
        .map(|e| e.expect("readable prices/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut values = Vec::new();
    let mut defs = Vec::new();
    for path in &paths {
        let origin = path.display().to_string();
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{origin}: {e}"));
        let value: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{origin}: not valid TOML: {e}"));
        let json = serde_json::to_value(&value).expect("TOML converts to JSON");
        let def =
            schema::provider_from_value(&json, &origin).unwrap_or_else(|e| panic!("{}", schema::locate(&e, &text)));
        // Every entry of the repository's book says where it came from (hand, genai-prices, LiteLLM).
        if let Some(e) = schema::missing_origin(&def) {
            panic!("{}", schema::locate(&e, &text));
        }
        let stem = path.file_stem().unwrap().to_string_lossy();
        assert_eq!(def.id, stem, "{origin}: the file name must be the provider id ({:?})", def.id);
        defs.push(def);
        values.push(json);
    }
    schema::check_book(&defs).unwrap_or_else(|e| panic!("{e}"));
    // Deflated (786 KB of JSON → under 100 KB); the default book inflates it once, on first use.
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflate.write_all(serde_json::to_string(&values).unwrap().as_bytes()).unwrap();
    fs::write(out_dir.join("prices.json.deflate"), deflate.finish().unwrap()).unwrap();
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/prices/schema.rs");
    println!("cargo:rerun-if-changed=src/prices/units.rs");
    let out_dir_var = env::var("OUT_DIR").unwrap();
    let out_dir = Path::new(&out_dir_var);
    write_class_table(out_dir);
    write_prices(out_dir);
    // p50k_edit and o200k_harmony share p50k_base's and o200k_base's ranks; only their special tokens differ.
    let r50k = write_vocab(out_dir, "r50k_base", &tiktoken_rs::r50k_base().unwrap(), None);
    write_vocab(out_dir, "p50k_base", &tiktoken_rs::p50k_base().unwrap(), Some(&r50k));
    write_vocab(out_dir, "cl100k_base", &tiktoken_rs::cl100k_base().unwrap(), None);
    write_vocab(out_dir, "o200k_base", &tiktoken_rs::o200k_base().unwrap(), None);
}
