//! The counting rules of gateway and tracing logs, each as its system writes it (issue 15; the full records are
//! `tests/fixtures/sources/`, checked by `tests/test_sources.py`): small literal records, one rule per test.

use tokenprice::usage::batch::extract_all;
use tokenprice::usage::formats::extract_text;
use tokenprice::usage::{Hints, Meta, Status, UsageRecord};

fn read(text: &str) -> UsageRecord {
    extract_text(text, &Hints::default()).unwrap()
}

fn counts(r: &UsageRecord, fields: &[&str]) -> Vec<u64> {
    fields.iter().map(|f| r.usage.get(f).unwrap()).collect()
}

fn rejected(text: &str) -> String {
    extract_text(text, &Hints::default()).unwrap_err().to_string()
}

const PROMPT: [&str; 5] =
    ["input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens"];

/// LiteLLM puts Anthropic's cache writes inside `prompt_tokens` and names them `cache_creation_tokens`, with the
/// 1-hour share in `cache_creation_token_details` (`litellm/llms/anthropic/chat/transformation.py`).
#[test]
fn litellm_anthropic_writes_are_inside_the_prompt_with_their_1h_share() {
    let r = read(
        r#"{"id":"c","response_cost":0.01988925,"custom_llm_provider":"anthropic","model":"claude-sonnet-4-5","status":"success",
            "prompt_tokens":2372,"completion_tokens":503,"metadata":{"usage_object":{"prompt_tokens":2372,"completion_tokens":503,
            "prompt_tokens_details":{"cached_tokens":300,"cache_creation_tokens":2051,
            "cache_creation_token_details":{"ephemeral_5m_input_tokens":51,"ephemeral_1h_input_tokens":2000}}}}}"#,
    );
    assert_eq!(counts(&r, &PROMPT), [2372, 300, 51, 2000, 503]);
}

/// A spend-log row (`SpendLogsPayload`): metadata and tags are JSON text; the labels are the caller's, under their
/// own names, never the key's hash nor LiteLLM's internals.
#[test]
fn litellm_spend_log_labels_are_the_callers() {
    let r = read(
        r#"{"request_id":"r","spend":"0.004375","model":"gpt-4o","custom_llm_provider":"openai","status":"success",
            "prompt_tokens":"2422","completion_tokens":"120","request_tags":"[\"prod\", \"search\"]","model_group":"",
            "metadata":"{\"user_api_key\": \"824d0fb8\", \"user_api_key_team_alias\": \"Search\", \"requester_ip_address\": \"10.0.0.7\", \"spend_logs_metadata\": {\"tenant\": \"acme\"}, \"usage_object\": {\"prompt_tokens\": 2422, \"completion_tokens\": 120, \"prompt_tokens_details\": {\"cached_tokens\": 2304}}, \"cost_breakdown\": {\"input_cost\": 0.003}}"}"#,
    );
    assert_eq!(
        r.metadata,
        [
            ("tenant".to_string(), Meta::Str("acme".into())),
            ("team".to_string(), Meta::Str("Search".into())),
            ("tags".to_string(), Meta::Str("prod,search".into()))
        ]
    );
    assert_eq!(counts(&r, &["input_tokens", "cache_read_tokens"]), [2422, 2304]);
}

/// A failure is kept without usage, with its status code; a "success" with zero counts is rejected.
#[test]
fn litellm_zero_counts_are_no_usage() {
    let r = read(
        r#"{"id":"f","response_cost":0,"model":"gpt-4o","status":"failure","prompt_tokens":0,"completion_tokens":0,
            "error_information":{"error_code":"429","error_class":"RateLimitError"}}"#,
    );
    assert_eq!((r.status, r.status_code, r.has_usage), (Status::Error, Some(429), false));
    let e = rejected(
        r#"{"request_id":"s","spend":0,"model":"gpt-4o","status":"success","prompt_tokens":0,"completion_tokens":0}"#,
    );
    assert!(e.contains("no usage"), "{e}");
}

/// Langfuse's `usageDetails` buckets are disjoint, Anthropic-style keys included; a `1h` creation key is a 1-hour
/// write.
#[test]
fn langfuse_anthropic_keys_are_input_buckets() {
    let r = read(
        r#"{"id":"o","type":"GENERATION","model":"claude-sonnet-4-5","usageDetails":{"input":21,"cache_read_input_tokens":300,
            "input_cache_creation_5m":51,"input_cache_creation_1h":2000,"output":503,"total":2875}}"#,
    );
    assert_eq!(counts(&r, &PROMPT), [2372, 300, 51, 2000, 503]);
    let r = read(
        r#"{"id":"o","type":"GENERATION","model":"claude-sonnet-4-5","usageDetails":{"input":40,"cache_read_input_tokens":2000,"cache_creation_input_tokens":100,"output":10}}"#,
    );
    assert_eq!(counts(&r, &PROMPT), [2140, 2000, 100, 0, 10]);
}

