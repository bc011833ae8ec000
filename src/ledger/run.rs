//! A whole log job: named inputs read block by block, priced on all cores, kept, spilled to disk or totalled.

use std::sync::{Arc, Mutex};

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

use super::groups::{Grouping, Groups};
use super::output::{empty, unify};
use super::pricer::price_items;
use super::read::{
    element, read_file_to, read_range_to, read_stream_to, Handed, Lines, Progress as Position, Sink,
    DEFAULT_MAX_LINE_BYTES,
};
use super::{Item, LedgerOptions, Text};
use crate::error::{Error, Result};
use crate::prices::PriceBook;
use crate::usage::Hints;

/// Inputs whose bytes read (decompressed) pass this spill their priced lines to disk, when spilling is left to the
/// run: the decision is made on what was read, not on the files' (compressed) sizes.
/// (64 MB of gateway logs are about 400,000 lines, some 150 MB of priced rows: past that, memory would grow with
/// the input.)
pub const SPILL_ABOVE: u64 = 64 << 20;

/// A run's own spill folder: a fresh folder inside the folder asked for, created exclusively and private (mode
/// 0700), its files created new and never through a link. Runs sharing one `spill_dir` never write or map each
/// other's files, and a link planted there is never followed.
#[derive(Debug)]
pub struct SpillDir {
    path: std::path::PathBuf,
    files: usize,
}

impl SpillDir {
    /// Creates the run's folder inside `parent` (created too if missing).
    pub fn create(parent: &str) -> Result<SpillDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let io = |path: &std::path::Path, e: std::io::Error| Error::Io {
            path: path.display().to_string(),
            message: format!("cannot create a spill folder: {e}"),
        };
        let parent = std::path::Path::new(parent);
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        for _ in 0..1000 {
            let now = crate::prices::calendar::now_micros();
            let run = RUNS.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("tokenprice-run-{}-{run}-{now:x}", std::process::id()));
            match builder.create(&path) {
                Ok(()) => return Ok(SpillDir { path, files: 0 }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(&path, e)),
            }
        }
        Err(io(parent, std::io::Error::other("no free name after 1000 tries")))
    }

    /// The run's folder.
    pub fn path(&self) -> String {
        self.path.display().to_string()
    }

    /// Writes one block of priced lines (its chunks' batches) to the next `part-NNNNN.arrow` (Arrow IPC file
    /// format) and returns its path; nothing for a block without batches.
    pub fn write(&mut self, batches: Vec<RecordBatch>) -> Result<Option<String>> {
        // The same schema as the in-memory result (every column nullable; see `unify`).
        let batches = unify(batches)?;
        let Some(first) = batches.first() else { return Ok(None) };
        let path = self.path.join(format!("part-{:05}.arrow", self.files));
        let name = path.display().to_string();
        let io = |e: &dyn std::fmt::Display| Error::Io { path: name.clone(), message: e.to_string() };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        let file = options.open(&path).map_err(|e| io(&e))?;
        self.files += 1;
        // The default 8 KB buffer. A 1 MB one halves the system time, but the kernel then caches the file in large
        // pages, and reading it back (`.table` maps every file; the reader touches each batch's header) maps them
        // whole: the resident size of 3 GB of logs went from 0.6 GB to 1.35 GB (measured; mapped file pages).
        let mut writer = arrow_ipc::writer::FileWriter::try_new(std::io::BufWriter::new(file), &first.schema())
            .map_err(|e| io(&e))?;
        for batch in &batches {
            writer.write(batch).map_err(|e| io(&e))?;
        }
        writer.finish().map_err(|e| io(&e))?;
        Ok(Some(name))
    }

    /// Removes the folder and its files (a failed run leaves nothing behind).
    pub fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// When a run writes its priced lines to disk instead of keeping them in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spill {
    /// Once more than this many bytes were read (decompressed, over all inputs so far): the rows kept until then
    /// and every block after are spilled. The default is [`SPILL_ABOVE`].
    Above(u64),
    /// Every block.
    Always,
    /// Never: every priced line is kept in memory.
    Never,
}

impl Default for Spill {
    fn default() -> Spill {
        Spill::Above(SPILL_ABOVE)
    }
}

