//! The `litellm` format: LiteLLM standard logging payload and spend logs.

use rust_decimal::Decimal;

use crate::error::Result;
use crate::json::{self, kind, Kind, Obj};
use crate::prices::units::{INPUT, OUTPUT};
use crate::usage::record::{Extras, Meta, Status, UsageRecord};

use super::common::*;
use super::openai_chat::chat_usage;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("litellm", "LiteLLM standard logging payload and spend logs", |o, _| litellm(o)).detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("response_cost") || (p.o.has("spend") && (p.o.has("request_id") || p.o.has("call_type")))
}

/// LiteLLM: the standard logging payload (`StandardLoggingPayload`, `litellm/types/utils.py`: `response_cost`,
/// `prompt_tokens`, `startTime`, `cache_hit`, `metadata`, `request_tags`, `error_information`) and spend-log rows
/// (`SpendLogsPayload`, `litellm/proxy/_types.py`: `spend`, `request_id`, with `metadata` and `request_tags` as JSON
/// text, every column text in a CSV export). Counts follow OpenAI's rule: `metadata.usage_object`, when present,
/// is LiteLLM's usage with the cache and reasoning split (Anthropic's cache writes inside `prompt_tokens`).
fn litellm(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec = UsageRecord {
        format: "litellm",
        provider: provider_at(o, "custom_llm_provider"),
        model: text(o, "model"),
        id: text(o, "id").or_else(|| text(o, "request_id")),
        ..Default::default()
    };
    rec.timestamp = time(o, "startTime")?;
    rec.cache_hit = match o.get("cache_hit") {
        Some(v) if kind(v) == Kind::String => json::string(v).is_some_and(|s| s.eq_ignore_ascii_case("true")),
        Some(v) => json::boolean(v).unwrap_or(false),
        None => false,
    };
    rec.status = match o.str("status").as_deref() {
        Some("failure") | Some("error") => Status::Error,
        _ => Status::Ok,
    };
    if let Some(info) = o.obj("error_information") {
        rec.status_code = status_code(&info, "error_code");
    }
    rec.reported_cost = match money(o, "response_cost")? {
        Some(c) => Some(c),
        None => money(o, "spend")?,
    };
    // A spend-log row holds its metadata as JSON text: read it as the payload's object.
    let meta_raw = o.present("metadata");
    let meta_text = meta_raw.filter(|m| kind(*m) == Kind::String).and_then(json::string);
    let meta = match (&meta_text, meta_raw) {
        (Some(t), _) if t.trim().is_empty() => None,
        (Some(t), Some(m)) => Some(Obj::parse(t.trim()).map_err(|e| {
            err(format!("metadata: a string that is not a JSON object ({e}): {}", json::excerpt(m.get(), 60)))
        })?),
        (None, Some(m)) => json::object(m),
        _ => None,
    };
    let usage_obj = meta.as_ref().and_then(|m| m.obj("usage_object")).or_else(|| o.obj("usage"));
    let given;
    rec.usage = match &usage_obj {
        Some(u) if u.has("prompt_tokens") => {
            given = true;
            chat_usage(u, "metadata.usage_object")?
        }
        _ => {
            given = o.present("prompt_tokens").is_some() || o.present("completion_tokens").is_some();
            let mut c = Counts::new();
            c.set(INPUT, n(o, "", "prompt_tokens")?);
            c.set(OUTPUT, n(o, "", "completion_tokens")?);
            c.usage()
        }
    };
    // LiteLLM logs a failed call with zero counts: no usage. Its spend logs write the failed step of a fallback
    // as a "success" with zero counts and spend 0 (`get_logging_payload` given the failure event): rejected with
    // that reason, never priced as a $0 call.
    rec.has_usage = given && !no_counts(&rec.usage);
    if rec.status == Status::Ok && !rec.has_usage && !rec.cache_hit {
        return Err(no_usage_on_success("litellm", "prompt_tokens / completion_tokens"));
    }
    rec.metadata = labels(o, meta.as_ref())?;
    rec.extras = extras(o, &rec)?;
    let breakdown = o.obj("cost_breakdown").or_else(|| meta.as_ref().and_then(|m| m.obj("cost_breakdown")));
    if let Some(parts) = breakdown {
        rec.extras.cost_breakdown = cost_breakdown(&parts)?;
    }
    Ok(rec)
}

/// A float's JSON text at a double's 15 significant digits. Float noise past the 28 places a decimal holds
/// (`5.551115123125783e-17`) is rounded to fit first, and a value below 1e-28 is 0 at every scale kept (18 places).
fn float_part(text: &str) -> Option<Decimal> {
    let exact = json::decimal(text).or_else(|| match Decimal::from_scientific_lossy(text) {
        Ok(d) => Some(d),
        Err(rust_decimal::Error::ScaleExceedsMaximumPrecision(_)) => Some(Decimal::ZERO),
        Err(_) => None,
    })?;
    exact.round_sf(15)
}

