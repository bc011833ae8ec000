//! Tokenizers loaded from files, offline: tiktoken-format rank files (Llama 3 and other tiktoken-style models)
//! and Hugging Face `tokenizer.json` files.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;

use crate::error::{Error, Result};
use crate::tokens::encoding::{BpeCore, Encoding};
use crate::tokens::split::Split;
use crate::tokens::vocab::{Rank, Vocab};

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })
}

/// Parses tiktoken's rank-file format: one `base64(token) rank` per line; blank lines are ignored.
pub fn parse_tiktoken_ranks(data: &[u8], source: &str) -> Result<Vec<(Rank, Vec<u8>)>> {
    let text = std::str::from_utf8(data).map_err(|e| Error::TokenizerFile {
        path: source.to_string(),
        what: format!("not UTF-8 text (byte {}); expected lines of `base64-token rank`", e.valid_up_to()),
    })?;
    let mut tokens = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |what: String| Error::TokenizerFile { path: format!("{source}:{}", i + 1), what };
        let mut parts = line.split_whitespace();
        let (Some(token), Some(rank), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad(format!("expected `base64-token rank`, found {line:?}")));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(token)
            .map_err(|e| bad(format!("token {token:?} is not base64: {e}")))?;
        let rank: Rank = rank.parse().map_err(|_| bad(format!("rank {rank:?} is not a non-negative integer")))?;
        tokens.push((rank, bytes));
    }
    if tokens.is_empty() {
        return Err(Error::TokenizerFile { path: source.to_string(), what: "holds no tokens".into() });
    }
    Ok(tokens)
}

/// An encoding from tiktoken-format ranks, a split pattern and special tokens.
pub fn encoding_from_ranks(
    name: &str,
    ranks: &[(Rank, Vec<u8>)],
    pattern: &str,
    specials: &[(String, Rank)],
    source: &str,
) -> Result<Encoding> {
    let vocab = Vocab::from_ranked(ranks.iter().map(|(r, t)| (*r, t.as_slice())), source)?;
    for (name_, rank) in specials {
        if vocab.token(*rank).is_some() {
            return Err(Error::TokenizerFile {
                path: source.to_string(),
                what: format!("special token {name_:?} has rank {rank}, which an ordinary token already has"),
            });
        }
    }
    let split = Split::from_pattern(pattern)?;
    Encoding::new(name, Arc::new(BpeCore::new(vocab, None)), split, specials)
}

/// Loads a tiktoken-format rank file (as Llama 3 ships `tokenizer.model`).
pub fn load_tiktoken_file(path: &Path, name: &str, pattern: &str, specials: &[(String, Rank)]) -> Result<Encoding> {
    let source = path.display().to_string();
    let ranks = parse_tiktoken_ranks(&read(path)?, &source)?;
    encoding_from_ranks(name, &ranks, pattern, specials, &source)
}

/// A Hugging Face tokenizer, from a `tokenizer.json`.
pub struct HfTokenizer {
    name: String,
    json: String,
    inner: tokenizers::Tokenizer,
}

impl HfTokenizer {
    pub fn from_json(name: &str, json: String, source: &str) -> Result<HfTokenizer> {
        let inner: tokenizers::Tokenizer = json.parse().map_err(|e| Error::TokenizerFile {
            path: source.to_string(),
            what: format!("not a Hugging Face tokenizer.json: {e}"),
        })?;
        Ok(HfTokenizer { name: name.to_string(), json, inner })
    }

    pub fn from_file(path: &Path, name: Option<&str>) -> Result<HfTokenizer> {
        let source = path.display().to_string();
        let json = String::from_utf8(read(path)?).map_err(|e| Error::TokenizerFile {
            path: source.clone(),
            what: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        })?;
        let default_name = path
            .parent()
            .and_then(|p| p.file_name())
            .map_or_else(|| source.clone(), |n| n.to_string_lossy().into_owned());
        HfTokenizer::from_json(name.unwrap_or(&default_name), json, &source)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tokenizer.json text (what pickling ships to worker processes).
    pub fn json(&self) -> &str {
        &self.json
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Token ids of `text`, without the template's added special tokens (BOS/EOS), as a count of the text itself.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::InvalidArgument(format!("{}: cannot encode: {e}", self.name)))?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn count(&self, text: &str) -> Result<usize> {
        Ok(self.encode(text)?.len())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let size = self.vocab_size() as u32;
        if let Some(bad) = ids.iter().find(|id| **id >= size) {
            return Err(Error::InvalidTokenId { id: *bad as u64, encoding: self.name.clone(), max: size });
        }
        self.inner.decode(ids, false).map_err(|e| Error::InvalidArgument(format!("{}: cannot decode: {e}", self.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank_file(extra: &[&str]) -> String {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let mut lines: Vec<String> = (0..=255u8).map(|b| format!("{} {}", b64(&[b]), b)).collect();
        for (i, t) in extra.iter().enumerate() {
            lines.push(format!("{} {}", b64(t.as_bytes()), 256 + i));
        }
        lines.join("\n")
    }

    #[test]
    fn loads_a_rank_file_and_encodes_with_it() {
        let data = rank_file(&["he", "ll", "hell", "hello", " w", "or", " wor", " world"]);
        let ranks = parse_tiktoken_ranks(data.as_bytes(), "mini.tiktoken").unwrap();
        let specials = vec![("<|eot|>".to_string(), 1000)];
        let enc = encoding_from_ranks("mini", &ranks, crate::tokens::split::CL100K_PATTERN, &specials, "mini.tiktoken")
            .unwrap();
        assert_eq!(enc.encode("hello world", crate::tokens::Allowed::None).unwrap(), vec![259, 263]);
        assert_eq!(enc.encode("hello<|eot|>", crate::tokens::Allowed::All).unwrap(), vec![259, 1000]);
        assert_eq!(enc.n_vocab(), 1001);
    }

    #[test]
    fn rank_file_errors_name_the_line() {
        let mut data = rank_file(&[]);
        data.push_str("\nnot-base64!! 300");
        let err = parse_tiktoken_ranks(data.as_bytes(), "bad.tiktoken").unwrap_err();
        assert!(err.to_string().starts_with("bad.tiktoken:257: token"), "{err}");
        let err = parse_tiktoken_ranks(b"YQ== x", "bad.tiktoken").unwrap_err();
        assert!(err.to_string().contains("rank \"x\""), "{err}");
        let err = parse_tiktoken_ranks(b"", "empty.tiktoken").unwrap_err();
        assert!(err.to_string().contains("holds no tokens"), "{err}");
    }

    #[test]
    fn special_rank_colliding_with_a_token_is_rejected() {
        let data = rank_file(&[]);
        let ranks = parse_tiktoken_ranks(data.as_bytes(), "x").unwrap();
        let err = encoding_from_ranks("x", &ranks, crate::tokens::split::GPT2_PATTERN, &[("<|s|>".into(), 5)], "x")
            .unwrap_err();
        assert!(err.to_string().contains("already has"), "{err}");
    }

    #[test]
    fn bad_tokenizer_json_is_reported() {
        let err = HfTokenizer::from_json("x", "{\"not\": 1}".into(), "tok.json").err().unwrap();
        assert!(err.to_string().starts_with("tok.json: not a Hugging Face tokenizer.json"), "{err}");
    }
}