impl Spill {
    /// The policy asked for by `spill`: `None` leaves it to the run (past [`SPILL_ABOVE`]), `Some(true)` always,
    /// `Some(false)` never.
    pub fn from_choice(spill: Option<bool>) -> Spill {
        match spill {
            None => Spill::default(),
            Some(true) => Spill::Always,
            Some(false) => Spill::Never,
        }
    }

    /// Bytes read past which the run spills, or `None` when it never does.
    fn threshold(self) -> Option<u64> {
        match self {
            Spill::Above(above) => Some(above),
            Spill::Always => Some(0),
            Spill::Never => None,
        }
    }
}

/// How to run a log job.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// What the records lack (format, provider, model).
    pub hints: Hints,
    /// How to price them.
    pub pricing: LedgerOptions,
    /// When to spill priced lines to disk (not used with `totals`: a run that totals keeps no rows).
    pub spill: Spill,
    /// The folder in which a spilling run makes a folder of its own; `None`: the system's temporary folder.
    pub spill_parent: Option<String>,
    /// Total the lines by these keys as they are priced, keeping no rows.
    pub totals: Option<Grouping>,
    /// A line (or JSON array element) longer than this is not read: it is a reject naming its size.
    pub max_line_bytes: usize,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            hints: Hints::default(),
            pricing: LedgerOptions::default(),
            spill: Spill::default(),
            spill_parent: None,
            totals: None,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// How far a run is, after each block of an input.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// The input being read.
    pub input: &'a str,
    /// Bytes of that input taken so far (compressed, for progress against its size).
    pub taken: u64,
    /// Bytes of that input read so far, decompressed (what a bar shows as the data read and its rate).
    pub read: u64,
    /// Records read so far, over all inputs.
    pub records: u64,
    /// No block has come for [`WAITING_TICK`]: the reading waits on its input (an object store that does not
    /// answer), and the other fields are the last block's. A call that returns an error stops the run as after a
    /// block, so a caller can stop a run that waits (on an interrupt); what reads the input must then give up its
    /// wait too, since the run ends only when its reading thread does.
    pub waiting: bool,
}

/// How long the run waits for a block read ahead before it calls `progress` with [`Progress::waiting`] (again after
/// each such wait).
pub const WAITING_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Named inputs read as blocks of items, in order: files ([`Files`]), byte ranges of files ([`FileRanges`]),
/// in-memory texts ([`Texts`]), pages of Arrow string columns ([`Pages`]), or streams handed over one at a time as
/// they are found ([`Streams`]: the objects of an object store, priced while the rest are still being listed).
pub trait Source {
    /// Input `index`'s name (the `source` column of its lines and rejects), or `None` when there are only `index`
    /// inputs. The run asks for 0, 1, 2… in turn, each once, and reads each before asking for the next: a source
    /// that knows its inputs looks the name up; one that finds them as it goes takes the next one only now, so the
    /// run starts on the first input before the last is known, and the source need hold only the one being read.
    fn input(&mut self, index: usize) -> Result<Option<String>>;
    /// Reads input `index` (the one [`input`](Source::input) gave last), calling `block` with each block of its
    /// items in order and how far the input has been read; a line longer than `max_line_bytes` is given as
    /// [`Text::TooLong`].
    fn read(&mut self, index: usize, max_line_bytes: usize, block: &mut Block<'_>) -> Result<()>;
    /// [`read`](Source::read), each block handed to `sink`: a reader that owns its blocks (JSON Lines) gives them
    /// whole, to be priced in another thread while it reads on; by default each block's items are lent.
    fn read_to(&mut self, index: usize, max_line_bytes: usize, sink: &mut Sink<'_>) -> Result<()> {
        self.read(index, max_line_bytes, &mut |items, at| sink(Handed::Items(items, at)))
    }
    /// For a source whose rows have names of their own (a table's key; see [`Pages`]), the names of the block
    /// being priced, which name its rejects; `None` (the default): a reject is named by its input and line.
    fn row_names(&self) -> Option<RowNames> {
        None
    }
    /// The source as one that may be read ahead in a thread of its own (see [`run`]): `None` (the default) for a
    /// source read only as its blocks are priced (one whose [`row_names`](Source::row_names) are those of the block
    /// being priced must be).
    fn ahead(&mut self) -> Option<&mut (dyn Source + Send)> {
        None
    }
}

/// What a [`Source`] hands each block of items to.
pub type Block<'f> = dyn FnMut(&[Item<'_>], Position) -> Result<()> + 'f;