/// LiteLLM's `cost_breakdown` (the payload's, or a spend log's metadata's): each `*_cost` part it computed
/// (`input_cost`, `output_cost`, `cache_read_cost`, ..., `total_cost`; not `original_cost`, the total before its
/// discounts and margins). LiteLLM computes them in binary floats, so their JSON text carries float noise
/// (`0.012344250000000001` for 0.01234425, `8.999999999999999e-05` for 0.00009): each is read at the 15
/// significant digits a float holds exactly (C's `DBL_DIG`), which gives back the decimal LiteLLM computed. A
/// part that is not a number is an error naming it.
fn cost_breakdown(parts: &Obj<'_>) -> Result<Vec<(String, Decimal)>> {
    let mut out = Vec::new();
    for (key, raw) in &parts.members {
        if !key.ends_with("_cost") || *key == "original_cost" || kind(*raw) == Kind::Null {
            continue;
        }
        let what = format!("cost_breakdown.{key}");
        let text = json::number_text(*raw)
            .ok_or_else(|| err(format!("{what}: {} is not a number", json::excerpt(raw.get(), 40))))?;
        let value = float_part(&text).ok_or_else(|| err(format!("{what}: {text} is not a decimal number")))?;
        out.push((key.to_string(), to_money_scale(value).normalize()));
    }
    Ok(out)
}

/// What LiteLLM records beside the usage: the duration (`response_time` in seconds in a StandardLoggingPayload,
/// `request_duration_ms` in a spend log), the time to the first token (`completionStartTime` less `startTime`, of a
/// success), the trace (`trace_id`; a spend log's `session_id`), the endpoint (`api_base`), the provider's request
/// id (`hidden_params.additional_headers`, or the error's), and a rate limit (`error_information`: a 429 or a
/// `RateLimitError`).
fn extras(o: &Obj<'_>, rec: &UsageRecord) -> Result<Extras> {
    let mut e = Extras {
        duration_ms: match duration_ms(o, "request_duration_ms", 1)? {
            Some(d) => Some(d),
            None => duration_ms(o, "response_time", 1000)?,
        },
        trace_id: text(o, "trace_id").or_else(|| text(o, "session_id")),
        endpoint: text(o, "api_base"),
        ..Default::default()
    };
    if rec.status == Status::Ok {
        if let (Some(start), Some(first)) = (time(o, "startTime")?, time(o, "completionStartTime")?) {
            if first >= start {
                // Microseconds to milliseconds: scale 3, exact.
                e.ttft_ms = Some(Decimal::new(first - start, 3).normalize());
            }
        }
    }
    let headers = o.obj("hidden_params").and_then(|h| h.obj("additional_headers"));
    e.request_id = headers.as_ref().and_then(|h| {
        ["llm_provider-x-request-id", "x-request-id", "llm_provider-request-id", "request-id"]
            .into_iter()
            .find_map(|k| text(h, k))
    });
    if let Some(info) = o.obj("error_information") {
        e.request_id = e.request_id.or_else(|| text(&info, "error_provider_request_id"));
        let limited = text(&info, "error_code").as_deref() == Some("429")
            || text(&info, "error_class").as_deref() == Some("RateLimitError");
        if limited {
            e.rate_limited = Some(true);
        }
    }
    Ok(e)
}

/// The labels a user groups by: the caller's `spend_logs_metadata` / `requester_metadata` as they are (`tenant`,
/// not `spend_logs_metadata.tenant`), the key's team, alias and user under short names, the request's tags and
/// model group. Never the key's hash (`user_api_key`), LiteLLM's internals (`usage_object`, `model_map_information`,
/// `cost_breakdown`, ...) or the caller's IP.
fn labels(o: &Obj<'_>, meta: Option<&Obj<'_>>) -> Result<Vec<(String, Meta)>> {
    let mut labels = Vec::new();
    // Metadata without any of LiteLLM's own keys was written by hand (or an older proxy): its members are labels.
    let own = ["spend_logs_metadata", "requester_metadata", "usage_object", "user_api_key"];
    if let Some(m) = meta.filter(|m| !m.members.iter().any(|(k, _)| own.iter().any(|l| k.starts_with(l)))) {
        flatten_members("", m, &mut labels);
    } else if let Some(m) = meta {
        for (key, prefix) in [
            ("spend_logs_metadata", ""),
            ("requester_metadata", ""),
            ("user_api_key_team_id", "team_id"),
            ("user_api_key_team_alias", "team"),
            ("user_api_key_alias", "api_key_alias"),
            ("user_api_key_user_id", "user"),
            ("user_api_key_end_user_id", "end_user"),
        ] {
            if let Some(v) = m.present(key) {
                meta_object(v, prefix, &mut labels);
            }
        }
    }
    // Spend-log rows keep their labels as columns.
    for (key, name) in [("team_id", "team_id"), ("user", "user"), ("end_user", "end_user")] {
        if let Some(v) = o.present(key).and_then(meta_value) {
            if !matches!(&v, Meta::Str(s) if s.is_empty()) {
                labels.retain(|(k, _)| k != name);
                labels.push((name.to_string(), v));
            }
        }
    }
    if let Some(tags) = o.present("request_tags") {
        let tags = string_list(tags, "request_tags")?;
        if !tags.is_empty() {
            labels.push(("tags".into(), Meta::Str(tags.join(","))));
        }
    }
    if let Some(t) = text(o, "model_group") {
        labels.push(("model_group".into(), Meta::Str(t)));
    }
    // The Router's fallback step (`attempted_fallbacks` in a spend log's metadata): the label `step`, as
    // Cloudflare's, so a summary by step says what fallbacks cost.
    let step = meta.and_then(|m| m.present("attempted_fallbacks")).and_then(json::number_text);
    if let Some(n) = step.and_then(|t| t.parse::<i64>().ok()) {
        labels.retain(|(k, _)| k != "step");
        labels.push(("step".into(), Meta::Int(n)));
    }
    Ok(labels)
}
