//! A BPE vocabulary: token bytes by rank, and rank by token bytes.
//!
//! Ranks are token ids and also merge priorities (lower merges first), as in tiktoken's `.tiktoken` files.
//! Lookups by bytes go through a `hashbrown::HashTable` that stores only ranks; the bytes live once, contiguously.

use hashbrown::HashTable;

use crate::error::{Error, Result};

pub type Rank = u32;

/// A vocabulary of byte strings, each with a unique rank.
pub struct Vocab {
    bytes: Vec<u8>,
    /// `starts[r]..starts[r + 1]` are the bytes of rank `r`; an empty range marks a rank with no token.
    starts: Vec<u32>,
    table: HashTable<Rank>,
    byte_rank: [Rank; 256],
    len: usize,
}

/// A fast hash for short byte strings (token pieces are mostly under 16 bytes): overlapping 8- or 4-byte reads,
/// each folded through a 64x64 → 128-bit multiply.
#[inline(always)]
pub fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    #[inline(always)]
    fn mix(a: u64, b: u64) -> u64 {
        let m = (a as u128).wrapping_mul(b as u128);
        (m as u64) ^ ((m >> 64) as u64)
    }
    #[inline(always)]
    fn r64(b: &[u8], i: usize) -> u64 {
        u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
    }
    #[inline(always)]
    fn r32(b: &[u8], i: usize) -> u64 {
        u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as u64
    }
    let n = b.len();
    let seed = (n as u64).wrapping_mul(K) ^ 0x2d35_8dcc_aa6c_78a5;
    if n <= 16 {
        let (lo, hi) = if n >= 8 {
            (r64(b, 0), r64(b, n - 8))
        } else if n >= 4 {
            (r32(b, 0), r32(b, n - 4))
        } else if n > 0 {
            (((b[0] as u64) << 16) | ((b[n / 2] as u64) << 8) | b[n - 1] as u64, 0)
        } else {
            (0, 0)
        };
        mix(lo ^ seed, hi ^ K)
    } else {
        let mut h = seed;
        let mut i = 0;
        while i + 16 <= n {
            h = mix(r64(b, i) ^ h, r64(b, i + 8) ^ K);
            i += 16;
        }
        mix(r64(b, n - 16) ^ h, r64(b, n - 8) ^ K)
    }
}

impl Vocab {
    /// Builds a vocabulary from (rank, bytes) pairs. Every single byte must be a token (otherwise some text could
    /// not be encoded at all), ranks and byte strings must be unique, and no token may be empty.
    pub fn from_ranked<'a>(tokens: impl IntoIterator<Item = (Rank, &'a [u8])>, source: &str) -> Result<Vocab> {
        let bad = |what: String| Error::TokenizerFile { path: source.to_string(), what };
        let mut items: Vec<(Rank, &[u8])> = tokens.into_iter().collect();
        items.sort_unstable_by_key(|(r, _)| *r);
        let max_rank = items.last().map_or(0, |(r, _)| *r as usize);
        if max_rank > 16_000_000 {
            return Err(bad(format!("rank {max_rank} is implausibly large for a BPE vocabulary")));
        }
        let mut bytes = Vec::with_capacity(items.iter().map(|(_, b)| b.len()).sum());
        let mut starts = Vec::with_capacity(max_rank + 2);
        starts.push(0u32);
        let mut next_rank: usize = 0;
        for (i, (rank, token)) in items.iter().enumerate() {
            if i > 0 && items[i - 1].0 == *rank {
                return Err(bad(format!("rank {rank} is given twice")));
            }
            if token.is_empty() {
                return Err(bad(format!("rank {rank} has an empty token")));
            }
            while next_rank < *rank as usize {
                starts.push(bytes.len() as u32);
                next_rank += 1;
            }
            bytes.extend_from_slice(token);
            starts.push(bytes.len() as u32);
            next_rank += 1;
        }
        let mut table: HashTable<Rank> = HashTable::with_capacity(items.len());
        let mut byte_rank = [Rank::MAX; 256];
        for (rank, token) in &items {
            let hash = hash_bytes(token);
            if let Some(previous) = table.find(hash, |r| vocab_token(&bytes, &starts, *r) == *token) {
                let text = String::from_utf8_lossy(token);
                return Err(bad(format!("ranks {previous} and {rank} have the same bytes {text:?}")));
            }
            table.insert_unique(hash, *rank, |r| hash_bytes(vocab_token(&bytes, &starts, *r)));
            if token.len() == 1 {
                byte_rank[token[0] as usize] = *rank;
            }
        }
        let vocab = Vocab { bytes, starts, table, byte_rank, len: items.len() };
        if let Some(missing) = vocab.byte_rank.iter().position(|r| *r == Rank::MAX) {
            return Err(bad(format!("byte 0x{missing:02x} is not a token, so some text could not be encoded")));
        }
        Ok(vocab)
    }

    /// Reads the tables `build.rs` writes, deflated: each a little-endian `u32` count of rank slots, then per rank
    /// a one-byte length (0: no token at this rank; 255: a `u16` length follows) and the bytes. A vocabulary stored
    /// as the extension of another comes as two layers (the base's table, then one with only the ranks past it).
    pub fn from_embedded(layers: &[&[u8]], name: &str) -> Vocab {
        use std::io::Read;
        let raws: Vec<Vec<u8>> = layers
            .iter()
            .map(|blob| {
                let mut raw = Vec::with_capacity(blob.len() * 2);
                flate2::read::DeflateDecoder::new(*blob).read_to_end(&mut raw).expect("embedded vocabulary inflates");
                raw
            })
            .collect();
        let mut tokens = Vec::new();
        for raw in &raws {
            let count = u32::from_le_bytes(raw[0..4].try_into().unwrap());
            let mut i = 4;
            for rank in 0..count {
                let mut len = raw[i] as usize;
                i += 1;
                if len == 255 {
                    len = u16::from_le_bytes([raw[i], raw[i + 1]]) as usize;
                    i += 2;
                }
                if len > 0 {
                    tokens.push((rank, &raw[i..i + len]));
                }
                i += len;
            }
        }
        // The build step checked these vocabularies; a failure here is a build bug, not bad input.
        Vocab::from_ranked(tokens, name).expect("embedded vocabulary is valid")
    }

    /// Whether the ranks are exactly `0..len` (no gaps), as the linear-time encoder of the `bpe` crate needs.
    pub fn is_contiguous(&self) -> bool {
        self.len + 1 == self.starts.len()
    }

    /// Number of tokens (not counting gaps in the ranks).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One past the largest rank.
    pub fn rank_end(&self) -> Rank {
        (self.starts.len() - 1) as Rank
    }

    /// The bytes of a rank, or `None` for a rank outside the vocabulary.
    #[inline]
    pub fn token(&self, rank: Rank) -> Option<&[u8]> {
        let r = rank as usize;
        if r + 1 >= self.starts.len() {
            return None;
        }
        let (s, e) = (self.starts[r] as usize, self.starts[r + 1] as usize);
        if s == e {
            None
        } else {
            Some(&self.bytes[s..e])
        }
    }

    /// The rank of a byte string, if it is a token.
    #[inline(always)]
    pub fn rank(&self, piece: &[u8]) -> Option<Rank> {
        self.rank_hashed(piece, hash_bytes(piece))
    }

    /// [`Vocab::rank`] with the hash already computed by [`hash_bytes`].
    #[inline(always)]
    pub fn rank_hashed(&self, piece: &[u8], hash: u64) -> Option<Rank> {
        self.table.find(hash, |r| vocab_token(&self.bytes, &self.starts, *r) == piece).copied()
    }

    /// The rank of a single byte (every byte is a token).
    #[inline(always)]
    pub fn byte_rank(&self, b: u8) -> Rank {
        self.byte_rank[b as usize]
    }

    /// All tokens in rank order, as (rank, bytes).
    pub fn iter(&self) -> impl Iterator<Item = (Rank, &[u8])> + '_ {
        (0..self.rank_end()).filter_map(|r| self.token(r).map(|t| (r, t)))
    }
}

