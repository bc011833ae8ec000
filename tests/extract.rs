//! Fuzzing the usage readers with proptest (cargo fuzz needs a nightly toolchain): arbitrary JSON built from the
//! keys the readers look for, arbitrary nesting and values of every type, SSE framing and raw bytes. No input may
//! panic; every accepted record's usage must be consistent.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tokenprice::json::{self, Obj};
use tokenprice::usage::batch::{extract_all, to_batch, Finish};
use tokenprice::usage::formats::{extract_bytes, extract_text};
use tokenprice::usage::Hints;

const KEYS: &[&str] = &[
    "usage",
    "model",
    "id",
    "type",
    "object",
    "created",
    "message",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cached_tokens",
    "reasoning_tokens",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation",
    "ephemeral_5m_input_tokens",
    "ephemeral_1h_input_tokens",
    "iterations",
    "server_tool_use",
    "usageMetadata",
    "promptTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "cachedContentTokenCount",
    "promptTokensDetails",
    "modality",
    "tokenCount",
    "inputTokens",
    "outputTokens",
    "cacheReadInputTokens",
    "cacheWriteInputTokens",
    "cacheDetails",
    "ttl",
    "metadata",
    "tokens_in",
    "tokens_out",
    "cost",
    "cached",
    "ResponseBody",
    "Provider",
    "Model",
    "StatusCode",
    "Timestamp",
    "Metadata",
    "Metrics",
    "response_cost",
    "startTime",
    "usageDetails",
    "calculatedTotalCost",
    "costUSD",
    "request_id",
    "request_created_at",
    "attributes",
    "resourceSpans",
    "scopeSpans",
    "spans",
    "custom_id",
    "response",
    "body",
    "result",
    "success",
    "status",
    "spend",
    "key",
    "value",
    "intValue",
    "stringValue",
    "gen_ai.usage.input_tokens",
    "gen_ai.request.model",
    "message_start",
    "message_delta",
    "response.completed",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u64..5_000_000).prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9 .:\\-]{0,12}".prop_map(Value::String),
        prop::sample::select(KEYS).prop_map(|k| Value::String(k.to_string())),
        Just(Value::String("data: {\"usage\":{\"prompt_tokens\":1}}\n\n".into())),
        Just(Value::String("2025-05-01T12:00:00Z".into())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner.clone()), 0..6).prop_map(|kv| {
                let mut m = Map::new();
                for (k, v) in kv {
                    m.insert(k.to_string(), v);
                }
                Value::Object(m)
            }),
            // A body embedded as JSON text, as gateways store it.
            inner.prop_map(|v| Value::String(v.to_string())),
        ]
    })
}

fn check(text: &str) {
    for hints in [Hints::default(), Hints { model: Some("gpt-4o".into()), ..Default::default() }] {
        if let Ok(rec) = extract_text(text, &hints) {
            rec.usage.validate().expect("an accepted record's usage is consistent");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in value()) {
        let text = v.to_string();
        check(&text);
        check(&format!("data: {text}\n\ndata: [DONE]\n\n"));
        check(&json!([v.clone(), v]).to_string());
    }

    #[test]
    fn the_scanner_splits_objects_exactly_as_serde_json_parses_them(v in value(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
        let raw = json::parse_raw(&text).unwrap();
        // Compared through serde_json's own parse of each text (its float parsing is not exact round-trip).
        let reparse = |t: &str| serde_json::from_str::<Value>(t).unwrap();
        prop_assert_eq!(reparse(raw.get()), reparse(&text));
        if let Value::Object(m) = &v {
            let o = Obj::parse(&text).unwrap();
            prop_assert_eq!(o.members.len(), m.len());
            for ((k, raw), (k2, v2)) in o.members.iter().zip(m) {
                prop_assert_eq!(k.as_ref(), k2.as_str());
                prop_assert_eq!(reparse(raw.get()), reparse(&v2.to_string()));
            }
        }
        if let Value::Array(items) = &v {
            let got = json::array(raw).unwrap();
            prop_assert_eq!(got.len(), items.len());
        }
        // Cut anywhere, the text is no longer one value.
        if text.len() > 1 {
            let cut = &text[..text.len() - 1];
            if serde_json::from_str::<Value>(cut).is_err() {
                let rejected = json::parse_raw(cut).is_err();
                prop_assert!(rejected, "accepted a cut text: {}", cut);
            }
        }
    }

    #[test]
    fn strings_decode_exactly_as_serde_json_decodes_them(s in "\\PC*", ascii_escapes in any::<bool>()) {
        // serde_json writes control characters and quotes escaped; with `ascii_escapes` every non-ASCII character
        // is written as \uXXXX (surrogate pairs above the BMP), as Python's json.dumps does by default.
        let text = if ascii_escapes {
            let mut t = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => t.push_str("\\\""),
                    '\\' => t.push_str("\\\\"),
                    c if c.is_ascii() && !c.is_ascii_control() => t.push(c),
                    c => {
                        let mut units = [0u16; 2];
                        for u in c.encode_utf16(&mut units) {
                            t.push_str(&format!("\\u{u:04x}"));
                        }
                    }
                }
            }
            t.push('"');
            t
        } else {
            serde_json::to_string(&s).unwrap()
        };
        let raw = json::parse_raw(&text).unwrap();
        let decoded = json::string(raw).unwrap();
        prop_assert_eq!(decoded.as_ref(), s.as_str());
        let key = format!("{{{text}:1}}");
        let o = Obj::parse(&key).unwrap();
        prop_assert_eq!(o.members[0].0.as_ref(), s.as_str());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = extract_bytes(&bytes, &Hints::default());
        let rows = extract_all(&[Some(&bytes[..]), None], &Hints::default(), None, Some(1)).unwrap();
        prop_assert!(rows.len() >= 2);
        to_batch(&rows, &Finish::default()).unwrap();
    }

    #[test]
    fn truncated_records_are_rejected_not_panicking(cut in 0usize..400) {
        let full = r#"{"Timestamp":"2025-06-01T09:00:00Z","Gateway":"g","Provider":"anthropic","Model":"claude-sonnet-4-5","StatusCode":200,"ResponseBody":"{\"type\":\"message\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":100,\"cache_read_input_tokens\":1000,\"output_tokens\":50}}"}"#;
        let text = &full[..cut.min(full.len())];
        let r = extract_text(text, &Hints::default());
        prop_assert!(r.is_ok() == (text.len() == full.len()));
    }
}

