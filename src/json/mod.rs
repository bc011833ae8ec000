//! A lazy view of JSON text for usage extraction: an object is parsed one level deep into (key, raw value) pairs
//! that borrow the text, and a value is only parsed when a reader asks for it. Response bodies are mostly message
//! text the extractor never needs; skipping it unparsed is what makes extraction fast. Numbers are read from their
//! own text, so a reported cost such as `0.0018345` becomes an exact decimal without passing through a float.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// A JSON value not yet parsed: its exact text, which the scanner checked is one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Raw<'a>(&'a str);

impl<'a> Raw<'a> {
    pub fn get(&self) -> &'a str {
        self.0
    }
}

impl<'a> From<&Raw<'a>> for Raw<'a> {
    fn from(r: &Raw<'a>) -> Raw<'a> {
        *r
    }
}

impl<'a> From<&&Raw<'a>> for Raw<'a> {
    fn from(r: &&Raw<'a>) -> Raw<'a> {
        **r
    }
}

/// Malformed JSON: what was expected, and the byte offset where it was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Nesting deeper than this is rejected (an error, never a stack overflow: skipping is iterative).
const MAX_DEPTH: usize = 512;

fn bad(what: &str, at: usize) -> JsonError {
    JsonError(format!("{what} at byte {at}"))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Bytes looked at in one step for the end of a short string: 16 with SSE2 (part of every x86-64), 8 (a `u64`)
/// elsewhere.
#[cfg(target_arch = "x86_64")]
const WORD: usize = 16;
#[cfg(not(target_arch = "x86_64"))]
const WORD: usize = 8;

/// The first `"` or `\\` in `w` (`WORD` bytes).
#[cfg(target_arch = "x86_64")]
#[inline]
fn word_hit(w: &[u8; WORD]) -> Option<usize> {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    // SAFETY: SSE2 is part of the x86-64 baseline; `w` is 16 bytes (its type says), read unaligned.
    let mask = unsafe {
        let v = _mm_loadu_si128(w.as_ptr().cast());
        let hits =
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)), _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)));
        _mm_movemask_epi8(hits) as u32
    };
    (mask != 0).then(|| mask.trailing_zeros() as usize)
}

/// The first `"` or `\\` in `w` (`WORD` bytes).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn word_hit(w: &[u8; WORD]) -> Option<usize> {
    word_hit_u64(w)
}

/// The first `"` or `\\` in `w` (8 bytes), with the bytes of a `u64`: a byte of `x` is zero ⇔ its high bit is set
/// in `zero(x)` (exact for the lowest such byte, which is the one used).
#[cfg(any(not(target_arch = "x86_64"), test))]
#[inline]
fn word_hit_u64(w: &[u8; 8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let x = u64::from_le_bytes(*w);
    let hit = zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\')));
    (hit != 0).then(|| (hit.trailing_zeros() / 8) as usize)
}

/// The end (one past the closing quote) of the string starting at `b[i] == '"'`: the scan jumps from quote or
/// backslash to the next (vectorized), which is what makes long message texts cheap to pass over.
fn string_end(b: &[u8], i: usize) -> Result<usize, JsonError> {
    string_scan(b, i).map(|(end, _)| end)
}

/// [`string_end`], and whether the string holds an escape.
///
/// A string whose first two [`WORD`]s hold its closing quote and no backslash (keys, most values) ends there.
/// Others are read 64 bytes at a time: masks of their quotes and backslashes, the characters escaped by an odd run
/// of backslashes worked out from the masks ([`escaped_positions`]), and the first quote not escaped ends the
/// string — one step per 64 bytes however many escapes (JSON held in a string, such as Cloudflare's `metadata`,
/// escapes every few bytes). A block with neither hands over to `memchr2`, which is faster on long texts.
#[inline]
fn string_scan(b: &[u8], i: usize) -> Result<(usize, bool), JsonError> {
    let mut j = i + 1;
    for k in [j, j + WORD] {
        let Some(w) = b.get(k..k + WORD) else { break };
        if let Some(p) = word_hit(w.try_into().map_err(|_| bad("unterminated string", i))?) {
            if b[k + p] == b'"' {
                return Ok((k + p + 1, false));
            }
            break;
        }
    }
    let mut odd_run = 0u64;
    let mut escaped = false;
    while j < b.len() {
        let (quotes, backslashes) = match b.get(j..j + 64) {
            Some(w) => block_masks(w.try_into().map_err(|_| bad("unterminated string", i))?),
            None => {
                let mut pad = [0u8; 64];
                pad[..b.len() - j].copy_from_slice(&b[j..]);
                block_masks(&pad)
            }
        };
        let ends = quotes & !escaped_positions(backslashes, &mut odd_run);
        if ends != 0 {
            let p = ends.trailing_zeros();
            let before = backslashes & ((1u64 << p) - 1);
            return Ok((j + p as usize + 1, escaped || before != 0));
        }
        escaped |= backslashes != 0;
        j += 64;
        if backslashes == 0 && odd_run == 0 && j < b.len() {
            // Nothing to carry over: on to the next quote or backslash, wherever it is.
            match memchr::memchr2(b'"', b'\\', &b[j..]) {
                Some(k) => j += k,
                None => break,
            }
        }
    }
    Err(bad("unterminated string", i))
}

/// The quotes and backslashes of 64 bytes, as bit masks (bit k for byte k).
#[inline]
fn block_masks(w: &[u8; 64]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
        let (mut quotes, mut backslashes) = (0u64, 0u64);
        for k in 0..4 {
            // SAFETY: SSE2 is part of the x86-64 baseline; bytes 16k..16k+16 of the 64 are read, unaligned.
            let (q, s) = unsafe {
                let v = _mm_loadu_si128(w.as_ptr().add(16 * k).cast());
                (
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8))) as u16,
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8))) as u16,
                )
            };
            quotes |= u64::from(q) << (16 * k);
            backslashes |= u64::from(s) << (16 * k);
        }
        (quotes, backslashes)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        block_masks_bytes(w)
    }
}

/// [`block_masks`] a byte at a time.
#[cfg(any(not(target_arch = "x86_64"), test))]
fn block_masks_bytes(w: &[u8; 64]) -> (u64, u64) {
    let mut masks = (0u64, 0u64);
    for (k, c) in w.iter().enumerate() {
        masks.0 |= u64::from(*c == b'"') << k;
        masks.1 |= u64::from(*c == b'\\') << k;
    }
    masks
}

