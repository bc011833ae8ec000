//! Reading log files: JSON Lines (one record per line; a line may be a container such as a Cloudflare Logs API
//! page) or one JSON array, plain, gzip or zstd (told by the magic bytes, not the name). Files stream in blocks
//! of lines, each block read on all cores, so memory stays bounded by the block size, not the file size.

use std::fs::File;
use std::io::{BufRead, BufReader, Read as IoRead};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Item, Read};
use crate::error::{Error, Result};
use crate::usage::extract::{self, Hints};
use crate::usage::json;

/// Bytes of lines read before a block is handed on.
pub const BLOCK_BYTES: usize = 8 << 20;

fn io(path: &str, e: std::io::Error) -> Error {
    Error::Io { path: path.to_string(), message: e.to_string() }
}

/// A file read through a counter of the bytes taken from it (before decompression), for progress reports.
struct Counting {
    file: File,
    taken: Arc<AtomicU64>,
}

impl IoRead for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file, decompressing gzip or zstd by their magic bytes; `taken` counts the file's bytes read so far.
pub fn open(path: &str, taken: Arc<AtomicU64>) -> Result<Box<dyn BufRead + Send>> {
    let file = Counting { file: File::open(path).map_err(|e| io(path, e))?, taken };
    let mut file = BufReader::with_capacity(1 << 20, file);
    let head = file.fill_buf().map_err(|e| io(path, e))?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
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
                let record = extract::extract_obj(&obj, hints).map_err(|e| e.to_string());
                out.push(Read { line, record, text: bytes });
                return;
            }
        }
    }
    let one = |t: &str| extract::extract_text(t, hints).map_err(|e| e.to_string());
    // A container (a Logs API page, an OTLP export, an array of records) gives one record per element; a list of
    // one stream's chunks stays one record.
    if let Some(inner) = crate::usage::batch::container_records(text, hints) {
        if inner.is_empty() {
            // Nothing is lost: a container without records is a reject, not a silent gap.
            let why = crate::usage::batch::EMPTY_CONTAINER;
            out.push(Read { line, record: Err(why.to_string()), text: bytes });
            return;
        }
        out.extend(inner.iter().map(|r| Read { line, record: one(r.get()), text: r.get().as_bytes() }));
        return;
    }
    out.push(Read { line, record: one(text), text: bytes });
}

/// Streams the records of one file to `block`, a block of lines at a time: (line number, line) for JSON Lines,
/// (element number, element) for a file holding one JSON array; with the bytes of the file read so far.
pub fn read_file(path: &str, mut block: impl FnMut(&[Item<'_>], u64) -> Result<()>) -> Result<()> {
    let taken = Arc::new(AtomicU64::new(0));
    let mut reader = open(path, taken.clone())?;
    let mut block = |items: &[Item<'_>]| block(items, taken.load(Ordering::Relaxed));
    // One JSON array (not JSON Lines): read whole, one record per element, numbered from 1.
    let first = {
        let buf = reader.fill_buf().map_err(|e| io(path, e))?;
        buf.iter().copied().find(|b| !b.is_ascii_whitespace())
    };
    if first == Some(b'[') {
        let mut all = Vec::new();
        reader.read_to_end(&mut all).map_err(|e| io(path, e))?;
        let text = std::str::from_utf8(&all)
            .map_err(|e| Error::InvalidUtf8 { source_name: path.to_string(), offset: e.valid_up_to() as u64 })?;
        // A file that is one JSON array of records; if it is not valid JSON, it may be JSON Lines that start with
        // an array (a stream's chunks): read it line by line below.
        if let Ok(raw) = json::parse_raw(text) {
            let mut elements = json::array(raw).unwrap_or_default();
            // The chunks of one stream are one record.
            if crate::usage::batch::looks_like_stream(&elements) {
                elements = vec![raw];
            }
            let items: Vec<Item<'_>> =
                elements.iter().enumerate().map(|(i, r)| (i as u64 + 1, Some(r.get().as_bytes()))).collect();
            return block(&items);
        }
        return read_lines(path, &mut std::io::Cursor::new(all), &mut block);
    }
    read_lines(path, &mut reader, &mut block)
}

/// A block read ahead: its buffer (whole lines at the start), and its lines as (line number, start, end).
type Block = (Vec<u8>, Vec<(u64, usize, usize)>);

/// JSON Lines in blocks of about [`BLOCK_BYTES`]: one buffer per block, lines borrowed from it. A reader thread
/// reads and splits the next block while the current one is priced; four buffers at most are in use (one priced,
/// one queued, one being filled, one taking the partial line at its end), reused in turn.
///
/// A buffer is zeroed once, when it first grows, and then read into as it is (`Read::read_to_end` would zero its
/// room again at every call, and fresh room is fresh pages for the kernel to clear: 10% of the time of a log run,
/// measured).
fn read_lines(
    path: &str,
    reader: &mut (dyn BufRead + Send),
    block: &mut dyn FnMut(&[Item<'_>]) -> Result<()>,
) -> Result<()> {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Result<Block>>(1);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Block>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let next = || -> Block { empty_rx.try_recv().unwrap_or_default() };
            let mut line_no: u64 = 0;
            let (mut buf, mut lines) = next();
            // `buf[..filled]` holds data; the rest of `buf` is room (initialized).
            let mut filled = 0;
            let mut want = BLOCK_BYTES;
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
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = full_tx.send(Err(io(path, e)));
                            return;
                        }
                    }
                }
                // Whole lines only, unless the file ends; a line longer than a block grows the block.
                let end = if eof {
                    filled
                } else {
                    match memchr::memrchr(b'\n', &buf[..filled]) {
                        Some(i) => i + 1,
                        None => {
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
                    if !buf[start..stop].iter().all(u8::is_ascii_whitespace) {
                        lines.push((line_no, start, stop));
                    }
                    start = stop + 1;
                }
                // The rest (a partial line) starts the next buffer.
                let (mut rest, rest_lines) = next();
                let tail = filled - end;
                if rest.len() < tail.max(want) {
                    rest.resize(tail.max(want), 0);
                }
                rest[..tail].copy_from_slice(&buf[end..filled]);
                // The receiver gone (an error while pricing): stop reading.
                if full_tx.send(Ok((buf, lines))).is_err() || eof {
                    return;
                }
                (buf, lines, filled) = (rest, rest_lines, tail);
            }
        });
        let mut items: Vec<Item<'static>> = Vec::new();
        for got in full_rx {
            let (buf, lines) = got?;
            let mut these = super::reuse(std::mem::take(&mut items));
            these.extend(lines.iter().map(|&(no, a, b)| (no, Some(&buf[a..b]))));
            if !these.is_empty() {
                block(&these)?;
            }
            items = super::reuse(these);
            let _ = empty_tx.send((buf, lines));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        read_file(path.to_str().unwrap(), |items, taken| {
            got.extend(items.iter().map(|(no, t)| (*no, String::from_utf8(t.unwrap().to_vec()).unwrap())));
            last_taken = taken;
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "lines differ");
        assert_eq!(last_taken, text.len() as u64);
        // An error while pricing a block stops the reader (no hang, the error comes back).
        let stopped = read_file(path.to_str().unwrap(), |_, _| Err(Error::InvalidArgument("stop".into())));
        assert!(matches!(stopped, Err(Error::InvalidArgument(m)) if m == "stop"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
