//! Special tokens (`<|endoftext|>` and friends): finding them in text, and tiktoken's allowed/disallowed rules.

use std::sync::{Arc, Mutex};

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

/// tiktoken's `disallowed_special`: special-token text that makes `encode` fail.
#[derive(Clone, Copy, Debug)]
pub enum Disallowed<'a> {
    /// `"all"` (the default): every special token of the encoding that is not allowed.
    NotAllowed,
    /// These strings (any strings, as in tiktoken); empty disables the check.
    Only(&'a [&'a str]),
}

/// Finds the first of a set of strings in text. Built once per set: building costs far more than searching.
pub struct Finder {
    tokens: Vec<String>,
    /// The bytes every token starts with (`<|` for the built-in encodings): text without them holds no token, and
    /// a memchr-speed search says so without touching the automaton.
    prefix: Vec<u8>,
    matcher: AhoCorasick,
}

impl Finder {
    /// `None` when there is nothing to find (no non-empty token).
    pub fn new<S: AsRef<str>>(tokens: &[S]) -> Result<Option<Finder>> {
        let tokens: Vec<String> =
            tokens.iter().map(|t| t.as_ref()).filter(|t| !t.is_empty()).map(String::from).collect();
        let Some(first) = tokens.first() else { return Ok(None) };
        let mut prefix = first.as_bytes().to_vec();
        for t in &tokens[1..] {
            let common = prefix.iter().zip(t.as_bytes()).take_while(|(a, b)| a == b).count();
            prefix.truncate(common);
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&tokens)
            .map_err(|e| Error::InvalidArgument(format!("special tokens cannot be searched: {e}")))?;
        Ok(Some(Finder { tokens, prefix, matcher }))
    }

    /// The first token in `text` (leftmost; the earliest given on ties) and its byte offset.
    pub fn find(&self, text: &str) -> Option<(&str, usize)> {
        if !self.prefix.is_empty() && memchr::memmem::find(text.as_bytes(), &self.prefix).is_none() {
            return None;
        }
        self.matcher.find(text).map(|m| (self.tokens[m.pattern().as_usize()].as_str(), m.start()))
    }
}

/// Finders kept per disallowed set; a set callers keep using is built once.
const FINDER_CACHE: usize = 64;

/// An encoding's special tokens.
pub struct Specials {
    names: Vec<String>,
    ranks: Vec<Rank>,
    by_name: FxHashMap<String, usize>,
    by_rank: FxHashMap<Rank, usize>,
    /// All the names, in order (the default `disallowed_special` set and the search for allowed ones).
    all: Option<Finder>,
    /// Finders for other disallowed sets. Only ever `try_lock`ed: a busy or poisoned lock (another thread, or a
    /// lock held across `fork()`) builds a finder without caching it instead of waiting.
    finders: Mutex<FxHashMap<Vec<String>, Arc<Finder>>>,
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
        let all = Finder::new(&names)?;
        Ok(Specials { names, ranks, by_name, by_rank, all, finders: Mutex::new(FxHashMap::default()) })
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
        let matcher = &self.all.as_ref()?.matcher;
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

    /// tiktoken's `disallowed_special` check: the first disallowed special-token text in `text`, as
    /// (token, byte offset). The default set's finder is built with the encoding, others once per set.
    pub fn find_disallowed(
        &self,
        text: &str,
        allowed: Allowed<'_>,
        disallowed: Disallowed<'_>,
    ) -> Result<Option<(String, usize)>> {
        let found = |f: &Finder| f.find(text).map(|(t, at)| (t.to_string(), at));
        match (disallowed, allowed) {
            (Disallowed::Only([]), _) | (Disallowed::NotAllowed, Allowed::All) => Ok(None),
            (Disallowed::NotAllowed, Allowed::None) => Ok(self.all.as_ref().and_then(found)),
            (Disallowed::NotAllowed, Allowed::Only(a)) => {
                let set: Vec<String> = self.names().filter(|n| !a.contains(n)).map(String::from).collect();
                Ok(self.finder(set)?.as_deref().and_then(found))
            }
            (Disallowed::Only(list), _) => {
                Ok(self.finder(list.iter().map(|t| t.to_string()).collect())?.as_deref().and_then(found))
            }
        }
    }

    /// The finder of `set`, from the cache when it can be had without waiting.
    fn finder(&self, set: Vec<String>) -> Result<Option<Arc<Finder>>> {
        let mut cache = self.finders.try_lock().ok();
        if let Some(f) = cache.as_ref().and_then(|c| c.get(&set)) {
            return Ok(Some(f.clone()));
        }
        let Some(finder) = Finder::new(&set)?.map(Arc::new) else { return Ok(None) };
        if let Some(cache) = cache.as_mut() {
            if cache.len() >= FINDER_CACHE {
                cache.clear();
            }
            cache.insert(set, finder.clone());
        }
        Ok(Some(finder))
    }
}

/// The first occurrence in `text` of any of `tokens` (tiktoken's `disallowed_special` check): (token, byte offset).
/// Any strings may be given, also ones that are not special tokens of the encoding, as in tiktoken.
pub fn find_any(text: &str, tokens: &[&str]) -> Result<Option<(String, usize)>> {
    Ok(Finder::new(tokens)?.and_then(|f| f.find(text).map(|(t, at)| (t.to_string(), at))))
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