/// The characters of a 64-byte block escaped by a backslash — each one right after a run of an odd number of
/// backslashes — given its backslashes. `odd_run` carries a run that ends the block with an odd count into the
/// next (1 if so). The run-parity trick of simdjson (Langdale and Lemire, "Parsing Gigabytes of JSON per
/// Second", 2019): adding a run's start bit to the mask carries past the run, to the character after it.
#[inline]
fn escaped_positions(backslashes: u64, odd_run: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    const ODD: u64 = !EVEN;
    let starts = backslashes & !(backslashes << 1);
    // A run carried in shifts which starts count as even.
    let even_start_mask = EVEN ^ *odd_run;
    let even_starts = starts & even_start_mask;
    let odd_starts = starts & !even_start_mask;
    let even_carries = backslashes.wrapping_add(even_starts);
    let (mut odd_carries, ends_odd) = backslashes.overflowing_add(odd_starts);
    odd_carries |= *odd_run;
    *odd_run = u64::from(ends_odd);
    let even_carry_ends = even_carries & !backslashes;
    let odd_carry_ends = odd_carries & !backslashes;
    (even_carry_ends & ODD) | (odd_carry_ends & EVEN)
}

/// Where the strings of a whole text are, found 64 bytes at a time before it is walked (the first stage of
/// simdjson, quotes and backslashes only): per 64-byte block, the quotes that open or close a string (not escaped
/// by an odd run of backslashes) and the backslashes. A walk then finds a string's end, and whether it holds an
/// escape, from these bits instead of scanning its bytes. Reused from text to text.
#[derive(Default)]
pub(crate) struct Quotes {
    quotes: Vec<u64>,
    backslashes: Vec<u64>,
    /// The text indexed (its address and length): a walk checks it is given that text.
    text: (usize, usize),
}

impl Quotes {
    /// Indexes `b`; whether it is all ASCII (then it is UTF-8 without checking further).
    pub(crate) fn index(&mut self, b: &[u8]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (just checked).
            return unsafe { self.index_avx2(b) };
        }
        self.index_with(b, block_bits)
    }

    /// [`Quotes::index`] compiled for AVX2 (32 bytes a step).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn index_avx2(&mut self, b: &[u8]) -> bool {
        // SAFETY: this function runs only where the CPU has AVX2 (its caller checked).
        self.index_with(b, |w| unsafe { block_bits_avx2(w) })
    }

    #[inline(always)]
    fn index_with(&mut self, b: &[u8], bits: impl Fn(&[u8; 64]) -> (u64, u64, bool)) -> bool {
        self.text = (b.as_ptr() as usize, b.len());
        self.quotes.clear();
        self.backslashes.clear();
        let n = b.len().div_ceil(64);
        self.quotes.reserve(n);
        self.backslashes.reserve(n);
        let mut odd_run = 0u64;
        let mut high = false;
        let mut block = |w: &[u8; 64]| {
            let (quotes, backslashes, h) = bits(w);
            high |= h;
            self.quotes.push(quotes & !escaped_positions(backslashes, &mut odd_run));
            self.backslashes.push(backslashes);
        };
        let mut blocks = b.chunks_exact(64);
        for w in &mut blocks {
            block(w.try_into().expect("64 bytes"));
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut pad = [0u8; 64];
            pad[..rest.len()].copy_from_slice(rest);
            block(&pad);
        }
        !high
    }

    /// The first quote after `i` that is not escaped: where a string opened at `i` closes.
    #[inline]
    fn close(&self, i: usize) -> Option<usize> {
        first_set(&self.quotes, i + 1)
    }

    /// The first backslash at or after `from`.
    #[inline]
    pub(crate) fn backslash(&self, from: usize) -> Option<usize> {
        first_set(&self.backslashes, from)
    }

    /// Whether `from..to` holds a backslash (looking at those bytes' words only); `true` past the text indexed, so a
    /// caller that declines escapes declines.
    #[inline]
    fn has_backslash(&self, from: usize, to: usize) -> bool {
        if from >= to {
            return false;
        }
        let (first, last) = (from / 64, (to - 1) / 64);
        let Some(words) = self.backslashes.get(first..=last) else { return true };
        let mut any = 0;
        for (k, w) in words.iter().enumerate() {
            let mut w = *w;
            if k == 0 {
                w &= u64::MAX << (from % 64);
            }
            if k == words.len() - 1 {
                w &= u64::MAX >> (63 - (to - 1) % 64);
            }
            any |= w;
        }
        any != 0
    }
}

/// The first bit set at or after `from` in `bits` (bit k of word w for byte 64w + k).
#[inline]
fn first_set(bits: &[u64], from: usize) -> Option<usize> {
    let mut k = from / 64;
    let mut word = bits.get(k)? & (u64::MAX << (from % 64));
    while word == 0 {
        k += 1;
        word = *bits.get(k)?;
    }
    Some(k * 64 + word.trailing_zeros() as usize)
}

/// The quotes and backslashes of 64 bytes as bit masks (bit k for byte k), and whether any byte is not ASCII.
#[inline]
fn block_bits(w: &[u8; 64]) -> (u64, u64, bool) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
        let (mut quotes, mut backslashes) = (0u64, 0u64);
        // SAFETY: SSE2 is part of the x86-64 baseline; bytes 16k..16k+16 of the 64 are read, unaligned.
        let high = unsafe {
            let mut any = _mm_set1_epi8(0);
            for k in 0..4 {
                let v = _mm_loadu_si128(w.as_ptr().add(16 * k).cast());
                let q = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8))) as u16;
                let s = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8))) as u16;
                quotes |= u64::from(q) << (16 * k);
                backslashes |= u64::from(s) << (16 * k);
                any = _mm_or_si128(any, v);
            }
            _mm_movemask_epi8(any) != 0
        };
        (quotes, backslashes, high)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (quotes, backslashes) = block_masks_bytes(w);
        (quotes, backslashes, !w.is_ascii())
    }
}

