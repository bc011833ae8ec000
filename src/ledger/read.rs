//! Reading log files: JSON Lines (one record per line; a line may be a container such as a Cloudflare Logs API
//! page) or one JSON array, plain, gzip or zstd (told by the magic bytes, not the name). Files stream in blocks
//! of lines (or of an array's elements), each block read on all cores, so memory stays bounded by the block size
//! and the line cap, not the file size: a line or element longer than the cap is skipped (its bytes counted, not
//! kept) and becomes a reject.

use std::fs::File;
use std::io::{BufRead, BufReader, Read as IoRead};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{Item, Read, Text};
use crate::error::{Error, Result};
use crate::fork::PerProcess;
use crate::json;
use crate::usage::formats;
use crate::usage::Hints;

/// Bytes of lines read before a block is handed on.
pub const BLOCK_BYTES: usize = 8 << 20;

/// The longest line (or array element) read by default: a record of 60 MB (a long conversation with its
/// attachments) passes; a file with no line ends at all (a compressed bomb of NUL bytes) does not grow the block
/// past this.
pub const DEFAULT_MAX_LINE_BYTES: usize = 128 << 20;

/// The start of an over-long line kept for its reject's excerpt.
const HEAD: usize = 160;

fn io(path: &str, e: std::io::Error) -> Error {
    Error::Io { path: path.to_string(), message: e.to_string() }
}

/// How far a file has been read when a block is handed on: bytes taken from the file (compressed, for progress
/// against its size) and bytes read from it (decompressed: what memory and spilling depend on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub taken: u64,
    pub read: u64,
}

/// A file (or any stream) read through a counter of the bytes taken from it (before decompression), for progress
/// reports.
struct Counting<R> {
    file: R,
    taken: Arc<AtomicU64>,
}

impl<R: IoRead> IoRead for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file, decompressing gzip or zstd by their magic bytes; `taken` counts the file's bytes read so far.
pub fn open(path: &str, taken: Arc<AtomicU64>) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).map_err(|e| io(path, e))?;
    open_stream(path, Box::new(file), taken)
}

/// A stream named `name` (a file, an object of an object store) made readable as a file is: gzip or zstd
/// decompressed by their magic bytes; `taken` counts the stream's bytes read so far.
pub fn open_stream(name: &str, raw: Box<dyn IoRead + Send>, taken: Arc<AtomicU64>) -> Result<Box<dyn BufRead + Send>> {
    let path = name;
    let file = Counting { file: raw, taken };
    let mut file = BufReader::with_capacity(1 << 20, file);
    let head = file.fill_buf().map_err(|e| io(path, e))?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        // A small object whole, inflated in one call; otherwise (or when that fails, to report the error as the
        // stream does) streamed through flate2, the bytes read so far first.
        let mut whole = Vec::new();
        (&mut file).take(WHOLE_GZIP_IN as u64 + 1).read_to_end(&mut whole).map_err(|e| io(path, e))?;
        if whole.len() <= WHOLE_GZIP_IN {
            if let Some(text) = inflate_whole(&whole) {
                return Ok(Box::new(std::io::Cursor::new(text)));
            }
        }
        let file = std::io::Cursor::new(whole).chain(file);
        Box::new(BufReader::with_capacity(1 << 20, flate2::bufread::MultiGzDecoder::new(file)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(BufReader::with_capacity(
            1 << 20,
            zstd::stream::read::Decoder::with_buffer(file).map_err(|e| io(path, e))?,
        ))
    } else {
        Box::new(file)
    })
}

/// gzip inputs up to this size are read whole and inflated in one call ([`inflate_whole`]).
pub const WHOLE_GZIP_IN: usize = 8 << 20;
/// ... when what they hold is at most this size; larger ones stream in blocks.
pub const WHOLE_GZIP_OUT: usize = 32 << 20;

/// A gzip input (one member or several, one after another) inflated whole by libdeflate, 3x zlib's speed on
/// Logpush objects of realistic bodies (benches/RESULTS.md); `None` when it holds more than [`WHOLE_GZIP_OUT`]
/// bytes or is not valid gzip to the end (the caller streams it then, so the error is the stream's own). Each
/// member's CRC-32 and size are checked by libdeflate.
pub fn inflate_whole(gz: &[u8]) -> Option<Vec<u8>> {
    use libdeflate_sys::*;
    /// libdeflate's decompressor, freed when dropped.
    struct Inflater(*mut libdeflate_decompressor);
    impl Drop for Inflater {
        fn drop(&mut self) {
            // SAFETY: allocated by `libdeflate_alloc_decompressor` below, freed once.
            unsafe { libdeflate_free_decompressor(self.0) }
        }
    }
    // SAFETY: no arguments; a null pointer (out of memory) is checked.
    let inflater = Inflater(unsafe { libdeflate_alloc_decompressor() });
    if inflater.0.is_null() {
        return None;
    }
    // A member must be inflated into room for all of it: a single member's size is its trailer's last 4 bytes
    // (modulo 2^32); the room doubles when that was not enough (several members, or a wrong trailer).
    // A header with its own CRC (FHCRC): libdeflate skips that check, flate2 makes it; streamed.
    if gz.get(3).is_some_and(|flags| flags & 0x02 != 0) {
        return None;
    }
    let trailer = gz.len().checked_sub(4).map_or(0, |i| u32::from_le_bytes([gz[i], gz[i + 1], gz[i + 2], gz[i + 3]]));
    if trailer as usize > WHOLE_GZIP_OUT {
        // The last member alone holds more than is inflated whole (or the trailer is not a size: streamed, its
        // error the stream's own).
        return None;
    }
    let mut room = (trailer as usize).clamp(1 << 16, WHOLE_GZIP_OUT);
    let mut out: Vec<u8> = Vec::new();
    let mut at = 0;
    while at < gz.len() {
        if out.capacity() - out.len() < room {
            out.reserve(room);
        }
        // Never more than the cap in all: several members each under it may together pass it.
        let free = (out.capacity() - out.len()).min(WHOLE_GZIP_OUT - out.len());
        let (mut used, mut written) = (0usize, 0usize);
        // SAFETY: the input is `gz[at..]`; the output is the vector's free capacity (`free` bytes past its
        // length), which libdeflate writes at most `free` bytes of; `written` of them are then initialized.
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                inflater.0,
                gz[at..].as_ptr().cast(),
                gz.len() - at,
                out.as_mut_ptr().add(out.len()).cast(),
                free,
                &mut used,
                &mut written,
            )
        };
        if result == libdeflate_result_LIBDEFLATE_SUCCESS && used > 0 && written <= free {
            // SAFETY: libdeflate wrote `written` bytes into the free capacity.
            unsafe { out.set_len(out.len() + written) };
            at += used;
        } else if result == libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE && out.len() + free < WHOLE_GZIP_OUT {
            room = (2 * free).min(WHOLE_GZIP_OUT - out.len());
        } else {
            return None;
        }
    }
    Some(out)
}

