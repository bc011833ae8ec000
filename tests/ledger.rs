//! `ledger::run`, the whole log job without Python: inputs read in order, rows kept, spilled or totalled,
//! progress that can stop the run, and every record read either priced or rejected.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray};
use tokenprice::error::Error;
use tokenprice::ledger::groups::Grouping;
use tokenprice::ledger::{run, Files, Page, Pages, Run, RunOptions, Spill, Texts};
use tokenprice::prices::PriceBook;

/// A gateway log line (the bundled sample's shape): `model` at a January 2025 time, labelled by `tenant`.
fn line(i: usize, model: &str, tenant: &str) -> String {
    format!(
        r#"{{"id":"r{i}","created_at":"2025-01-01T02:{:02}:00Z","provider":"openai","model":"{model}","path":"chat/completions","success":true,"status_code":200,"cached":false,"tokens_in":{},"tokens_out":100,"cost":0.01,"metadata":"{{\"tenant\": \"{tenant}\"}}"}}"#,
        i % 60,
        1000 + i
    )
}

/// A fresh folder of this test's own.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tokenprice-ledger-test-{}-{name}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `lines` as a JSON Lines file in `dir`.
fn write(dir: &Path, name: &str, lines: &[String]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

/// Two files: `a` with 30 priced lines and a line that is not JSON, `b` with 20 lines, one on an unknown model.
fn two_files(dir: &Path) -> Vec<String> {
    let mut a: Vec<String> = (0..30).map(|i| line(i, "gpt-4o", if i % 2 == 0 { "acme" } else { "globex" })).collect();
    a.insert(10, "not json".into());
    let mut b: Vec<String> = (0..20).map(|i| line(100 + i, "gpt-4o-mini", "acme")).collect();
    b[5] = line(105, "no-such-model-anywhere", "acme");
    vec![write(dir, "a.jsonl", &a), write(dir, "b.jsonl", &b)]
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(column).unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        out.extend((0..c.len()).map(|i| c.value(i).to_string()));
    }
    out
}

fn ints(batches: &[RecordBatch], column: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(column).unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        out.extend(c.values().iter().copied());
    }
    out
}

/// The priced lines a spilled run wrote, read back.
fn spilled_batches(run: &Run) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for path in &run.spilled {
        let reader = arrow_ipc::reader::FileReader::try_new(std::fs::File::open(path).unwrap(), None).unwrap();
        out.extend(reader.map(Result::unwrap));
    }
    out
}

fn run_files(paths: &[String], options: &RunOptions) -> tokenprice::error::Result<Run> {
    run(&mut Files(paths.to_vec()), &PriceBook::default_book(), options, |_| Ok(()))
}

fn folders_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count()
}

