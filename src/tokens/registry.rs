//! The built-in encodings, by name, built once on first use from the vocabularies embedded at build time.
//!
//! Special tokens and patterns follow tiktoken 0.14's `tiktoken_ext/openai_public.py`
//! (<https://github.com/openai/tiktoken/blob/main/tiktoken_ext/openai_public.py>).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fork::RaceCell;
use crate::tokens::encoding::{BpeCore, Encoding};
use crate::tokens::split::Split;
use crate::tokens::vocab::{Rank, Vocab};

/// Names accepted by [`get_encoding`], in the order tiktoken lists them.
pub const ENCODING_NAMES: [&str; 7] =
    ["gpt2", "r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony"];

const ENDOFTEXT: &str = "<|endoftext|>";
const FIM_PREFIX: &str = "<|fim_prefix|>";
const FIM_MIDDLE: &str = "<|fim_middle|>";
const FIM_SUFFIX: &str = "<|fim_suffix|>";
const ENDOFPROMPT: &str = "<|endofprompt|>";

static R50K: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/r50k_base.vocab"));
/// Only the ranks p50k_base adds to r50k_base (build.rs checks that it repeats all of r50k_base's).
static P50K_TAIL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/p50k_base.vocab"));
static CL100K: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.vocab"));
static O200K: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.vocab"));

/// The hash factor that keeps the `bpe` crate's token hashes free of collisions for r50k/cl100k/o200k (the one
/// bpe-openai uses for cl100k/o200k; checked for r50k_base's 50,256 tokens too). p50k_base gets no linear-time
/// encoder: its ranks have a gap (50256, `<|endoftext|>`, between r50k's tokens and its own), and the `bpe` crate
/// numbers tokens by position.
const BPE_HASH_FACTOR: u64 = 17_846_336_922_010_275_747;

fn core(cell: &'static RaceCell<Arc<BpeCore>>, layers: &[&[u8]], name: &str, hash: Option<u64>) -> Arc<BpeCore> {
    cell.get_or_init(|| Arc::new(BpeCore::new(Vocab::from_embedded(layers, name), hash))).clone()
}

fn r50k_core() -> Arc<BpeCore> {
    static CELL: RaceCell<Arc<BpeCore>> = RaceCell::new();
    core(&CELL, &[R50K], "r50k_base", Some(BPE_HASH_FACTOR))
}

fn p50k_core() -> Arc<BpeCore> {
    static CELL: RaceCell<Arc<BpeCore>> = RaceCell::new();
    core(&CELL, &[R50K, P50K_TAIL], "p50k_base", None)
}

fn cl100k_core() -> Arc<BpeCore> {
    static CELL: RaceCell<Arc<BpeCore>> = RaceCell::new();
    core(&CELL, &[CL100K], "cl100k_base", Some(BPE_HASH_FACTOR))
}

fn o200k_core() -> Arc<BpeCore> {
    static CELL: RaceCell<Arc<BpeCore>> = RaceCell::new();
    core(&CELL, &[O200K], "o200k_base", Some(BPE_HASH_FACTOR))
}

fn specials(list: &[(&str, Rank)]) -> Vec<(String, Rank)> {
    list.iter().map(|(n, r)| (n.to_string(), *r)).collect()
}

fn build(name: &str) -> Encoding {
    let (core, split, specials) = match name {
        "gpt2" | "r50k_base" => (r50k_core(), Split::Gpt2, specials(&[(ENDOFTEXT, 50256)])),
        "p50k_base" => (p50k_core(), Split::Gpt2, specials(&[(ENDOFTEXT, 50256)])),
        "p50k_edit" => (
            p50k_core(),
            Split::Gpt2,
            specials(&[(ENDOFTEXT, 50256), (FIM_PREFIX, 50281), (FIM_MIDDLE, 50282), (FIM_SUFFIX, 50283)]),
        ),
        "cl100k_base" => (
            cl100k_core(),
            Split::Cl100k,
            specials(&[
                (ENDOFTEXT, 100257),
                (FIM_PREFIX, 100258),
                (FIM_MIDDLE, 100259),
                (FIM_SUFFIX, 100260),
                (ENDOFPROMPT, 100276),
            ]),
        ),
        "o200k_base" => (o200k_core(), Split::O200k, specials(&[(ENDOFTEXT, 199999), (ENDOFPROMPT, 200018)])),
        "o200k_harmony" => (o200k_core(), Split::O200k, harmony_specials()),
        _ => unreachable!("build() is only called with names from ENCODING_NAMES"),
    };
    Encoding::new(name, core, split, &specials).expect("built-in special tokens are valid")
}

/// o200k_harmony (gpt-oss): o200k_base's tokens, its two special tokens, and the harmony chat-format tokens.
fn harmony_specials() -> Vec<(String, Rank)> {
    let mut list = specials(&[
        (ENDOFTEXT, 199999),
        (ENDOFPROMPT, 200018),
        ("<|startoftext|>", 199998),
        ("<|reserved_200000|>", 200000),
        ("<|reserved_200001|>", 200001),
        ("<|return|>", 200002),
        ("<|constrain|>", 200003),
        ("<|reserved_200004|>", 200004),
        ("<|channel|>", 200005),
        ("<|start|>", 200006),
        ("<|end|>", 200007),
        ("<|message|>", 200008),
        ("<|reserved_200009|>", 200009),
        ("<|reserved_200010|>", 200010),
        ("<|reserved_200011|>", 200011),
        ("<|call|>", 200012),
    ]);
    list.extend((200013..201088).map(|i| (format!("<|reserved_{i}|>"), i)));
    list
}

/// A built-in encoding by name (`cl100k_base`, `o200k_base`, ...), built on first use and shared afterwards.
pub fn get_encoding(name: &str) -> Result<Arc<Encoding>> {
    // Race cells, not `OnceLock`s: a child forked while another thread builds an encoding builds its own instead
    // of waiting forever for a thread it does not have (two threads of one process may both build one, once).
    static CELLS: [RaceCell<Arc<Encoding>>; 7] = [const { RaceCell::new() }; 7];
    let index = ENCODING_NAMES.iter().position(|n| *n == name).ok_or_else(|| Error::UnknownEncoding {
        name: name.to_string(),
        known: ENCODING_NAMES.iter().map(|s| s.to_string()).collect(),
    })?;
    Ok(CELLS[index].get_or_init(|| Arc::new(build(name))).clone())
}
