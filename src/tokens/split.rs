//! Pre-tokenization: cutting text into the pieces that byte-pair merging then works on.
//!
//! OpenAI defines each encoding's pieces by a regular expression (`pat_str` in tiktoken). A general regex engine
//! with backtracking and look-ahead caps near 90 MB/s per core, so the built-in patterns are hand-written here as
//! small state machines that give exactly the matches of the regex (leftmost-first alternation, greedy
//! quantifiers with backtracking, `$` = end of text). Each function below quotes the alternative it implements.
//! The regexes stay the specification: a property test runs `fancy-regex` on the same patterns and compares.
//! Encodings loaded from files with any other pattern run on `fancy-regex`, as tiktoken does.

use crate::error::{Error, Result};
use crate::tokens::classes::{self, LETTER, LOWERISH, NUMBER, SPACE, UPPERISH};

/// The split pattern of r50k_base, p50k_base and p50k_edit (GPT-2's), as tiktoken 0.14 writes it.
pub const GPT2_PATTERN: &str = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";
/// The split pattern of cl100k_base, as tiktoken 0.14 writes it.
pub const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
/// cl100k's pattern as first published, and as Llama 3 uses it. It differs from [`CL100K_PATTERN`] only at the end
/// of a text: trailing whitespace that holds a newline is split after the last newline.
pub const CL100K_LEGACY_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// The split pattern of o200k_base and o200k_harmony.
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+",
);

/// How an encoding cuts text into pieces.
pub enum Split {
    Gpt2,
    Cl100k,
    Cl100kLegacy,
    O200k,
    /// Any other pattern, run by `fancy-regex` (the engine tiktoken uses).
    Regex {
        pattern: String,
        regex: Box<fancy_regex::Regex>,
    },
}

impl std::fmt::Debug for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.pattern())
    }
}

impl Split {
    /// The split for a pattern: a hand-written splitter when the pattern is one of the known ones.
    pub fn from_pattern(pattern: &str) -> Result<Split> {
        Ok(match pattern {
            GPT2_PATTERN => Split::Gpt2,
            CL100K_PATTERN => Split::Cl100k,
            CL100K_LEGACY_PATTERN => Split::Cl100kLegacy,
            _ if pattern == O200K_PATTERN => Split::O200k,
            _ => Split::regex(pattern)?,
        })
    }

    /// A regex-driven split even for a known pattern (the reference the hand-written splitters are tested against).
    pub fn regex(pattern: &str) -> Result<Split> {
        let regex = fancy_regex::Regex::new(pattern)
            .map_err(|e| Error::InvalidArgument(format!("split pattern {pattern:?} is not a valid regex: {e}")))?;
        Ok(Split::Regex { pattern: pattern.to_string(), regex: Box::new(regex) })
    }

    pub fn pattern(&self) -> &str {
        match self {
            Split::Gpt2 => GPT2_PATTERN,
            Split::Cl100k => CL100K_PATTERN,
            Split::Cl100kLegacy => CL100K_LEGACY_PATTERN,
            Split::O200k => O200K_PATTERN,
            Split::Regex { pattern, .. } => pattern,
        }
    }

    /// Calls `f` with each piece of `text`, in order, until `f` returns `false`.
    #[inline]
    pub fn for_each_piece<'t, F: FnMut(&'t [u8]) -> bool>(&self, text: &'t str, f: F) -> Result<()> {
        match self {
            Split::Gpt2 => run(text, f, gpt2_piece_end),
            Split::Cl100k => run(text, f, cl100k_piece_end::<false>),
            Split::Cl100kLegacy => run(text, f, cl100k_piece_end::<true>),
            Split::O200k => run(text, f, o200k_piece_end),
            Split::Regex { regex, .. } => run_regex(regex, text, f),
        }
    }

    /// Byte offsets where pieces end, from `start` (a piece boundary) until the first boundary at or after `stop`.
    /// Only for the hand-written splitters, which can resume in the middle of a text; `None` otherwise.
    pub fn piece_end_fn(&self) -> Option<fn(&[u8], usize) -> usize> {
        match self {
            Split::Gpt2 => Some(gpt2_piece_end),
            Split::Cl100k => Some(cl100k_piece_end::<false>),
            Split::Cl100kLegacy => Some(cl100k_piece_end::<true>),
            Split::O200k => Some(o200k_piece_end),
            Split::Regex { .. } => None,
        }
    }
}

