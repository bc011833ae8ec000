//! The Logpush lane: a Cloudflare AI Gateway Logpush line (`ai_gateway_events`) whose `ResponseBody` is an
//! OpenAI Chat Completions body held in a string — the usual Logpush line — read into a [`Flat`] in two passes: the
//! line's members found with its string index (`Quotes`), then the body, unescaped once into a buffer the worker
//! keeps, walked member by member. The general path detects the line's format and then the body's among every
//! format's signals, and builds and searches member lists for both (two thirds of pricing a Logpush line).
//!
//! The lane reads exactly what `cloudflare_logpush` and `openai_chat` read for such a line, and declines (the line
//! then takes the general path) wherever that would need more than the common case: a body of another API, an
//! SSE stream, a body member or usage count it does not know, a count the general path adds another way (audio),
//! an escaped or repeated key, a string with escapes it would have to copy, labels in an object (an encrypted
//! one reads differently), no `Timestamp` or `Model`, any value the general path rejects.
//! `logpush_lane_equals_the_general_path` checks the two lanes agree.

use std::borrow::Cow;

use crate::json::{self, boolean, count, kind, Kind, Quotes, Raw};
use crate::usage::formats::common::{duration_ms, money, money_value, provider_id, status_code_value, time_value};
use crate::usage::Status;

use super::flat::{add, indexed_text, int_text, labels_of, plain, unique_since, Flat, Labels};

/// The line's members the lane reads: what `cloudflare_logpush` reads, but `RequestBody` (read for a body without
/// usage, which the lane declines).
const LINE: [&str; 16] = [
    "Provider",
    "StatusCode",
    "Cached",
    "Model",
    "RequestedModel",
    "ResponseBody",
    "Timestamp",
    "ID",
    "Id",
    "LogID",
    "Metadata",
    "Endpoint",
    "RateLimited",
    "Metrics",
    "Cost",
    "Step",
];

/// What the lane does with one of the line's members: reads it (its place in [`LINE`]), passes over it
/// (`Some(None)`), or declines the line (`None`): a container's key (the general path reads its elements) or the
/// one format's detected before Logpush.
fn line_key(key: &str) -> Option<Option<usize>> {
    Some(Some(match key {
        "Provider" => 0,
        "StatusCode" => 1,
        "Cached" => 2,
        "Model" => 3,
        "RequestedModel" => 4,
        "ResponseBody" => 5,
        "Timestamp" => 6,
        "ID" => 7,
        "Id" => 8,
        "LogID" => 9,
        "Metadata" => 10,
        "Endpoint" => 11,
        "RateLimited" => 12,
        "Metrics" => 13,
        "Cost" => 14,
        "Step" => 15,
        "result" | "resourceSpans" | "scopeSpans" | "data" | "tokenprice" => return None,
        _ => return Some(None),
    }))
}

/// The body's members the lane knows: OpenAI's chat completion object (with Azure's content filter results and
/// Groq's request id, which no format reads). Any other member declines the line: it could be another format's
/// signal (`type`, `usageMetadata`, …) or something `openai_chat` reads (`provider`).
const BODY: [&str; 10] = [
    "id",
    "object",
    "created",
    "model",
    "usage",
    "service_tier",
    "choices",
    "system_fingerprint",
    "prompt_filter_results",
    "x_groq",
];

/// The usage members the lane knows: OpenAI's, and the ones compatible APIs add that `openai_chat` reads the same
/// way (Mistral's `num_cached_tokens`, DeepSeek's `prompt_cache_hit_tokens`) or does not read (Groq's timings,
/// DeepSeek's misses). Others are another format's signal (Anthropic's cache counts) or read another way (a
/// reported `cost`).
const USAGE: [&str; 13] = [
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "num_cached_tokens",
    "prompt_cache_hit_tokens",
    "cached_tokens",
    "prompt_cache_miss_tokens",
    "queue_time",
    "prompt_time",
    "completion_time",
    "total_time",
];
/// `prompt_tokens_details` members the lane knows: the cached tokens, counts the lane takes only when zero (audio,
/// image and video input, cache writes), and `text_tokens`, which `openai_chat` does not read.
const PROMPT_DETAILS: [&str; 7] = [
    "cached_tokens",
    "audio_tokens",
    "image_tokens",
    "video_tokens",
    "cache_write_tokens",
    "cache_creation_tokens",
    "text_tokens",
];
/// `completion_tokens_details` members the lane knows: the reasoning tokens, counts it takes only when zero (audio
/// and image output), and the ones `openai_chat` does not read (predictions, text).
const COMPLETION_DETAILS: [&str; 6] = [
    "reasoning_tokens",
    "audio_tokens",
    "image_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens",
    "text_tokens",
];