/// The reject of a line or element longer than the cap (`bytes` long, or longer when the file ended first).
pub fn too_long(bytes: u64, cap: u64) -> String {
    format!(
        "a line of {bytes} bytes, longer than the limit of {cap} bytes: not read (raise max_line_bytes=, \
         --max-line-bytes on the command line, to read it)"
    )
}

/// Reads the records of one line into `out` (a container gives several, all with this line's number).
pub fn read_line<'t>(line: u64, bytes: &'t [u8], hints: &Hints, out: &mut Vec<Read<'t>>) {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim(),
        Err(e) => {
            let why = format!("not UTF-8: invalid byte at offset {}", e.valid_up_to());
            out.push(Read { line, record: Err(why), text: bytes });
            return;
        }
    };
    // Most lines are one object: parse it once, and look further only if it has a container's keys.
    if hints.format.is_none() && text.starts_with('{') {
        if let Ok(obj) = json::Obj::parse(text) {
            if !crate::usage::batch::CONTAINER_KEYS.iter().any(|k| obj.has(k)) {
                let record = formats::extract_obj(&obj, hints).map_err(|e| e.to_string());
                out.push(Read { line, record, text: bytes });
                return;
            }
        }
    }
    let one = |t: &str| formats::extract_text(t, hints).map_err(|e| e.to_string());
    // A container (a Logs API page, an OTLP export, an array of records) gives one record per element; a list of
    // one stream's chunks stays one record.
    if let Some(inner) = crate::usage::batch::container_records(text, hints) {
        if inner.is_empty() {
            // Nothing is lost: a container without records is a reject, not a silent gap.
            let why = crate::usage::batch::EMPTY_CONTAINER;
            out.push(Read { line, record: Err(why.to_string()), text: bytes });
            return;
        }
        out.extend(inner.iter().map(|e| Read { line, record: e.read(one), text: e.raw.get().as_bytes() }));
        return;
    }
    out.push(Read { line, record: one(text), text: bytes });
}

/// Streams the records of one file to `block`, a block of lines at a time: (line number, line) for JSON Lines,
/// (element number, element) for a file holding one JSON array; with how far the file has been read. A line or
/// element longer than `max_line` bytes is given as [`Text::TooLong`] (its start kept, the rest skipped).
pub fn read_file(
    path: &str,
    max_line: usize,
    mut block: impl FnMut(&[Item<'_>], Progress) -> Result<()>,
) -> Result<()> {
    read_file_to(path, max_line, &mut borrowing(&mut block))
}

/// [`read_file`], each block handed to `sink` (a block of lines given whole).
pub fn read_file_to(path: &str, max_line: usize, sink: &mut Sink<'_>) -> Result<()> {
    let file = File::open(path).map_err(|e| io(path, e))?;
    read_stream_to(path, Box::new(file), max_line, sink)
}

/// [`read_file`] for any stream (an object of an object store, a pipe): `name` names it in errors and rejects.
pub fn read_stream(
    name: &str,
    raw: Box<dyn IoRead + Send>,
    max_line: usize,
    mut block: impl FnMut(&[Item<'_>], Progress) -> Result<()>,
) -> Result<()> {
    read_stream_to(name, raw, max_line, &mut borrowing(&mut block))
}

/// A block of lines in a buffer of its own, as the JSON Lines reader reads it, handed over whole ([`Handed`]): it
/// may be priced in another thread while the reader goes on (see `ledger::run`), with no copy. Its buffer goes back
/// to the reader's spares when it is dropped.
pub struct Lines {
    block: Block,
    at: Progress,
    cap: u64,
}

impl Lines {
    /// How far its input was read when it was handed on.
    pub fn at(&self) -> Progress {
        self.at
    }

    /// Its items, borrowing its buffer, written into `room` (emptied first: a vector whose room is reused from
    /// block to block, see `pricer::reuse`).
    pub fn items<'l>(&'l self, room: &mut Vec<Item<'l>>) {
        let (buf, lines, _) = &self.block;
        let cap = self.cap;
        room.clear();
        room.extend(lines.iter().map(|&(no, a, b, full)| match full {
            Some(bytes) => (no, Text::TooLong { head: &buf[a..b], bytes, cap }),
            None => (no, Text::Record(&buf[a..b])),
        }));
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        keep_spare(std::mem::take(&mut self.block));
    }
}

/// What a reader hands on: a block of JSON Lines it owns, or (a whole array's elements, an array read in parts)
/// items it lends for the call.
pub enum Handed<'a> {
    Lines(Lines),
    Items(&'a [Item<'a>], Progress),
}

/// Where a reader hands its blocks (see [`Handed`]).
pub type Sink<'s> = dyn FnMut(Handed<'_>) -> Result<()> + 's;