#[inline(always)]
fn run<'t, F: FnMut(&'t [u8]) -> bool>(text: &'t str, mut f: F, piece_end: fn(&[u8], usize) -> usize) -> Result<()> {
    let t = text.as_bytes();
    let mut i = 0;
    while i < t.len() {
        let end = piece_end(t, i);
        if !f(&t[i..end]) {
            break;
        }
        i = end;
    }
    Ok(())
}

fn run_regex<'t, F: FnMut(&'t [u8]) -> bool>(regex: &fancy_regex::Regex, text: &'t str, mut f: F) -> Result<()> {
    for m in regex.find_iter(text) {
        let m = m.map_err(|e| Error::InvalidArgument(format!("split pattern failed on this text: {e}")))?;
        if !f(&text.as_bytes()[m.start()..m.end()]) {
            break;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Character access. `t` is always valid UTF-8 (it comes from a `&str`), and positions are char boundaries.

/// Flags and byte length of the character at `i`.
#[inline(always)]
fn char_at(t: &[u8], i: usize) -> (u8, usize) {
    let b = t[i];
    if b < 0x80 {
        (classes::ascii_flags(b), 1)
    } else {
        char_at_slow(t, i)
    }
}

#[inline(never)]
fn char_at_slow(t: &[u8], i: usize) -> (u8, usize) {
    let b = t[i] as u32;
    let (cp, len) = if b >= 0xF0 {
        (
            ((b & 0x07) << 18)
                | ((t[i + 1] as u32 & 0x3F) << 12)
                | ((t[i + 2] as u32 & 0x3F) << 6)
                | (t[i + 3] as u32 & 0x3F),
            4,
        )
    } else if b >= 0xE0 {
        (((b & 0x0F) << 12) | ((t[i + 1] as u32 & 0x3F) << 6) | (t[i + 2] as u32 & 0x3F), 3)
    } else {
        (((b & 0x1F) << 6) | (t[i + 1] as u32 & 0x3F), 2)
    };
    // Safety of the conversion: the bytes are valid UTF-8, so `cp` is a scalar value; fall back to "no class".
    (char::from_u32(cp).map_or(0, classes::flags), len)
}

/// The end of the run of characters whose flags satisfy `keep`, starting at `i`.
#[inline(always)]
fn run_while(t: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < t.len() {
        let b = t[i];
        if b < 0x80 {
            if !keep(classes::ascii_flags(b)) {
                break;
            }
            i += 1;
        } else {
            let (f, len) = char_at_slow(t, i);
            if !keep(f) {
                break;
            }
            i += len;
        }
    }
    i
}

#[inline(always)]
fn is_other(f: u8) -> bool {
    f & (SPACE | LETTER | NUMBER) == 0
}

#[inline(always)]
fn is_newline(b: u8) -> bool {
    b == b'\r' || b == b'\n'
}

/// Whether the character at `i` belongs to `[^\r\n\p{L}\p{N}]`, the optional prefix of the letter alternatives.
#[inline(always)]
fn is_prefix(t: &[u8], i: usize, f: u8) -> bool {
    f & (LETTER | NUMBER) == 0 && !is_newline(t[i])
}

/// Matches a case-insensitive ASCII letter at `i`, or U+017F LATIN SMALL LETTER LONG S where the letter is `s`
/// (Unicode simple case folding puts `ſ` with `s`, and the regex `(?i)` uses it). Returns the byte length.
#[inline(always)]
fn letter_ci(t: &[u8], i: usize, lower: u8) -> Option<usize> {
    let b = *t.get(i)?;
    if b | 0x20 == lower {
        Some(1)
    } else if lower == b's' && b == 0xC5 && t.get(i + 1) == Some(&0xBF) {
        Some(2)
    } else {
        None
    }
}

/// Case-insensitive English contraction at `i` (which holds `'`): `'s 't 're 've 'm 'll 'd`; returns its end.
#[inline]
fn contraction_ci(t: &[u8], i: usize) -> Option<usize> {
    let j = i + 1;
    for one in [b's', b't', b'm', b'd'] {
        if let Some(l) = letter_ci(t, j, one) {
            return Some(j + l);
        }
    }
    for (a, b) in [(b'r', b'e'), (b'v', b'e'), (b'l', b'l')] {
        if let Some(l1) = letter_ci(t, j, a) {
            if let Some(l2) = letter_ci(t, j + l1, b) {
                return Some(j + l1 + l2);
            }
        }
    }
    None
}

/// `\p{N}{1,3}` after the first number character: up to two more, ending at `end`.
#[inline(always)]
fn up_to_three_numbers(t: &[u8], mut end: usize) -> usize {
    for _ in 0..2 {
        if end < t.len() {
            let (f, len) = char_at(t, end);
            if f & NUMBER != 0 {
                end += len;
                continue;
            }
        }
        break;
    }
    end
}

/// ` ?[^\s\p{L}\p{N}]+` followed by any run of the `trailing` bytes (cl100k: `[\r\n]*`, o200k: `[\r\n/]*`);
/// `None` when the text at `i` (flags `f`) does not start such a piece.
#[inline(always)]
fn others_then(t: &[u8], i: usize, f: u8, trailing: impl Fn(u8) -> bool) -> Option<usize> {
    let start = if t[i] == b' ' && i + 1 < t.len() && is_other(char_at(t, i + 1).0) {
        i + 1
    } else if is_other(f) {
        i
    } else {
        return None;
    };
    let mut end = run_while(t, start, is_other);
    while end < t.len() && trailing(t[end]) {
        end += 1;
    }
    Some(end)
}

/// The whitespace run starting at `i`: its end, the start of its last character, and the end of its last
/// `\r`/`\n` (0 when it holds none).
#[inline(always)]
fn space_run(t: &[u8], i: usize) -> (usize, usize, usize) {
    let mut j = i;
    let mut last_start = i;
    let mut newline_end = 0;
    while j < t.len() {
        let b = t[j];
        if b < 0x80 {
            if classes::ascii_flags(b) & SPACE == 0 {
                break;
            }
            if is_newline(b) {
                newline_end = j + 1;
            }
            last_start = j;
            j += 1;
        } else {
            let (f, len) = char_at_slow(t, j);
            if f & SPACE == 0 {
                break;
            }
            last_start = j;
            j += len;
        }
    }
    (j, last_start, newline_end)
}

// ---------------------------------------------------------------------------------------------------------------
// GPT-2: '(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s

fn gpt2_piece_end(t: &[u8], i: usize) -> usize {
    let b = t[i];
    // '(?:[sdmt]|ll|ve|re)  (case-sensitive)
    if b == b'\'' {
        match (t.get(i + 1), t.get(i + 2)) {
            (Some(b's' | b'd' | b'm' | b't'), _) => return i + 2,
            (Some(b'l'), Some(b'l')) | (Some(b'v'), Some(b'e')) | (Some(b'r'), Some(b'e')) => return i + 3,
            _ => {}
        }
    }
    // ` ?X++` for X in letters, numbers, others: the optional space only helps when a run of X follows it.
    let start = if b == b' ' && i + 1 < t.len() { i + 1 } else { i };
    let (f, _) = char_at(t, start);
    if f & LETTER != 0 {
        return run_while(t, start, |f| f & LETTER != 0);
    }
    if f & NUMBER != 0 {
        return run_while(t, start, |f| f & NUMBER != 0);
    }
    if is_other(f) {
        return run_while(t, start, is_other);
    }
    // Whitespace (`start` moved past a space only if a non-space followed, so here `t[i]` is whitespace).
    let (end, last_start, _) = space_run(t, i);
    if end == t.len() {
        end // \s++$
    } else if last_start > i {
        last_start // \s+(?!\S): the run minus its last character, which joins the next piece
    } else {
        end // \s
    }
}

// ---------------------------------------------------------------------------------------------------------------
// cl100k: '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s
// LEGACY (Llama 3): the same without `\s++$`, which changes only trailing whitespace at the end of the text.

fn cl100k_piece_end<const LEGACY: bool>(t: &[u8], i: usize) -> usize {
    let b = t[i];
    if b == b'\'' {
        if let Some(end) = contraction_ci(t, i) {
            return end;
        }
    }
    let (f, len) = char_at(t, i);
    // [^\r\n\p{L}\p{N}]?+\p{L}++
    if f & LETTER != 0 {
        return run_while(t, i + len, |f| f & LETTER != 0);
    }
    if is_prefix(t, i, f) && i + len < t.len() && char_at(t, i + len).0 & LETTER != 0 {
        return run_while(t, i + len, |f| f & LETTER != 0);
    }
    // \p{N}{1,3}+
    if f & NUMBER != 0 {
        return up_to_three_numbers(t, i + len);
    }
    //  ?[^\s\p{L}\p{N}]++[\r\n]*+
    if let Some(end) = others_then(t, i, f, is_newline) {
        return end;
    }
    // Whitespace.
    let (end, last_start, newline_end) = space_run(t, i);
    if !LEGACY && end == t.len() {
        end // \s++$
    } else if newline_end > 0 {
        newline_end // \s*[\r\n]: up to and including the run's last newline
    } else if end == t.len() || last_start == i {
        end // \s+(?!\S) at the end of the text (legacy), or a single \s
    } else {
        last_start // \s+(?!\S)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// o200k:
//   A1 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   A2 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   A3 \p{N}{1,3}
//   A4  ?[^\s\p{L}\p{N}]+[\r\n/]*
//   A5 \s*[\r\n]+
//   A6 \s+(?!\S)
//   A7 \s+
// None of these quantifiers is possessive, so the letter alternatives backtrack: that is spelled out below.

/// `U*W+` from `s` (U = UPPERISH, W = LOWERISH). `U*` first takes the longest run of U; if the next character is
/// in W (it can only be Ll there) then `W+` runs on from it. Otherwise the regex backs `U*` off one character at a
/// time until the character it gave up is in W (Lm, Lo, M are in both classes); `W+` then ends right after it,
/// since everything later in the U run is Lu or Lt.
#[inline(always)]
fn o200k_upper_lower(t: &[u8], s: usize) -> Option<usize> {
    let mut u = s;
    let mut last_w_end = None;
    while u < t.len() {
        let (f, len) = char_at(t, u);
        if f & UPPERISH == 0 {
            if f & LOWERISH != 0 {
                return Some(run_while(t, u + len, |f| f & LOWERISH != 0));
            }
            break;
        }
        u += len;
        if f & LOWERISH != 0 {
            last_w_end = Some(u);
        }
    }
    last_w_end
}

/// `U+W*` from `s`.
#[inline(always)]
fn o200k_upper_then_lower(t: &[u8], s: usize) -> Option<usize> {
    if s >= t.len() || char_at(t, s).0 & UPPERISH == 0 {
        return None;
    }
    let u = run_while(t, s, |f| f & UPPERISH != 0);
    Some(run_while(t, u, |f| f & LOWERISH != 0))
}

/// The optional `(?i:'s|'t|'re|'ve|'m|'ll|'d)` after a letter piece.
#[inline(always)]
fn o200k_with_contraction(t: &[u8], end: usize) -> usize {
    if t.get(end) == Some(&b'\'') {
        contraction_ci(t, end).unwrap_or(end)
    } else {
        end
    }
}

fn o200k_piece_end(t: &[u8], i: usize) -> usize {
    let (f, len) = char_at(t, i);
    if f & LETTER != 0 {
        // A letter is in U or W, so A1 or A2 matches without the optional prefix.
        let end = o200k_upper_lower(t, i).or_else(|| o200k_upper_then_lower(t, i)).unwrap_or(i + len);
        return o200k_with_contraction(t, end);
    }
    if is_prefix(t, i, f) {
        // Each letter alternative first tries with the prefix, then without it; without it can only match when
        // the character itself is a mark (in both U and W).
        let is_mark = f & (UPPERISH | LOWERISH) != 0;
        let a1 = o200k_upper_lower(t, i + len).or_else(|| if is_mark { o200k_upper_lower(t, i) } else { None });
        let found = a1.or_else(|| {
            o200k_upper_then_lower(t, i + len).or_else(|| if is_mark { o200k_upper_then_lower(t, i) } else { None })
        });
        if let Some(end) = found {
            return o200k_with_contraction(t, end);
        }
    }
    // A3 \p{N}{1,3}
    if f & NUMBER != 0 {
        return up_to_three_numbers(t, i + len);
    }
    // A4  ?[^\s\p{L}\p{N}]+[\r\n/]*
    if let Some(end) = others_then(t, i, f, |b| matches!(b, b'\r' | b'\n' | b'/')) {
        return end;
    }
    // Whitespace: A5, A6, A7.
    let (end, last_start, newline_end) = space_run(t, i);
    if newline_end > 0 {
        newline_end
    } else if end == t.len() || last_start == i {
        end
    } else {
        last_start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(split: &Split, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        split
            .for_each_piece(text, |p| {
                out.push(String::from_utf8(p.to_vec()).unwrap());
                true
            })
            .unwrap();
        out
    }

    fn check(pattern: &str, text: &str) {
        let fast = Split::from_pattern(pattern).unwrap();
        assert!(!matches!(fast, Split::Regex { .. }), "pattern is recognised as a built-in one");
        let reference = Split::regex(pattern).unwrap();
        assert_eq!(pieces(&fast, text), pieces(&reference, text), "pattern {pattern} on {text:?}");
    }

    const PATTERNS: [&str; 4] = [GPT2_PATTERN, CL100K_PATTERN, CL100K_LEGACY_PATTERN, O200K_PATTERN];

    #[test]
    fn hand_written_splitters_match_the_regexes_on_tricky_text() {
        let samples = [
            "Hello, world! It's a test.\n\nNew paragraph   with  spaces\t\ttabs",
            "don't I'LL we've THEY'RE she'd ſ 'ſ I'ſ x'Ll",
            "HELLOworld ABC abc AbC aBC CamelCase mixedCASEword",
            "中文字符 日本語のテキスト 한국어 텍스트 中A Aä",
            "e\u{301}\u{301} \u{301}a \u{301} !\u{301} a\u{301}b \u{301}\u{301}",
            "1234567 ١٢٣٤ ½¼ 12a3",
            "  \n  \n\n   end  ",
            "trailing \n  ",
            "trailing\n",
            "   ",
            "\r\n\r\n",
            "a/b//c\n/\n",
            "!!!\n\n???  ",
            "emoji 😀😀 👩‍👩‍👧 flags 🇫🇷",
            "\u{a0}\u{a0}x \u{3000}y\u{2028}z",
            "tab\tx\u{b}y\u{c}z",
            "'",
            "x'",
            "''s",
            " 's",
            "\u{0130}stanbul ǅemal ʰa ˢs",
        ];
        for pattern in PATTERNS {
            for text in samples {
                check(pattern, text);
            }
        }
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        fn tricky_char() -> impl Strategy<Value = char> {
            prop_oneof![
                prop::sample::select(vec![
                    ' ', ' ', '\n', '\r', '\t', '\'', 's', 'S', 'l', 'L', 'e', 'r', 'v', 'd', 'm', 't', 'a', 'Z', '1',
                    '9', '!', '/', '.', '\u{301}', '\u{17f}', '\u{a0}', '\u{3000}', '中', 'ǅ', 'ʰ', 'É', 'ß', '٣', '½',
                    '😀', '\u{200d}', '\u{0b}', '-', '_',
                ]),
                any::<char>(),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]
            #[test]
            fn hand_written_splitters_match_the_regexes(chars in prop::collection::vec(tricky_char(), 0..40)) {
                let text: String = chars.into_iter().collect();
                for pattern in PATTERNS {
                    check(pattern, &text);
                }
            }
        }
    }
}