/// The members of the object `text` named in `keys`, each once (`None`: not an object, a repeated or unknown key).
fn members<'a, const N: usize>(text: &'a str, keys: &[&str; N]) -> Option<[Option<Raw<'a>>; N]> {
    let mut slots = [None; N];
    let mut ok = true;
    let whole = json::for_each_member(text, |key, value| {
        ok = match keys.iter().position(|k| *k == key) {
            Some(i) => slots[i].replace(value).is_none(),
            None => false,
        };
        ok
    });
    (whole == Ok(true) && ok).then_some(slots)
}

/// A count as `openai_chat` reads it (0 when absent or null); `None` (decline) where it is an error.
fn tokens(raw: Option<Raw<'_>>) -> Option<u64> {
    match raw {
        None => Some(0),
        Some(v) => count(v).ok().map(|c| c.unwrap_or(0)),
    }
}

/// A details object's members (`None` for a value that is not an object, as `Obj::obj` gives none for it).
fn details<'a, const N: usize>(raw: Option<Raw<'a>>, keys: &[&str; N]) -> Option<Option<[Option<Raw<'a>>; N]>> {
    match raw {
        Some(v) if kind(v) == Kind::Object => members(v.get(), keys).map(Some),
        _ => Some(None),
    }
}

/// A non-empty string as `text()` reads it from the body (unescaped).
fn body_text(raw: Option<Raw<'_>>) -> Option<Cow<'_, str>> {
    raw.and_then(json::string).filter(|s| !s.is_empty())
}

/// The body's usage, as `openai_chat::chat_usage` reads it: (input, output, cached input, reasoning).
fn usage(u: Raw<'_>) -> Option<(u64, u64, u64, u64)> {
    let [prompt, completion, total, pd, cd, num_cached, hit, cached_tokens, ..] = members(u.get(), &USAGE)?;
    // `openai_chat` is detected by its count names (the body's `object` may be absent).
    let named = prompt.is_some() || completion.is_some();
    let (prompt, mut completion) = (tokens(prompt)?, tokens(completion)?);
    let zero = |counts: &[Option<Raw<'_>>]| counts.iter().all(|c| tokens(*c) == Some(0));
    let mut cached = 0;
    if let Some([cached_in_details, audio, image, video, writes, creation, _]) = details(pd, &PROMPT_DETAILS)? {
        cached = tokens(cached_in_details)?;
        if !zero(&[audio, image, video, writes, creation]) {
            return None;
        }
    }
    // The other APIs' names for cached input, read in `openai_chat`'s order while none has given a count.
    for other in [num_cached, hit, cached_tokens] {
        if cached == 0 {
            cached = tokens(other)?;
        }
    }
    let mut reasoning = 0;
    if let Some([reasoning_tokens, audio, image, ..]) = details(cd, &COMPLETION_DETAILS)? {
        reasoning = tokens(reasoning_tokens)?;
        if !zero(&[audio, image]) {
            return None;
        }
    }
    // xAI counts reasoning outside `completion_tokens`: added when the total says so.
    if reasoning > 0 {
        if let Some(total) = total.map(count).transpose().ok()?.flatten() {
            let both = prompt.checked_add(completion);
            if both.and_then(|b| b.checked_add(reasoning)) == Some(total) && both != Some(total) {
                completion = completion.checked_add(reasoning)?;
            }
        }
    }
    Some((prompt, completion, cached, reasoning)).filter(|_| named)
}

/// Reads one Logpush line in the lane, its labels appended to `labels`, its strings found with `quotes`, its body
/// unescaped into `body`; `None` sends it to the general path.
pub(crate) fn read<'t>(
    bytes: &'t [u8],
    labels: &mut Labels,
    quotes: &mut Quotes,
    body: &mut String,
) -> Option<Flat<'t>> {
    let bytes = bytes.trim_ascii();
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let text = indexed_text(bytes, quotes)?;
    let mut slots: [Option<Raw<'t>>; LINE.len()] = [None; LINE.len()];
    let mut escapes = [false; LINE.len()];
    let mut ok = true;
    let whole = json::walk_members(text, quotes, |key, value, escaped| {
        match line_key(key) {
            Some(Some(i)) => {
                ok = slots[i].replace(value).is_none();
                escapes[i] = escaped;
            }
            Some(None) => {}
            None => ok = false,
        }
        ok
    });
    if !(ok && whole) {
        return None;
    }
    let present = |i: usize| slots[i].filter(|v| kind(*v) != Kind::Null);
    // A string member as `text()` reads it: `Some(None)` when absent, empty or not a string; `None` (decline) for
    // one with escapes.
    let text_at = |i: usize| -> Option<Option<&'t str>> {
        match slots[i] {
            None => Some(None),
            Some(v) => plain(v, escapes[i]).map(|t| t.filter(|t| !t.is_empty())),
        }
    };
    let [provider_at, code_at, cached_at, model_at, requested_at, response_at, time_at, id_at, id2_at, id3_at, meta_at, endpoint_at, limited_at, metrics_at, cost_at, step_at] =
        std::array::from_fn(|i| i);
    let provider = text_at(provider_at)?.map(provider_id);
    let code = present(code_at).and_then(status_code_value);
    let hinted_model = text_at(model_at)?;
    let requested = text_at(requested_at)?.or(hinted_model)?;
    let at = time_value(present(time_at)?).ok()??;
    let request_id = text_at(id_at)?.or(text_at(id2_at)?).or(text_at(id3_at)?);

    // The body: a string holding one JSON object (a stream, an object or anything else takes the general path).
    let response = present(response_at).filter(|r| kind(*r) == Kind::String)?.get();
    body.clear();
    if !json::unescape_into(&response[1..response.len() - 1], body) {
        return None;
    }
    let trimmed = body.trim_start_matches('\u{feff}').trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    let [id, object, created, served_model, usage_at, tier, ..] = members(trimmed, &BODY)?;
    if let Some(o) = object {
        let o = json::string(o)?;
        if !(o.starts_with("chat.completion") || o == "text_completion") {
            return None; // `response` is the Responses API's; anything else another format's
        }
    }
    if let Some(c) = created.filter(|c| kind(*c) != Kind::Null) {
        time_value(c).ok()?;
    }
    let (input_tokens, output_tokens, cache_read_tokens, reasoning_tokens) =
        usage(usage_at.filter(|u| kind(*u) == Kind::Object)?)?;
    // The model the body names (else the line's `Model`) is the served one where it is not the one requested.
    let served = match body_text(served_model) {
        Some(m) => (m != requested).then(|| m.into()),
        None => hinted_model.filter(|m| *m != requested).map(Into::into),
    };
    let id = match request_id {
        Some(id) => Some(Cow::Borrowed(id)),
        None => body_text(id).map(|id| Cow::Owned(id.into_owned())),
    };
    let tier = body_text(tier).map(|t| t.into());

    // What the gateway says beside the body.
    let (mut reported_cost, mut duration) = (None, None);
    if let Some(m) = slots[metrics_at].and_then(json::object) {
        reported_cost = money(&m, "cost").ok()?;
        duration = duration_ms(&m, "durationMs", 1).ok()?;
    }
    if let Some(c) = present(cost_at) {
        reported_cost = Some(money_value(c, "Cost").ok()?);
    }
    let (first, text_start) = (labels.spans.len(), labels.text.len());
    let read_labels = (|| {
        if let Some(m) = present(meta_at) {
            // Labels in an object may be an encrypted body's shape, which the general path passes over.
            if kind(m) == Kind::Object {
                return None;
            }
            labels_of(text, m, quotes, labels)?;
        }
        // As the general path: `Step` (a whole number) becomes a label after the metadata's.
        if let Some(s) = present(step_at) {
            match kind(s) {
                Kind::String => return None,
                Kind::Number if s.get().parse::<i64>().is_ok() => add(labels, "step", int_text(s.get())?)?,
                _ => {}
            }
        }
        unique_since(labels, first)
    })();
    if read_labels.is_none() {
        labels.spans.truncate(first);
        labels.text.truncate(text_start);
        return None;
    }
    let flat = Flat {
        id,
        request_id,
        provider,
        model: requested,
        served,
        tier,
        at,
        cache_hit: slots[cached_at].and_then(boolean) == Some(true),
        status: Status::of_http(code),
        input_tokens,
        output_tokens,
        cache_read_tokens,
        reasoning_tokens,
        has_usage: true,
        reported_cost,
        duration_ms: duration,
        endpoint: text_at(endpoint_at)?,
        rate_limited: slots[limited_at].and_then(boolean),
        custom_cost: None,
        labels: (first as u32, labels.spans.len() as u32),
    };
    // Counts the general path refuses (cached input above the input) are its reject.
    if flat.usage().validate().is_err() {
        labels.spans.truncate(first);
        labels.text.truncate(text_start);
        return None;
    }
    Some(flat)
}