/// Helicone stores the prompt without its cached tokens and adds them on top when it prices (`costOfPrompt`), for
/// every provider; a `cache_reference_id` other than the all-zero default is a cache hit.
#[test]
fn helicone_columns_do_not_overlap() {
    let r = read(
        r#"{"request_id":"h","request_created_at":"2025-10-01T12:00:00Z","provider":"OPENAI","model":"gpt-4o","response_status":200,
            "prompt_tokens":1398,"prompt_cache_read_tokens":1024,"prompt_cache_write_tokens":0,"completion_tokens":120,
            "cache_reference_id":"6b2f9a54-1111-4c4c-9a9a-000000000001"}"#,
    );
    assert_eq!(counts(&r, &PROMPT), [2422, 1024, 0, 0, 120]);
    assert!(r.cache_hit);
    let r = read(
        r#"{"request_id":"h","request_created_at":"2025-10-01T12:00:00Z","response_status":429,"prompt_tokens":0,"completion_tokens":0,
            "cache_reference_id":"00000000-0000-0000-0000-000000000000"}"#,
    );
    assert_eq!((r.status, r.has_usage, r.cache_hit), (Status::Error, false, false));
}

/// OpenTelemetry: the deprecated names still count; the conversation and response ids and the resource's service
/// are labels, instrumentation internals are not; a span without counts is rejected, not priced at $0.
#[test]
fn otel_reads_both_generations_of_names() {
    let span = |attrs: &str| {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"bot"}}}},{{"key":"telemetry.sdk.name","value":{{"stringValue":"opentelemetry"}}}}]}},
                "scopeSpans":[{{"spans":[{{"spanId":"s","startTimeUnixNano":"1759320000000000000","attributes":[
                {{"key":"gen_ai.system","value":{{"stringValue":"OpenAI"}}}},{{"key":"gen_ai.request.model","value":{{"stringValue":"gpt-4o"}}}},
                {{"key":"gen_ai.conversation.id","value":{{"stringValue":"conv_1"}}}},{{"key":"llm.headers","value":{{"stringValue":"None"}}}}{attrs}]}}]}}]}}]}}"#
        )
    };
    let r = read(&span(
        r#",{"key":"gen_ai.usage.prompt_tokens","value":{"intValue":"2422"}},{"key":"gen_ai.usage.completion_tokens","value":{"intValue":"120"}}"#,
    ));
    assert_eq!(counts(&r, &["input_tokens", "output_tokens"]), [2422, 120]);
    assert_eq!(
        r.metadata,
        [
            ("gen_ai.conversation.id".to_string(), Meta::Str("conv_1".into())),
            ("service.name".to_string(), Meta::Str("bot".into()))
        ]
    );
    let e = rejected(
        r#"{"spanId":"s","attributes":{"gen_ai.system":"openai","gen_ai.request.model":"gpt-4o","gen_ai.usage.total_tokens":5}}"#,
    );
    assert!(e.contains("no usage"), "{e}");
}

/// Cloudflare: a body in the dataset's encrypted shape is "encrypted" with or without `key` and `iv`; a success
/// the gateway logged without counts is rejected (cloudflare/ai#491, cloudflare-docs#20536); `custom_cost` is no
/// label.
#[test]
fn cloudflare_encrypted_bodies_and_successes_without_counts() {
    let e = rejected(
        r#"{"Timestamp":"2025-10-01T12:00:00Z","Gateway":"g","Model":"gpt-4o","StatusCode":200,"ResponseBody":{"type":"encrypted","data":"ZW5j"}}"#,
    );
    assert!(e.contains("encrypted"), "{e}");
    for tokens in ["null", "0"] {
        let e = rejected(&format!(
            r#"{{"id":"x","created_at":"2026-04-12T08:00:00Z","model":"m","success":true,"status_code":200,"cached":false,"tokens_in":{tokens},"tokens_out":{tokens},"cost":0}}"#
        ));
        assert!(e.contains("no usage"), "{e}");
    }
    let r = read(
        r#"{"id":"x","model":"gpt-4o","success":true,"cached":true,"tokens_in":0,"tokens_out":0,"custom_cost":true}"#,
    );
    assert!(r.cache_hit && r.metadata.is_empty());
}

