//! An `Encoding`: split pattern + vocabulary + special tokens, with encode, decode and fast counting.
//!
//! Counting avoids work three ways: most pieces are a whole token (one hash lookup); pieces repeat, so each
//! thread keeps a small direct-mapped cache of piece → count; and long pieces skip the quadratic merge (an
//! O(n log n) heap merge, and for very long pieces of r50k/cl100k/o200k a linear-time encoder built on first need).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use ::bpe::byte_pair_encoding::BytePairEncoding;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::fork::PerProcess;
use crate::tokens::bpe::{self, MergeScratch};
use crate::tokens::special::{Allowed, Disallowed, Specials};
use crate::tokens::split::Split;
use crate::tokens::vocab::{hash_bytes, Rank, Vocab};

/// Pieces longer than this skip the quadratic merge for the O(n log n) heap merge.
const LONG_PIECE: usize = 128;
/// Pieces longer than this go to the linear-time backtracking encoder where the encoding has one (r50k, cl100k, o200k):
/// building it takes 0.5–2 s, so it is built the first time such a piece is seen; the heap merge takes a few
/// milliseconds below this length.
const HUGE_PIECE: usize = 32 << 10;
/// Pieces up to this length are remembered in the per-thread direct-mapped cache.
const CACHED_PIECE: usize = 24;
const CACHE_SLOTS: usize = 1 << 13;
/// Longer pieces (up to [`LONG_PIECE`]) go to a hash map that is emptied when it reaches this size.
const LONG_CACHE_LIMIT: usize = 1 << 15;

/// The vocabulary and merge machinery, shared by encodings that differ only in special tokens.
pub struct BpeCore {
    pub vocab: Vocab,
    /// For vocabularies the `bpe` crate is known to take (r50k/cl100k/o200k): the hash factor that keeps its token
    /// hashes free of collisions, and its linear-time encoder (same ranks), built from `vocab` on first need.
    backtrack_hash: Option<u64>,
    /// Built once per process on first need (seconds for o200k, so threads of one process wait for one builder);
    /// a forked child builds its own rather than wait for a build its parent's other thread was running.
    backtrack: PerProcess<OnceLock<BytePairEncoding>>,
}

impl BpeCore {
    pub fn new(vocab: Vocab, backtrack_hash: Option<u64>) -> BpeCore {
        let backtrack_hash = backtrack_hash.filter(|_| vocab.is_contiguous());
        BpeCore { vocab, backtrack_hash, backtrack: PerProcess::new(OnceLock::new) }
    }

    /// The linear-time encoder, for a piece of `len` bytes, if this core has one and the piece is long enough to
    /// need it.
    fn backtracking(&self, len: usize) -> Option<&BytePairEncoding> {
        let hash = self.backtrack_hash.filter(|_| len > HUGE_PIECE)?;
        Some(self.backtrack.get().get_or_init(|| {
            let tokens = (0..self.vocab.rank_end()).map(|r| self.vocab.token(r).unwrap_or_default().to_vec());
            BytePairEncoding::from_dictionary(tokens, Some(hash))
        }))
    }

    /// Ranks of a piece that is not a single token.
    fn encode_piece(&self, piece: &[u8], scratch: &mut MergeScratch, out: &mut Vec<Rank>) {
        if piece.len() <= LONG_PIECE {
            bpe::merge(&self.vocab, piece, scratch, |r| out.push(r));
        } else if let Some(bpe) = self.backtracking(piece.len()) {
            out.extend(bpe.encode_via_backtracking(piece));
        } else {
            bpe::merge_heap(&self.vocab, piece, |r| out.push(r));
        }
    }

    /// Token count of a piece that is not a single token.
    fn count_piece(&self, piece: &[u8], scratch: &mut MergeScratch) -> usize {
        if piece.len() <= LONG_PIECE {
            bpe::merge_count(&self.vocab, piece, scratch)
        } else if let Some(bpe) = self.backtracking(piece.len()) {
            bpe.count(piece)
        } else {
            let mut n = 0;
            bpe::merge_heap(&self.vocab, piece, |_| n += 1);
            n
        }
    }
}

