//! Counting at scale: any tokenizer behind one type, batches on every core, one long text split across cores,
//! and a streaming counter whose memory does not grow with the input.

use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::parallel;
use crate::tokens::encoding::Encoding;
use crate::tokens::load::HfTokenizer;
use crate::tokens::special::Allowed;

/// Texts at least this long are counted on several threads when the split allows it.
const PARALLEL_TEXT: usize = 1 << 20;
/// The streaming counter works on blocks of this size.
const STREAM_BLOCK: usize = 4 << 20;

/// Any tokenizer tokenprice can count with.
#[derive(Clone)]
pub enum Tokenizer {
    /// A tiktoken-style BPE encoding (built in or loaded from a rank file).
    Bpe(Arc<Encoding>),
    /// A Hugging Face tokenizer.json. Its added tokens are matched the way the tokenizer itself matches them.
    HuggingFace(Arc<HfTokenizer>),
}

impl Tokenizer {
    pub fn name(&self) -> &str {
        match self {
            Tokenizer::Bpe(e) => e.name(),
            Tokenizer::HuggingFace(h) => h.name(),
        }
    }

    /// Counts one text; long texts of built-in encodings use up to `threads` threads.
    pub fn count(&self, text: &str, allowed: Allowed<'_>, threads: Option<usize>) -> Result<usize> {
        match self {
            Tokenizer::Bpe(e) => count_parallel(e, text, allowed, threads),
            Tokenizer::HuggingFace(h) => h.count(text),
        }
    }

    fn count_one(&self, text: &str, allowed: Allowed<'_>) -> Result<usize> {
        match self {
            Tokenizer::Bpe(e) => e.count(text, allowed),
            Tokenizer::HuggingFace(h) => h.count(text),
        }
    }

    pub fn count_till_limit(&self, text: &str, limit: usize, allowed: Allowed<'_>) -> Result<Option<usize>> {
        match self {
            Tokenizer::Bpe(e) => e.count_till_limit(text, limit, allowed),
            Tokenizer::HuggingFace(h) => Ok(Some(h.count(text)?).filter(|n| *n <= limit)),
        }
    }

    /// Counts each text on a pool of `threads` threads (default: every core); `None` texts give `None`.
    pub fn count_batch(
        &self,
        texts: &[Option<&str>],
        allowed: Allowed<'_>,
        threads: Option<usize>,
    ) -> Result<Vec<Option<usize>>> {
        if texts.len() <= 1 || threads == Some(1) {
            return texts.iter().map(|t| t.map(|t| self.count(t, allowed, threads)).transpose()).collect();
        }
        parallel::install(threads, || {
            texts
                .par_iter()
                .with_min_len(8)
                .map(|t| t.map(|t| self.count_one(t, allowed)).transpose())
                .collect::<Result<Vec<_>>>()
        })?
    }
}

/// A byte offset at or after `from` where every built-in split pattern must start a new piece, whatever comes
/// before: just after a `\n` and before an ASCII letter or digit (no pattern lets a piece run from a newline into
/// a letter or digit, and none looks behind).
fn safe_cut(t: &[u8], from: usize) -> Option<usize> {
    let mut at = from.max(1);
    while at < t.len() {
        let nl = at - 1 + memchr::memchr(b'\n', &t[at - 1..])?;
        let p = nl + 1;
        if p < t.len() && t[p].is_ascii_alphanumeric() {
            return Some(p);
        }
        at = p + 1;
    }
    None
}

/// Counts a long text on several threads, cutting it only where a piece must begin ([`safe_cut`]); every chunk
/// is split with the whole text in view, so the pieces are exactly those of a single pass.
fn count_parallel(enc: &Encoding, text: &str, allowed: Allowed<'_>, threads: Option<usize>) -> Result<usize> {
    if !matches!(allowed, Allowed::None) {
        return enc.count(text, allowed);
    }
    count_until(enc, text, text.len(), threads)
}

/// Counts the pieces of `text` that begin before `stop` (a place where a piece must begin), in parallel when the
/// text is long and the split pattern is a built-in one.
fn count_until(enc: &Encoding, text: &str, stop: usize, threads: Option<usize>) -> Result<usize> {
    let Some(piece_end) = enc.split().piece_end_fn() else {
        return if stop == text.len() { enc.count(text, Allowed::None) } else { enc.count_until(text, stop) };
    };
    if stop < PARALLEL_TEXT {
        // Short texts (every per-request call) touch no pool, no environment and no thread count.
        return Ok(enc.count_span(text, 0, stop, piece_end));
    }
    let threads_n = threads.unwrap_or_else(parallel::default_threads);
    let t = text.as_bytes();
    let mut cuts = vec![0usize];
    if threads_n > 1 {
        let chunks = threads_n * 4;
        for k in 1..chunks {
            let target = stop * k / chunks;
            match safe_cut(&t[..stop], target) {
                Some(p) if p > *cuts.last().unwrap() => cuts.push(p),
                _ => {}
            }
        }
    }
    cuts.push(stop);
    cuts.dedup();
    let spans: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    if spans.len() <= 1 {
        return Ok(spans.first().map_or(0, |&(s, e)| enc.count_span(text, s, e, piece_end)));
    }
    parallel::install(threads, || spans.par_iter().map(|&(s, e)| enc.count_span(text, s, e, piece_end)).sum::<usize>())
}

