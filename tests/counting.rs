//! Counting against the reference: tiktoken-rs (the Rust port of tiktoken's core, same vocabularies and patterns)
//! on texts chosen to hit every branch of the split patterns, plus the invariants of batch, parallel and streaming
//! counting. The Python suite repeats the parity check against the tiktoken package itself.

use std::sync::Arc;

use proptest::prelude::*;
use tokenprice::tokens::{get_encoding, Allowed, Disallowed, Encoding, StreamCounter, Tokenizer};

/// tiktoken-rs's encodings take ~0.1 s each to build: build each once.
fn reference(name: &str) -> &'static tiktoken_rs::CoreBPE {
    use std::sync::OnceLock;
    static CELLS: [OnceLock<tiktoken_rs::CoreBPE>; 6] = [const { OnceLock::new() }; 6];
    let i = NAMES.iter().position(|n| *n == name).unwrap();
    CELLS[i].get_or_init(|| build_reference(name))
}

fn build_reference(name: &str) -> tiktoken_rs::CoreBPE {
    match name {
        "r50k_base" => tiktoken_rs::r50k_base(),
        "p50k_base" => tiktoken_rs::p50k_base(),
        "p50k_edit" => tiktoken_rs::p50k_edit(),
        "cl100k_base" => tiktoken_rs::cl100k_base(),
        "o200k_base" => tiktoken_rs::o200k_base(),
        "o200k_harmony" => tiktoken_rs::o200k_harmony(),
        _ => unreachable!(),
    }
    .unwrap()
}

const NAMES: [&str; 6] = ["r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony"];