/// A sink that lends each block's items to `block` (the blocks of lines, once made items, go back to the spares).
pub fn borrowing<'b>(
    block: &'b mut dyn FnMut(&[Item<'_>], Progress) -> Result<()>,
) -> impl FnMut(Handed<'_>) -> Result<()> + 'b {
    let mut room: Vec<Item<'static>> = Vec::new();
    move |handed| match handed {
        Handed::Lines(lines) => {
            let mut items = super::reuse(std::mem::take(&mut room));
            lines.items(&mut items);
            let done = block(&items, lines.at());
            room = super::reuse(items);
            done
        }
        Handed::Items(items, at) => block(items, at),
    }
}

/// [`read_stream`], each block handed to `sink` (a block of lines given whole).
pub fn read_stream_to(name: &str, raw: Box<dyn IoRead + Send>, max_line: usize, sink: &mut Sink<'_>) -> Result<()> {
    let path = name;
    let taken = Arc::new(AtomicU64::new(0));
    let mut reader = open_stream(path, raw, taken.clone())?;
    let max_line = max_line.max(1);
    if !starts_array(reader.fill_buf().map_err(|e| io(path, e))?) {
        return read_lines(path, &mut reader, max_line, &taken, sink);
    }
    // A file that starts with an array: its first block decides how it is read.
    let mut head = Vec::new();
    (&mut reader).take(BLOCK_BYTES as u64 + 1).read_to_end(&mut head).map_err(|e| io(path, e))?;
    if head.len() <= BLOCK_BYTES {
        // The whole file: one JSON array of records (or of one stream's chunks, one record); if it is not valid
        // JSON, it may be JSON Lines that start with an array (a stream's chunks): read line by line.
        if let Ok(text) = std::str::from_utf8(without_bom(&head)) {
            if let Ok(raw) = json::parse_raw(text) {
                let mut elements = json::array(raw).unwrap_or_default();
                if crate::usage::batch::looks_like_stream(&elements) {
                    elements = vec![raw];
                }
                let items: Vec<Item<'_>> = elements
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (i as u64 + 1, element(r.get().as_bytes(), max_line)))
                    .collect();
                let at = Progress { taken: taken.load(Ordering::Relaxed), read: head.len() as u64 };
                return sink(Handed::Items(&items, at));
            }
        }
        return read_lines(path, &mut std::io::Cursor::new(head), max_line, &taken, sink);
    }
    // Larger: JSON Lines of arrays when the first array closes on the first line and more follows; otherwise one
    // array, read element by element (never whole).
    let lines = first_array_is_a_line(&head);
    let mut rest = std::io::Cursor::new(head).chain(reader);
    if lines {
        read_lines(path, &mut rest, max_line, &taken, sink)
    } else {
        read_array(path, &mut rest, max_line, &taken, sink)
    }
}

/// An element of a whole array read at once (or a row of a table), as the streaming reader gives a line: too long
/// past the cap.
pub(crate) fn element(text: &[u8], max_line: usize) -> Text<'_> {
    if text.len() > max_line {
        Text::TooLong { head: &text[..HEAD.min(text.len())], bytes: text.len() as u64, cap: max_line as u64 }
    } else {
        Text::Record(text)
    }
}

/// Whether the array starting `head` closes before the first line ends, with more after it: JSON Lines whose
/// lines are arrays, not one array.
fn first_array_is_a_line(head: &[u8]) -> bool {
    let mut scan = ArrayScan::default();
    let mut close = None;
    scan.scan(head, 0, |i, what| {
        if what == b']' {
            close = Some(i);
        }
        close.is_none()
    });
    match close {
        Some(i) => !head[..i].contains(&b'\n') && head[i + 1..].iter().any(|b| !b.is_ascii_whitespace()),
        None => false,
    }
}

/// Where the elements of a top-level JSON array are, found incrementally as its text arrives: the structure
/// outside strings (brackets, commas at the top level), strings skipped to their closing quote.
#[derive(Default)]
struct ArrayScan {
    depth: u32,
    in_string: bool,
    /// A backslash ended the last text scanned (inside a string): the next byte is escaped.
    escape: bool,
    /// The top-level array has closed: what follows is not scanned.
    closed: bool,
}

impl ArrayScan {
    /// Scans `b[from..]`, giving `at` each top-level event: `b'['` (the array opens), `b','` (between elements),
    /// `b']'` (the array closes); `at` returns `false` to stop. Returns where scanning stopped.
    fn scan(&mut self, b: &[u8], from: usize, mut at: impl FnMut(usize, u8) -> bool) -> usize {
        let mut i = from;
        while i < b.len() && !self.closed {
            if self.escape {
                self.escape = false;
                i += 1;
                continue;
            }
            if self.in_string {
                match memchr::memchr2(b'"', b'\\', &b[i..]) {
                    None => return b.len(),
                    Some(k) if b[i + k] == b'\\' => {
                        self.escape = true;
                        i += k + 1;
                    }
                    Some(k) => {
                        self.in_string = false;
                        i += k + 1;
                    }
                }
                continue;
            }
            let event = match b[i] {
                b'"' => {
                    self.in_string = true;
                    None
                }
                b'[' | b'{' => {
                    self.depth += 1;
                    (self.depth == 1).then_some(b'[')
                }
                b']' | b'}' => {
                    // A close with nothing open: malformed, taken as the end (what follows is then read as text).
                    self.depth = self.depth.saturating_sub(1);
                    (self.depth == 0).then(|| {
                        self.closed = true;
                        b']'
                    })
                }
                b',' if self.depth == 1 => Some(b','),
                _ => None,
            };
            i += 1;
            if let Some(e) = event {
                if !at(i - 1, e) {
                    return i;
                }
            }
        }
        i
    }
}

/// Whether a line holds no record: white space only, after a UTF-8 byte order mark if it starts with one (as a
/// record's text is read without it), so a file of a BOM alone is as empty as an empty file.
fn blank(line: &[u8]) -> bool {
    without_bom(line).iter().all(u8::is_ascii_whitespace)
}

/// Text without the UTF-8 byte order mark it starts with, if it does (some tools write one at a file's start).
fn without_bom(text: &[u8]) -> &[u8] {
    text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text)
}

/// Whether a file's first bytes (decompressed) start one JSON array: `[` after white space, and after a UTF-8
/// byte order mark if the file starts with one, so such a file reads as the same file without it does.
fn starts_array(head: &[u8]) -> bool {
    without_bom(head).iter().copied().find(|b| !b.is_ascii_whitespace()) == Some(b'[')
}

/// `b[start..end]` without the white space around it.
fn trimmed(b: &[u8], start: usize, end: usize) -> (usize, usize) {
    let s = start + b[start..end].iter().take_while(|c| c.is_ascii_whitespace()).count();
    let e = end - b[s..end].iter().rev().take_while(|c| c.is_ascii_whitespace()).count();
    (s, e)
}