#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Slot {
    key: [u64; 3],
    len: u32,
    count: u32,
}

/// Per-thread memory of recent pieces and their token counts.
struct PieceCache {
    slots: Box<[Slot]>,
    long: FxHashMap<Box<[u8]>, u32>,
    scratch: MergeScratch,
}

impl PieceCache {
    fn new() -> PieceCache {
        // len = u32::MAX marks an empty slot (no piece has that length).
        let empty = Slot { len: u32::MAX, ..Slot::default() };
        PieceCache {
            slots: vec![empty; CACHE_SLOTS].into_boxed_slice(),
            long: FxHashMap::default(),
            scratch: MergeScratch::default(),
        }
    }
}

#[inline(always)]
fn pack_key(piece: &[u8]) -> [u64; 3] {
    let mut buf = [0u8; 24];
    buf[..piece.len()].copy_from_slice(piece);
    [
        u64::from_le_bytes(buf[0..8].try_into().unwrap()),
        u64::from_le_bytes(buf[8..16].try_into().unwrap()),
        u64::from_le_bytes(buf[16..24].try_into().unwrap()),
    ]
}

/// How many encodings' piece caches one thread keeps (the built-in encodings number 7); the least recently used
/// goes first.
const CACHES_PER_THREAD: usize = 8;

thread_local! {
    /// This thread's piece caches, by encoding id, most recently used first. std's thread-local storage takes no
    /// lock, whereas the `thread_local` crate's registry of thread ids takes a process-wide mutex when a thread
    /// first uses it and when it exits: a child forked while another thread held that mutex would wait forever
    /// in its first count.
    static PIECE_CACHES: RefCell<Vec<(u64, PieceCache)>> = const { RefCell::new(Vec::new()) };
}

/// Ids of encodings, never reused: a cache left by a dropped encoding is never found by another.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A text encoding, like tiktoken's `Encoding`.
pub struct Encoding {
    name: String,
    core: Arc<BpeCore>,
    split: Split,
    specials: Specials,
    /// The key of this encoding's per-thread piece caches.
    id: u64,
}

impl std::fmt::Debug for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoding").field("name", &self.name).field("n_vocab", &self.n_vocab()).finish()
    }
}