fn samples() -> Vec<String> {
    let mut v: Vec<String> = [
        "Hello, world! It's a test.\n\nNew paragraph   with  spaces\t\ttabs",
        "fn main() {\n    let x = vec![1, 2, 3];\n    println!(\"{:?}\", x);\n}\n",
        "def f(a, b):\n\treturn a/b  # comment\r\n",
        "中文字符测试，日本語のテキスト、한국어 텍스트입니다.",
        "emoji 😀😀 👩‍👩‍👧 flags 🇫🇷🇩🇪 ✨",
        "e\u{301}\u{301} combining \u{301}a \u{300}\u{301}\u{302}",
        "1234567890 ١٢٣٤٥ ½¼ 3.14159",
        "                                                                   many spaces",
        "\n\n\n\n\n\n\n\n\n\n   \n\t\n",
        "don't won't I'LL we've THEY'RE she'd",
        "<|endoftext|> looks special but is text",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("多".repeat(500));
    v.push("ab".repeat(3000));
    v.push("!@#$%^&*()".repeat(100));
    v.push(" ".repeat(1000) + "x");
    v
}

#[test]
fn ids_and_counts_match_tiktoken_on_tricky_text() {
    for name in NAMES {
        let ours = get_encoding(name).unwrap();
        let theirs = reference(name);
        for text in samples() {
            let expected: Vec<u32> = theirs.encode_ordinary(&text);
            assert_eq!(ours.encode(&text, Allowed::None).unwrap(), expected, "{name}: {text:?}");
            assert_eq!(ours.count(&text, Allowed::None).unwrap(), expected.len(), "{name}: {text:?}");
            let ids: Vec<u64> = expected.iter().map(|r| *r as u64).collect();
            assert_eq!(ours.decode_bytes(&ids).unwrap(), text.as_bytes());
        }
    }
}

/// Every rank of every built-in vocabulary (p50k_base is stored as r50k_base plus its extra ranks) decodes to
/// tiktoken-rs's bytes, and no rank is a token in one and not the other.
#[test]
fn every_rank_decodes_as_tiktoken() {
    for name in NAMES {
        let ours = get_encoding(name).unwrap();
        let theirs = reference(name);
        let specials: Vec<u64> =
            ours.special_token_names().iter().map(|n| ours.special_token_rank(n).unwrap() as u64).collect();
        let mut tokens = 0;
        for rank in 0..ours.n_vocab() + 1000 {
            let rank = u64::from(rank);
            if specials.contains(&rank) {
                continue;
            }
            let mine = ours.vocab().token(rank as u32).map(<[u8]>::to_vec);
            let reference = theirs.decode_bytes(&[rank as u32]).ok();
            assert_eq!(mine, reference, "{name}: rank {rank}");
            tokens += usize::from(mine.is_some());
        }
        assert_eq!(tokens, ours.vocab().len(), "{name}");
    }
}

#[test]
fn special_tokens_follow_tiktoken() {
    let text = "a<|endoftext|>b<|fim_prefix|>c";
    for name in NAMES {
        let ours = get_encoding(name).unwrap();
        let theirs = reference(name);
        let expected = theirs.encode_with_special_tokens(text);
        assert_eq!(ours.encode(text, Allowed::All).unwrap(), expected, "{name}");
        assert_eq!(ours.count(text, Allowed::All).unwrap(), expected.len(), "{name}");
        // Ordinary: special-looking text is plain text.
        assert_eq!(ours.count(text, Allowed::None).unwrap(), theirs.encode_ordinary(text).len(), "{name}");
    }
    let o200k = get_encoding("o200k_base").unwrap();
    let err = o200k.encode_checked("x <|endoftext|>", Allowed::None, Disallowed::Only(&["<|endoftext|>"])).unwrap_err();
    assert!(err.to_string().contains("<|endoftext|>") && err.to_string().contains("byte 2"), "{err}");
    // The default ("all" not allowed), with one token allowed, and a set of any strings, as tiktoken.
    let err = o200k.encode_checked("a <|endofprompt|>", Allowed::None, Disallowed::NotAllowed).unwrap_err();
    assert!(err.to_string().contains("<|endofprompt|>"), "{err}");
    let allowed = Allowed::Only(&["<|endoftext|>"]);
    assert_eq!(o200k.encode_checked("a<|endoftext|>", allowed, Disallowed::NotAllowed).unwrap(), vec![64, 199999]);
    let err = o200k.encode_checked("<|endoftext|><|endofprompt|>", allowed, Disallowed::NotAllowed).unwrap_err();
    assert!(err.to_string().contains("<|endofprompt|>") && err.to_string().contains("byte 13"), "{err}");
    for _ in 0..2 {
        let err = o200k.encode_checked("ab XY", Allowed::None, Disallowed::Only(&["XY", "Z"])).unwrap_err();
        assert!(err.to_string().contains("XY") && err.to_string().contains("byte 3"), "{err}");
    }
    assert!(o200k.encode_checked("<|endoftext|>", Allowed::None, Disallowed::Only(&[])).is_ok());
    assert!(o200k.encode_checked("<|endoftext|>", Allowed::All, Disallowed::NotAllowed).is_ok());
}

#[test]
fn count_till_limit_stops_at_the_limit() {
    let enc = get_encoding("cl100k_base").unwrap();
    let text = "one two three four five";
    let n = enc.count(text, Allowed::None).unwrap();
    assert_eq!(enc.count_till_limit(text, n, Allowed::None).unwrap(), Some(n));
    assert_eq!(enc.count_till_limit(text, n - 1, Allowed::None).unwrap(), None);
    assert_eq!(enc.count_till_limit("", 0, Allowed::None).unwrap(), Some(0));
}

fn big_text() -> String {
    let mut s = String::new();
    for (i, sample) in samples().iter().cycle().take(3000).enumerate() {
        s.push_str(sample);
        s.push_str(&format!("\nline {i} Ünïcödé text\n"));
    }
    s
}

#[test]
fn parallel_and_batch_counts_equal_sequential() {
    let text = big_text();
    assert!(text.len() > 1 << 20);
    for name in ["cl100k_base", "o200k_base", "r50k_base"] {
        let enc = get_encoding(name).unwrap();
        let seq = enc.count(&text, Allowed::None).unwrap();
        let tok = Tokenizer::Bpe(enc.clone());
        assert_eq!(tok.count(&text, Allowed::None, Some(4)).unwrap(), seq, "{name} parallel");
        let docs: Vec<Option<&str>> = text.split("line 7").map(Some).chain([None]).collect();
        let batch = tok.count_batch(&docs, Allowed::None, Some(3)).unwrap();
        let expected: Vec<Option<usize>> =
            docs.iter().map(|d| d.map(|d| enc.count(d, Allowed::None).unwrap())).collect();
        assert_eq!(batch, expected);
    }
}

fn stream_count(enc: &Arc<Encoding>, bytes: &[u8], feed: usize, block: usize) -> u64 {
    let mut s = StreamCounter::new(enc.clone(), "test", false, Some(2)).with_block_size(block);
    for chunk in bytes.chunks(feed.max(1)) {
        s.feed(chunk).unwrap();
    }
    s.finish().unwrap()
}

#[test]
fn streaming_equals_whole_text() {
    let text = big_text();
    for name in ["cl100k_base", "o200k_base", "p50k_base"] {
        let enc = get_encoding(name).unwrap();
        let whole = enc.count(&text, Allowed::None).unwrap() as u64;
        for (feed, block) in [(1 << 20, 1 << 18), (7777, 5000), (3, 64)] {
            assert_eq!(
                stream_count(&enc, &text.as_bytes()[..200_000.min(text.len())], feed, block),
                enc.count(&text[..200_000], Allowed::None).unwrap() as u64,
                "{name} feed {feed} block {block} prefix"
            );
            if feed > 100 {
                assert_eq!(stream_count(&enc, text.as_bytes(), feed, block), whole, "{name} feed {feed} block {block}");
            }
        }
    }
}

#[test]
fn streaming_reports_or_replaces_invalid_utf8() {
    let enc = get_encoding("cl100k_base").unwrap();
    let mut bytes = b"hello world ".repeat(10);
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b" more text");
    let mut s = StreamCounter::new(enc.clone(), "f.txt", false, None).with_block_size(16);
    let err = bytes.chunks(5).try_for_each(|c| s.feed(c)).and_then(|_| s.finish().map(|_| ()));
    let err = err.unwrap_err().to_string();
    assert_eq!(err, "f.txt: invalid UTF-8 at byte 120");
    let mut s = StreamCounter::new(enc.clone(), "f.txt", true, None).with_block_size(16);
    bytes.chunks(5).for_each(|c| s.feed(c).unwrap());
    let replaced = String::from_utf8_lossy(&bytes).into_owned();
    assert_eq!(s.finish().unwrap(), enc.count(&replaced, Allowed::None).unwrap() as u64);
}