/// An element found: (element number, start, end, and its full length when it was too long and skipped).
type Found = (u64, usize, usize, Option<u64>);

/// One JSON array, element by element, in blocks of about [`BLOCK_BYTES`]: the elements complete in a block are
/// handed on, the one in progress moves to the front of the buffer. An element longer than `max_line` keeps its
/// start only; the rest of it is scanned and dropped.
fn read_array(
    path: &str,
    reader: &mut dyn IoRead,
    max_line: usize,
    taken: &AtomicU64,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let (mut filled, mut scanned, mut read) = (0usize, 0usize, 0u64);
    let mut scan = ArrayScan::default();
    // The element in progress: where it starts, whether a comma came before it, and the bytes of it dropped.
    let mut start: Option<usize> = None;
    let mut after_comma = false;
    let mut dropped: Option<u64> = None;
    let mut number = 0u64;
    let mut found: Vec<Found> = Vec::new();
    let mut events: Vec<(usize, u8)> = Vec::new();
    loop {
        if buf.len() < filled + BLOCK_BYTES {
            buf.resize(filled + BLOCK_BYTES, 0);
        }
        let n = loop {
            match reader.read(&mut buf[filled..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(path, e)),
            }
        };
        let eof = n == 0;
        filled += n;
        read += n as u64;
        events.clear();
        scanned = scan.scan(&buf[..filled], scanned, |i, e| {
            events.push((i, e));
            true
        });
        if scan.closed {
            scanned = filled; // the text after the array: not scanned, given as it is
        }
        found.clear();
        for &(i, e) in &events {
            match e {
                b'[' => start = Some(i + 1),
                b',' | b']' => {
                    if let Some(s) = start.take() {
                        let (a, z) = trimmed(&buf, s, i);
                        // `[]` holds nothing; an empty element between commas is given (and rejected).
                        if a < z || after_comma || dropped.is_some() {
                            number += 1;
                            let full = dropped.take().map(|d| d + (i - s) as u64);
                            found.push((number, a, z, full));
                        }
                    }
                    // After the array, its trailing text (if any) is taken as one more element.
                    after_comma = e == b',';
                    start = Some(i + 1);
                }
                _ => {}
            }
        }
        if eof {
            // A truncated array: its last element as it stands (a reject unless it is whole); text after the array
            // is given as a record too, never dropped.
            if let Some(s) = start.take() {
                let (a, z) = trimmed(&buf, s, filled);
                if a < z || dropped.is_some() {
                    number += 1;
                    found.push((number, a, z, dropped.take().map(|d| d + (filled - s) as u64)));
                }
            }
        }
        let items: Vec<Item<'_>> = found
            .iter()
            .map(|&(no, a, z, full)| match full.or_else(|| (z - a > max_line).then_some((z - a) as u64)) {
                Some(bytes) => (no, Text::TooLong { head: &buf[a..z.min(a + HEAD)], bytes, cap: max_line as u64 }),
                None => (no, Text::Record(&buf[a..z])),
            })
            .collect();
        if !items.is_empty() {
            sink(Handed::Items(&items, Progress { taken: taken.load(Ordering::Relaxed), read }))?;
        }
        if eof {
            return Ok(());
        }
        // Keep what is still in progress (an element, or the text after the array) at the front.
        let keep = start.unwrap_or(filled).min(filled);
        buf.copy_within(keep..filled, 0);
        filled -= keep;
        scanned -= keep.min(scanned);
        start = start.map(|s| s - keep);
        // An element past the cap: keep its start, drop what was scanned of the rest.
        if let Some(s) = start {
            if scanned - s > max_line || dropped.is_some() {
                let keep_to = (s + HEAD).min(scanned);
                *dropped.get_or_insert(0) += (scanned - keep_to) as u64;
                buf.copy_within(scanned..filled, keep_to);
                filled -= scanned - keep_to;
                scanned = keep_to;
            }
        }
    }
}

/// Reads the lines of a plain JSON Lines file that start in the byte range `[start, end)`, as [`read_file`] reads
/// a whole file: a line belongs to the range its first byte is in, so ranges that tile a file read every line
/// exactly once (a range that starts inside a line skips to the next line start; its last line is read past `end`
/// to its newline). Lines are numbered from 1 within the range, blank ones counted: line `n` of a range is the `n`th
/// line that starts in it. A file that cannot be entered in the middle — compressed (gzip or zstd, told by its
/// magic bytes), or starting with `[` (one JSON array, or JSON Lines of arrays) — is read whole by the range that
/// starts at 0 and gives nothing to the others, so tiling it still reads each record once.
pub fn read_range(
    path: &str,
    start: u64,
    end: u64,
    max_line: usize,
    mut block: impl FnMut(&[Item<'_>], Progress) -> Result<()>,
) -> Result<()> {
    read_range_to(path, start, end, max_line, &mut borrowing(&mut block))
}

/// [`read_range`], each block handed to `sink` (a block of lines given whole).
pub fn read_range_to(path: &str, start: u64, end: u64, max_line: usize, sink: &mut Sink<'_>) -> Result<()> {
    if start > end {
        return Err(Error::InvalidArgument(format!("{path}: byte range [{start}, {end}) is not a range")));
    }
    let mut file = File::open(path).map_err(|e| io(path, e))?;
    let mut head = [0u8; 4096];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]).map_err(|e| io(path, e))? {
            0 => break,
            n => got += n,
        }
    }
    let head = &head[..got];
    let whole = head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || starts_array(head);
    if whole {
        return if start == 0 { read_file_to(path, max_line, sink) } else { Ok(()) };
    }
    let taken = Arc::new(AtomicU64::new(0));
    let range = Range::new(file, start, end, taken.clone()).map_err(|e| io(path, e))?;
    let mut reader = BufReader::with_capacity(64 << 10, range);
    read_lines(path, &mut reader, max_line.max(1), &taken, sink)
}

/// A plain file's bytes from the first line start at or after `start` to the end of the last line that starts
/// before `end` (see [`read_range`]).
struct Range {
    file: File,
    /// The file's offset of the next byte given.
    at: u64,
    end: u64,
    /// The last byte given ended a line (or none was given): a line starts at `at`.
    line_start: bool,
    done: bool,
    taken: Arc<AtomicU64>,
}