/// Log files (JSON Lines or one JSON array; plain, gzip or zstd), read by [`read_file`](super::read::read_file).
#[derive(Clone, Debug, Default)]
pub struct Files(pub Vec<String>);

impl Source for Files {
    /// Read ahead when there is a next file to open while one is priced; one file reads its own next block ahead.
    fn ahead(&mut self) -> Option<&mut (dyn Source + Send)> {
        (self.0.len() > 1).then_some(self as &mut (dyn Source + Send))
    }

    fn input(&mut self, index: usize) -> Result<Option<String>> {
        Ok(self.0.get(index).cloned())
    }

    fn read(&mut self, index: usize, max_line_bytes: usize, block: &mut Block<'_>) -> Result<()> {
        self.read_to(index, max_line_bytes, &mut super::read::borrowing(block))
    }

    fn read_to(&mut self, index: usize, max_line_bytes: usize, sink: &mut Sink<'_>) -> Result<()> {
        read_file_to(&self.0[index], max_line_bytes, sink)
    }
}

/// Named streams handed over one at a time as they are found (the objects of an object store as they are listed),
/// each read as a file is (see [`read_stream`](super::read::read_stream)): decompressed by its magic bytes, split
/// into lines in blocks, a line past the cap a reject. The core knows nothing of where the bytes come from: `next()`
/// gives the next input's name and a reader, or `None` after the last, and an error it returns (a refused listing,
/// a missing object) stops the run. The run asks for the next stream only once the last one is read (it reads one while the one before is
/// priced, see [`run`]), so the source holds one stream at a time, and whatever gives them may list and fetch the
/// following ones while these are read and priced. `next` is called in the run's reading thread.
pub struct Streams<F> {
    next: F,
    current: Option<NamedStream>,
}

/// A stream [`Streams`] is given: its name and its reader.
pub type NamedStream = (String, Box<dyn std::io::Read + Send>);

impl<F> Streams<F>
where
    F: FnMut() -> Result<Option<NamedStream>>,
{
    /// The streams `next` gives, in order.
    pub fn new(next: F) -> Streams<F> {
        Streams { next, current: None }
    }
}

impl<F> Source for Streams<F>
where
    F: FnMut() -> Result<Option<NamedStream>> + Send,
{
    fn ahead(&mut self) -> Option<&mut (dyn Source + Send)> {
        Some(self)
    }

    fn input(&mut self, _: usize) -> Result<Option<String>> {
        self.current = (self.next)()?;
        Ok(self.current.as_ref().map(|(name, _)| name.clone()))
    }

    fn read(&mut self, index: usize, max_line_bytes: usize, block: &mut Block<'_>) -> Result<()> {
        self.read_to(index, max_line_bytes, &mut super::read::borrowing(block))
    }

    fn read_to(&mut self, _: usize, max_line_bytes: usize, sink: &mut Sink<'_>) -> Result<()> {
        let (name, raw) =
            self.current.take().ok_or_else(|| Error::Internal("a stream was read before it was given".into()))?;
        read_stream_to(&name, raw, max_line_bytes, sink)
    }
}

/// Byte ranges of log files, each an input named `path@start-end`, read by
/// [`read_range`](super::read::read_range): a line belongs to the range its first byte is in, so ranges that tile a
/// file read each line once, and an engine's tasks can each read their part of one large file. A record's line is its place in its range (the `n`th line starting there); a
/// compressed file or one JSON array is read whole by the range starting at 0.
#[derive(Clone, Debug, Default)]
pub struct FileRanges {
    ranges: Vec<(String, u64, u64)>,
    names: Vec<String>,
}

impl FileRanges {
    /// The ranges (path, start, end), end exclusive.
    pub fn new(ranges: Vec<(String, u64, u64)>) -> FileRanges {
        let names = ranges.iter().map(|(p, a, b)| format!("{p}@{a}-{b}")).collect();
        FileRanges { ranges, names }
    }
}