#[test]
fn a_file_is_counted_in_blocks_and_a_missing_one_is_named() {
    let enc = get_encoding("o200k_base").unwrap();
    let dir = std::env::temp_dir().join(format!("tokenprice-count-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Longer than one read (1 MiB), with a character cut by the read boundary and invalid bytes at the end.
    let mut bytes = "héllo wörld, ünïcode ".repeat(60_000).into_bytes();
    bytes.extend_from_slice(&[b' ', 0xff]);
    let path = dir.join("text.txt");
    std::fs::write(&path, &bytes).unwrap();
    let replaced = String::from_utf8_lossy(&bytes).into_owned();
    let counted = StreamCounter::count_path(enc.clone(), &path, true, Some(2)).unwrap();
    assert_eq!(counted, enc.count(&replaced, Allowed::None).unwrap() as u64);
    let strict = StreamCounter::count_path(enc.clone(), &path, false, None).unwrap_err().to_string();
    assert!(strict.contains("text.txt") && strict.contains(&format!("byte {}", bytes.len() - 1)), "{strict}");
    let missing = dir.join("missing.txt");
    let err = StreamCounter::count_path(enc.clone(), &missing, false, None).unwrap_err();
    assert!(matches!(&err, tokenprice::Error::Io { path, .. } if path.ends_with("missing.txt")), "{err}");
    let err = StreamCounter::count_path(enc, &dir, false, None).unwrap_err();
    assert!(matches!(&err, tokenprice::Error::Io { .. }), "a folder: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]
    #[test]
    fn streaming_equals_whole_on_random_text(text in "(\\PC|\\s|[a-z \n']){0,400}", feed in 1usize..50, block in 1usize..80) {
        for name in ["cl100k_base", "o200k_base", "r50k_base"] {
            let enc = get_encoding(name).unwrap();
            let whole = enc.count(&text, Allowed::None).unwrap() as u64;
            prop_assert_eq!(stream_count(&enc, text.as_bytes(), feed, block), whole);
        }
    }

    #[test]
    fn counts_match_tiktoken_on_random_text(text in "(\\PC|\\s|[a-zA-Z0-9 \n'!.]){0,200}") {
        for name in ["cl100k_base", "o200k_base", "r50k_base"] {
            let ours = get_encoding(name).unwrap();
            let theirs = reference(name);
            prop_assert_eq!(ours.encode(&text, Allowed::None).unwrap(), theirs.encode_ordinary(&text));
        }
    }
}

/// Pieces past 32 KiB go to the linear-time encoder built from the vocabulary on first need (cl100k, o200k); it
/// must give the ids of the O(n log n) heap merge (itself pinned to tiktoken on shorter pieces), up to 1 MB.
#[test]
fn huge_pieces_equal_the_heap_merge() {
    let mut state: u64 = 7;
    let mut random = |alphabet: &[u8], n: usize| -> String {
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                alphabet[(state >> 33) as usize % alphabet.len()] as char
            })
            .collect()
    };
    let texts = [
        "a".repeat(1 << 20),
        " ".repeat(1 << 20) + "x",
        random(b"abcdefghijklmnopqrstuvwxyz", 200_000),
        random(b"!@#$%^&*()[]{};:,.<>?/|~`-_=+", 200_000),
    ];
    // r50k_base (and gpt2) take the linear-time encoder too; p50k_base (ranks with a gap) takes the heap merge.
    for name in ["cl100k_base", "o200k_base", "r50k_base", "p50k_base"] {
        let enc = get_encoding(name).unwrap();
        for text in &texts {
            let mut expected = Vec::new();
            enc.split()
                .for_each_piece(text, |piece| {
                    match enc.vocab().rank(piece) {
                        Some(r) => expected.push(r),
                        None => tokenprice::tokens::bpe::merge_heap(enc.vocab(), piece, |r| expected.push(r)),
                    }
                    true
                })
                .unwrap();
            assert_eq!(enc.encode(text, Allowed::None).unwrap(), expected, "{name}: {:?}", &text[..10]);
            assert_eq!(enc.count(text, Allowed::None).unwrap(), expected.len(), "{name}: {:?}", &text[..10]);
        }
    }
}