#[inline(always)]
fn vocab_token<'a>(bytes: &'a [u8], starts: &[u32], rank: Rank) -> &'a [u8] {
    &bytes[starts[rank as usize] as usize..starts[rank as usize + 1] as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_bytes() -> Vec<(Rank, Vec<u8>)> {
        (0..=255u8).map(|b| (b as Rank, vec![b])).collect()
    }

    #[test]
    fn lookups_both_ways() {
        let mut tokens = all_bytes();
        tokens.push((300, b"hello".to_vec()));
        let v = Vocab::from_ranked(tokens.iter().map(|(r, t)| (*r, t.as_slice())), "test").unwrap();
        assert_eq!(v.rank(b"hello"), Some(300));
        assert_eq!(v.rank(b"hell"), None);
        assert_eq!(v.token(300), Some(&b"hello"[..]));
        assert_eq!(v.token(299), None, "a gap in the ranks holds no token");
        assert_eq!(v.token(301), None);
        assert_eq!(v.byte_rank(b'a'), b'a' as Rank);
        assert_eq!(v.len(), 257);
        assert_eq!(v.rank_end(), 301);
    }

    #[test]
    fn rejects_bad_vocabularies() {
        let missing_byte: Vec<(Rank, Vec<u8>)> = (0..=254u8).map(|b| (b as Rank, vec![b])).collect();
        let err = Vocab::from_ranked(missing_byte.iter().map(|(r, t)| (*r, t.as_slice())), "v.tiktoken").err().unwrap();
        assert!(err.to_string().contains("byte 0xff is not a token"), "{err}");

        let mut dup = all_bytes();
        dup.push((256, b"a".to_vec()));
        let err = Vocab::from_ranked(dup.iter().map(|(r, t)| (*r, t.as_slice())), "v.tiktoken").err().unwrap();
        assert!(err.to_string().contains("same bytes"), "{err}");

        let mut twice = all_bytes();
        twice.push((5, b"xy".to_vec()));
        let err = Vocab::from_ranked(twice.iter().map(|(r, t)| (*r, t.as_slice())), "v.tiktoken").err().unwrap();
        assert!(err.to_string().contains("rank 5 is given twice"), "{err}");
    }

    #[test]
    fn hash_distinguishes_lengths_and_contents() {
        let samples: [&[u8]; 8] =
            [b"", b"a", b"ab", b"abc", b"abcd", b"abcdefgh", b"abcdefghijklmnopq", b"abcdefghijklmnopr"];
        let hashes: std::collections::HashSet<u64> = samples.iter().map(|s| hash_bytes(s)).collect();
        assert_eq!(hashes.len(), samples.len());
    }
}