/// Counts a stream of bytes (a file, stdin) in bounded memory: blocks of `STREAM_BLOCK` bytes are cut where a
/// piece must begin, and only the tail after the cut is carried into the next block.
pub struct StreamCounter {
    encoding: Arc<Encoding>,
    source: String,
    replace_invalid: bool,
    threads: Option<usize>,
    buf: Vec<u8>,
    block: usize,
    /// Offset in the stream of `buf[0]`, for error messages.
    offset: u64,
    total: u64,
}

impl StreamCounter {
    /// `source` names the stream in errors; with `replace_invalid`, invalid UTF-8 counts as U+FFFD (as Python's
    /// `errors="replace"`), otherwise it is an error naming the byte offset.
    pub fn new(encoding: Arc<Encoding>, source: &str, replace_invalid: bool, threads: Option<usize>) -> StreamCounter {
        StreamCounter {
            encoding,
            source: source.to_string(),
            replace_invalid,
            threads,
            buf: Vec::new(),
            block: STREAM_BLOCK,
            offset: 0,
            total: 0,
        }
    }

    /// Sets the block size (tests use tiny blocks to exercise the cuts).
    pub fn with_block_size(mut self, block: usize) -> StreamCounter {
        self.block = block.max(1);
        self
    }

    pub fn feed(&mut self, data: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.block {
            self.process(false)?;
        }
        Ok(())
    }

    /// Counts the file at `path` (`count_file`), read in pieces of 1 MiB and counted in blocks, so memory stays
    /// bounded whatever its size. A file that cannot be opened or read is an [`Error::Io`] naming it; invalid UTF-8
    /// is reported or replaced as [`StreamCounter::new`] says.
    pub fn count_path(
        encoding: Arc<Encoding>,
        path: &std::path::Path,
        replace_invalid: bool,
        threads: Option<usize>,
    ) -> Result<u64> {
        use std::io::Read;
        let name = path.display().to_string();
        let io = |e: std::io::Error| Error::Io { path: name.clone(), message: e.to_string() };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut counter = StreamCounter::new(encoding, &name, replace_invalid, threads);
        let mut piece = vec![0u8; 1 << 20];
        loop {
            match file.read(&mut piece) {
                Ok(0) => return counter.finish(),
                Ok(n) => counter.feed(&piece[..n])?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
    }

    /// Counts what is left and returns the stream's total.
    pub fn finish(mut self) -> Result<u64> {
        self.process(true)?;
        Ok(self.total)
    }

    /// The valid UTF-8 prefix of `buf` (invalid bytes replaced or reported), and where the unfinished tail starts.
    fn text_of_buf(&mut self, at_end: bool) -> Result<(String, usize)> {
        let mut text = String::new();
        let mut i = 0;
        loop {
            match std::str::from_utf8(&self.buf[i..]) {
                Ok(s) => {
                    text.push_str(s);
                    return Ok((text, self.buf.len()));
                }
                Err(e) => {
                    let good = i + e.valid_up_to();
                    text.push_str(std::str::from_utf8(&self.buf[i..good]).expect("checked prefix"));
                    match e.error_len() {
                        // An unfinished character at the end of the block: keep it for the next block.
                        None if !at_end => return Ok((text, good)),
                        _ if !self.replace_invalid => {
                            return Err(Error::InvalidUtf8 {
                                source_name: self.source.clone(),
                                offset: self.offset + good as u64,
                            })
                        }
                        bad_len => {
                            text.push('\u{FFFD}');
                            i = good + bad_len.unwrap_or(self.buf.len() - good);
                        }
                    }
                }
            }
        }
    }

    fn process(&mut self, at_end: bool) -> Result<()> {
        let (text, tail_start) = self.text_of_buf(at_end)?;
        let cut = if at_end {
            text.len()
        } else {
            match last_safe_cut(text.as_bytes(), &self.encoding) {
                Some(c) => c,
                None => return Ok(()), // no cut yet (one giant piece so far): keep reading
            }
        };
        // Count up to the cut with the rest of the block in view (the cut is not the end of the text).
        self.total += count_until(&self.encoding, &text, cut, self.threads)? as u64;
        // Carry the text after the cut (re-encoded the way it was read) plus the unfinished tail bytes.
        let mut carry = text.as_bytes()[cut..].to_vec();
        carry.extend_from_slice(&self.buf[tail_start..]);
        self.offset += (self.buf.len() - carry.len()) as u64;
        self.buf = carry;
        Ok(())
    }
}

/// The last place in `t` where a new piece must begin regardless of what follows: a [`safe_cut`] for the built-in
/// splits, or the start of the second-to-last piece for others (pieces before it never look further ahead).
fn last_safe_cut(t: &[u8], enc: &Encoding) -> Option<usize> {
    if enc.split().piece_end_fn().is_some() {
        let mut end = t.len();
        while let Some(nl) = memchr::memrchr(b'\n', &t[..end]) {
            if nl + 1 < t.len() && t[nl + 1].is_ascii_alphanumeric() {
                return Some(nl + 1);
            }
            end = nl;
        }
    }
    let text = std::str::from_utf8(t).ok()?;
    let mut starts = Vec::new();
    let mut pos = 0;
    enc.split()
        .for_each_piece(text, |p| {
            starts.push(pos);
            pos += p.len();
            true
        })
        .ok()?;
    (starts.len() >= 3).then(|| starts[starts.len() - 2])
}