/// [`block_bits`] with AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn block_bits_avx2(w: &[u8; 64]) -> (u64, u64, bool) {
    use std::arch::x86_64::{
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
    };
    // SAFETY: the CPU has AVX2 (the caller's promise); bytes 0..32 and 32..64 of the 64 are read, unaligned.
    unsafe {
        let (lo, hi) = (_mm256_loadu_si256(w.as_ptr().cast()), _mm256_loadu_si256(w.as_ptr().add(32).cast()));
        let (quote, backslash) = (_mm256_set1_epi8(b'"' as i8), _mm256_set1_epi8(b'\\' as i8));
        let quotes = u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, quote)) as u32)
            | u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, quote)) as u32) << 32;
        let backslashes = u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, backslash)) as u32)
            | u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, backslash)) as u32) << 32;
        (quotes, backslashes, _mm256_movemask_epi8(_mm256_or_si256(lo, hi)) != 0)
    }
}

/// Walks the members of the object that is the whole of `text`, as [`for_each_member`] does, with its strings
/// found by `quotes` (which indexed `text`): `each` gets (key, value, whether the value is a string holding an
/// escape) in document order and returns `false` to stop. `true` only when every member was given, no key holds
/// an escape and the text is exactly one object; `false` also where `for_each_member` would fail, so a caller
/// that goes on only on `true` reads what `for_each_member` reads.
// Always inlined into its one caller, the fast lane, with the lane's callback: left to itself, the Python module's
// build called it (10% more CPU for a log run, measured; the benchmark binary's build inlined it).
#[inline(always)]
pub(crate) fn walk_members<'a>(
    text: &'a str,
    quotes: &Quotes,
    mut each: impl FnMut(&'a str, Raw<'a>, bool) -> bool,
) -> bool {
    let b = text.as_bytes();
    // The index must be of this very text: the walk slices it where the index says quotes are.
    if quotes.text != (b.as_ptr() as usize, b.len()) {
        return false;
    }
    // White space is looked for only where the byte is not the one compact JSON has there (measured: 5% of the
    // lane's CPU).
    let after = |i: usize, c: u8| -> Option<usize> {
        match b.get(i) {
            Some(&x) if x == c => Some(i + 1),
            _ => {
                let i = skip_ws(b, i);
                (b.get(i) == Some(&c)).then_some(i + 1)
            }
        }
    };
    let Some(mut i) = after(0, b'{') else { return false };
    if b.get(i) != Some(&b'"') {
        i = skip_ws(b, i);
        if b.get(i) == Some(&b'}') {
            return skip_ws(b, i + 1) == b.len();
        }
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return false;
        }
        let Some(end) = quotes.close(i) else { return false };
        if quotes.has_backslash(i + 1, end) {
            return false; // an escaped key could spell any key
        }
        let key = ascii_bounded(text, i + 1, end);
        let Some(colon) = after(end + 1, b':') else { return false };
        i = colon;
        if matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i = skip_ws(b, i);
        }
        let (end, escaped) = match b.get(i) {
            Some(b'"') => {
                let Some(end) = quotes.close(i) else { return false };
                (end + 1, quotes.has_backslash(i + 1, end))
            }
            Some(b'-' | b'0'..=b'9') => match number_end(b, i) {
                Ok(end) => (end, false),
                Err(_) => return false,
            },
            _ => match value_end(b, i) {
                Ok(end) => (end, false),
                Err(_) => return false,
            },
        };
        if !each(key, Raw(ascii_bounded(text, i, end)), escaped) {
            return false;
        }
        i = match b.get(end) {
            Some(b',') => end + 1,
            Some(b'}') => return end + 1 == b.len() || skip_ws(b, end + 1) == b.len(),
            _ => {
                let j = skip_ws(b, end);
                match b.get(j) {
                    Some(b',') => j + 1,
                    Some(b'}') => return skip_ws(b, j + 1) == b.len(),
                    _ => return false,
                }
            }
        };
        if b.get(i) != Some(&b'"') {
            i = skip_ws(b, i);
        }
    }
}

fn literal_end(b: &[u8], i: usize, word: &[u8]) -> Result<usize, JsonError> {
    if b[i..].starts_with(word) {
        Ok(i + word.len())
    } else {
        Err(bad("invalid literal", i))
    }
}

/// The end of the run of ASCII digits starting at `j`: 16 bytes in one step where there are 16 (SSE2), then a byte
/// at a time.
#[inline]
fn digits_end(b: &[u8], mut j: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    if let Some(w) = b.get(j..j + 16) {
        use std::arch::x86_64::{
            _mm_and_si128, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of the x86-64 baseline; the 16 bytes of `w` are read, unaligned. Bytes from 0x80 are
        // negative as `i8`, so never between '0' and '9'.
        let digits = unsafe {
            let v = _mm_loadu_si128(w.as_ptr().cast());
            let above = _mm_cmpgt_epi8(v, _mm_set1_epi8(b'0' as i8 - 1));
            let below = _mm_cmplt_epi8(v, _mm_set1_epi8(b'9' as i8 + 1));
            _mm_movemask_epi8(_mm_and_si128(above, below)) as u32
        };
        let run = (!digits).trailing_zeros() as usize;
        if run < 16 {
            return j + run;
        }
        j += 16;
    }
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    j
}

/// A number by JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn number_end(b: &[u8], i: usize) -> Result<usize, JsonError> {
    let digits = |j: usize| {
        let end = digits_end(b, j);
        (end, end > j)
    };
    let mut j = i;
    if b.get(j) == Some(&b'-') {
        j += 1;
    }
    let (after, any) = match b.get(j) {
        Some(b'0') => (j + 1, true),
        _ => digits(j),
    };
    if !any {
        return Err(bad("invalid number", i));
    }
    j = after;
    if b.get(j) == Some(&b'.') {
        let (after, any) = digits(j + 1);
        if !any {
            return Err(bad("invalid number", i));
        }
        j = after;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let (after, any) = digits(j);
        if !any {
            return Err(bad("invalid number", i));
        }
        j = after;
    }
    Ok(j)
}

/// The end of the value starting at `b[i]` (no leading whitespace). Nested containers are checked whole, member by
/// member, without recursion: a reader that opens one later never meets malformed text (its error would otherwise
/// be lost where a reader only asks whether a member is there, and a record read as having no usage).
fn value_end(b: &[u8], i: usize) -> Result<usize, JsonError> {
    match b.get(i) {
        None => Err(bad("expected a value", i)),
        Some(b'"') => string_end(b, i),
        Some(b't') => literal_end(b, i, b"true"),
        Some(b'f') => literal_end(b, i, b"false"),
        Some(b'n') => literal_end(b, i, b"null"),
        Some(b'-' | b'0'..=b'9') => number_end(b, i),
        Some(b'{' | b'[') => container_end(b, i),
        Some(_) => Err(bad("expected a value", i)),
    }
}

