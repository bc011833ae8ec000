//! Byte-pair merging of one piece, with tiktoken's rule: repeatedly merge the adjacent pair whose concatenation
//! has the lowest rank, the leftmost one on ties, until no adjacent pair is a token.
//!
//! Three strategies give the same result at different lengths:
//! - [`merge`]: tiktoken's own scan, quadratic but fastest for the short pieces that make up most text;
//! - [`merge_heap`]: a priority queue over a linked list, O(n log n), for pieces over 128 bytes;
//! - for the built-in cl100k/o200k encodings, pieces over 32 KiB go to the linear-time backtracking encoder of the
//!   `bpe` crate, built from the vocabulary on first need (see `Encoding`): 1 MB of one character in milliseconds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::tokens::vocab::{Rank, Vocab};

/// Reusable buffers for [`merge`], so that merging does not allocate per piece.
#[derive(Default)]
pub struct MergeScratch {
    parts: Vec<(u32, Rank)>,
}

/// Runs the merge on `piece` (at least two bytes) and returns the start offsets of the resulting tokens followed by
/// `piece.len()` (with each pair's rank, as tiktoken keeps them), in `scratch`.
fn merge_parts<'s>(vocab: &Vocab, piece: &[u8], scratch: &'s mut MergeScratch) -> &'s [(u32, Rank)] {
    let parts = &mut scratch.parts;
    parts.clear();
    let n = piece.len();
    let mut min = (Rank::MAX, usize::MAX);
    for i in 0..n.saturating_sub(1) {
        let rank = vocab.rank(&piece[i..i + 2]).unwrap_or(Rank::MAX);
        if rank < min.0 {
            min = (rank, i);
        }
        parts.push((i as u32, rank));
    }
    parts.push(((n - 1) as u32, Rank::MAX));
    parts.push((n as u32, Rank::MAX));

    // The rank of parts i and i+1 merged, i.e. of piece[parts[i].0 .. parts[i + 2].0].
    let pair_rank = |parts: &[(u32, Rank)], i: usize| -> Rank {
        if i + 3 < parts.len() {
            vocab.rank(&piece[parts[i].0 as usize..parts[i + 3].0 as usize]).unwrap_or(Rank::MAX)
        } else {
            Rank::MAX
        }
    };
    while min.0 != Rank::MAX {
        let i = min.1;
        // Parts i and i+1 merge: the pair ranks of i-1 and i change, and part i+1 disappears.
        if i > 0 {
            parts[i - 1].1 = pair_rank(parts, i - 1);
        }
        parts[i].1 = pair_rank(parts, i);
        parts.remove(i + 1);
        min = (Rank::MAX, usize::MAX);
        for (j, &(_, rank)) in parts[..parts.len() - 1].iter().enumerate() {
            if rank < min.0 {
                min = (rank, j);
            }
        }
    }
    &scratch.parts
}

/// Merges `piece` and calls `emit` with each resulting rank, in order.
pub fn merge(vocab: &Vocab, piece: &[u8], scratch: &mut MergeScratch, mut emit: impl FnMut(Rank)) {
    if piece.len() == 1 {
        emit(vocab.byte_rank(piece[0]));
        return;
    }
    let parts = merge_parts(vocab, piece, scratch);
    for w in parts.windows(2) {
        let token = &piece[w[0].0 as usize..w[1].0 as usize];
        emit(vocab.rank(token).expect("merged parts are tokens"));
    }
}

/// The number of tokens [`merge`] would emit.
pub fn merge_count(vocab: &Vocab, piece: &[u8], scratch: &mut MergeScratch) -> usize {
    if piece.len() <= 1 {
        return piece.len();
    }
    merge_parts(vocab, piece, scratch).len() - 1
}