#[test]
fn files_are_read_in_order_and_every_record_is_priced_or_rejected() {
    let dir = scratch("order");
    let paths = two_files(&dir);
    let done = run_files(&paths, &RunOptions { spill: Spill::Never, ..Default::default() }).unwrap();
    assert_eq!(done.records_read, 51);
    assert_eq!((rows(&done.priced), rows(&done.rejects)), (49, 2));
    assert!(done.spilled.is_empty() && done.folder.is_none() && done.totals.is_none());
    // The lines of `a` (in line order, the bad line 11 missing), then those of `b`.
    let sources = strings(&done.priced, "source");
    assert_eq!(sources.iter().filter(|s| **s == paths[0]).count(), 30);
    assert!(sources[..30].iter().all(|s| *s == paths[0]) && sources[30..].iter().all(|s| *s == paths[1]));
    let lines = ints(&done.priced, "line");
    let a: Vec<i64> = (1..=31).filter(|l| *l != 11).collect();
    let b: Vec<i64> = (1..=20).filter(|l| *l != 6).collect();
    assert_eq!(lines, [a, b].concat());
    // The rejects name their file and line, in order.
    assert_eq!(strings(&done.rejects, "source"), paths);
    assert_eq!(ints(&done.rejects, "line"), [11, 6]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn in_memory_texts_are_one_input_whose_lines_are_row_numbers() {
    let texts = vec![Some(line(0, "gpt-4o", "acme")), None, Some("{}".into()), Some(line(1, "gpt-4o", "acme"))];
    let mut source = Texts { name: "table".into(), texts };
    let done = run(&mut source, &PriceBook::default_book(), &RunOptions::default(), |_| Ok(())).unwrap();
    assert_eq!(done.records_read, 4);
    assert_eq!(ints(&done.priced, "line"), [1, 4]);
    assert_eq!(ints(&done.rejects, "line"), [2, 3]);
    assert_eq!(strings(&done.rejects, "source"), ["table", "table"]);
    // No input at all: one empty batch of each, with their columns.
    let mut none = Texts { name: "table".into(), texts: Vec::new() };
    let done = run(&mut none, &PriceBook::default_book(), &RunOptions::default(), |_| Ok(())).unwrap();
    assert_eq!((done.records_read, rows(&done.priced), rows(&done.rejects)), (0, 0, 0));
    assert!(done.priced[0].column_by_name("total_cost").is_some());
    assert!(done.rejects[0].column_by_name("reason").is_some());
}

#[test]
fn pages_of_arrow_columns_are_one_input_whose_rejects_name_their_rows() {
    // Two pages (the second of two chunks, one of them large strings), a null row, a row past the cap.
    let texts: Vec<Option<String>> = (0..7).map(|i| Some(line(i, "gpt-4o", "acme"))).collect();
    let mut long = line(5, "gpt-4o", "acme");
    long.insert_str(1, &format!("\"pad\":\"{}\",", "x".repeat(2000)));
    let column = |rows: &[Option<String>]| -> ArrayRef { Arc::new(StringArray::from(rows.to_vec())) };
    let ids = |from: usize, n: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter_values((from..from + n).map(|i| format!("id-{i}"))))
    };
    let mut pages: Vec<Page> = vec![
        vec![(column(&[texts[0].clone(), None, texts[2].clone()]), Some(ids(0, 3)))],
        vec![
            (Arc::new(LargeStringArray::from(vec![texts[3].clone(), Some("{}".into())])), Some(ids(3, 2))),
            (column(&[Some(long), texts[6].clone()]), Some(ids(5, 2))),
        ],
    ];
    pages.reverse();
    let options = RunOptions { max_line_bytes: 1000, ..Default::default() };
    let mut reported = Vec::new();
    let mut source = Pages::new("db t".into(), Some("request_id"), || Ok(pages.pop()));
    let done = run(&mut source, &PriceBook::default_book(), &options, |at| {
        reported.push((at.input.to_string(), at.read, at.records));
        Ok(())
    })
    .unwrap();
    assert_eq!(done.records_read, 7);
    assert_eq!(ints(&done.priced, "line"), [1, 3, 4, 7]);
    // Each reject names its row, with its place in the input and the reason a file's line would have.
    assert_eq!(ints(&done.rejects, "line"), [2, 5, 6]);
    assert_eq!(
        strings(&done.rejects, "source"),
        ["db t request_id 'id-1'", "db t request_id 'id-4'", "db t request_id 'id-5'"]
    );
    let reasons = strings(&done.rejects, "reason");
    assert!(reasons[0].contains("null") && reasons[2].contains("longer than the limit of 1000 bytes"), "{reasons:?}");
    // One block per page; the bytes read are the texts'.
    assert_eq!(reported.iter().map(|r| r.2).collect::<Vec<_>>(), [3, 7]);
    assert!(reported.iter().all(|r| r.0 == "db t") && reported[0].1 < reported[1].1);
    // The priced lines are those of the same texts given at once.
    let all =
        vec![texts[0].clone(), None, texts[2].clone(), texts[3].clone(), Some("{}".into()), None, texts[6].clone()];
    let mut once = Texts { name: "db t".into(), texts: all };
    let plain = run(&mut once, &PriceBook::default_book(), &RunOptions::default(), |_| Ok(())).unwrap();
    let costs = |r: &Run| -> Vec<i128> {
        let column = |b: &RecordBatch| b.column_by_name("total_cost").unwrap().clone();
        let values = |c: ArrayRef| c.as_any().downcast_ref::<arrow_array::Decimal128Array>().unwrap().values().to_vec();
        r.priced.iter().flat_map(|b| values(column(b))).collect()
    };
    assert_eq!(ints(&plain.priced, "line"), [1, 3, 4, 7]);
    assert_eq!(costs(&plain), costs(&done));
    assert!(costs(&done).iter().all(|c| *c > 0));
    // An error from `next` stops the run; a column that holds no text is refused, naming the input.
    let mut failing = Pages::new("db t".into(), None, || Err(tokenprice::error::Error::InvalidArgument("gone".into())));
    assert!(run(&mut failing, &PriceBook::default_book(), &options, |_| Ok(())).is_err());
    let mut numbers = Some(vec![(Arc::new(Int64Array::from(vec![1])) as ArrayRef, None)]);
    let mut wrong = Pages::new("db t".into(), None, || Ok(numbers.take()));
    let e = run(&mut wrong, &PriceBook::default_book(), &options, |_| Ok(())).unwrap_err().to_string();
    assert!(e.contains("db t: the records of a page must be a string column"), "{e}");
}