/// [`value_end`] of an object or array: a JSON grammar walk with the open brackets one bit each (1 = object),
/// MAX_DEPTH deep at most: no allocation.
fn container_end(b: &[u8], i: usize) -> Result<usize, JsonError> {
    let mut stack = [0u64; MAX_DEPTH.div_ceil(64) + 1];
    let mut depth = 0usize;
    let is_object = |stack: &[u64], top: usize| (stack[top / 64] >> (top % 64)) & 1 == 1;
    // A key and its colon at `j`: the index of the value after them.
    let key = |j: usize| -> Result<usize, JsonError> {
        if b.get(j) != Some(&b'"') {
            return Err(bad("expected a key", j));
        }
        let colon = skip_ws(b, string_end(b, j)?);
        if b.get(colon) != Some(&b':') {
            return Err(bad("expected ':'", colon));
        }
        Ok(skip_ws(b, colon + 1))
    };
    let mut j = i;
    loop {
        // A value at `j`.
        match b.get(j) {
            Some(&c @ (b'{' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(bad("nesting too deep", j));
                }
                let (word, bit) = (depth / 64, depth % 64);
                stack[word] = (stack[word] & !(1 << bit)) | (u64::from(c == b'{') << bit);
                depth += 1;
                j = skip_ws(b, j + 1);
                let close = if c == b'{' { b'}' } else { b']' };
                if b.get(j) != Some(&close) {
                    j = if c == b'{' { key(j)? } else { j };
                    continue;
                }
                // An empty container, closed here.
                depth -= 1;
            }
            _ => j = value_end(b, j)? - 1,
        }
        // After a value ending at `b[j]`: a comma and the next member, or the end of containers.
        loop {
            if depth == 0 {
                return Ok(j + 1);
            }
            let object = is_object(&stack, depth - 1);
            let next = skip_ws(b, j + 1);
            match b.get(next) {
                Some(b',') => {
                    let at = skip_ws(b, next + 1);
                    j = if object { key(at)? } else { at };
                    break;
                }
                Some(b'}') if object => (depth, j) = (depth - 1, next),
                Some(b']') if !object => (depth, j) = (depth - 1, next),
                _ => return Err(bad(if object { "expected ',' or '}'" } else { "expected ',' or ']'" }, next)),
            }
        }
    }
}

/// An object's members in document order, values unparsed. Duplicate keys: the last one wins (as in `json.loads`).
#[derive(Debug, Default, Clone)]
pub struct Obj<'a> {
    pub members: Members<'a>,
}

/// `&text[start..end]` where the scanner found ASCII bytes (a value's first byte, a quote, a bracket) at `start`
/// and just before `end`: both are character boundaries, so the slice needs no check.
#[inline]
fn ascii_bounded(text: &str, start: usize, end: usize) -> &str {
    let b = text.as_bytes();
    assert!(start <= end && end <= b.len());
    debug_assert!(text.is_char_boundary(start) && text.is_char_boundary(end));
    // SAFETY: in bounds (asserted); `start` is at an ASCII byte or `end`, and `end` follows an ASCII byte or is the
    // text's end (the callers' scans stop only there), so both are character boundaries of valid UTF-8.
    unsafe { text.get_unchecked(start..end) }
}

fn key_text(text: &str, start: usize, end: usize, escaped: bool) -> Result<Cow<'_, str>, JsonError> {
    let inner = ascii_bounded(text, start + 1, end - 1);
    if !escaped {
        return Ok(Cow::Borrowed(inner));
    }
    unescape(inner).map(Cow::Owned).ok_or_else(|| bad("bad escape in key", start))
}

/// Parses the container at the start of `text` (after whitespace): its members (objects) or elements (arrays).
/// A container's (key, value) pairs (keys empty for arrays).
type Members<'a> = Vec<(Cow<'a, str>, Raw<'a>)>;

fn members(text: &str, open: u8) -> Result<(Members<'_>, usize), JsonError> {
    let mut out = Vec::with_capacity(16);
    let end = scan(text, open, |k, v| {
        out.push((k, v));
        true
    })?;
    // `scan` gives no end only when `each` stops, which it never does here.
    Ok((out, end.unwrap_or(0)))
}

/// Walks the container at the start of `text` (after whitespace), giving `each` its members in order (keys empty
/// for arrays), without collecting them; `each` returns `false` to stop early. Returns the end of the container,
/// or `None` if `each` stopped.
fn scan<'a>(
    text: &'a str,
    open: u8,
    mut each: impl FnMut(Cow<'a, str>, Raw<'a>) -> bool,
) -> Result<Option<usize>, JsonError> {
    let b = text.as_bytes();
    let close = if open == b'{' { b'}' } else { b']' };
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&open) {
        return Err(bad(if open == b'{' { "expected an object" } else { "expected an array" }, i));
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&close) {
        return Ok(Some(i + 1));
    }
    loop {
        let key = if open == b'{' {
            if b.get(i) != Some(&b'"') {
                return Err(bad("expected a key", i));
            }
            let (end, escaped) = string_scan(b, i)?;
            let key = key_text(text, i, end, escaped)?;
            i = skip_ws(b, end);
            if b.get(i) != Some(&b':') {
                return Err(bad("expected ':'", i));
            }
            i = skip_ws(b, i + 1);
            key
        } else {
            Cow::Borrowed("")
        };
        let end = value_end(b, i)?;
        if !each(key, Raw(ascii_bounded(text, i, end))) {
            return Ok(None);
        }
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(c) if *c == close => return Ok(Some(i + 1)),
            _ => return Err(bad(&format!("expected ',' or '{}'", close as char), i)),
        }
    }
}

/// Walks the members of the object that is the whole of `text` (as [`Obj::parse`] would read them, with the same
/// errors), without collecting them: `each` gets (key, value) in document order and returns `false` to stop.
/// `Ok(true)` when every member was given and the text is exactly one object.
pub fn for_each_member<'a>(text: &'a str, each: impl FnMut(Cow<'a, str>, Raw<'a>) -> bool) -> Result<bool, JsonError> {
    match scan(text, b'{', each)? {
        Some(end) => whole(text, ((), end)).map(|()| true),
        None => Ok(false),
    }
}