#[test]
fn bad_escapes_and_mismatched_brackets_are_errors() {
    for bad in [r#""\x""#, r#""\u12""#, r#""\ud800\u12""#] {
        let raw = json::parse_raw(bad).unwrap();
        assert_eq!(json::string(raw), None, "{bad}");
        assert!(serde_json::from_str::<String>(bad).is_err(), "{bad}");
    }
    // A lone surrogate, which UTF-8 cannot hold, reads as U+FFFD (as tiktoken reads one in a Python str).
    for (lone, read) in [(r#""\ud800""#, "\u{fffd}"), (r#""\ud800\u0041""#, "\u{fffd}A"), (r#""\udc00""#, "\u{fffd}")] {
        let raw = json::parse_raw(lone).unwrap();
        assert_eq!(json::string(raw).as_deref(), Some(read), "{lone}");
    }
    for bad in ["[1}", "{\"a\":[}", "[[[]]", "{\"a\":1]}", "]"] {
        assert!(json::parse_raw(bad).is_err(), "{bad}");
    }
    // Brackets nested past 64 levels (the scanner's stack spans several words) still match.
    let nested = format!("{}1{}", "[{\"a\":".repeat(100), "}]".repeat(100));
    assert_eq!(json::parse_raw(&nested).unwrap().get(), nested);
    let crossed = format!("{}1{}", "[{\"a\":".repeat(100), "]}".repeat(100));
    assert!(json::parse_raw(&crossed).is_err());
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(extract_text(&deep, &Hints::default()).is_err());
    let deep_obj = format!("{{\"usage\":{}1{}}}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    assert!(extract_text(&deep_obj, &Hints::default()).is_err());
}

#[test]
fn an_empty_container_is_one_reject_row() {
    let inputs: [&[u8]; 4] = [br#"{"success": true, "result": []}"#, b"[]", br#"{"resourceSpans": []}"#, b" [ ] "];
    let inputs: Vec<Option<&[u8]>> = inputs.iter().map(|b| Some(*b)).collect();
    let rows = extract_all(&inputs, &Hints::default(), None, Some(1)).unwrap();
    assert_eq!(rows.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    for (_, row) in &rows {
        assert_eq!(row.as_ref().unwrap_err(), tokenprice::usage::batch::EMPTY_CONTAINER);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// A record's state (what `UsageRecord` pickles to) reads back as the same record, for every record the
    /// readers make of arbitrary JSON.
    #[test]
    fn a_record_state_reads_back_as_the_record(value in value()) {
        if let Ok(rec) = extract_text(&value.to_string(), &Hints::default()) {
            let state = serde_json::from_str(&rec.to_state().to_string()).unwrap();
            prop_assert_eq!(tokenprice::usage::UsageRecord::from_state(&state).unwrap(), rec);
        }
    }
}

#[test]
fn a_record_state_keeps_every_field() {
    let line = r#"{"id":"x","created_at":"2025-01-01T02:52:42.929Z","provider":"openai","model":"gpt-4o","success":true,"status_code":200,"cached":true,"tokens_in":10,"tokens_out":2,"cost":0.044735,"metadata":"{\"tenant\": \"g\", \"n\": 3, \"r\": 0.5, \"b\": true}"}"#;
    let rec = extract_text(line, &Hints::default()).unwrap();
    assert!(rec.reported_cost.is_some() && rec.metadata.len() == 4 && rec.timestamp.is_some());
    let back = tokenprice::usage::UsageRecord::from_state(&rec.to_state()).unwrap();
    assert_eq!(back, rec);
    let mut broken = rec.to_state();
    broken["status"] = json!("fine");
    assert!(tokenprice::usage::UsageRecord::from_state(&broken).is_err());
}

/// The registry: each format is detected by its own samples (every fixture case that expects it and gives no
/// `format=`), and reading such a sample gives a record of that format.
#[test]
fn every_registered_format_is_detected_by_its_own_samples() {
    use std::collections::BTreeSet;
    use tokenprice::usage::formats::{detect, format_names};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/usage");
    let mut detected = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in fixture["cases"].as_array().unwrap() {
            let (Some(want), Value::Object(_)) = (case["expect"]["format"].as_str(), &case["input"]) else { continue };
            if case["hints"].get("format").is_some() {
                continue;
            }
            let text = case["input"].to_string();
            let name = detect(&Obj::parse(&text).unwrap()).map(|f| f.name);
            assert_eq!(name, Some(want), "{}: {}", path.display(), case["name"]);
            let rec = extract_text(&text, &Hints::default());
            assert_eq!(rec.map(|r| r.format).map_err(|e| e.to_string()), Ok(want), "{}", case["name"]);
            detected.insert(name.expect("checked above"));
        }
    }
    assert_eq!(detected, format_names().collect::<BTreeSet<_>>());
}