impl Range {
    fn new(mut file: File, start: u64, end: u64, taken: Arc<AtomicU64>) -> std::io::Result<Range> {
        use std::io::{Seek, SeekFrom};
        // The file was read from already (its first bytes, to tell what it holds).
        file.seek(SeekFrom::Start(start))?;
        let mut at = start;
        if start > 0 {
            // The line holding byte start-1 began before this range: skip to its end.
            file.seek(SeekFrom::Start(start - 1))?;
            let mut buf = vec![0u8; 64 << 10];
            at = start - 1;
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
                    at += i as u64 + 1;
                    break;
                }
                at += n as u64;
            }
            file.seek(SeekFrom::Start(at))?;
        }
        Ok(Range { file, at, end, line_start: true, done: false, taken })
    }
}

impl IoRead for Range {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() || (self.at >= self.end && self.line_start) {
            self.done = true;
            return Ok(0);
        }
        // Up to `end`; past it, the line in progress up to its newline.
        let room =
            if self.at < self.end { buf.len().min((self.end - self.at) as usize) } else { buf.len().min(64 << 10) };
        let mut n = self.file.read(&mut buf[..room])?;
        if n == 0 {
            self.done = true;
            return Ok(0);
        }
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
        if self.at >= self.end {
            if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
                n = i + 1;
                self.done = true;
            }
        }
        self.at += n as u64;
        self.line_start = buf[n - 1] == b'\n';
        Ok(n)
    }
}

/// A block read ahead: its buffer (whole lines at the start), its lines as (line number, start, end, full length
/// of a line too long to keep), and the bytes of the file read when it was filled.
type Block = (Vec<u8>, Vec<(u64, usize, usize, Option<u64>)>, u64);

/// Block buffers left by the inputs read so far, for the next input of a run to read into: a run of many small
/// files (Logpush objects of a few MB) would otherwise zero two fresh [`BLOCK_BYTES`] buffers per file, fresh pages
/// the kernel clears too (a fifth of a run's time over 36 such objects, measured). At most [`SPARES`] are kept, and
/// [`release_spares`] frees them when a run ends. Per process (`crate::fork`): a child forked while a reader held
/// the lock starts with a pool of its own.
static SPARE: PerProcess<Mutex<Vec<Block>>> = PerProcess::new(|| Mutex::new(Vec::new()));

/// The most block buffers kept for reuse (a reader uses four at most, and a run reading ahead holds two more).
const SPARES: usize = 6;

/// A spare block buffer, or a new (empty) one.
fn spare() -> Block {
    SPARE.get().lock().ok().and_then(|mut s| s.pop()).unwrap_or_default()
}

/// Keeps a block buffer for the next input, up to [`SPARES`]; one that holds nothing is not worth keeping, and one
/// grown past two blocks (for a long line) is freed now rather than held to the run's end.
fn keep_spare(block: Block) {
    if block.0.capacity() == 0 || block.0.capacity() > 2 * BLOCK_BYTES {
        return;
    }
    if let Ok(mut s) = SPARE.get().lock() {
        if s.len() < SPARES {
            s.push(block);
        }
    }
}

/// Frees the block buffers kept between inputs: a run calls it when it ends, so memory goes back once the work is
/// done (a run still reading elsewhere then allocates its buffers afresh).
pub fn release_spares() {
    if let Ok(mut s) = SPARE.get().lock() {
        s.clear();
    }
}