impl Source for FileRanges {
    /// As [`Files`]: read ahead when there is more than one range.
    fn ahead(&mut self) -> Option<&mut (dyn Source + Send)> {
        (self.ranges.len() > 1).then_some(self as &mut (dyn Source + Send))
    }

    fn input(&mut self, index: usize) -> Result<Option<String>> {
        Ok(self.names.get(index).cloned())
    }

    fn read(&mut self, index: usize, max_line_bytes: usize, block: &mut Block<'_>) -> Result<()> {
        self.read_to(index, max_line_bytes, &mut super::read::borrowing(block))
    }

    fn read_to(&mut self, index: usize, max_line_bytes: usize, sink: &mut Sink<'_>) -> Result<()> {
        let (path, start, end) = &self.ranges[index];
        read_range_to(path, *start, *end, max_line_bytes, sink)
    }
}

/// Records given as texts (rows of a table; `None` for a null row), one input named `name`, one block; a
/// record's line is its row number (1-based).
#[derive(Clone, Debug, Default)]
pub struct Texts {
    pub name: String,
    pub texts: Vec<Option<String>>,
}

impl Source for Texts {
    fn input(&mut self, index: usize) -> Result<Option<String>> {
        Ok((index == 0).then(|| self.name.clone()))
    }

    fn read(&mut self, _: usize, _: usize, block: &mut Block<'_>) -> Result<()> {
        let items: Vec<Item<'_>> = self
            .texts
            .iter()
            .enumerate()
            .map(|(i, t)| (i as u64 + 1, t.as_deref().map(str::as_bytes).into()))
            .collect();
        let bytes = self.texts.iter().map(|t| t.as_ref().map_or(0, |t| t.len() as u64)).sum();
        block(&items, Position { taken: bytes, read: bytes })
    }
}

/// A page of records as Arrow columns: per chunk, the texts (a string column) and, for rows with names of their
/// own, their names (a string column as long).
pub type Page = Vec<(ArrayRef, Option<ArrayRef>)>;

/// Records arriving as Arrow string columns page after page (a database table read in pages), as one input named
/// `name`: `next()` gives the next page, or `None` after the last (an error it returns stops the run). Each page is
/// one block, and its items borrow the columns' bytes: no record is copied. As a file's lines are, a record's line
/// is its row's place in the input (1 is the first row), a null row is a reject, and a text longer than the cap is
/// a reject naming its size. With `key` (the name of the column the rows' names come from), a reject's `source` is
/// `{name} {key} '{row name}'`.
pub struct Pages<F> {
    name: String,
    next: F,
    names: Option<RowNames>,
}

impl<F> Pages<F>
where
    F: FnMut() -> Result<Option<Page>>,
{
    /// Pages from `next`, one input named `name`, its rows named by the column `key` (when given).
    pub fn new(name: String, key: Option<&str>, next: F) -> Pages<F> {
        let names = key.map(|k| RowNames::new(format!("{name} {k}")));
        Pages { name, next, names }
    }
}

/// An error naming what a page's column holds, unless it is a column of texts.
fn check_strings(name: &str, what: &str, column: &ArrayRef) -> Result<()> {
    match column.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => Ok(()),
        other => {
            Err(Error::InvalidArgument(format!("{name}: the {what} of a page must be a string column, not {other}")))
        }
    }
}

/// A column of texts as borrowed strings, or an error naming what it holds instead.
fn page_strings<'a>(name: &str, what: &str, column: &'a ArrayRef) -> Result<Vec<Option<&'a str>>> {
    check_strings(name, what, column)?;
    crate::tokens::column::strings(column)
}