#[cfg(test)]
mod tests {
    use crate::prices::PriceBook;

    use super::super::flat::tests::assert_lanes_agree;

    /// One member of a Logpush line, written many ways: common (first), unusual and wrong. Field names from the
    /// `ai_gateway_events` dataset (cloudflare-docs `ai-gateway/observability/logging/logpush.mdx`).
    fn line_variants(field: &str) -> &'static [&'static str] {
        match field {
            "Timestamp" => &[
                r#""2026-03-03T09:00:00Z""#,
                "1772528400",
                r#""2026-03-03 09:00:00""#,
                r#""soon""#,
                "null",
                r#""2026-03-03T09:00:00\u005a""#,
            ],
            "Gateway" => &[r#""prod""#],
            "Endpoint" => &[r#""chat/completions""#, r#""""#, "null", "5", r#""a\/b""#],
            "Provider" => {
                &[r#""openai""#, r#""OpenAI""#, r#""azure-openai""#, r#""""#, "null", r#""open\u0061i""#, "7"]
            }
            "Model" => &[r#""gpt-4o-mini""#, r#""gpt-4o""#, r#""no-such-model""#, r#""""#, "null", r#""gpt-4\u006f""#],
            "RequestedModel" => &[r#""gpt-4o""#, r#""gpt-4o-mini""#, r#""""#, "null"],
            "StatusCode" => &["200", "429", r#""500""#, "null", "2e2", "-1"],
            "Cached" => &["false", "true", "null", r#""true""#],
            "RateLimited" => &["false", "true", "null", "1"],
            "ID" => &[r#""01JLOG""#, r#""""#, "null", "7", r#""a\"b""#],
            "LogID" => &[r#""log-9""#, "null"],
            "Metadata" => &[
                r#""{\"tenant\": \"acme\", \"feature\": \"chat\"}""#,
                r#""{\"tenant\": \"globex\"}""#,
                r#"{"tenant":"acme"}"#,
                r#"{"type":"encrypted","data":"x"}"#,
                r#""{\"n\": 5, \"ok\": true, \"x\": null}""#,
                r#""{\"step\": 1}""#,
                r#""{\"tenant\": \"a\", \"tenant\": \"b\"}""#,
                r#""not json""#,
                r#""""#,
                "null",
                "42",
            ],
            "Metrics" => &[
                r#"{"cost": 0, "durationMs": 400}"#,
                r#"{"cost": 0.000123, "durationMs": 1.5}"#,
                r#"{"cost": "0.25"}"#,
                r#"{"cost": "free"}"#,
                r#"{"durationMs": -3}"#,
                r#"{"cost": 1, "cost": 2}"#,
                "null",
                "5",
            ],
            "Cost" => &["0.0025", r#""0.1""#, r#""x""#, "null"],
            "Step" => &["0", "3", r#""2""#, "2.5", "-0", "null", "true"],
            "RequestBody" => &[r#""{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}""#, "null"],
            _ => &[],
        }
    }

    /// One member of an OpenAI chat completion body, written many ways.
    fn body_variants(field: &str) -> &'static [&'static str] {
        match field {
            "id" => &[r#""chatcmpl-1""#, r#""""#, "null", r#""chat\u0063mpl""#],
            "object" => &[r#""chat.completion""#, r#""text_completion""#, r#""response""#, "null", "5"],
            "created" => &["1772528400", r#""2026-03-03T09:00:00Z""#, r#""later""#, "null"],
            "model" => {
                &[r#""gpt-4o-mini-2024-07-18""#, r#""gpt-4o-mini""#, r#""gpt-4o""#, r#""""#, "null", r#""gpt-4\u006f""#]
            }
            "choices" => &[
                r#"[{"index": 0, "message": {"role": "assistant", "content": "ok \"quoted\"\n\u00e9"}, "finish_reason": "stop"}]"#,
                "[]",
            ],
            "usage" => &[
                r#"{"prompt_tokens": 700, "completion_tokens": 10, "total_tokens": 710}"#,
                r#"{"prompt_tokens": 700, "completion_tokens": 10, "total_tokens": 710, "prompt_tokens_details": {"cached_tokens": 600, "audio_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 4, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}"#,
                r#"{"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 64, "completion_tokens_details": {"reasoning_tokens": 4}}"#,
                r#"{"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": "x", "completion_tokens_details": {"reasoning_tokens": 4}}"#,
                r#"{"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": "x"}"#,
                r#"{"prompt_tokens": 50, "completion_tokens": 3, "completion_tokens_details": {"reasoning_tokens": 4}}"#,
                r#"{"prompt_tokens": 50, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 60}}"#,
                r#"{"prompt_tokens": 50, "completion_tokens": 10, "prompt_tokens_details": {"audio_tokens": 6}}"#,
                r#"{"prompt_tokens": 50, "completion_tokens": 10, "prompt_tokens_details": null}"#,
                r#"{"prompt_tokens": 50, "completion_tokens": 10, "prompt_tokens_details": {"image_tokens": 6}}"#,
                r#"{"prompt_tokens": "35", "completion_tokens": 7e2}"#,
                r#"{"prompt_tokens": -1, "completion_tokens": 1}"#,
                r#"{"prompt_tokens": 1.5, "completion_tokens": 1}"#,
                r#"{"prompt_tokens": 10, "completion_tokens": 1, "cost": 0.5}"#,
                r#"{"prompt_tokens": 10, "prompt_tokens": 11}"#,
                r#"{"total_tokens": 10}"#,
                r#"{"input_tokens": 10, "output_tokens": 2}"#,
                r#"{"prompt_tokens": 10, "completion_tokens": 1, "cache_creation_input_tokens": 5}"#,
                // Groq's timings, Mistral's and DeepSeek's cache counts, and details of every kind (the shapes of
                // genai-prices' recorded bodies, `tests/dataset/usages.json`).
                r#"{"queue_time": 0.02, "prompt_tokens": 90, "prompt_time": 0.01, "completion_tokens": 9, "completion_time": 0.03, "total_tokens": 99, "total_time": 0.04}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "total_tokens": 99, "num_cached_tokens": 64}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "prompt_cache_hit_tokens": 32, "prompt_cache_miss_tokens": 58}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "cached_tokens": "x", "num_cached_tokens": 5}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 0}, "prompt_cache_hit_tokens": 40}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 8, "text_tokens": 82, "image_tokens": 0, "video_tokens": 0}}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "prompt_tokens_details": {"video_tokens": 20}}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "prompt_tokens_details": {"cache_write_tokens": 30}}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "prompt_tokens_details": {"cache_write_tokens": 0, "cache_creation_tokens": 30}}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "completion_tokens_details": {"image_tokens": 3, "text_tokens": 6}}"#,
                r#"{"prompt_tokens": 90, "completion_tokens": 9, "completion_tokens_details": {"image_tokens": null, "text_tokens": 6, "reasoning_tokens": 2}}"#,
                r#"{"prompt_tokens": 18446744073709551615, "completion_tokens": 1, "completion_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 18446744073709551615}"#,
                r#"{"prompt_tokens": 18446744073709551615, "completion_tokens": 1, "completion_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 5}"#,
                "null",
                "5",
            ],
            "service_tier" => &[r#""default""#, r#""flex""#, r#""priority""#, r#""""#, "null"],
            "system_fingerprint" => &[r#""fp_1""#],
            _ => &[],
        }
    }

    /// Members of a random object: each field absent, common, or any of its ways.
    fn random_members(
        fields: &[&str],
        variants: fn(&str) -> &'static [&'static str],
        next: &mut impl FnMut(usize) -> usize,
    ) -> Vec<String> {
        let mut members = Vec::new();
        for f in fields {
            let vs = variants(f);
            match next(12) {
                0 => {}
                1..=8 => members.push(format!("\"{f}\": {}", vs[0])),
                _ => members.push(format!("\"{f}\": {}", vs[next(vs.len())])),
            }
        }
        members
    }

    /// A random OpenAI body (or another body: an Anthropic message, an error, an SSE stream, broken JSON).
    fn random_body(next: &mut impl FnMut(usize) -> usize) -> String {
        let fields = ["id", "object", "created", "model", "choices", "usage", "service_tier", "system_fingerprint"];
        let mut members = random_members(&fields, body_variants, next);
        match next(30) {
            0 => members.push(r#""provider": "openai""#.into()),
            1 => members.push(r#""type": "message""#.into()),
            2 => members.push(r#""x_groq": {"id": "req_1"}""#.into()),
            5 => members.push(r#""prompt_filter_results": [{"prompt_index": 0}]"#.into()),
            6 => members.push(r#""citations": []"#.into()),
            3 => members.push(r#""usageMetadata": {}""#.into()),
            4 => members.reverse(),
            _ => {}
        }
        let body = format!("{{{}}}", members.join(", "));
        match next(40) {
            0 => r#"{"error": {"message": "Rate limit"}}"#.into(),
            1 => format!("data: {body}\n\ndata: [DONE]\n\n"),
            2 => body[..body.len() / 2].to_string(),
            3 => format!(" \u{feff}{body}\n"),
            4 => format!("{body} x"),
            5 => r#"{"id": "msg_9", "type": "message", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 100, "output_tokens": 50}}"#.into(),
            _ => body,
        }
    }

    /// Random Logpush lines (and lines that only look like them): every member absent, common, unusual or wrong,
    /// the body random too, held in a string as Logpush holds it (sometimes as an object, null or encrypted).
    fn random_lines(n: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut next = crate::testing::below(seed);
        let fields = [
            "Timestamp",
            "Gateway",
            "Endpoint",
            "Provider",
            "Model",
            "RequestedModel",
            "StatusCode",
            "Cached",
            "RateLimited",
            "ID",
            "LogID",
            "Metadata",
            "Metrics",
            "Cost",
            "Step",
            "RequestBody",
        ];
        (0..n)
            .map(|_| {
                let mut members = random_members(&fields, line_variants, &mut next);
                // Members Logpush writes only sometimes.
                for optional in ["RequestedModel", "ID", "LogID", "Cost", "Step", "RequestBody"] {
                    if next(3) != 0 {
                        members.retain(|m| !m.starts_with(&format!("\"{optional}\"")));
                    }
                }
                let body = random_body(&mut next);
                let response = match next(30) {
                    0 => body.clone(),
                    1 => "null".into(),
                    2 => r#"{"type": "encrypted", "data": "x"}"#.into(),
                    _ => serde_json::to_string(&body).unwrap(),
                };
                if next(25) != 0 {
                    members.insert(next(members.len() + 1), format!("\"ResponseBody\": {response}"));
                }
                match next(40) {
                    0 => members.push(r#""tokenprice": {}"#.into()),
                    1 => members.push(r#""data": []"#.into()),
                    2 => members.push(r#""Model": "gpt-4o""#.into()),
                    3 => members.push(r#""Mod\u0065l": "gpt-4o""#.into()),
                    4 => members.push(r#""tokens_in": 5"#.into()),
                    _ => {}
                }
                let line = format!("{{{}}}", members.join(", "));
                match next(50) {
                    0 => format!("  {line}\t"),
                    1 => line[..line.len() / 2].to_string(),
                    _ => line,
                }
                .into_bytes()
            })
            .collect()
    }

    /// The Logpush lane prices exactly as the general path: random lines with every member written every way,
    /// bodies of every kind, and the Logpush cases of the fixtures.
    #[test]
    fn logpush_lane_equals_the_general_path() {
        let book = PriceBook::default_book();
        for seed in 1..=6u64 {
            let lines = random_lines(3000, seed * 104_729);
            let read = assert_lanes_agree(&book, &lines);
            // Both lanes are exercised: many lines take the lane, many do not.
            assert!(read > lines.len() / 10 && read < lines.len() * 9 / 10, "{read} of {} in the lane", lines.len());
        }
        // The fixtures' Logpush lines (every case with a ResponseBody).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/usage/cloudflare.json");
        let fixtures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let lines: Vec<Vec<u8>> = fixtures["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| serde_json::to_vec(&c["input"]).unwrap())
            .filter(|l| l.windows(14).any(|w| w == b"\"ResponseBody\""))
            .collect();
        assert!(lines.len() >= 4, "{}", lines.len());
        assert_lanes_agree(&book, &lines);
    }

    /// `line_key` gives each member of `LINE` its place (the two lists are written apart: a match is the hot path).
    #[test]
    fn line_key_is_the_place_in_line() {
        for (i, k) in super::LINE.iter().enumerate() {
            assert_eq!(super::line_key(k), Some(Some(i)), "{k}");
        }
        assert_eq!(super::line_key("tokenprice"), None);
        assert_eq!(super::line_key("RequestBody"), Some(None));
    }

    /// The usual Logpush line (the benchmark's, and the shape Cloudflare documents) takes the lane, with what the
    /// body says: the served model, the tier, cached and reasoning tokens.
    #[test]
    fn the_usual_line_takes_the_lane() {
        let body = r#"{"id": "chatcmpl-1", "object": "chat.completion", "created": 1772528400, "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 700, "completion_tokens": 10, "total_tokens": 710, "prompt_tokens_details": {"cached_tokens": 512, "audio_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 4, "audio_tokens": 0}}, "service_tier": "default"}"#;
        let line = format!(
            r#"{{"Timestamp": "2026-03-03T09:00:00Z", "Gateway": "prod", "Provider": "openai", "Model": "gpt-4o-mini", "StatusCode": 200, "Cached": false, "RateLimited": false, "Metrics": {{"cost": 0.0001, "durationMs": 400}}, "Metadata": "{{\"tenant\": \"globex\"}}", "ResponseBody": {}}}"#,
            serde_json::to_string(body).unwrap()
        );
        let (mut labels, mut quotes, mut buffer) = Default::default();
        assert_eq!(
            super::super::flat::read(line.as_bytes(), &mut labels, &mut quotes).err(),
            Some(super::super::flat::Declined::Logpush)
        );
        let flat = super::read(line.as_bytes(), &mut labels, &mut quotes, &mut buffer).expect("read in the lane");
        assert_eq!(flat.model, "gpt-4o-mini");
        assert_eq!(flat.served.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(flat.tier.as_deref(), Some("default"));
        assert_eq!(flat.id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(flat.request_id, None);
        assert_eq!(
            (flat.input_tokens, flat.output_tokens, flat.cache_read_tokens, flat.reasoning_tokens),
            (700, 10, 512, 4)
        );
        assert_eq!(flat.rate_limited, Some(false));
        assert_eq!(flat.reported_cost.map(|c| c.to_string()).as_deref(), Some("0.0001"));
        assert_eq!(labels.get(labels.spans[0].key), "tenant");
        assert_eq!(labels.get(labels.spans[0].value), "globex");
        assert!(assert_lanes_agree(&PriceBook::default_book(), &[line.into_bytes()]) == 1);
    }
}