impl Encoding {
    pub fn new(name: &str, core: Arc<BpeCore>, split: Split, specials: &[(String, Rank)]) -> Result<Encoding> {
        let specials = Specials::new(specials)?;
        Ok(Encoding { name: name.to_string(), core, split, specials, id: NEXT_ID.fetch_add(1, Ordering::Relaxed) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pattern(&self) -> &str {
        self.split.pattern()
    }

    pub fn split(&self) -> &Split {
        &self.split
    }

    pub fn vocab(&self) -> &Vocab {
        &self.core.vocab
    }

    pub fn specials(&self) -> &Specials {
        &self.specials
    }

    /// One past the largest token id, special tokens included (tiktoken's `n_vocab`).
    pub fn n_vocab(&self) -> u32 {
        let ordinary = self.core.vocab.rank_end();
        self.specials.max_rank().map_or(ordinary, |m| ordinary.max(m + 1))
    }

    pub fn special_token_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.specials.names().map(str::to_string).collect();
        names.sort();
        names
    }

    pub fn special_token_rank(&self, name: &str) -> Option<Rank> {
        self.specials.rank(name)
    }

    /// Runs `f` with this thread's piece cache of this encoding. A re-entrant call on the same thread (not
    /// possible through the public API), or one during the thread's exit, gets a fresh cache.
    fn with_cache<R>(&self, f: impl FnOnce(&mut PieceCache) -> R) -> R {
        let mut f = Some(f);
        let done = PIECE_CACHES.try_with(|caches| {
            let Ok(mut caches) = caches.try_borrow_mut() else { return None };
            match caches.iter().position(|(id, _)| *id == self.id) {
                Some(0) => {}
                Some(at) => caches[..=at].rotate_right(1),
                None => {
                    caches.truncate(CACHES_PER_THREAD - 1);
                    caches.insert(0, (self.id, PieceCache::new()));
                }
            }
            f.take().map(|f| f(&mut caches[0].1))
        });
        match (done, f) {
            (Ok(Some(r)), _) => r,
            (_, Some(f)) => f(&mut PieceCache::new()),
            (_, None) => unreachable!("the cache closure ran f and returned its result"),
        }
    }

    /// Token count of one piece, through the cache.
    #[inline(always)]
    fn piece_count(&self, cache: &mut PieceCache, piece: &[u8]) -> usize {
        let vocab = &self.core.vocab;
        if piece.len() <= CACHED_PIECE {
            let hash = hash_bytes(piece);
            let key = pack_key(piece);
            let slot = &mut cache.slots[(hash >> 40) as usize & (CACHE_SLOTS - 1)];
            if slot.len == piece.len() as u32 && slot.key == key {
                return slot.count as usize;
            }
            let count = if vocab.rank_hashed(piece, hash).is_some() {
                1
            } else {
                self.core.count_piece(piece, &mut cache.scratch)
            };
            *slot = Slot { key, len: piece.len() as u32, count: count as u32 };
            count
        } else {
            if vocab.rank(piece).is_some() {
                return 1;
            }
            if piece.len() > LONG_PIECE {
                return self.core.count_piece(piece, &mut cache.scratch);
            }
            if let Some(&n) = cache.long.get(piece) {
                return n as usize;
            }
            let n = self.core.count_piece(piece, &mut cache.scratch);
            if cache.long.len() >= LONG_CACHE_LIMIT {
                cache.long.clear();
            }
            cache.long.insert(piece.into(), n as u32);
            n
        }
    }

    /// Calls `f` with each ordinary segment of `text` and, between them, each allowed special token's rank.
    fn segments<'t>(&self, text: &'t str, allowed: Allowed<'_>, mut f: impl FnMut(Segment<'t>) -> bool) {
        let mut start = 0;
        loop {
            let next = self.specials.next_allowed(text, start, allowed);
            let end = next.map_or(text.len(), |(s, _, _)| s);
            if end > start && !f(Segment::Text(&text[start..end])) {
                return;
            }
            match next {
                Some((_, e, rank)) => {
                    if !f(Segment::Special(rank)) {
                        return;
                    }
                    start = e;
                }
                None => return,
            }
        }
    }

    /// Counts the tokens of `text`; special-token text counts as ordinary text unless `allowed` says otherwise.
    pub fn count(&self, text: &str, allowed: Allowed<'_>) -> Result<usize> {
        self.with_cache(|cache| {
            let mut total = 0usize;
            let mut result = Ok(());
            self.segments(text, allowed, |segment| match segment {
                Segment::Special(_) => {
                    total += 1;
                    true
                }
                Segment::Text(t) => {
                    result = self.split.for_each_piece(t, |piece| {
                        total += self.piece_count(cache, piece);
                        true
                    });
                    result.is_ok()
                }
            });
            result.map(|_| total)
        })
    }

    /// Counts the pieces from `start` (where a piece begins) up to `stop` (where one must begin), splitting with
    /// the whole `text` in view so that look-ahead sees what follows `stop`. Used to count one text on many threads.
    pub(crate) fn count_span(
        &self,
        text: &str,
        start: usize,
        stop: usize,
        piece_end: fn(&[u8], usize) -> usize,
    ) -> usize {
        self.with_cache(|cache| {
            let t = text.as_bytes();
            let (mut i, mut total) = (start, 0);
            while i < stop {
                let end = piece_end(t, i);
                total += self.piece_count(cache, &t[i..end]);
                i = end;
            }
            debug_assert_eq!(i, stop, "span ends where a piece begins");
            total
        })
    }