/// Langfuse's `{data, meta}` and Helicone's `{data, error}` pages are containers: one record per row.
#[test]
fn api_pages_are_containers() {
    let row = r#"{"id":"o","type":"GENERATION","model":"gpt-4o","usageDetails":{"input":1,"output":2}}"#;
    let pages = [
        format!(r#"{{"data":[{row},{row}],"meta":{{"page":1,"totalItems":2}}}}"#),
        format!(r#"{{"data":[{row},{row}],"meta":{{"cursor":"x"}}}}"#),
        format!(r#"{{"data":[{row},{row}],"error":null}}"#),
    ];
    let inputs: Vec<Option<&[u8]>> = pages.iter().map(|p| Some(p.as_bytes())).collect();
    let rows = extract_all(&inputs, &Hints::default(), None, Some(1)).unwrap();
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|(_, r)| r.as_ref().is_ok_and(|r| r.format == "langfuse")));
}

/// An OTLP export with several GenAI spans under several resources: each span's record carries its own
/// resource's attributes (not the first resource's), in `extract_usages` and in the log reader alike; a span's own
/// attribute of the same name wins, and spans without `gen_ai.usage.*` are no records.
#[test]
fn otlp_spans_carry_their_own_resource() {
    let span = |id: &str, attrs: &str| {
        format!(
            r#"{{"spanId":"{id}","attributes":[{{"key":"gen_ai.system","value":{{"stringValue":"openai"}}}},{{"key":"gen_ai.request.model","value":{{"stringValue":"gpt-4o"}}}},
            {{"key":"gen_ai.usage.input_tokens","value":{{"intValue":"10"}}}},{{"key":"gen_ai.usage.output_tokens","value":{{"intValue":"2"}}}}{attrs}]}}"#
        )
    };
    let resource = |name: &str, spans: &[String]| {
        format!(
            r#"{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"{name}"}}}},{{"key":"deployment.environment","value":{{"stringValue":"prod"}}}},{{"key":"telemetry.sdk.name","value":{{"stringValue":"opentelemetry"}}}}]}},
            "scopeSpans":[{{"spans":[{}]}}]}}"#,
            spans.join(",")
        )
    };
    let http = r#"{"spanId":"h","attributes":[{"key":"http.route","value":{"stringValue":"/chat"}}]}"#.to_string();
    let export = format!(
        r#"{{"resourceSpans":[{},{}]}}"#,
        resource("a", &[span("a1", ""), http, span("a2", "")]),
        resource("b", &[span("b1", r#",{"key":"deployment.environment","value":{"stringValue":"canary"}}"#)])
    );
    let label = |r: &UsageRecord, k: &str| r.metadata.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let want = [("a1", "a", "prod"), ("a2", "a", "prod"), ("b1", "b", "canary")];
    let check = |records: Vec<UsageRecord>| {
        assert_eq!(records.len(), want.len());
        for (r, (id, service, env)) in records.iter().zip(want) {
            assert_eq!(r.id.as_deref(), Some(id));
            assert_eq!(label(r, "service.name"), Some(Meta::Str(service.into())), "{id}");
            assert_eq!(label(r, "deployment.environment"), Some(Meta::Str(env.into())), "{id}");
            assert_eq!(label(r, "telemetry.sdk.name"), None);
            assert_eq!(r.metadata.iter().filter(|(k, _)| k == "deployment.environment").count(), 1);
        }
    };
    let rows = extract_all(&[Some(export.as_bytes())], &Hints::default(), None, Some(1)).unwrap();
    check(rows.into_iter().map(|(_, r)| r.unwrap()).collect());
    let mut reads = Vec::new();
    tokenprice::ledger::read::read_line(1, export.as_bytes(), &Hints::default(), &mut reads);
    check(reads.into_iter().map(|r| r.record.unwrap()).collect());
    // One GenAI span in the second resource: read whole, labelled by that resource, not the first.
    let one = format!(r#"{{"resourceSpans":[{},{}]}}"#, resource("a", &[]), resource("b", &[span("b1", "")]));
    let r = read(&one);
    assert_eq!(label(&r, "service.name"), Some(Meta::Str("b".into())));
}

/// What each source records beside the usage is kept exactly: seconds become milliseconds by multiplication
/// (Langfuse `latency`, LiteLLM `response_time`), OTLP nanoseconds by scale; a duration that is not a number
/// rejects the record.
#[test]
fn extras_are_kept_exactly_and_a_bad_one_is_a_reject() {
    use rust_decimal::Decimal;
    let ms = |s: &str| Some(s.parse::<Decimal>().unwrap());
    let langfuse = read(
        r#"{"id":"o","type":"GENERATION","model":"gpt-4o","startTime":"2025-10-01T12:00:00Z","latency":1.4005,"timeToFirstToken":0.42,
            "traceId":"trace-7","usageDetails":{"input":10,"output":2},"costDetails":{"input":2.5e-05,"total":0.000045}}"#,
    );
    assert_eq!((langfuse.extras.duration_ms, langfuse.extras.ttft_ms), (ms("1400.5"), ms("420")));
    assert_eq!(langfuse.extras.trace_id.as_deref(), Some("trace-7"));
    let breakdown: Vec<(&str, String)> =
        langfuse.extras.cost_breakdown.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect();
    assert_eq!(breakdown, [("input", "0.000025".to_string()), ("total", "0.000045".to_string())]);
    let litellm = read(
        r#"{"request_id":"r","model":"gpt-4o","status":"success","prompt_tokens":10,"completion_tokens":2,"spend":0.00005,
            "startTime":"2025-10-01 12:00:00+00:00","completionStartTime":"2025-10-01 12:00:00.305000+00:00","request_duration_ms":812,
            "session_id":"t-1","api_base":"https://api.openai.com/v1","metadata":"{\"spend_logs_metadata\": {\"tenant\": \"acme\"}, \"attempted_fallbacks\": 2}"}"#,
    );
    assert_eq!((litellm.extras.duration_ms, litellm.extras.ttft_ms), (ms("812"), ms("305")));
    assert_eq!(litellm.extras.trace_id.as_deref(), Some("t-1"));
    assert_eq!(litellm.extras.endpoint.as_deref(), Some("https://api.openai.com/v1"));
    // The Router's fallback step is a label, as Cloudflare's `step` is.
    assert!(litellm.metadata.contains(&("step".to_string(), Meta::Int(2))));
    // LiteLLM's float cost parts, read at a double's 15 significant digits; not `original_cost` or discounts.
    let floats = read(
        r#"{"id":"c","call_type":"acompletion","model":"gpt-4o","status":"success","prompt_tokens":10,"completion_tokens":2,
            "response_cost":0.01988925,"cost_breakdown":{"input_cost":0.012344250000000001,"cache_read_cost":8.999999999999999e-05,
            "output_cost":0.0075450000000000005,"original_cost":0.01988925,"discount_percent":0.0,"service_tier":null,"total_cost":0.01988925,
            "tool_usage_cost":5.551115123125783e-17,"margin_cost":2e-30}}"#,
    );
    let parts: Vec<(&str, String)> =
        floats.extras.cost_breakdown.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect();
    let want = [
        ("input_cost", "0.01234425"),
        ("cache_read_cost", "0.00009"),
        ("output_cost", "0.007545"),
        ("total_cost", "0.01988925"),
        ("tool_usage_cost", "0.000000000000000056"),
        ("margin_cost", "0"),
    ];
    assert_eq!(parts, want.map(|(k, v)| (k, v.to_string())));
    let broken = r#"{"id":"c","call_type":"acompletion","model":"gpt-4o","status":"success","prompt_tokens":1,"completion_tokens":1,"response_cost":0.1,"cost_breakdown":{"input_cost":"a lot"}}"#;
    assert!(rejected(broken).contains("cost_breakdown.input_cost"), "{}", rejected(broken));
    let span = read(
        r#"{"traceId":"5b8e","spanId":"s1","startTimeUnixNano":"1727784000000000000","endTimeUnixNano":"1727784001400000001",
            "attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
            {"key":"gen_ai.usage.input_tokens","value":{"intValue":"10"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"2"}}]}"#,
    );
    assert_eq!((span.extras.duration_ms, span.extras.trace_id.as_deref()), (ms("1400.000001"), Some("5b8e")));
    let slow = r#"{"id":"x","created_at":"2025-10-01T12:00:00Z","model":"gpt-4o","tokens_in":1,"tokens_out":1,"duration":"slow"}"#;
    assert!(rejected(slow).contains("duration"), "{}", rejected(slow));
    let negative =
        r#"{"id":"x","created_at":"2025-10-01T12:00:00Z","model":"gpt-4o","tokens_in":1,"tokens_out":1,"duration":-3}"#;
    assert!(rejected(negative).contains("negative duration"), "{}", rejected(negative));
}