/// The same merge as [`merge`], in O(n log n): a min-heap of (pair rank, start) over a linked list of parts.
/// A part's start offset never changes, so (rank, start) orders ties leftmost-first exactly as tiktoken does.
pub fn merge_heap(vocab: &Vocab, piece: &[u8], mut emit: impl FnMut(Rank)) {
    let n = piece.len();
    if n <= 1 {
        if n == 1 {
            emit(vocab.byte_rank(piece[0]));
        }
        return;
    }
    const NONE: u32 = u32::MAX;
    // Per initial byte position: end of the part starting there, next/previous live part, current pair rank.
    let mut end: Vec<u32> = (1..=n as u32).collect();
    let mut next: Vec<u32> = (1..=n as u32).map(|i| if i as usize == n { NONE } else { i }).collect();
    let mut prev: Vec<u32> = (0..n as u32).map(|i| if i == 0 { NONE } else { i - 1 }).collect();
    let mut pair: Vec<Rank> = vec![Rank::MAX; n];
    let mut heap = BinaryHeap::with_capacity(n);
    for i in 0..n - 1 {
        if let Some(rank) = vocab.rank(&piece[i..i + 2]) {
            pair[i] = rank;
            heap.push(Reverse(((rank as u64) << 32) | i as u64));
        }
    }
    while let Some(Reverse(key)) = heap.pop() {
        let (rank, i) = ((key >> 32) as Rank, (key & 0xffff_ffff) as usize);
        // Stale entry: the part is gone or its pair changed. Equal rank means equal bytes, so equal pair.
        if pair[i] != rank {
            continue;
        }
        let j = next[i] as usize;
        end[i] = end[j];
        next[i] = next[j];
        pair[j] = Rank::MAX;
        if next[i] != NONE {
            prev[next[i] as usize] = i as u32;
            let k = next[i] as usize;
            pair[i] = vocab.rank(&piece[i..end[k] as usize]).unwrap_or(Rank::MAX);
        } else {
            pair[i] = Rank::MAX;
        }
        if pair[i] != Rank::MAX {
            heap.push(Reverse(((pair[i] as u64) << 32) | i as u64));
        }
        if prev[i] != NONE {
            let p = prev[i] as usize;
            pair[p] = vocab.rank(&piece[p..end[i] as usize]).unwrap_or(Rank::MAX);
            if pair[p] != Rank::MAX {
                heap.push(Reverse(((pair[p] as u64) << 32) | p as u64));
            }
        }
    }
    let mut i = 0usize;
    while i < n {
        emit(vocab.rank(&piece[i..end[i] as usize]).expect("merged parts are tokens"));
        i = end[i] as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny vocabulary where ties and non-canonical merges matter.
    fn vocab() -> Vocab {
        let mut tokens: Vec<(Rank, Vec<u8>)> = (0..=255u8).map(|b| (b as Rank, vec![b])).collect();
        for (i, t) in ["aa", "ab", "bc", "aaaa", "abc", "aab", "bca", "cab"].iter().enumerate() {
            tokens.push((256 + i as Rank, t.as_bytes().to_vec()));
        }
        Vocab::from_ranked(tokens.iter().map(|(r, t)| (*r, t.as_slice())), "test").unwrap()
    }

    fn by_scan(v: &Vocab, piece: &[u8]) -> Vec<Rank> {
        let mut out = Vec::new();
        merge(v, piece, &mut MergeScratch::default(), |r| out.push(r));
        out
    }

    fn by_heap(v: &Vocab, piece: &[u8]) -> Vec<Rank> {
        let mut out = Vec::new();
        merge_heap(v, piece, |r| out.push(r));
        out
    }

    #[test]
    fn leftmost_lowest_rank_merges_first() {
        let v = vocab();
        // "aaa": the two "aa" pairs tie; the left one merges, leaving "aa" + "a".
        assert_eq!(by_scan(&v, b"aaa"), vec![256, b'a' as Rank]);
        // "aaaaa": "aa","aa","a" then "aaaa" + "a".
        assert_eq!(by_scan(&v, b"aaaaa"), vec![259, b'a' as Rank]);
        // "abc": "ab" (257) beats "bc" (258); then "ab"+"c" = "abc" (260).
        assert_eq!(by_scan(&v, b"abc"), vec![260]);
        assert_eq!(merge_count(&v, b"abcabc", &mut MergeScratch::default()), by_scan(&v, b"abcabc").len());
    }

    #[test]
    fn heap_and_scan_agree() {
        let v = vocab();
        let alphabet = b"abc";
        let mut state: u64 = 12345;
        for len in 1..60 {
            for _ in 0..50 {
                let piece: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        alphabet[(state >> 33) as usize % 3]
                    })
                    .collect();
                assert_eq!(by_scan(&v, &piece), by_heap(&v, &piece), "piece {:?}", String::from_utf8_lossy(&piece));
            }
        }
    }
}