    /// Counts the pieces of `text` that begin before `stop` (a place where a piece begins), with the whole text in
    /// view: unlike counting `&text[..stop]`, the end of the slice is not taken for the end of the text.
    pub(crate) fn count_until(&self, text: &str, stop: usize) -> Result<usize> {
        self.with_cache(|cache| {
            let (mut pos, mut total) = (0, 0);
            self.split.for_each_piece(text, |piece| {
                if pos >= stop {
                    return false;
                }
                pos += piece.len();
                total += self.piece_count(cache, piece);
                true
            })?;
            Ok(total)
        })
    }

    /// Counts tokens until more than `limit` are seen: `Some(count)` if the text fits in `limit` tokens, `None`
    /// otherwise. Stops reading at the first piece that goes over, so it is cheap on long texts.
    pub fn count_till_limit(&self, text: &str, limit: usize, allowed: Allowed<'_>) -> Result<Option<usize>> {
        self.with_cache(|cache| {
            let mut total = 0usize;
            let mut result = Ok(());
            self.segments(text, allowed, |segment| {
                match segment {
                    Segment::Special(_) => total += 1,
                    Segment::Text(t) => {
                        result = self.split.for_each_piece(t, |piece| {
                            total += self.piece_count(cache, piece);
                            total <= limit
                        });
                    }
                }
                result.is_ok() && total <= limit
            });
            result.map(|_| (total <= limit).then_some(total))
        })
    }

    /// Encodes `text`, treating the `allowed` special tokens as special and everything else as ordinary text.
    /// (tiktoken's `disallowed_special` check is in [`Encoding::encode_checked`].)
    pub fn encode(&self, text: &str, allowed: Allowed<'_>) -> Result<Vec<Rank>> {
        self.with_cache(|cache| {
            let mut out = Vec::with_capacity(text.len() / 3 + 1);
            let mut result = Ok(());
            self.segments(text, allowed, |segment| match segment {
                Segment::Special(rank) => {
                    out.push(rank);
                    true
                }
                Segment::Text(t) => {
                    result = self.split.for_each_piece(t, |piece| {
                        match self.core.vocab.rank(piece) {
                            Some(rank) => out.push(rank),
                            None => self.core.encode_piece(piece, &mut cache.scratch, &mut out),
                        }
                        true
                    });
                    result.is_ok()
                }
            });
            result.map(|_| out)
        })
    }

    /// tiktoken's `Encoding.encode`: fails on `disallowed` special-token text, then encodes with the `allowed`
    /// special tokens as special. Text without the tokens' common prefix (`<|`) costs one memchr-speed scan.
    pub fn encode_checked(&self, text: &str, allowed: Allowed<'_>, disallowed: Disallowed<'_>) -> Result<Vec<Rank>> {
        if let Some((token, offset)) = self.specials.find_disallowed(text, allowed, disallowed)? {
            return Err(Error::DisallowedSpecialToken { token, offset });
        }
        self.encode(text, allowed)
    }

    /// The bytes of a single token (ordinary or special).
    pub fn token_bytes(&self, rank: Rank) -> Result<&[u8]> {
        self.core.vocab.token(rank).or_else(|| self.specials.bytes_of(rank)).ok_or_else(|| Error::InvalidTokenId {
            id: rank as u64,
            encoding: self.name.clone(),
            max: self.core.vocab.rank_end(),
        })
    }

    /// Concatenated bytes of `tokens` (which may split a UTF-8 character; callers decide how to show that).
    pub fn decode_bytes(&self, tokens: &[u64]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(tokens.len() * 4);
        for &t in tokens {
            let rank = Rank::try_from(t).map_err(|_| Error::InvalidTokenId {
                id: t,
                encoding: self.name.clone(),
                max: self.core.vocab.rank_end(),
            })?;
            out.extend_from_slice(self.token_bytes(rank)?);
        }
        Ok(out)
    }
}

enum Segment<'t> {
    Text(&'t str),
    Special(Rank),
}