impl<F> Source for Pages<F>
where
    F: FnMut() -> Result<Option<Page>>,
{
    fn input(&mut self, index: usize) -> Result<Option<String>> {
        Ok((index == 0).then(|| self.name.clone()))
    }

    fn row_names(&self) -> Option<RowNames> {
        self.names.clone()
    }

    fn read(&mut self, _: usize, max_line_bytes: usize, block: &mut Block<'_>) -> Result<()> {
        let (mut rows, mut bytes) = (0u64, 0u64);
        while let Some(page) = (self.next)()? {
            let mut items: Vec<Item<'_>> = Vec::with_capacity(page.iter().map(|(t, _)| t.len()).sum());
            let mut named = Vec::with_capacity(page.len());
            for (texts, names) in &page {
                if let Some(names) = names {
                    check_strings(&self.name, "row names", names)?;
                    if names.len() != texts.len() {
                        let (a, b) = (names.len(), texts.len());
                        return Err(Error::InvalidArgument(format!(
                            "{}: a page has {a} row names for {b} rows",
                            self.name
                        )));
                    }
                }
                named.push((rows + 1, names.clone()));
                for text in page_strings(&self.name, "records", texts)? {
                    rows += 1;
                    let item = match text {
                        None => Text::Missing,
                        Some(t) => {
                            bytes += t.len() as u64;
                            element(t.as_bytes(), max_line_bytes)
                        }
                    };
                    items.push((rows, item));
                }
            }
            if let Some(n) = &self.names {
                n.set(named);
            }
            block(&items, Position { taken: bytes, read: bytes })?;
        }
        Ok(())
    }
}

/// The names of the rows of the block being priced, shared by a source whose rows have names (see [`Pages`]) and
/// the run, which names the block's rejects with them: the source sets them before handing the block on.
#[derive(Clone, Debug)]
pub struct RowNames {
    /// What a name follows in a reject's `source` (`{input} {key}`).
    prefix: Arc<str>,
    block: Arc<Mutex<Vec<NamedChunk>>>,
}

/// A chunk of a block: its first line and its rows' names.
type NamedChunk = (u64, Option<ArrayRef>);

impl RowNames {
    fn new(prefix: String) -> RowNames {
        RowNames { prefix: prefix.into(), block: Arc::default() }
    }

    fn set(&self, chunks: Vec<NamedChunk>) {
        *self.block.lock().unwrap_or_else(|p| p.into_inner()) = chunks;
    }