fn whole<T>(text: &str, (value, end): (T, usize)) -> Result<T, JsonError> {
    let rest = skip_ws(text.as_bytes(), end);
    if rest != text.len() {
        return Err(bad("trailing characters", rest));
    }
    Ok(value)
}

/// The kind of a raw value, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

pub fn kind<'a>(raw: impl Into<Raw<'a>>) -> Kind {
    let raw: Raw<'a> = raw.into();
    match raw.get().as_bytes().first() {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'n') | None => Kind::Null,
        _ => Kind::Number,
    }
}

/// Parses a whole document as raw JSON (checks that it is one value).
pub fn parse_raw(text: &str) -> Result<Raw<'_>, JsonError> {
    let b = text.as_bytes();
    let start = skip_ws(b, 0);
    let end = value_end(b, start)?;
    whole(text, (Raw(&text[start..end]), end))
}

pub fn object<'a>(raw: impl Into<Raw<'a>>) -> Option<Obj<'a>> {
    let raw: Raw<'a> = raw.into();
    (kind(raw) == Kind::Object).then(|| Obj::parse(raw.get()).ok()).flatten()
}

pub fn array<'a>(raw: impl Into<Raw<'a>>) -> Option<Vec<Raw<'a>>> {
    let raw: Raw<'a> = raw.into();
    if kind(raw) != Kind::Array {
        return None;
    }
    let text = raw.get();
    members(text, b'[').and_then(|m| whole(text, m)).ok().map(|m| m.into_iter().map(|(_, v)| v).collect())
}

pub fn string<'a>(raw: impl Into<Raw<'a>>) -> Option<Cow<'a, str>> {
    let raw: Raw<'a> = raw.into();
    if kind(raw) != Kind::String {
        return None;
    }
    let text = raw.get();
    let inner = &text[1..text.len() - 1];
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
        return Some(Cow::Borrowed(inner));
    }
    unescape(inner).map(Cow::Owned)
}

/// A JSON string's contents with its escapes decoded (`\uXXXX` surrogate pairs joined, a lone surrogate read as
/// U+FFFD); `None` if an escape is invalid (an unknown letter, a truncated `\u`).
pub fn unescape(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    unescape_into(inner, &mut out).then_some(out)
}

/// The bytes of `b` from `i` to its next backslash appended to `out`: that backslash's distance from `i`, or
/// `None` when there is none (the rest of `b` is appended then). `out` must have room for `b.len() - i` more bytes.
///
/// Text between escapes is short in JSON held in a string (`{\"tenant\": \"acme\"}`, a provider's body in a
/// Logpush line): 16 bytes are copied at a time, whatever they hold, and the length kept is the part before the
/// first backslash among them (a byte loop and a call to `memchr` per escape were a sixth of pricing a Logpush
/// line).
#[inline]
fn copy_to_backslash(b: &[u8], i: usize, out: &mut String) -> Option<usize> {
    // SAFETY (for both blocks): the bytes kept are `b`'s from `i` (after an escape, or the start) up to an ASCII
    // backslash, whole UTF-8 sequences, so `out` stays UTF-8; bytes written past its length only fill its room.
    let v = unsafe { out.as_mut_vec() };
    debug_assert!(v.capacity() - v.len() >= b.len() - i);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8, _mm_storeu_si128};
        let mut j = i;
        while j + 16 <= b.len() {
            // SAFETY: 16 bytes of `b` from `j` are read; 16 are written at `v.len()`, which has room for
            // `b.len() - j` more (what was kept is no longer than what was read), at least 16. SSE2 is part of
            // x86_64.
            let mask = unsafe {
                let w = _mm_loadu_si128(b.as_ptr().add(j).cast());
                _mm_storeu_si128(v.as_mut_ptr().add(v.len()).cast(), w);
                _mm_movemask_epi8(_mm_cmpeq_epi8(w, _mm_set1_epi8(b'\\' as i8))) as u32
            };
            let keep = if mask == 0 { 16 } else { mask.trailing_zeros() as usize };
            unsafe { v.set_len(v.len() + keep) };
            j += keep;
            if mask != 0 {
                return Some(j - i);
            }
        }
        let rest = &b[j..];
        let k = memchr::memchr(b'\\', rest);
        v.extend_from_slice(&rest[..k.unwrap_or(rest.len())]);
        k.map(|k| j + k - i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let k = memchr::memchr(b'\\', &b[i..]);
        v.extend_from_slice(&b[i..k.map_or(b.len(), |k| i + k)]);
        k
    }
}

/// [`unescape`], appending to `out` (a buffer reused across records); `false` if an escape is invalid (`out` then
/// holds part of the text).
pub fn unescape_into(inner: &str, out: &mut String) -> bool {
    let b = inner.as_bytes();
    let mut i = 0;
    let hex4 = |at: usize| -> Option<u32> {
        let h = inner.get(at..at + 4)?;
        if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(h, 16).ok()
    };
    out.reserve(b.len());
    while let Some(k) = copy_to_backslash(b, i, out) {
        i += k + 1;
        let Some(&c) = b.get(i) else { return false };
        i += 1;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let Some(hi) = hex4(i) else { return false };
                i += 4;
                let low = if b.get(i..i + 2) == Some(b"\\u") { hex4(i + 2) } else { None };
                let code = match low {
                    Some(lo) if (0xD800..0xDC00).contains(&hi) && (0xDC00..0xE000).contains(&lo) => {
                        i += 6;
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    _ => hi,
                };
                // A lone surrogate (which UTF-8 cannot hold) reads as U+FFFD, as tiktoken and the Python binding
                // read one in a str.
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            _ => return false,
        }
    }
    true
}

pub fn boolean<'a>(raw: impl Into<Raw<'a>>) -> Option<bool> {
    let raw: Raw<'a> = raw.into();
    match raw.get() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A number's own text (also a number written as a string, as OTLP JSON writes 64-bit integers).
pub fn number_text<'a>(raw: impl Into<Raw<'a>>) -> Option<Cow<'a, str>> {
    let raw: Raw<'a> = raw.into();
    match kind(raw) {
        Kind::Number => Some(Cow::Borrowed(raw.get())),
        Kind::String => string(raw).filter(|s| {
            let s = s.trim();
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        }),
        _ => None,
    }
}