#[test]
fn spilling_always_never_and_past_the_threshold() {
    let dir = scratch("spill");
    let paths = two_files(&dir);
    let kept = run_files(&paths, &RunOptions { spill: Spill::Never, ..Default::default() }).unwrap();
    let spill_parent = Some(dir.join("spill").display().to_string());
    let first_file = std::fs::metadata(&paths[0]).unwrap().len();
    for (spill, files) in [
        (Spill::Always, 2),
        // Past the first file's bytes: its lines (kept so far) and the second's are spilled together.
        (Spill::Above(first_file), 1),
        (Spill::Above(first_file + 1_000_000), 0),
        (Spill::Never, 0),
    ] {
        let options = RunOptions { spill, spill_parent: spill_parent.clone(), ..Default::default() };
        let done = run_files(&paths, &options).unwrap();
        assert_eq!(done.spilled.len(), files, "{spill:?}");
        assert_eq!(rows(&done.rejects), 2, "{spill:?}");
        if files > 0 {
            // Nothing kept in memory; the files hold every line, in order, in a fresh folder inside the parent.
            assert_eq!(rows(&done.priced), 0, "{spill:?}");
            let back = spilled_batches(&done);
            assert_eq!(ints(&back, "line"), ints(&kept.priced, "line"), "{spill:?}");
            assert_eq!(strings(&back, "source"), strings(&kept.priced, "source"), "{spill:?}");
            let folder = done.folder.unwrap();
            assert!(Path::new(&folder.path()).starts_with(dir.join("spill")));
            folder.remove();
        } else {
            assert!(done.folder.is_none(), "{spill:?}");
            assert_eq!(ints(&done.priced, "line"), ints(&kept.priced, "line"), "{spill:?}");
        }
    }
    // Every run's folder was removed.
    assert_eq!(folders_in(&dir.join("spill")), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_spill_folder_that_cannot_be_made_fails_the_run_and_names_it() {
    let dir = scratch("badspill");
    let paths = two_files(&dir);
    // A folder inside a regular file cannot be made.
    let parent = Path::new(&paths[0]).join("spill").display().to_string();
    let options = RunOptions { spill: Spill::Always, spill_parent: Some(parent.clone()), ..Default::default() };
    match run_files(&paths, &options) {
        Err(Error::Io { path, message }) => {
            assert!(path.starts_with(&paths[0]), "{path}");
            assert!(message.contains("spill folder"), "{message}");
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
    // The same parent is never made when the run does not spill.
    let options = RunOptions { spill: Spill::Never, spill_parent: Some(parent), ..Default::default() };
    assert_eq!(run_files(&paths, &options).unwrap().records_read, 51);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn progress_reports_each_block_and_an_error_from_it_stops_the_run_leaving_no_spill_files() {
    let dir = scratch("progress");
    let paths = two_files(&dir);
    let book = PriceBook::default_book();
    let mut seen = Vec::new();
    let options = RunOptions { spill: Spill::Never, ..Default::default() };
    run(&mut Files(paths.clone()), &book, &options, |p| {
        // Calls while the run waits for a block (a loaded machine) are not the blocks'.
        if !p.waiting {
            seen.push((p.input.to_string(), p.taken, p.records));
        }
        Ok(())
    })
    .unwrap();
    let sizes: Vec<u64> = paths.iter().map(|p| std::fs::metadata(p).unwrap().len()).collect();
    assert_eq!(seen, [(paths[0].clone(), sizes[0], 31), (paths[1].clone(), sizes[1], 51)]);

    let spill_parent = dir.join("spill");
    let options = RunOptions {
        spill: Spill::Always,
        spill_parent: Some(spill_parent.display().to_string()),
        ..Default::default()
    };
    let mut calls = 0;
    let stopped = run(&mut Files(paths.clone()), &book, &options, |p| {
        if p.waiting {
            return Ok(());
        }
        calls += 1;
        Err(Error::InvalidArgument("stop here".into()))
    });
    assert!(matches!(stopped, Err(Error::InvalidArgument(m)) if m == "stop here"));
    assert_eq!(calls, 1, "the second file is not read");
    // Stopped after the second file's block was spilled: its folder is gone.
    let mut calls = 0;
    let stopped = run(&mut Files(paths), &book, &options, |p| {
        if p.waiting {
            return Ok(());
        }
        calls += 1;
        if calls == 2 {
            return Err(Error::InvalidArgument("stop later".into()));
        }
        Ok(())
    });
    assert!(stopped.is_err());
    assert_eq!(folders_in(&spill_parent), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_totals_run_keeps_no_rows_and_its_groups_add_up_to_the_rows_of_a_run_that_keeps_them() {
    let dir = scratch("totals");
    let paths = two_files(&dir);
    let kept = run_files(&paths, &RunOptions { spill: Spill::Never, ..Default::default() }).unwrap();
    let grouping = Grouping::new(&["tenant".into()], None, "UTC").unwrap();
    // Spilling is not used by a totals run, whatever it asks.
    let options = RunOptions { totals: Some(grouping), spill: Spill::Always, ..Default::default() };
    let done = run_files(&paths, &options).unwrap();
    assert_eq!(rows(&done.priced), 0);
    assert!(done.spilled.is_empty() && done.folder.is_none());
    assert_eq!(done.records_read, 51);
    assert_eq!(rows(&done.rejects), 2);
    let totals = done.totals.unwrap();
    assert_eq!(strings(std::slice::from_ref(&totals), "tenant"), ["acme", "globex"]);
    assert_eq!(ints(&[totals], "rows"), [15 + 19, 15]);
    let tenants = strings(&kept.priced, "tenant");
    assert_eq!(tenants.iter().filter(|t| *t == "acme").count(), 34);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn max_line_bytes_rejects_longer_lines_with_their_size() {
    let dir = scratch("long");
    let paths = two_files(&dir);
    let options = RunOptions { spill: Spill::Never, max_line_bytes: 100, ..Default::default() };
    let done = run_files(&paths[..1], &options).unwrap();
    // Every line of the sample shape is longer than 100 bytes; "not json" is not.
    assert_eq!((done.records_read, rows(&done.priced), rows(&done.rejects)), (31, 0, 31));
    let reasons = strings(&done.rejects, "reason");
    assert!(reasons.iter().filter(|r| r.contains("100")).count() == 30, "{reasons:?}");
    // No line fits in zero bytes: the run is refused before anything is read.
    let zero = RunOptions { max_line_bytes: 0, ..options };
    let err = run_files(&paths[..1], &zero).unwrap_err();
    assert!(matches!(&err, Error::InvalidArgument(m) if m == "max_line_bytes must be at least 1"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A gateway line reporting `cost` for 1,000 input and 100 output tokens of gpt-4o.
fn reported(id: &str, cost: &str, cached: bool, tenant: &str) -> String {
    format!(
        r#"{{"id":"{id}","created_at":"2025-01-01T02:00:00Z","provider":"openai","model":"gpt-4o","path":"chat/completions","success":true,"status_code":200,"cached":{cached},"tokens_in":1000,"tokens_out":100,"cost":{cost},"metadata":"{{\"tenant\": \"{tenant}\"}}"}}"#
    )
}

fn decimals(batch: &RecordBatch, column: &str) -> Vec<i128> {
    let c = batch.column_by_name(column).unwrap();
    c.as_any().downcast_ref::<arrow_array::Decimal128Array>().unwrap().values().to_vec()
}

#[test]
fn reconciliation_finds_each_mismatch_with_its_cause_money_and_labels() {
    use rust_decimal::Decimal;
    use tokenprice::ledger::reconcile::{reconcile, Tolerance, CAUSES};
    // gpt-4o in January 2025: 1,000 input tokens at $2.50/M and 100 output at $10/M cost 0.0035 USD.
    let usd = |s: &str| (s.parse::<f64>().unwrap() * 1e6).round() as i128 * 1_000_000_000_000;
    let texts = vec![
        Some(reported("right", "0.0035", false, "acme")),
        Some(reported("hit", "0.0035", true, "acme")),
        Some(reported("zero", "0", false, "globex")),
        Some(reported("double", "0.007", false, "globex")),
        Some(reported("close", "0.00351", false, "acme")),
    ];
    let book = PriceBook::default_book();
    let done = run(&mut Texts { name: "t".into(), texts }, &book, &RunOptions::default(), |_| Ok(())).unwrap();
    assert_eq!(
        decimals(&done.priced[0], "total_cost"),
        [usd("0.0035"), 0, usd("0.0035"), usd("0.0035"), usd("0.0035")]
    );
    let tolerance = Tolerance { absolute: Decimal::new(1, 6), relative: Decimal::new(1, 2) };
    let rec = reconcile(&done.priced, 3, &book, &tolerance, Some(0)).unwrap();
    assert_eq!(rec.compared, 5);
    assert_eq!(rec.reported_total, usd("0.01751"));
    assert_eq!(rec.computed_total, usd("0.0035") * 4);
    // Largest |difference| first, equal ones in line order (all three are 0.0035 off); "close" is within 1%.
    let m = &rec.mismatches;
    assert_eq!(strings(std::slice::from_ref(m), "id"), ["hit", "zero", "double"]);
    assert_eq!(strings(std::slice::from_ref(m), "cause"), ["gateway cache hit", "gateway reported 0", "unexplained"]);
    assert_eq!(decimals(m, "difference"), [usd("0.0035"), -usd("0.0035"), usd("0.0035")]);
    assert_eq!(strings(std::slice::from_ref(m), "tenant"), ["acme", "globex", "globex"]);
    assert_eq!(ints(std::slice::from_ref(m), "line"), [2, 3, 4]);
    let causes: Vec<(&str, u64, i128)> = CAUSES.iter().zip(rec.causes).map(|(c, (n, d))| (*c, n, d)).collect();
    assert_eq!(causes[0], ("gateway cache hit", 1, usd("0.0035")));
    // The gateway's 0 is its own cause; the 3 records tokenprice rejected for want of a price are another,
    // counted with no money.
    assert_eq!(causes[2], ("gateway reported 0", 1, -usd("0.0035")));
    assert_eq!(causes[3], ("no price for the model", 3, 0));
    assert_eq!(causes[10], ("unexplained", 1, usd("0.0035")));
    assert_eq!(rec.causes.iter().map(|(n, _)| n).sum::<u64>(), 3 + 3);
    // A tolerance wide enough accepts every line.
    let loose = Tolerance { absolute: Decimal::new(1000, 0), relative: Decimal::ZERO };
    assert_eq!(reconcile(&done.priced, 0, &book, &loose, Some(0)).unwrap().mismatches.num_rows(), 0);
    // Nothing to compare: empty, with the columns.
    let empty = reconcile(&[], 0, &book, &tolerance, Some(0)).unwrap();
    assert_eq!((empty.compared, empty.mismatches.num_rows()), (0, 0));
    assert_eq!(empty.mismatches.schema().field(7).name(), "cause");
}

/// A Logpush record of gpt-5.4-mini (an OpenAI chat completion in `ResponseBody`) with `prompt` tokens of which
/// `cached` were prompt-cache reads, 4 output tokens, and the gateway's `cost`.
fn logpush_cached(cost: &str, prompt: u64, cached: u64, tenant: &str) -> String {
    let body = format!(
        r#"{{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-5.4-mini","choices":[],"usage":{{"prompt_tokens":{prompt},"completion_tokens":4,"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":{cached}}}}}}}"#,
        prompt + 4
    );
    format!(
        r#"{{"Timestamp":"2026-05-30T10:00:00Z","Gateway":"g","Provider":"openai","Model":"gpt-5.4-mini","StatusCode":200,"Cached":false,"Metadata":"{{\"tenant\": \"{tenant}\"}}","Metrics":{{"cost":{cost}}},"ResponseBody":{}}}"#,
        serde_json::to_string(&body).unwrap()
    )
}

#[test]
fn reconciliation_reprices_each_cache_hypothesis_exactly() {
    use rust_decimal::Decimal;
    use tokenprice::ledger::reconcile::{reconcile, Tolerance, CAUSES};
    // USD as money of scale 18.
    let usd = |s: &str| {
        let d = s.parse::<Decimal>().unwrap();
        d.mantissa() * 10i128.pow(18 - d.scale())
    };
    // cloudflare/ai#550's hot call: 2,422 prompt tokens, 2,304 of them prompt-cache reads, 4 output tokens. At
    // gpt-5.4-mini's $0.75 input, $0.075 cached and $4.50 output per million it costs
    // (118 × 0.75 + 2,304 × 0.075 + 4 × 4.5) / 10^6 = 0.0002793 USD; the gateway reported 0.0020073 =
    // (2,422 × 0.75 + 2,304 × 0.075 + 4 × 4.5) / 10^6: all input at the input rate, the cache reads again at theirs.
    let texts = vec![
        Some(logpush_cached("0.0002793", 2422, 2304, "acme")),   // right
        Some(logpush_cached("0.0020073", 2422, 2304, "acme")),   // cache charged twice (#550)
        Some(logpush_cached("0.0018345", 2422, 2304, "globex")), // cache tokens ignored: the cold call's price
        Some(logpush_cached("0.0009705", 2422, 2304, "globex")), // cache reads at half the input rate
        Some(logpush_cached("0", 2422, 2304, "globex")),         // gateway reported 0
        Some(logpush_cached("0.003", 2422, 2304, "acme")),       // more than charging the cache twice
        Some(logpush_cached("0.0018345", 2422, 0, "acme")),      // no cache tokens: right
    ];
    let book = PriceBook::default_book();
    let done = run(&mut Texts { name: "t".into(), texts }, &book, &RunOptions::default(), |_| Ok(())).unwrap();
    assert_eq!(rows(&done.rejects), 0, "{:?}", strings(&done.rejects, "reason"));
    let computed = decimals(&done.priced[0], "total_cost");
    assert_eq!(computed, [usd("0.0002793"); 6].into_iter().chain([usd("0.0018345")]).collect::<Vec<_>>());
    // An exact tolerance: only the right lines match.
    let exact = Tolerance { absolute: Decimal::ZERO, relative: Decimal::ZERO };
    let rec = reconcile(&done.priced, 0, &book, &exact, Some(0)).unwrap();
    let m = &rec.mismatches;
    // Largest |difference| first.
    assert_eq!(ints(std::slice::from_ref(m), "line"), [6, 2, 3, 4, 5]);
    assert_eq!(
        strings(std::slice::from_ref(m), "cause"),
        [
            "unexplained",
            "cache charged twice",
            "cache tokens ignored",
            "cache priced differently",
            "gateway reported 0"
        ]
    );
    assert_eq!(strings(std::slice::from_ref(m), "tenant"), ["acme", "acme", "globex", "globex", "globex"]);
    let found: Vec<(&str, u64, i128)> =
        CAUSES.iter().zip(rec.causes).map(|(c, (n, d))| (*c, n, d)).filter(|(_, n, _)| *n > 0).collect();
    assert_eq!(
        found,
        [
            ("gateway reported 0", 1, -usd("0.0002793")),
            ("cache charged twice", 1, usd("0.001728")),
            ("cache tokens ignored", 1, usd("0.0015552")),
            ("cache priced differently", 1, usd("0.0006912")),
            ("unexplained", 1, usd("0.0027207")),
        ]
    );
}

#[test]
fn a_cost_the_caller_set_is_its_own_cause_and_the_items_extras_are_columns() {
    use rust_decimal::Decimal;
    use tokenprice::ledger::reconcile::{reconcile, Tolerance};
    // Logs API items (cloudflare-typescript `LogListResponse`): `custom_cost: true` says the caller priced the
    // request with `cf-aig-custom-cost`; `duration` (ms) and `path` are kept.
    let item = |id: &str, cost: &str, custom: bool| {
        format!(
            r#"{{"id":"{id}","created_at":"2025-01-01T02:00:00Z","provider":"openai","model":"gpt-4o","success":true,"cached":false,"tokens_in":1000,"tokens_out":100,"cost":{cost},"custom_cost":{custom},"duration":812,"path":"chat/completions"}}"#
        )
    };
    let texts = vec![Some(item("custom", "0.001", true)), Some(item("other", "0.001", false))];
    let book = PriceBook::default_book();
    let done = run(&mut Texts { name: "t".into(), texts }, &book, &RunOptions::default(), |_| Ok(())).unwrap();
    let priced = &done.priced[0];
    assert_eq!(strings(std::slice::from_ref(priced), "endpoint"), ["chat/completions", "chat/completions"]);
    assert_eq!(strings(std::slice::from_ref(priced), "request_id"), ["custom", "other"]);
    assert_eq!(decimals(priced, "duration_ms"), [812 * 10i128.pow(18); 2]);
    let tolerance = Tolerance { absolute: Decimal::new(1, 6), relative: Decimal::new(1, 2) };
    let rec = reconcile(&done.priced, 0, &book, &tolerance, Some(0)).unwrap();
    // Both report 0.001 against 0.0035 computed: the custom-priced one for that reason, the other unexplained.
    assert_eq!(strings(std::slice::from_ref(&rec.mismatches), "cause"), ["custom cost", "unexplained"]);
}

#[test]
fn repricing_maps_models_drops_the_cache_and_keeps_unpriceable_lines_null() {
    use std::collections::HashMap;
    use tokenprice::ledger::reprice::{reprice, CacheAs, Reprice};
    let usd = |s: &str| (s.parse::<f64>().unwrap() * 1e6).round() as i128 * 1_000_000_000_000;
    let texts = vec![Some(reported("a", "0.0035", false, "acme")), Some(reported("hit", "0.0035", true, "acme"))];
    let book = PriceBook::default_book();
    let done = run(&mut Texts { name: "t".into(), texts }, &book, &RunOptions::default(), |_| Ok(())).unwrap();
    let repriced = |how: &Reprice| {
        let column = reprice(&done.priced, &book, how).unwrap().remove(0);
        let c = column.as_any().downcast_ref::<arrow_array::Decimal128Array>().unwrap();
        (0..c.len()).map(|i| c.is_valid(i).then(|| c.value(i))).collect::<Vec<_>>()
    };
    // As priced: the gateway's cache hit stays free.
    assert_eq!(repriced(&Reprice::default()), [Some(usd("0.0035")), Some(0)]);
    // Without the gateway's cache, the hit costs what the call it answered did.
    let uncached = Reprice { cache: CacheAs::PlainInput, ..Reprice::default() };
    assert_eq!(repriced(&uncached), [Some(usd("0.0035")), Some(usd("0.0035"))]);
    // gpt-4o-mini in January 2025: 1,000 input tokens at $0.15/M and 100 output at $0.60/M.
    let mapped = Reprice { model_map: HashMap::from([("gpt-4o".into(), "gpt-4o-mini".into())]), ..uncached.clone() };
    assert_eq!(repriced(&mapped), [Some(usd("0.00021")); 2]);
    let unknown = Reprice { model_map: HashMap::from([("gpt-4o".into(), "no-such-model".into())]), ..uncached };
    assert_eq!(repriced(&unknown), [None, None]);
}

/// A boxed reader over `bytes`, as an object store's stream is handed to the core.
type Stream = Box<dyn std::io::Read + Send>;

/// What `Streams` takes: the next stream's name and reader, or `None` after the last.
type Next = tokenprice::error::Result<Option<tokenprice::ledger::NamedStream>>;

/// Named streams (what an object store's objects are read as) give exactly what the same bytes give as files:
/// plain and gzip, the same lines, rejects and sources; an input that cannot be opened stops the run naming it;
/// a gzip stream cut short is an error naming the stream, never lines silently lost.
#[test]
fn streams_read_as_files_are_and_their_errors_name_the_stream() {
    use std::io::Write;
    use tokenprice::ledger::Streams;
    let dir = scratch("streams");
    let paths = two_files(&dir);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&std::fs::read(&paths[1]).unwrap()).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(dir.join("b.jsonl.gz"), &gz).unwrap();
    let files = vec![paths[0].clone(), dir.join("b.jsonl.gz").display().to_string()];
    let options = RunOptions { spill: Spill::Never, ..RunOptions::default() };
    let want = run_files(&files, &options).unwrap();
    let bodies = [std::fs::read(&paths[0]).unwrap(), gz.clone()];
    let mut given = 0;
    let next = || -> Next {
        given += 1;
        Ok(files
            .get(given - 1)
            .map(|f| (f.clone(), Box::new(std::io::Cursor::new(bodies[given - 1].clone())) as Stream)))
    };
    let got = run(&mut Streams::new(next), &PriceBook::default_book(), &options, |_| Ok(())).unwrap();
    // Asked once per stream and once more for the end.
    assert_eq!(given, 3);
    assert_eq!(got.records_read, want.records_read);
    assert_eq!(rows(&got.priced), 49);
    assert!(got.priced == want.priced && got.rejects == want.rejects, "streams and files differ");
    assert_eq!(rows(&got.rejects), 2);
    // An input that cannot be opened.
    let refuse = || -> Next { Err(Error::Io { path: "s3://b/k.gz".into(), message: "NoSuchKey".into() }) };
    let err = run(&mut Streams::new(refuse), &PriceBook::default_book(), &options, |_| Ok(())).unwrap_err().to_string();
    assert!(err.contains("s3://b/k.gz") && err.contains("NoSuchKey"), "{err}");
    // A gzip stream cut short.
    let mut cut = Some(gz[..gz.len() - 20].to_vec());
    let next = move || -> Next {
        Ok(cut.take().map(|c| ("s3://b/cut.jsonl.gz".to_string(), Box::new(std::io::Cursor::new(c)) as Stream)))
    };
    let err = run(&mut Streams::new(next), &PriceBook::default_book(), &options, |_| Ok(())).unwrap_err().to_string();
    assert!(err.contains("s3://b/cut.jsonl.gz"), "{err}");
    // No stream at all: an empty run, nothing read.
    let none = || -> Next { Ok(None) };
    let empty = run(&mut Streams::new(none), &PriceBook::default_book(), &options, |_| Ok(())).unwrap();
    assert_eq!((empty.records_read, rows(&empty.priced), rows(&empty.rejects)), (0, 0, 0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Streams found as the run goes (objects handed over as they are listed): each is asked for only once the one
/// before it is read, and the reading is at most one input ahead of the pricing (stream k is asked for after
/// stream k-2 is priced), so pricing starts before the last input is known, the next stream is decompressed while
/// one is priced, and the source holds two streams at most; the results are those of the same files.
#[test]
fn streams_are_asked_for_one_at_a_time_as_the_run_goes() {
    use std::sync::Mutex;
    use tokenprice::ledger::Streams;
    let dir = scratch("lazy");
    let paths: Vec<String> = (0..5)
        .map(|k| {
            write(&dir, &format!("{k}.jsonl"), &(0..7).map(|i| line(10 * k + i, "gpt-4o", "acme")).collect::<Vec<_>>())
        })
        .collect();
    let options = RunOptions { spill: Spill::Never, ..RunOptions::default() };
    let want = run_files(&paths, &options).unwrap();
    // What happened, in order: "listed k" when stream k is handed over, "priced k" when a block of it is priced.
    let events = Mutex::new(Vec::new());
    let mut k = 0;
    let next = || -> Next {
        let Some(path) = paths.get(k) else {
            events.lock().unwrap().push("end".to_string());
            return Ok(None);
        };
        events.lock().unwrap().push(format!("listed {k}"));
        k += 1;
        Ok(Some((path.clone(), Box::new(std::fs::File::open(path).unwrap()) as Stream)))
    };
    let got = run(&mut Streams::new(next), &PriceBook::default_book(), &options, |p| {
        if p.waiting {
            return Ok(());
        }
        let k = paths.iter().position(|q| q == p.input).unwrap();
        events.lock().unwrap().push(format!("priced {k}"));
        Ok(())
    })
    .unwrap();
    assert!(got.priced == want.priced && got.rejects == want.rejects, "streams and files differ");
    assert_eq!(got.records_read, 35);
    let events = events.into_inner().unwrap();
    let at = |e: String| events.iter().position(|x| *x == e).unwrap_or_else(|| panic!("no {e:?} in {events:?}"));
    assert_eq!(events.len(), 11, "each stream listed and priced once, then the end: {events:?}");
    for k in 0..5 {
        assert!(at(format!("listed {k}")) < at(format!("priced {k}")), "{events:?}");
        if k > 0 {
            assert!(at(format!("listed {}", k - 1)) < at(format!("listed {k}")), "{events:?}");
            assert!(at(format!("priced {}", k - 1)) < at(format!("priced {k}")), "{events:?}");
        }
        if k > 1 {
            assert!(at(format!("priced {}", k - 2)) < at(format!("listed {k}")), "two ahead: {events:?}");
        }
    }
    assert!(at("listed 4".into()) < at("end".into()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A run waiting on an input that does not come (an object store holding the connection open) reports its wait to
/// `progress` every tick, with the last block's place; an error returned then stops the run, once the reading gives
/// up its wait (as the Python objects' iterator does when told to stop), with no row of the stalled input.
#[test]
fn a_run_waiting_on_its_input_reports_the_wait_and_stops_when_told() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokenprice::ledger::Streams;
    let dir = scratch("waiting");
    let first = write(&dir, "first.jsonl", &(0..5).map(|i| line(i, "gpt-4o", "acme")).collect::<Vec<_>>());
    let stopped = AtomicBool::new(false);
    let mut k = 0;
    let next = || -> Next {
        k += 1;
        if k == 1 {
            return Ok(Some((first.clone(), Box::new(std::fs::File::open(&first).unwrap()) as Stream)));
        }
        // The second object does not come until the run is stopped.
        while !stopped.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Err(Error::Io { path: "s3://b/stalled.jsonl".into(), message: "stopped".into() })
    };
    let options = RunOptions { spill: Spill::Never, ..RunOptions::default() };
    let (mut blocks, mut waits) = (Vec::new(), 0);
    let err = run(&mut Streams::new(next), &PriceBook::default_book(), &options, |p| {
        if !p.waiting {
            blocks.push((p.input.to_string(), p.records));
            return Ok(());
        }
        if blocks.is_empty() {
            // A wait before the first block (a loaded machine) names no input yet.
            assert_eq!((p.input, p.records), ("", 0));
            return Ok(());
        }
        // A wait reports the last block priced.
        assert_eq!((p.input, p.records), (first.as_str(), 5));
        waits += 1;
        if waits == 3 {
            stopped.store(true, Ordering::SeqCst);
            return Err(Error::InvalidArgument("interrupted".into()));
        }
        Ok(())
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "interrupted", "the caller's error, not the reading's");
    assert_eq!(blocks, vec![(first.clone(), 5)]);
    assert_eq!(waits, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Files read ahead (the next opened and decompressed in a thread of its own while the one before is priced) give
/// exactly what the same files give read in turn: rows, rejects, progress, and the same error at the same point.
/// The inputs mix every reader: JSON Lines plain, gzip and zstd (blocks handed over whole), a JSON array read whole
/// and one longer than a block read in parts (items lent, so copied), lines past the cap, an empty file, and
/// blocks past one block's size (so buffers go round and come back from the spares).
#[test]
fn reading_ahead_equals_reading_in_turn() {
    use std::io::Write;
    use tokenprice::ledger::read::BLOCK_BYTES;
    use tokenprice::ledger::Source;

    /// Files, read in turn: the run's path for a source that cannot be read ahead.
    struct InTurn(Files);
    impl Source for InTurn {
        fn input(&mut self, index: usize) -> tokenprice::error::Result<Option<String>> {
            self.0.input(index)
        }
        fn read(
            &mut self,
            index: usize,
            max: usize,
            block: &mut tokenprice::ledger::run::Block<'_>,
        ) -> tokenprice::error::Result<()> {
            self.0.read(index, max, block)
        }
    }

    let dir = scratch("ahead");
    let lines = |from: usize, n: usize, model: &str| -> Vec<String> {
        (from..from + n).map(|i| line(i, model, if i % 3 == 0 { "acme" } else { "globex" })).collect()
    };
    let mut paths = vec![];
    let mut plain = lines(0, 40, "gpt-4o");
    plain.insert(7, "not json".into());
    plain.insert(9, format!("{{\"pad\":\"{}\"}}", "x".repeat(5000)));
    paths.push(write(&dir, "plain.jsonl", &plain));
    let gz = dir.join("b.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    // More than two blocks of lines: the reader's buffers are used and given back more than once.
    let big = lines(1000, 3 * BLOCK_BYTES / 330, "gpt-4o-mini");
    enc.write_all((big.join("\n") + "\n").as_bytes()).unwrap();
    enc.finish().unwrap();
    paths.push(gz.display().to_string());
    paths.push(write(&dir, "empty.jsonl", &[]));
    let mut in_array = lines(50, 25, "gpt-4.1-mini");
    in_array.insert(3, format!("{{\"pad\":\"{}\"}}", "y".repeat(5000)));
    let array = format!("[{}]", in_array.join(","));
    paths.push(write(&dir, "array.json", &[array]));
    // One array longer than a block: read element by element, in parts.
    let long = format!("[{}]", lines(200_000, BLOCK_BYTES / 330 + 500, "gpt-4o").join(",\n"));
    paths.push(write(&dir, "long-array.json", &[long]));
    let zst = dir.join("c.jsonl.zst");
    let text = lines(300, 30, "no-such-model-anywhere").join("\n") + "\n";
    std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
    paths.push(zst.display().to_string());
    let book = PriceBook::default_book();
    let options = RunOptions { spill: Spill::Never, max_line_bytes: 4096, ..RunOptions::default() };
    type Events = std::sync::Mutex<Vec<(String, u64, u64, u64)>>;
    fn record(events: &Events) -> impl FnMut(&tokenprice::ledger::Progress<'_>) -> tokenprice::error::Result<()> + '_ {
        move |p| {
            // A wait for a slow block (a loaded machine) is no event of the reading's.
            if !p.waiting {
                events.lock().unwrap().push((p.input.to_string(), p.taken, p.read, p.records));
            }
            Ok(())
        }
    }
    let both = |paths: &[String]| {
        let events: [Events; 2] = Default::default();
        let ahead = run(&mut Files(paths.to_vec()), &book, &options, record(&events[0]));
        let in_turn = run(&mut InTurn(Files(paths.to_vec())), &book, &options, record(&events[1]));
        (ahead, in_turn, events.map(|e| e.into_inner().unwrap()))
    };
    let (ahead, in_turn, events) = both(&paths);
    let (ahead, in_turn) = (ahead.unwrap(), in_turn.unwrap());
    assert!(ahead.priced == in_turn.priced, "priced rows differ");
    assert!(ahead.rejects == in_turn.rejects, "rejects differ");
    assert_eq!(ahead.records_read, in_turn.records_read);
    assert_eq!(events[0], events[1]);
    let expected = 42 + big.len() + 26 + BLOCK_BYTES / 330 + 500 + 30;
    assert_eq!(ahead.records_read as usize, expected);
    assert_eq!(rows(&ahead.rejects), 3 + 30, "the bad line, the two long ones and the unknown model's 30");
    // A missing file in the middle: the same error, after the same inputs were priced.
    let mut broken = paths.clone();
    broken.insert(2, dir.join("missing.jsonl").display().to_string());
    let (ahead, in_turn, events) = both(&broken);
    assert_eq!(ahead.unwrap_err().to_string(), in_turn.unwrap_err().to_string());
    assert_eq!(events[0], events[1]);
    assert!(events[0].iter().any(|e| e.0 == paths[1]) && !events[0].iter().any(|e| e.0 == paths[2]));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A label named like a column the mismatches add (`cause`, `reported`, `computed`, `difference`) is the column
/// `metadata.<name>` there (it keeps its name in the lines): the mismatches had two columns of that name.
#[test]
fn labels_named_like_the_mismatches_columns_are_metadata_there() {
    use rust_decimal::Decimal;
    use tokenprice::ledger::reconcile::{reconcile, Tolerance};
    use tokenprice::ledger::MISMATCH_COLUMNS;
    let labelled = |id: &str, cost: &str, labels: &str| {
        format!(
            r#"{{"id":"{id}","created_at":"2025-01-01T02:00:00Z","provider":"openai","model":"gpt-4o","success":true,"cached":false,"tokens_in":1000,"tokens_out":100,"cost":{cost},"metadata":"{{{labels}}}"}}"#
        )
    };
    let all =
        r#"\"cause\": \"c\", \"reported\": \"r\", \"computed\": \"p\", \"difference\": \"d\", \"tenant\": \"acme\""#;
    // A label `metadata.cause` beside `cause`: each keeps a column of its own.
    let texts = vec![
        Some(labelled("a", "1", all)),
        Some(labelled("b", "0.5", r#"\"metadata.cause\": \"m\""#)),
        Some(labelled("c", "0.0035", r#"\"cause\": \"c2\""#)),
        Some("not json".into()),
    ];
    let book = PriceBook::default_book();
    let done = run(&mut Texts { name: "t".into(), texts }, &book, &RunOptions::default(), |_| Ok(())).unwrap();
    assert_eq!((done.records_read, rows(&done.priced), rows(&done.rejects)), (4, 3, 1));
    let lines = done.priced[0].schema();
    assert!(MISMATCH_COLUMNS.iter().all(|c| lines.column_with_name(c).is_some()), "{lines:?}");
    let tolerance = Tolerance { absolute: Decimal::new(1, 6), relative: Decimal::new(1, 2) };
    let rec = reconcile(&done.priced, 0, &book, &tolerance, Some(0)).unwrap();
    let m = std::slice::from_ref(&rec.mismatches);
    let names: Vec<String> = rec.mismatches.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(
        names,
        [
            "id",
            "source",
            "line",
            "model",
            "reported",
            "computed",
            "difference",
            "cause",
            "metadata.metadata.cause",
            "metadata.reported",
            "metadata.computed",
            "metadata.difference",
            "tenant",
            "metadata.cause"
        ]
    );
    assert_eq!(names[4..8], MISMATCH_COLUMNS);
    assert_eq!(strings(m, "id"), ["a", "b"]);
    assert_eq!(strings(m, "cause"), ["unexplained", "unexplained"]);
    assert_eq!(strings(m, "metadata.metadata.cause"), ["c", ""]);
    assert_eq!(strings(m, "metadata.cause"), ["", "m"]);
    assert_eq!(strings(m, "metadata.difference"), ["d", ""]);
    assert_eq!(decimals(&rec.mismatches, "reported")[0], 10i128.pow(18));
}

/// A UTF-8 byte order mark before one JSON array (small, read whole; past a block, read element by element; gzip;
/// split into byte ranges): read as the same file without it, where each of its lines was a reject.
#[test]
fn a_json_array_after_a_byte_order_mark_reads_as_without_it() {
    use std::io::Write;
    use tokenprice::ledger::FileRanges;
    let dir = scratch("bom-array");
    let bom = b"\xef\xbb\xbf";
    let array = |n: usize| {
        let mut records: Vec<String> = (0..n).map(|i| line(i, "gpt-4o", "acme")).collect();
        records.insert(1, r#"{"bad": 1}"#.into());
        format!("[\n  {}\n]\n", records.join(",\n  "))
    };
    let gz = |text: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text).unwrap();
        enc.finish().unwrap()
    };
    let small = array(3);
    let large = array(40_000);
    assert!(large.len() > tokenprice::ledger::read::BLOCK_BYTES);
    let cases =
        [("small.json", &small, false, 3), ("small.json.gz", &small, true, 3), ("large.json", &large, false, 40_000)];
    let options = RunOptions { spill: Spill::Never, ..Default::default() };
    for (name, text, packed, n) in cases {
        let pack = |b: Vec<u8>| if packed { gz(&b) } else { b };
        let plain = dir.join(format!("plain-{name}")).display().to_string();
        let marked = dir.join(format!("bom-{name}")).display().to_string();
        std::fs::write(&plain, pack(text.as_bytes().to_vec())).unwrap();
        std::fs::write(&marked, pack([bom.as_slice(), text.as_bytes()].concat())).unwrap();
        let want = run_files(std::slice::from_ref(&plain), &options).unwrap();
        let got = run_files(std::slice::from_ref(&marked), &options).unwrap();
        assert_eq!((got.records_read, rows(&got.priced), rows(&got.rejects)), (n as u64 + 1, n, 1), "{name}");
        assert_eq!(strings(&got.priced, "id"), strings(&want.priced, "id"), "{name}");
        assert_eq!(ints(&got.priced, "line"), ints(&want.priced, "line"), "{name}");
        assert_eq!(ints(&got.rejects, "line"), [2], "{name}");
        if !packed {
            // Split in two: the range starting at 0 reads the array whole, the other nothing.
            let size = std::fs::metadata(&marked).unwrap().len();
            let halves = vec![(marked.clone(), 0, size / 2), (marked.clone(), size / 2, size)];
            let split = run(&mut FileRanges::new(halves), &PriceBook::default_book(), &options, |_| Ok(())).unwrap();
            assert_eq!((split.records_read, rows(&split.priced)), (n as u64 + 1, n), "{name} in ranges");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
