//! Reading log files: JSON Lines (one record per line; a line may be a container such as a Cloudflare Logs API
//! page) or one JSON array, plain, gzip or zstd (told by the magic bytes, not the name). Files stream in blocks
//! of lines, each block read on all cores, so memory stays bounded by the block size, not the file size.

use std::fs::File;
use std::io::{BufRead, BufReader, Read as IoRead};
use std::sync::Arc;

use rayon::prelude::*;

use super::{Place, Read};
use crate::error::{Error, Result};
use crate::usage::extract::{self, Hints};
use crate::usage::json;

/// Bytes of lines read before a block is handed on.
pub const BLOCK_BYTES: usize = 32 << 20;

fn io(path: &str, e: std::io::Error) -> Error {
    Error::Io { path: path.to_string(), message: e.to_string() }
}

/// Opens a file, decompressing gzip or zstd by their magic bytes.
pub fn open(path: &str) -> Result<Box<dyn BufRead + Send>> {
    let mut file = BufReader::with_capacity(1 << 20, File::open(path).map_err(|e| io(path, e))?);
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

fn excerpt(bytes: &[u8]) -> String {
    let end = bytes.len().min(160);
    let mut s = String::from_utf8_lossy(&bytes[..end]).into_owned();
    if bytes.len() > end {
        s.push('…');
    }
    s
}

/// Reads the records of one line (a container gives several, all with this line's number).
fn read_line(source: &Arc<str>, line: u64, bytes: &[u8], hints: &Hints) -> Vec<Read> {
    let place = || Place { source: source.clone(), line };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim(),
        Err(e) => {
            return vec![Read {
                place: place(),
                record: Err(format!("not UTF-8: invalid byte at offset {}", e.valid_up_to())),
                excerpt: excerpt(bytes),
            }]
        }
    };
    let one = |t: &str| extract::extract_text(t, hints).map_err(|e| e.to_string());
    // A container (a Logs API page, an OTLP export, an array of records) gives one record per element; a list of
    // one stream's chunks stays one record.
    if let Some(inner) = crate::usage::batch::container_records(text, hints) {
        return inner
            .iter()
            .map(|r| Read { place: place(), record: one(r.get()), excerpt: excerpt(r.get().as_bytes()) })
            .collect();
    }
    vec![Read { place: place(), record: one(text), excerpt: excerpt(bytes) }]
}

/// Streams the records of one file to `block`, a block of lines at a time (read in parallel).
pub fn read_file(
    path: &str,
    hints: &Hints,
    threads: Option<usize>,
    mut block: impl FnMut(Vec<Read>) -> Result<()>,
) -> Result<()> {
    let source: Arc<str> = Arc::from(path);
    let mut reader = open(path)?;
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
            let mut items = json::array(raw).unwrap_or_default();
            // The chunks of one stream are one record.
            if crate::usage::batch::looks_like_stream(&items) {
                items = vec![raw];
            }
            let reads: Vec<Read> = crate::parallel::install(threads, || {
                items
                    .par_iter()
                    .enumerate()
                    .map(|(i, r)| Read {
                        place: Place { source: source.clone(), line: i as u64 + 1 },
                        record: extract::extract_text(r.get(), hints).map_err(|e| e.to_string()),
                        excerpt: excerpt(r.get().as_bytes()),
                    })
                    .collect()
            })?;
            return block(reads);
        }
        return read_lines(&source, &mut std::io::Cursor::new(all), hints, threads, block);
    }
    read_lines(&source, &mut reader, hints, threads, block)
}

fn read_lines(
    source: &Arc<str>,
    reader: &mut dyn BufRead,
    hints: &Hints,
    threads: Option<usize>,
    mut block: impl FnMut(Vec<Read>) -> Result<()>,
) -> Result<()> {
    let path = source.to_string();
    let mut line_no: u64 = 0;
    loop {
        let mut lines: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut size = 0;
        while size < BLOCK_BYTES {
            let mut buf = Vec::new();
            let n = reader.read_until(b'\n', &mut buf).map_err(|e| io(&path, e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            size += buf.len();
            lines.push((line_no, buf));
        }
        if lines.is_empty() {
            return Ok(());
        }
        let reads: Vec<Vec<Read>> = crate::parallel::install(threads, || {
            lines.par_iter().map(|(no, bytes)| read_line(source, *no, bytes, hints)).collect()
        })?;
        block(reads.into_iter().flatten().collect())?;
    }
}