/// Why a count could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum CountError {
    Negative(String),
    NotWhole(String),
    NotANumber(String),
}

impl fmt::Display for CountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CountError::Negative(t) => write!(f, "{t} is negative"),
            CountError::NotWhole(t) => write!(f, "{t} is not a whole number"),
            CountError::NotANumber(t) => write!(f, "{t} is not a number"),
        }
    }
}

/// A token count: a non-negative whole number (`12`, `12.0`, `"12"`); `null` reads as absent.
pub fn count<'a>(raw: impl Into<Raw<'a>>) -> Result<Option<u64>, CountError> {
    let raw: Raw<'a> = raw.into();
    match kind(raw) {
        Kind::Null => return Ok(None),
        // The common case first: a plain whole number (a number's text has no spaces to trim).
        Kind::Number => {
            if let Ok(v) = raw.get().parse::<u64>() {
                return Ok(Some(v));
            }
        }
        _ => {}
    }
    let excerpt = || excerpt(raw.get(), 40);
    let Some(text) = number_text(raw) else {
        return Err(CountError::NotANumber(excerpt()));
    };
    let text = text.trim();
    if let Ok(v) = text.parse::<u64>() {
        return Ok(Some(v));
    }
    if text.starts_with('-') && text.parse::<f64>().is_ok_and(|v| v < 0.0) {
        return Err(CountError::Negative(excerpt()));
    }
    match decimal(text) {
        Some(d) if d.fract().is_zero() && d >= Decimal::ZERO => {
            use rust_decimal::prelude::ToPrimitive;
            d.to_u64().map(Some).ok_or_else(|| CountError::NotWhole(excerpt()))
        }
        Some(_) => Err(CountError::NotWhole(excerpt())),
        None => Err(CountError::NotANumber(excerpt())),
    }
}

/// An exact decimal from a number's text (`0.0018345`, `6e-05`).
pub fn decimal(text: &str) -> Option<Decimal> {
    plain_decimal(text.as_bytes()).or_else(|| decimal_general(text))
}

/// [`decimal`] for every shape it reads.
fn decimal_general(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str(text).ok()
    }
}

/// A decimal written plainly (`-?digits(.digits)?`, up to 28 digits: every cost a log reports) read in one pass;
/// `None` for any other text, which [`decimal`] reads the general way (to the same value for this shape).
fn plain_decimal(b: &[u8]) -> Option<Decimal> {
    let (negative, b) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    // The first 19 digits (every cost a gateway reports) in a `u64`; any more in an `i128`.
    let (mut narrow, mut wide, mut scale, mut digits, mut point) = (0u64, 0i128, 0u32, 0u32, false);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                if digits < 19 {
                    narrow = narrow * 10 + u64::from(c - b'0');
                } else {
                    if digits == 19 {
                        wide = i128::from(narrow);
                    }
                    wide = wide * 10 + i128::from(c - b'0');
                }
                digits += 1;
                scale += u32::from(point);
            }
            b'.' if !point && i > 0 && i + 1 < b.len() => point = true,
            _ => return None,
        }
    }
    let mantissa = if digits > 19 { wide } else { i128::from(narrow) };
    if digits == 0 || digits > 28 || (negative && mantissa == 0) {
        return None; // (a negative zero keeps its sign the general way)
    }
    Some(Decimal::from_i128_with_scale(if negative { -mantissa } else { mantissa }, scale))
}