    /// `rejects` (a batch of the block's rejects) with each row's `source` naming its row, when it has a name.
    fn name(&self, rejects: RecordBatch) -> Result<RecordBatch> {
        let block = self.block.lock().unwrap_or_else(|p| p.into_inner());
        let (Some(at_source), Some(at_line)) =
            (rejects.schema().index_of("source").ok(), rejects.schema().index_of("line").ok())
        else {
            return Err(Error::Internal("a reject batch without source or line".into()));
        };
        let sources = rejects.column(at_source).as_string::<i32>();
        let lines = rejects.column(at_line).as_primitive::<Int64Type>();
        let mut named = StringBuilder::with_capacity(rejects.num_rows(), rejects.num_rows() * 64);
        for row in 0..rejects.num_rows() {
            let line = lines.value(row) as u64;
            // The chunk holding the line: the last one starting at or before it.
            let chunk = block.partition_point(|(first, _)| *first <= line).checked_sub(1).map(|c| &block[c]);
            match chunk.and_then(|(first, names)| string_at(names.as_ref()?, (line - first) as usize)) {
                Some(name) => named.append_value(format!("{} '{name}'", self.prefix)),
                None => named.append_value(sources.value(row)),
            }
        }
        let mut columns = rejects.columns().to_vec();
        columns[at_source] = Arc::new(named.finish());
        RecordBatch::try_new(rejects.schema(), columns).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// Row `row` of a string column (`None` when null or past its end).
fn string_at(column: &ArrayRef, row: usize) -> Option<&str> {
    if row >= column.len() || column.is_null(row) {
        return None;
    }
    match column.data_type() {
        DataType::Utf8 => Some(column.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(column.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(column.as_string_view().value(row)),
        _ => None,
    }
}

/// What a run gives: the priced lines (one schema; at least one batch, empty when none were kept), the rejects
/// (likewise), the records read, the spill files and their folder, the totals of a run that keeps no rows.
/// `records_read` = priced lines (kept, spilled or totalled) + rejects.
#[derive(Debug)]
pub struct Run {
    pub priced: Vec<RecordBatch>,
    pub rejects: Vec<RecordBatch>,
    pub records_read: u64,
    /// Arrow IPC files holding the priced lines of a spilled run, in order (then `priced` holds none).
    pub spilled: Vec<String>,
    /// The run's spill folder (to remove when the spilled lines are no longer needed).
    pub folder: Option<SpillDir>,
    /// With [`RunOptions::totals`]: one row per group.
    pub totals: Option<RecordBatch>,
}

/// Reads and prices every input of `source` in order, each record at the price in force at its own time. A source
/// that may be read ahead ([`Source::ahead`]: several files or ranges, streams) is read in a thread of its own, at
/// most two blocks ahead of the pricing: the next input is opened, decompressed and split into lines while the
/// last blocks of the one before are priced. Any other is asked for an input only once the one before it is priced
/// (see [`Source::input`]).
///
/// Rows are kept in memory, spilled to Arrow IPC files (see [`Spill`]), or, with [`RunOptions::totals`], only
/// totalled. `progress` is called after each block; an error from it stops the run. A spilled run writes one
/// block while the next is priced (a writer thread, taking a block only when done with the last), so memory holds
/// two blocks of priced lines at most. A failed run leaves no spill files: a write error is reported before the
/// reading error it caused.
pub fn run(
    source: &mut dyn Source,
    book: &Arc<PriceBook>,
    options: &RunOptions,
    mut progress: impl FnMut(&Progress<'_>) -> Result<()>,
) -> Result<Run> {
    // No line fits in zero bytes: every record would be a reject, which is never what was meant.
    if options.max_line_bytes == 0 {
        return Err(Error::InvalidArgument("max_line_bytes must be at least 1".into()));
    }
    let spill_above = match options.totals {
        Some(_) => None,
        None => options.spill.threshold(),
    };
    let parent = options.spill_parent.clone().unwrap_or_else(|| std::env::temp_dir().display().to_string());
    let (hints, pricing) = (&options.hints, &options.pricing);
    let mut groups = Groups::default();
    let (mut priced, mut rejects, mut read) = (Vec::new(), Vec::new(), 0u64);
    let (spill_tx, spill_rx) = std::sync::mpsc::sync_channel::<Vec<RecordBatch>>(0);
    let (folder_tx, folder_rx) = std::sync::mpsc::channel::<SpillDir>();
    let mut folder = None;
    let names = source.row_names();
    let named = |batch: RecordBatch| match &names {
        Some(n) => n.name(batch),
        None => Ok(batch),
    };
    let done = std::thread::scope(|scope| {
        let writer = spill_above.map(|_| scope.spawn(|| spill_writer(&parent, spill_rx, folder_tx)));
        let reading = (|| -> Result<()> {
            // Whether the run spills yet; `before`: bytes read of the inputs before this one; `last`: the input
            // and place of the last block priced (what a call while waiting reports).
            let mut spilling = false;
            let mut last: (Arc<str>, Position) = (Arc::from(""), Position::default());
            // A block priced, or (`None`) a wait for one reported.
            let mut take = |block: Option<(&str, &[Item<'_>], Position)>, before: u64| -> Result<()> {
                let Some((name, items, at)) = block else {
                    let (input, at) = (&*last.0, last.1);
                    return progress(&Progress { input, taken: at.taken, read: at.read, records: read, waiting: true });
                };
                let totals = options.totals.as_ref().map(|g| (g, &mut groups));
                let (chunks, n) = price_items(book, name, items, hints, pricing, totals)?;
                for (p, r) in chunks {
                    // Lines only when rows are kept; most chunks reject nothing, and their empty batches go.
                    priced.extend(p);
                    if r.num_rows() > 0 {
                        rejects.push(named(r)?);
                    }
                }
                read += n;
                if *last.0 != *name {
                    last.0 = name.into();
                }
                last.1 = at;
                progress(&Progress { input: name, taken: at.taken, read: at.read, records: read, waiting: false })?;
                // Past the threshold, the rows kept so far and every block after go to the writer; the writer
                // gone means it failed (its error is reported below).
                spilling |= spill_above.is_some_and(|above| before + at.read > above);
                if spilling && !priced.is_empty() && spill_tx.send(std::mem::take(&mut priced)).is_err() {
                    return Err(Error::Internal("the spill writer stopped".into()));
                }
                Ok(())
            };
            let mut before = 0u64;
            if let Some(ahead) = source.ahead() {
                return read_ahead(ahead, options.max_line_bytes, |event| match event {
                    Ahead::Block(name, items, at) => take(Some((name, items, at)), before),
                    Ahead::End(end) => {
                        before += end;
                        Ok(())
                    }
                    Ahead::Waiting => take(None, before),
                });
            }
            let mut index = 0;
            while let Some(name) = source.input(index)? {
                let mut last = 0u64;
                source.read(index, options.max_line_bytes, &mut |items, at| {
                    last = at.read;
                    take(Some((&name, items, at)), before)
                })?;
                before += last;
                index += 1;
            }
            Ok(())
        })();
        drop(spill_tx);
        super::read::release_spares();
        let spilled = match writer {
            Some(w) => w.join().unwrap_or_else(|_| Err(Error::Internal("the spill writer panicked".into()))),
            None => Ok(Vec::new()),
        };
        folder = folder_rx.try_recv().ok();
        // A write error explains a stopped reading; otherwise the reading's own error.
        let spilled = spilled?;
        reading?;
        Ok(spilled)
    });
    let spilled = match done {
        Ok(s) => s,
        Err(e) => {
            if let Some(f) = folder {
                f.remove();
            }
            return Err(e);
        }
    };
    let totals = options.totals.as_ref().map(|g| groups.batch(g)).transpose()?;
    let (empty_priced, empty_rejects) = empty(book)?;
    Ok(Run {
        priced: unify(or_empty(priced, empty_priced))?,
        rejects: unify(or_empty(rejects, empty_rejects))?,
        records_read: read,
        spilled,
        folder,
        totals,
    })
}

/// What [`read_ahead`] hands on, in the order of the inputs: a block of an input's items (the input's name, the
/// items, how far the input is read), and the end of an input (how far it was read, decompressed).
enum Ahead<'b> {
    Block(&'b str, &'b [Item<'b>], Position),
    End(u64),
    /// Nothing has come for [`WAITING_TICK`].
    Waiting,
}

/// A block of items read ahead: the bytes of its texts, copied out of the reader's buffer, and each item as a place
/// in them.
#[derive(Default)]
struct Copied {
    name: Arc<str>,
    bytes: Vec<u8>,
    items: Vec<(u64, Kept)>,
    at: Position,
}

/// An item of a [`Copied`] block: [`Text`] with ranges of the block's bytes for its slices.
#[derive(Clone, Copy)]
enum Kept {
    Record(usize, usize),
    Missing,
    TooLong { head: (usize, usize), bytes: u64, cap: u64 },
}

impl Copied {
    /// Holds a copy of `items` (reusing this block's buffers).
    fn fill(&mut self, name: &Arc<str>, items: &[Item<'_>], at: Position) {
        self.name = name.clone();
        self.bytes.clear();
        self.items.clear();
        self.at = at;
        for &(line, text) in items {
            let mut keep = |b: &[u8]| {
                let start = self.bytes.len();
                self.bytes.extend_from_slice(b);
                (start, self.bytes.len())
            };
            let kept = match text {
                Text::Record(b) => {
                    let (s, e) = keep(b);
                    Kept::Record(s, e)
                }
                Text::Missing => Kept::Missing,
                Text::TooLong { head, bytes, cap } => Kept::TooLong { head: keep(head), bytes, cap },
            };
            self.items.push((line, kept));
        }
    }

    /// The block's items, borrowing its bytes.
    fn items(&self) -> Vec<Item<'_>> {
        let b = &self.bytes;
        let text = |kept: Kept| match kept {
            Kept::Record(s, e) => Text::Record(&b[s..e]),
            Kept::Missing => Text::Missing,
            Kept::TooLong { head: (s, e), bytes, cap } => Text::TooLong { head: &b[s..e], bytes, cap },
        };
        self.items.iter().map(|&(line, kept)| (line, text(kept))).collect()
    }
}

/// What the reading thread of [`read_ahead`] sends (inside a `Result`, whose error is the one that stopped the
/// reading): a block of an input (its name and the block, a reader's own or a copy of lent items), or the end of an
/// input (how far it was read).
enum Sent {
    Lines(Arc<str>, Lines),
    Copied(Copied),
    End(u64),
}

/// Reads every input of `source` in a thread of its own, a block ahead of `take`, which is given each block and
/// each input's end in order, in the calling thread. An input is opened (and decompressed, and split into lines)
/// while the one before it is still being priced: a run of many small inputs (Logpush objects, a few MB each)
/// would otherwise decompress each one while no pricing is done. The blocks of JSON Lines are handed over whole
/// (no copy); the items another reader lends (a whole array's elements) are copied. The reading is at most two
/// blocks ahead (one queued, one waiting to be); an error of the reading comes after every block read before it,
/// and an error of `take` stops the reading.
fn read_ahead(
    source: &mut (dyn Source + Send),
    max_line: usize,
    mut take: impl FnMut(Ahead<'_>) -> Result<()>,
) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Sent>>(1);
    // Blocks priced, handed back to be read into again (a fresh buffer is fresh pages the kernel must clear).
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Copied>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let stopped = || Error::Internal("the run stopped reading".into());
            let reading = (|| -> Result<()> {
                let mut index = 0;
                while let Some(name) = source.input(index)? {
                    let name: Arc<str> = name.into();
                    let mut last = 0;
                    source.read_to(index, max_line, &mut |handed| {
                        let sent = match handed {
                            Handed::Lines(lines) => {
                                last = lines.at().read;
                                Sent::Lines(name.clone(), lines)
                            }
                            Handed::Items(items, at) => {
                                last = at.read;
                                let mut block = back_rx.try_recv().unwrap_or_default();
                                block.fill(&name, items, at);
                                Sent::Copied(block)
                            }
                        };
                        tx.send(Ok(sent)).map_err(|_| stopped())
                    })?;
                    tx.send(Ok(Sent::End(last))).map_err(|_| stopped())?;
                    index += 1;
                }
                Ok(())
            })();
            if let Err(e) = reading {
                // The run gone (it stopped on an error of its own) takes no error.
                let _ = tx.send(Err(e));
            }
        });
        // The receiver is dropped when this returns, so a reading thread waiting to send stops.
        let rx = rx;
        let mut room: Vec<Item<'static>> = Vec::new();
        loop {
            let sent = match rx.recv_timeout(WAITING_TICK) {
                Ok(sent) => sent,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    take(Ahead::Waiting)?;
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            match sent? {
                Sent::Lines(name, lines) => {
                    let mut items = super::reuse(std::mem::take(&mut room));
                    lines.items(&mut items);
                    take(Ahead::Block(&name, &items, lines.at()))?;
                    room = super::reuse(items);
                }
                Sent::Copied(block) => {
                    take(Ahead::Block(&block.name, &block.items(), block.at))?;
                    let _ = back_tx.send(block);
                }
                Sent::End(last) => take(Ahead::End(last))?,
            }
        }
        Ok(())
    })
}

/// The spill writer: each block of priced lines it is sent goes to the next file of the run's folder (made when
/// the first block comes); the folder is handed back through `folder` whatever happens.
fn spill_writer(
    parent: &str,
    blocks: std::sync::mpsc::Receiver<Vec<RecordBatch>>,
    folder: std::sync::mpsc::Sender<SpillDir>,
) -> Result<Vec<String>> {
    let mut spilled = Vec::new();
    let mut dir: Option<SpillDir> = None;
    let result = (|| {
        for batches in blocks {
            let d = match &mut dir {
                Some(d) => d,
                None => dir.insert(SpillDir::create(parent)?),
            };
            spilled.extend(d.write(batches)?);
        }
        Ok(())
    })();
    if let Some(d) = dir {
        let _ = folder.send(d);
    }
    result.map(|()| spilled)
}

/// `batches`, or the one empty batch that gives their schema when there are none.
fn or_empty(batches: Vec<RecordBatch>, empty: RecordBatch) -> Vec<RecordBatch> {
    if batches.is_empty() {
        vec![empty]
    } else {
        batches
    }
}
