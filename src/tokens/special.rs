//! Special tokens (`<|endoftext|>` and friends): finding them in text, and tiktoken's allowed/disallowed rules.

use aho_corasick::{AhoCorasick, Input, MatchKind};
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::tokens::vocab::Rank;

/// Which special tokens count as special when they appear in text.
#[derive(Clone, Copy, Debug)]
pub enum Allowed<'a> {
    /// None: special-looking text is ordinary text (the default for counting).
    None,
    /// Every special token of the encoding.
    All,
    /// Only these names; names the encoding does not have are ignored, as in tiktoken.
    Only(&'a [&'a str]),
}

/// An encoding's special tokens.
pub struct Specials {
    names: Vec<String>,
    ranks: Vec<Rank>,
    by_name: FxHashMap<String, usize>,
    by_rank: FxHashMap<Rank, usize>,
    matcher: Option<AhoCorasick>,
}

impl Specials {
    pub fn new(tokens: &[(String, Rank)]) -> Result<Specials> {
        let mut names = Vec::with_capacity(tokens.len());
        let mut ranks = Vec::with_capacity(tokens.len());
        let mut by_name = FxHashMap::default();
        let mut by_rank = FxHashMap::default();
        for (name, rank) in tokens {
            if name.is_empty() {
                return Err(Error::InvalidArgument("a special token may not be empty".into()));
            }
            if by_name.insert(name.clone(), names.len()).is_some() {
                return Err(Error::InvalidArgument(format!("special token {name:?} is given twice")));
            }
            // Two names may share a rank (o200k_harmony maps <|endofprompt|> and <|reserved_200018|> to 200018);
            // decoding returns the first name given.
            by_rank.entry(*rank).or_insert(names.len());
            names.push(name.clone());
            ranks.push(*rank);
        }
        let matcher = if names.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&names)
                    .map_err(|e| Error::InvalidArgument(format!("special tokens cannot be searched: {e}")))?,
            )
        };
        Ok(Specials { names, ranks, by_name, by_rank, matcher })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn rank(&self, name: &str) -> Option<Rank> {
        self.by_name.get(name).map(|i| self.ranks[*i])
    }

    pub fn bytes_of(&self, rank: Rank) -> Option<&[u8]> {
        self.by_rank.get(&rank).map(|i| self.names[*i].as_bytes())
    }

    pub fn max_rank(&self) -> Option<Rank> {
        self.ranks.iter().copied().max()
    }

    /// Whether pattern `index` is allowed.
    fn is_allowed(&self, index: usize, allowed: Allowed<'_>) -> bool {
        match allowed {
            Allowed::None => false,
            Allowed::All => true,
            Allowed::Only(list) => list.contains(&self.names[index].as_str()),
        }
    }

    /// The next allowed special token at or after `from`: (start, end, rank). Like tiktoken, a special token that
    /// is not allowed is skipped by searching again one byte after where it starts.
    pub fn next_allowed(&self, text: &str, from: usize, allowed: Allowed<'_>) -> Option<(usize, usize, Rank)> {
        if matches!(allowed, Allowed::None) {
            return None;
        }
        let matcher = self.matcher.as_ref()?;
        let mut at = from;
        while at <= text.len() {
            let m = matcher.find(Input::new(text).range(at..))?;
            let index = m.pattern().as_usize();
            if self.is_allowed(index, allowed) {
                return Some((m.start(), m.end(), self.ranks[index]));
            }
            at = m.start() + 1;
        }
        None
    }
}

/// The first occurrence in `text` of any of `tokens` (tiktoken's `disallowed_special` check): (token, byte offset).
/// Any strings may be given, also ones that are not special tokens of the encoding, as in tiktoken.
pub fn find_any(text: &str, tokens: &[&str]) -> Result<Option<(String, usize)>> {
    let tokens: Vec<&str> = tokens.iter().copied().filter(|t| !t.is_empty()).collect();
    if tokens.is_empty() {
        return Ok(None);
    }
    let matcher = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(&tokens)
        .map_err(|e| Error::InvalidArgument(format!("special tokens cannot be searched: {e}")))?;
    Ok(matcher.find(text).map(|m| (tokens[m.pattern().as_usize()].to_string(), m.start())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specials() -> Specials {
        Specials::new(&[("<|endoftext|>".into(), 100), ("<|end|>".into(), 101), ("<|fim|>".into(), 102)]).unwrap()
    }

    #[test]
    fn finds_only_allowed_tokens() {
        let s = specials();
        let text = "a<|end|>b<|endoftext|>c";
        assert_eq!(s.next_allowed(text, 0, Allowed::All), Some((1, 8, 101)));
        assert_eq!(s.next_allowed(text, 0, Allowed::Only(&["<|endoftext|>"])), Some((9, 22, 100)));
        assert_eq!(s.next_allowed(text, 0, Allowed::None), None);
        assert_eq!(s.next_allowed(text, 0, Allowed::Only(&["<|nope|>"])), None);
    }

    #[test]
    fn disallowed_check_reports_token_and_offset() {
        assert_eq!(find_any("hi <|fim|>", &["<|fim|>"]).unwrap(), Some(("<|fim|>".to_string(), 3)));
        assert_eq!(find_any("hi", &["<|fim|>"]).unwrap(), None);
        assert_eq!(find_any("hi", &[]).unwrap(), None);
    }

    #[test]
    fn rejects_duplicate_names() {
        let err = Specials::new(&[("<|a|>".into(), 1), ("<|a|>".into(), 2)]).err().unwrap();
        assert!(err.to_string().contains("given twice"));
    }
}