/// The start of a text, for error messages.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl<'a> Obj<'a> {
    pub fn parse(text: &'a str) -> Result<Obj<'a>, JsonError> {
        members(text, b'{').and_then(|m| whole(text, m)).map(|members| Obj { members })
    }

    pub fn get(&self, key: &str) -> Option<Raw<'a>> {
        self.members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    pub fn has(&self, key: &str) -> bool {
        self.members.iter().any(|(k, _)| k == key)
    }

    /// A member that is present and not null.
    pub fn present(&self, key: &str) -> Option<Raw<'a>> {
        self.get(key).filter(|v| kind(v) != Kind::Null)
    }

    pub fn obj(&self, key: &str) -> Option<Obj<'a>> {
        self.get(key).and_then(object)
    }

    pub fn arr(&self, key: &str) -> Option<Vec<Raw<'a>>> {
        self.get(key).and_then(array)
    }

    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key).and_then(string)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(boolean)
    }

    /// The first of several keys that is present, with the key.
    pub fn first_of(&self, keys: &[&'static str]) -> Option<(&'static str, Raw<'a>)> {
        keys.iter().find_map(|k| self.present(k).map(|v| (*k, v)))
    }

    pub fn keys(&self) -> Vec<&str> {
        self.members.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

#[cfg(test)]
mod tests {
    /// Where a string starting at `b[0] == '"'` ends and whether it holds an escape, a byte at a time.
    fn naive_string_scan(b: &[u8]) -> Option<(usize, bool)> {
        let (mut j, mut escaped) = (1, false);
        while j < b.len() {
            match b[j] {
                b'"' => return Some((j + 1, escaped)),
                b'\\' => {
                    escaped = true;
                    j += 2;
                }
                _ => j += 1,
            }
        }
        None
    }

    /// Random objects, members written many ways: keys plain, escaped or not ASCII; strings with escapes, runs of
    /// backslashes and lengths crossing 64-byte blocks; nested values holding quotes and brackets; white space;
    /// then some cut short or with a byte changed.
    fn random_objects(n: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut next = crate::testing::below(seed);
        let keys = ["id", "model", "tokens_in", "a\\\"b", "\\u0061", "é", "", "k\\\\"];
        let ws = ["", "", "", " ", "\n ", "\t"];
        let strings = [
            "\"gpt-4o\"",
            "\"\"",
            "\"a\\\"b\"",
            "\"a\\\\\"",
            "\"\\\\\\\"\"",
            "\"é😀\"",
            "\"{\\\"tenant\\\": \\\"acme\\\"}\"",
        ];
        let others = [
            "12",
            "-0.5e3",
            "true",
            "false",
            "null",
            "[1,\"]\",{\"a\":\"}\"}]",
            "{\"x\":{\"y\":[]}}",
            "01",
            "tru",
            "-",
        ];
        (0..n)
            .map(|_| {
                let mut line = String::from(ws[next(ws.len())]);
                line.push('{');
                for m in 0..next(8) {
                    if m > 0 {
                        line.push_str(ws[next(ws.len())]);
                        line.push(',');
                    }
                    line.push_str(ws[next(ws.len())]);
                    line.push_str(&format!("\"{}\"", keys[next(keys.len())]));
                    line.push_str(ws[next(ws.len())]);
                    line.push(':');
                    line.push_str(ws[next(ws.len())]);
                    match next(3) {
                        0 => line.push_str(others[next(others.len())]),
                        1 => line.push_str(strings[next(strings.len())]),
                        _ => {
                            // A long string: backslash runs and quotes anywhere, across blocks.
                            line.push('"');
                            for _ in 0..next(200) {
                                line.push_str(["x", "\\\\", "\\\"", "ab", "\\u00e9"][next(5)]);
                            }
                            line.push('"');
                        }
                    }
                }
                line.push_str(ws[next(ws.len())]);
                line.push('}');
                line.push_str(ws[next(ws.len())]);
                let mut b = line.into_bytes();
                match next(8) {
                    0 => b.truncate(next(b.len() + 1)),
                    1 => {
                        let at = next(b.len());
                        b[at] = [b'"', b'\\', b'{', b'}', b',', b':', b'x', 0xff][next(8)];
                    }
                    _ => {}
                }
                b
            })
            .collect()
    }

    /// A document is accepted exactly when serde_json accepts it, nested members included: a malformed value deep
    /// inside (`"cost": NaN` in a usage object) fails the whole parse, never a later lookup that would drop it.
    #[test]
    fn nested_values_are_checked_as_serde_json_checks_them() {
        let nested = [
            r#"{"usage":{"prompt_tokens":3,"cost":NaN}}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":{"b" 1}}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":{,}}"#,
            r#"{"a":{"b":1,}}"#,
            r#"{"a":[{"b":1},{"c":[]},[[]],{}]}"#,
            r#"{"a":[{"b":1},{"c":[tru]}]}"#,
            r#"{"a":{"b":[1,{"c":"]}"}]}}"#,
            r#"{"a":{"b":[1,{"c":"]}"}]}"#,
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
            r#"[ {"x" : [ 1 , -2.5e3 , null , true , false , "s" ] } , [ ] ]"#,
        ];
        let mut texts: Vec<Vec<u8>> = nested.iter().map(|t| t.as_bytes().to_vec()).collect();
        texts.extend(random_objects(20_000, 0x5eed_1234_abcd_0002));
        let mut rejected = 0;
        for b in texts {
            let Ok(text) = std::str::from_utf8(&b) else { continue };
            let ours = super::parse_raw(text).is_ok();
            let serde = serde_json::from_str::<serde_json::Value>(text);
            // Escapes inside strings are checked when a string is read, not here.
            if serde.as_ref().is_err_and(|e| e.to_string().contains("escape")) {
                continue;
            }
            let serde = serde.is_ok();
            assert_eq!(ours, serde, "{text}");
            rejected += usize::from(!ours);
        }
        assert!(rejected > 100);
    }

    /// The walk over indexed strings reads what `for_each_member` reads: when it accepts a text, the same members
    /// in the same order, each string value's escape said right; and it accepts every whole object whose keys have
    /// no escape.
    #[test]
    fn indexed_walk_reads_what_the_member_scan_reads() {
        let mut quotes = super::Quotes::default();
        let (mut walked, mut declined) = (0, 0);
        for b in random_objects(60_000, 0x5eed_1234_abcd_0001) {
            let ascii = quotes.index(&b);
            assert_eq!(ascii, b.is_ascii());
            let Ok(text) = std::str::from_utf8(&b) else { continue };
            let mut fast = Vec::new();
            let accepted = super::walk_members(text, &quotes, |k, v, escaped| {
                fast.push((k.to_string(), v.get().to_string(), escaped));
                true
            });
            let mut slow = Vec::new();
            let mut escaped_key = false;
            let whole = super::for_each_member(text, |k, v| {
                escaped_key |= matches!(k, std::borrow::Cow::Owned(_));
                let escaped = v.get().starts_with('"') && v.get().contains('\\');
                slow.push((k.into_owned(), v.get().to_string(), escaped));
                true
            });
            if accepted {
                walked += 1;
                assert_eq!(whole, Ok(true), "{text}");
                assert_eq!(fast, slow, "{text}");
            } else {
                declined += 1;
                assert!(whole != Ok(true) || escaped_key, "declined a plain object: {text}");
            }
        }
        assert!(walked > 10_000 && declined > 10_000, "{walked} walked, {declined} declined");
        // An index is only good for the text it was made of: another (even of the same length) is not walked.
        let (a, b) = (String::from(r#"{"xy":1}"#), String::from("{\"x\u{e9}:1}"));
        quotes.index(a.as_bytes());
        assert!(super::walk_members(&a, &quotes, |_, _, _| true));
        assert!(!super::walk_members(&b, &quotes, |_, _, _| true));
        assert!(!super::walk_members(&a.clone(), &quotes, |_, _, _| true));
        // Past the indexed text, a backslash is assumed (so an escape is never missed).
        assert!(quotes.has_backslash(a.len(), a.len() + 70));
        assert!(!quotes.has_backslash(0, a.len()));
    }

    /// Runs of digits end where a byte loop ends them: at every place of random texts of digits and other bytes
    /// (ASCII and not), runs shorter and longer than 16.
    #[test]
    fn digit_runs_end_where_a_byte_loop_ends_them() {
        let mut next = crate::testing::below(0xd161_7500_0000_0001);
        let alphabet = [b'0', b'5', b'9', b'/', b':', b'.', b'e', b'-', 0x80, 0xb9, 0xff, b' '];
        for _ in 0..5_000 {
            let digits_first = next(40);
            let mut b: Vec<u8> = (0..digits_first).map(|_| b'0' + next(10) as u8).collect();
            b.extend((0..next(40)).map(|_| alphabet[next(alphabet.len())]));
            for j in 0..=b.len() {
                let mut k = j;
                while k < b.len() && b[k].is_ascii_digit() {
                    k += 1;
                }
                assert_eq!(super::digits_end(&b, j), k, "{b:?} from {j}");
            }
        }
    }

    /// Unescaping gives back what `serde_json` escaped: texts of quotes, backslashes, control characters,
    /// non-ASCII and astral characters, with short and long stretches between escapes.
    #[test]
    fn unescaping_inverts_escaping() {
        let pieces = ["\"", "\\", "a", "tenant", "é", "😀", "\n", "\u{1}", "/", " ", &"x".repeat(40)];
        let mut state = 0x9e37_79b9u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 20) {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                text.push_str(pieces[(state >> 59) as usize % pieces.len()]);
            }
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            let quoted = serde_json::to_string(&text).unwrap();
            assert_eq!(super::unescape(&quoted[1..quoted.len() - 1]).as_deref(), Some(text.as_str()), "{quoted}");
            // With \u escapes for every control and non-ASCII character (as `ensure_ascii` writes them).
            let mut ascii = String::new();
            for c in text.chars() {
                match c {
                    '"' => ascii.push_str("\\\""),
                    '\\' => ascii.push_str("\\\\"),
                    c if c.is_ascii() && !c.is_ascii_control() => ascii.push(c),
                    c => c.encode_utf16(&mut [0; 2]).iter().for_each(|u| ascii.push_str(&format!("\\u{u:04x}"))),
                }
            }
            assert_eq!(super::unescape(&ascii).as_deref(), Some(text.as_str()), "{ascii}");
        }
        for bad in ["\\", "a\\x", "\\u12", "\\ud800\\u12"] {
            assert_eq!(super::unescape(bad), None, "{bad}");
        }
        // Lone surrogates read as U+FFFD, one each (as tiktoken reads them in a Python str).
        for (lone, read) in
            [("\\ud800", "\u{fffd}"), ("\\ud800\\u0041", "\u{fffd}A"), ("a\\udc00\\ud800b", "a\u{fffd}\u{fffd}b")]
        {
            assert_eq!(super::unescape(lone).as_deref(), Some(read), "{lone}");
        }
    }

    /// Plain decimals read in one pass are exactly what the general reading gives (mantissa, scale and sign), and
    /// every other text is left to it.
    #[test]
    fn plain_decimals_read_as_the_general_way_does() {
        use std::str::FromStr;
        let cases = [
            "0",
            "7",
            "007",
            "0.0279325",
            "1.50",
            "-3.25",
            "123456789012345678901234567.8",
            "0.000000000000000000001",
            "1.",
            ".5",
            "-",
            "-0",
            "-0.0",
            "1e5",
            "+1",
            " 1",
            "1.2.3",
            "12a",
            "",
            "1234567890123456789012345678.9",
            "9999999999999999999",
            "-99999999999999999.99",
            "18446744073709551616",
            "0.00000000000000000012",
        ];
        let mut plain = 0;
        for c in cases {
            let general = rust_decimal::Decimal::from_str(c.trim()).ok();
            if let Some(d) = super::plain_decimal(c.as_bytes()) {
                let g = general.unwrap_or_else(|| panic!("{c}: read plainly, not generally"));
                assert_eq!(
                    (d.mantissa(), d.scale(), d.is_sign_negative()),
                    (g.mantissa(), g.scale(), g.is_sign_negative()),
                    "{c}"
                );
                plain += 1;
            }
            assert_eq!(
                super::decimal(c).map(|d| (d.mantissa(), d.scale())),
                super::decimal_general(c).map(|d| (d.mantissa(), d.scale())),
                "{c}"
            );
        }
        assert_eq!(plain, 12);
    }

    /// The block scan ends strings where a byte loop does: runs of backslashes of every length, across the
    /// 64-byte blocks and the first word, strings of every length up to a few blocks, unterminated ones.
    #[test]
    fn string_scans_end_where_a_byte_loop_does() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..100_000 {
            let len = 1 + (next() % 300) as usize;
            let dense = next() % 12; // how rarely quotes and backslashes come
            let mut b = vec![b'"'];
            for _ in 0..len {
                let r = next();
                b.push(match r % (3 + 8 * dense) {
                    0 => b'"',
                    1 | 2 => b'\\',
                    _ => b'a' + (r >> 8) as u8 % 26,
                });
            }
            let got = super::string_scan(&b, 0).ok();
            assert_eq!(got, naive_string_scan(&b), "{}", String::from_utf8_lossy(&b));
        }
        let mut state = 7u64;
        for _ in 0..20_000 {
            let mut w = [0u8; 64];
            for c in &mut w {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *c = [b'"', b'\\', b'x', 0x80][(state >> 60) as usize % 4];
            }
            assert_eq!(super::block_masks(&w), super::block_masks_bytes(&w));
            let (quotes, backslashes) = super::block_masks_bytes(&w);
            let bits = (quotes, backslashes, !w.is_ascii());
            assert_eq!(super::block_bits(&w), bits);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                assert_eq!(unsafe { super::block_bits_avx2(&w) }, bits);
            }
        }
    }

    /// Both word scans find the first quote or backslash a byte loop finds, on words of every mix of quotes,
    /// backslashes, high bytes (0x80 and above, where borrows could mislead the `u64` trick) and others.
    #[test]
    fn word_scans_find_the_first_quote_or_backslash() {
        let alphabet = [b'"', b'\\', b'a', 0x80, 0xff, 0x21, 0x23, 0x5b, 0x5d, 0x00, 0x01];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            let mut w = [0u8; 16];
            for b in &mut w {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Mostly ordinary bytes, so hits land anywhere in the word.
                *b = if state % 5 == 0 {
                    alphabet[(state >> 8) as usize % alphabet.len()]
                } else {
                    b'a' + (state >> 16) as u8 % 26
                };
            }
            let naive = |w: &[u8]| w.iter().position(|c| *c == b'"' || *c == b'\\');
            let word: &[u8; super::WORD] = w[..super::WORD].try_into().unwrap();
            assert_eq!(super::word_hit(word), naive(word), "{w:?}");
            let (a, b): (&[u8; 8], &[u8; 8]) = (w[..8].try_into().unwrap(), w[8..].try_into().unwrap());
            assert_eq!(super::word_hit_u64(a), naive(a), "{w:?}");
            assert_eq!(super::word_hit_u64(b), naive(b), "{w:?}");
        }
    }
}