/// JSON Lines in blocks of about [`BLOCK_BYTES`]: one buffer per block, each handed on whole ([`Lines`]). A reader
/// thread reads and splits the next block while the current one is priced; four buffers at most are in use by it
/// (one priced, one queued, one being filled, one taking the partial line at its end), each back in the spares
/// once priced and reused in turn. A line longer than a
/// block grows the block, up to `max_line`; past it, the line's start is kept and the rest read and dropped up to
/// its end (each byte looked at once: the part already searched for a line end is not searched again).
///
/// A buffer is zeroed once, when it first grows, and then read into as it is (`Read::read_to_end` would zero its
/// room again at every call, and fresh room is fresh pages for the kernel to clear: 10% of the time of a log run,
/// measured).
fn read_lines(
    path: &str,
    reader: &mut (dyn BufRead + Send),
    max_line: usize,
    taken: &AtomicU64,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Result<Block>>(1);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let next = spare;
            let mut line_no: u64 = 0;
            let mut read: u64 = 0;
            let (mut buf, mut lines, _) = next();
            // `buf[..filled]` holds data; the rest of `buf` is room (initialized). `buf[..scanned]` holds no line
            // end (a line longer than the block so far).
            let (mut filled, mut scanned) = (0, 0);
            let mut want = BLOCK_BYTES;
            // The line at the start of `buf` is too long: its bytes dropped so far (its start is kept).
            let mut dropped: Option<u64> = None;
            loop {
                // Fill the block: what was left after the last newline, then more.
                let mut eof = false;
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                while filled < want {
                    match reader.read(&mut buf[filled..want]) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => {
                            filled += n;
                            read += n as u64;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = full_tx.send(Err(io(path, e)));
                            return;
                        }
                    }
                }
                // A line too long: drop what was read of it past its start, up to its end.
                if let Some(d) = dropped.as_mut() {
                    let keep = HEAD.min(scanned);
                    match memchr::memchr(b'\n', &buf[keep..filled]) {
                        Some(i) => {
                            *d += i as u64;
                            buf.copy_within(keep + i..filled, keep);
                            filled -= i;
                        }
                        None if !eof => {
                            *d += (filled - keep) as u64;
                            filled = keep;
                            continue;
                        }
                        None => {
                            *d += (filled - keep) as u64;
                            filled = keep;
                        }
                    }
                }
                // Whole lines only, unless the file ends; a line longer than a block grows the block.
                let end = if eof {
                    filled
                } else {
                    match memchr::memrchr(b'\n', &buf[scanned..filled]) {
                        Some(i) => scanned + i + 1,
                        None if filled > max_line => {
                            // Past the cap: keep the line's start, and drop the rest of it as it is read.
                            let keep = HEAD.min(filled);
                            dropped = Some((filled - keep) as u64);
                            (filled, scanned, want) = (keep, keep, BLOCK_BYTES);
                            continue;
                        }
                        None => {
                            scanned = filled;
                            want = filled + BLOCK_BYTES;
                            continue;
                        }
                    }
                };
                want = BLOCK_BYTES;
                lines.clear();
                let mut start = 0;
                while start < end {
                    let stop = memchr::memchr(b'\n', &buf[start..end]).map_or(end, |i| start + i);
                    line_no += 1;
                    if let Some(d) = dropped.take() {
                        lines.push((line_no, start, stop, Some(d + (stop - start) as u64)));
                    } else if stop - start > max_line {
                        // Over the cap, the file having ended before the block grew past it.
                        lines.push((line_no, start, start + HEAD.min(stop - start), Some((stop - start) as u64)));
                    } else if !blank(&buf[start..stop]) {
                        lines.push((line_no, start, stop, None));
                    }
                    start = stop + 1;
                }
                // The rest (a partial line) starts the next buffer.
                let (mut rest, rest_lines, _) = next();
                let tail = filled - end;
                if rest.len() < tail.max(want) {
                    rest.resize(tail.max(want), 0);
                }
                rest[..tail].copy_from_slice(&buf[end..filled]);
                // The receiver gone (an error while pricing): stop reading.
                if full_tx.send(Ok((buf, lines, read - tail as u64))).is_err() || eof {
                    keep_spare((rest, rest_lines, 0));
                    return;
                }
                (buf, lines, filled, scanned) = (rest, rest_lines, tail, tail);
            }
        });
        for got in full_rx {
            let (buf, lines, read) = got?;
            let at = Progress { taken: taken.load(Ordering::Relaxed), read };
            // Handed on whole; its buffer goes back to the spares when it has been priced (dropped).
            let block = Lines { block: (buf, lines, 0), at, cap: max_line as u64 };
            if !block.block.1.is_empty() {
                sink(Handed::Lines(block))?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'t>(t: &Text<'t>) -> &'t [u8] {
        match t {
            Text::Record(t) => t,
            other => panic!("not a record: {other:?}"),
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tokenprice-read-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Every item of a file: (number, the record's text or `TooLong(bytes)`), and the last progress.
    fn items_of(path: &std::path::Path, cap: usize) -> (Vec<(u64, String)>, Progress) {
        let mut got = Vec::new();
        let mut last = Progress::default();
        read_file(path.to_str().unwrap(), cap, |items, at| {
            for (no, t) in items {
                let text = match t {
                    Text::Record(t) => String::from_utf8_lossy(t).into_owned(),
                    Text::TooLong { head, bytes, cap } => {
                        assert!(head.len() <= HEAD);
                        format!("TooLong({bytes}>{cap}:{})", String::from_utf8_lossy(&head[..head.len().min(4)]))
                    }
                    Text::Missing => "missing".into(),
                };
                got.push((*no, text));
            }
            last = at;
            Ok(())
        })
        .unwrap();
        (got, last)
    }

    /// A line past the cap is one reject-to-be (its length counted, its start kept) and the lines around it come
    /// out whole: in the middle of a file, at its end without a newline, and a file that is one endless line of
    /// NUL bytes (gzip: the bytes read are the decompressed ones, not the file's).
    #[test]
    fn lines_past_the_cap_are_skipped_and_counted() {
        use std::io::Write;
        let dir = scratch("cap");
        let path = dir.join("long.jsonl");
        let long = "x".repeat(3 * BLOCK_BYTES + 17);
        std::fs::write(&path, format!("{{\"a\":1}}\n{long}\n{{\"b\":2}}\n{long}")).unwrap();
        let (got, _) = items_of(&path, 1000);
        let want = format!("TooLong({}>1000:xxxx)", long.len());
        assert_eq!(got, vec![(1, "{\"a\":1}".into()), (2, want.clone()), (3, "{\"b\":2}".into()), (4, want.clone())]);
        // Under the default cap the long line is read whole.
        let (got, _) = items_of(&path, DEFAULT_MAX_LINE_BYTES);
        assert_eq!(got[1], (2, long.clone()));
        // No line end at all, compressed: 64 MB of NUL bytes from a small file, read with a 1 MB cap.
        let gz = dir.join("nul.gz");
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap();
        let (got, at) = items_of(&gz, 1 << 20);
        assert_eq!(got, vec![(1, format!("TooLong({}>{}:\0\0\0\0)", 64 << 20, 1 << 20))]);
        assert_eq!(at.read, 64 << 20);
        assert!(at.taken < 1 << 20, "{at:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file holding one JSON array larger than a block is read element by element: the same elements as the
    /// whole array parsed at once, in order, cut across blocks; an element past the cap skipped and counted; text
    /// after the array and a truncated last element given as they are (to be rejected), never dropped.
    #[test]
    fn large_arrays_stream_element_by_element() {
        let dir = scratch("array");
        let mut elements = Vec::new();
        let mut size = 0;
        let mut n = 0;
        while size < 2 * BLOCK_BYTES + 12345 {
            n += 1;
            let pad = "y".repeat(n % 500);
            let e = format!("{{\"n\": {n}, \"s\": \"a\\\"],[{{{pad}\\\\\", \"l\": [1, {{\"x\": []}}]}}");
            size += e.len() + 4;
            elements.push(e);
        }
        let text = format!(" [\n  {}\n] \n", elements.join(",\n  "));
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), elements.len());
        let path = dir.join("big.json");
        std::fs::write(&path, &text).unwrap();
        let (got, at) = items_of(&path, DEFAULT_MAX_LINE_BYTES);
        let want: Vec<(u64, String)> = elements.iter().enumerate().map(|(i, e)| (i as u64 + 1, e.clone())).collect();
        assert!(got == want, "elements differ");
        assert_eq!(at.read, text.len() as u64);
        // A cap below some elements: those are skipped, the others whole.
        let (got, _) = items_of(&path, 300);
        assert_eq!(got.len(), elements.len());
        for ((_, g), e) in got.iter().zip(&elements) {
            if e.len() > 300 {
                assert_eq!(g, &format!("TooLong({}>300:{{\"n\")", e.len()));
            } else {
                assert_eq!(g, e);
            }
        }
        // Cut short, then followed by text: both given.
        std::fs::write(&path, &text[..text.len() - 40]).unwrap();
        let (got, _) = items_of(&path, DEFAULT_MAX_LINE_BYTES);
        assert_eq!(got.len(), elements.len());
        assert_eq!(got.last().unwrap().1, elements.last().unwrap()[..elements.last().unwrap().len() - 36]);
        std::fs::write(&path, format!("{text}{{\"after\": 1}}\n")).unwrap();
        let (got, _) = items_of(&path, DEFAULT_MAX_LINE_BYTES);
        assert_eq!(got.last().unwrap(), &(elements.len() as u64 + 1, "{\"after\": 1}".to_string()));
        // JSON Lines whose lines are arrays, larger than a block: read line by line.
        let line = format!("[{}]", elements[..40].join(","));
        let lines: Vec<&str> = std::iter::repeat_n(line.as_str(), 2 * BLOCK_BYTES / line.len() + 2).collect();
        std::fs::write(&path, lines.join("\n")).unwrap();
        let (got, _) = items_of(&path, DEFAULT_MAX_LINE_BYTES);
        assert_eq!(got.len(), lines.len());
        assert!(got.iter().all(|(_, g)| g == &line));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Lines cut across block boundaries (read ahead by the reader thread, buffers reused) come out whole, once
    /// each, numbered in order; blank lines are skipped but counted; a line longer than a block grows the block.
    #[test]
    fn blocks_give_every_line_once_in_order() {
        let dir = std::env::temp_dir().join(format!("tokenprice-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lines.jsonl");
        let mut text = String::new();
        let mut expected = Vec::new();
        let mut n = 0u64;
        while text.len() < 2 * BLOCK_BYTES + BLOCK_BYTES / 3 {
            n += 1;
            if n % 1000 == 0 {
                text.push_str("  \n"); // blank: counted, not read
                continue;
            }
            let pad = if n == 7777 { "x".repeat(BLOCK_BYTES + 5) } else { "y".repeat((n % 300) as usize) };
            let line = format!("{{\"n\":{n},\"pad\":\"{pad}\"}}");
            text.push_str(&line);
            text.push('\n');
            expected.push((n, line));
        }
        text.pop(); // the last line without its newline
        std::fs::write(&path, &text).unwrap();
        let mut got = Vec::new();
        let mut last_taken = 0;
        read_file(path.to_str().unwrap(), DEFAULT_MAX_LINE_BYTES, |items, at| {
            got.extend(items.iter().map(|(no, t)| (*no, String::from_utf8(record(t).to_vec()).unwrap())));
            last_taken = at.taken;
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "lines differ");
        assert_eq!(last_taken, text.len() as u64);
        // An error while pricing a block stops the reader (no hang, the error comes back).
        let stopped = read_file(path.to_str().unwrap(), DEFAULT_MAX_LINE_BYTES, |_, _| {
            Err(Error::InvalidArgument("stop".into()))
        });
        assert!(matches!(stopped, Err(Error::InvalidArgument(m)) if m == "stop"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A buffer left by one input and reused by the next holds the first input's bytes past what the second
    /// reads: the second input's lines come out alone and whole (a short file after a long one, its last line
    /// without a newline; then a file of one short line, and an empty one).
    #[test]
    fn buffers_kept_between_inputs_leak_nothing_into_the_next() {
        let dir = scratch("spares");
        let long = dir.join("long.jsonl");
        let line = format!("{{\"pad\":\"{}\"}}", "z".repeat(1000));
        let text: Vec<&str> = std::iter::repeat_n(line.as_str(), BLOCK_BYTES / line.len() + 500).collect();
        std::fs::write(&long, text.join("\n") + "\n").unwrap();
        let (got, _) = items_of(&long, DEFAULT_MAX_LINE_BYTES);
        assert_eq!(got.len(), text.len());
        for (body, want) in
            [("{\"a\":1}\n{\"b\":2}", vec!["{\"a\":1}", "{\"b\":2}"]), ("{\"c\":3}", vec!["{\"c\":3}"]), ("", vec![])]
        {
            let short = dir.join("short.jsonl");
            std::fs::write(&short, body).unwrap();
            let (got, at) = items_of(&short, DEFAULT_MAX_LINE_BYTES);
            let texts: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
            assert_eq!(texts, want);
            assert_eq!(at.read, body.len() as u64);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Every record of a byte range, as text (trimmed of `\r`), with its number.
    fn range_items(path: &std::path::Path, start: u64, end: u64, cap: usize) -> Vec<(u64, String)> {
        let mut got = Vec::new();
        read_range(path.to_str().unwrap(), start, end, cap, |items, _| {
            for (no, t) in items {
                let text = match t {
                    Text::Record(t) => String::from_utf8_lossy(t).trim_end_matches('\r').to_string(),
                    Text::TooLong { bytes, .. } => format!("TooLong({bytes})"),
                    Text::Missing => "missing".into(),
                };
                got.push((*no, text));
            }
            Ok(())
        })
        .unwrap();
        got
    }

    /// Byte ranges that tile a file, cut anywhere (inside a line, on a newline, just after one, on a `\r`), read
    /// every line exactly once and in order: the randomized tiling of the engines' read tasks, against the core.
    /// Each range numbers its lines from 1, blank lines counted; a line past the cap is still one reject.
    #[test]
    fn byte_ranges_that_tile_a_file_read_every_line_once() {
        let dir = scratch("ranges");
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for case in 0..12 {
            let mut lines: Vec<String> = Vec::new();
            for i in 0..(50 + next(300)) {
                let line = match next(20) {
                    0 => String::new(),
                    1 => "x".repeat(2000 + next(500) as usize),
                    _ => format!("{{\"n\":{i},\"pad\":\"{}\"}}", "é".repeat(next(40) as usize)),
                };
                lines.push(line);
            }
            let newline = if case % 3 == 0 { "\r\n" } else { "\n" };
            let mut text = lines.join(newline);
            if case % 2 == 1 {
                text.push_str(newline);
            }
            let path = dir.join(format!("tiles-{case}.jsonl"));
            std::fs::write(&path, &text).unwrap();
            let size = text.len() as u64;
            let mut cuts: Vec<u64> = (0..1 + next(30)).map(|_| 1 + next(size - 1)).collect();
            // Cuts on either side of a line boundary too.
            let first = lines[0].len() as u64;
            cuts.extend([first.saturating_sub(1), first, first + 1, first + 2].iter().filter(|&&c| c > 0 && c < size));
            cuts.sort_unstable();
            cuts.dedup();
            let bounds: Vec<u64> = std::iter::once(0).chain(cuts).chain(std::iter::once(size)).collect();
            // A line's bytes include its `\r` (when it has a newline after it).
            let cr = |i: usize| usize::from(newline == "\r\n" && (i + 1 < lines.len() || case % 2 == 1));
            let want: Vec<String> = (lines.iter().enumerate())
                .filter(|(_, l)| !l.is_empty())
                .map(|(i, l)| if l.len() + cr(i) > 1000 { format!("TooLong({})", l.len() + cr(i)) } else { l.clone() })
                .collect();
            let mut got = Vec::new();
            for w in bounds.windows(2) {
                let items = range_items(&path, w[0], w[1], 1000);
                // Numbered from 1 in each range, in order (blank lines counted, so gaps are allowed).
                assert!(items.windows(2).all(|p| p[0].0 < p[1].0), "case {case}: numbers out of order");
                got.extend(items.into_iter().map(|(_, t)| t));
            }
            if got != want {
                let at = got.iter().zip(&want).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
                let show = |v: &[String]| v.get(at).map(|t| t.chars().take(60).collect::<String>());
                panic!(
                    "case {case}: ranges {bounds:?}: {} lines for {}, first difference at {at}: {:?} for {:?}",
                    got.len(),
                    want.len(),
                    show(&got),
                    show(&want)
                );
            }
            // The whole file as one range: the same numbers as read_file gives.
            let numbers = |items: Vec<(u64, String)>| items.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
            assert_eq!(numbers(range_items(&path, 0, size, 1000)), numbers(items_of(&path, 1000).0));
            // A range past the end, and an empty one, read nothing.
            assert!(range_items(&path, size, size + 10, 1000).is_empty());
            assert!(range_items(&path, 3, 3, 1000).is_empty());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A compressed file, or one JSON array, cannot be entered in the middle: the range starting at 0 reads it
    /// whole (lines numbered as in the file), the others read nothing. A backwards range is an error naming it.
    #[test]
    fn unsplittable_files_are_read_whole_by_the_first_range() {
        use std::io::Write;
        let dir = scratch("whole");
        let gz = dir.join("logs.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        enc.finish().unwrap();
        let array = dir.join("records.json");
        std::fs::write(&array, "[{\"a\":1},\n {\"b\":2}]").unwrap();
        for path in [&gz, &array] {
            let size = std::fs::metadata(path).unwrap().len();
            let want = vec![(1, "{\"a\":1}".to_string()), (2, "{\"b\":2}".to_string())];
            assert_eq!(range_items(path, 0, 5, 1000), want);
            assert!(range_items(path, 5, size, 1000).is_empty());
        }
        let err = read_range(array.to_str().unwrap(), 9, 3, 1000, |_, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("[9, 3)") && err.to_string().contains("records.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What flate2's streaming decoder reads of `gz` (the path every gzip input took before `inflate_whole`):
    /// the text, or its error.
    fn streamed(gz: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(gz).read_to_end(&mut out).map(|_| out).map_err(|e| e.to_string())
    }

    fn gzip(text: &[u8], level: u32) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        std::io::Write::write_all(&mut enc, text).unwrap();
        enc.finish().unwrap()
    }

    /// inflate_whole gives exactly what the streaming decoder gives, or declines (the input then streams): one
    /// member or several, empty members, members whose trailer's size is wrong or whose CRC is wrong, cut short
    /// anywhere, trailing bytes, and text past what it inflates whole.
    #[test]
    fn inflating_whole_equals_streaming_or_declines() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for k in 0..40 {
            let n = (next() % 300_000) as usize;
            let letters = b"abcdefgh {}\":,0123456789\n";
            let text: Vec<u8> = (0..n).map(|i| letters[(next() as usize + i * (k % 3)) % letters.len()]).collect();
            let one = gzip(&text, (k % 10) as u32);
            let members: Vec<u8> = [one.clone(), gzip(b"", 6), gzip(&text[..n / 2], 1)].concat();
            cases.extend([one.clone(), members.clone()]);
            let cut = (next() as usize) % one.len().max(1);
            cases.push(one[..cut].to_vec());
            let mut bad_size = one.clone();
            let l = bad_size.len();
            bad_size[l - 1] ^= 0x40;
            cases.push(bad_size);
            let mut bad_crc = one.clone();
            bad_crc[l - 6] ^= 0x01;
            cases.push(bad_crc);
            cases.push([members, b"\0\0garbage".to_vec()].concat());
        }
        // More text than is inflated whole: declined, never cut.
        let big = vec![b'x'; WHOLE_GZIP_OUT + 10];
        let big_gz = gzip(&big, 1);
        assert!(inflate_whole(&big_gz).is_none());
        assert!(inflate_whole(&[big_gz.clone(), gzip(b"y", 1)].concat()).is_none());
        // Members each under the cap, together past it: declined too.
        let half = gzip(&vec![b'z'; WHOLE_GZIP_OUT / 2 + 10], 1);
        assert!(inflate_whole(&half).is_some());
        assert!(inflate_whole(&[half.clone(), half.clone()].concat()).is_none());
        // A header with its own CRC (FHCRC), which libdeflate does not check: declined (streamed, checked).
        let mut with_hcrc = gzip(b"{}", 6);
        with_hcrc[3] |= 0x02;
        assert!(inflate_whole(&with_hcrc).is_none());
        let (mut whole, mut declined) = (0, 0);
        for gz in &cases {
            match (inflate_whole(gz), streamed(gz)) {
                (Some(text), Ok(want)) => {
                    assert!(text == want, "inflated whole differs from streamed");
                    whole += 1;
                }
                (Some(_), Err(e)) => panic!("inflated whole what the stream rejects: {e}"),
                (None, _) => declined += 1,
            }
        }
        assert!(whole >= 80 && declined >= 80, "both paths taken: {whole} whole, {declined} declined");
    }
}
