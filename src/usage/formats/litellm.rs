//! The `litellm` format: LiteLLM standard logging payload and spend logs.

use crate::error::Result;
use crate::json::{self, kind, Kind, Obj};
use crate::prices::units::{INPUT, OUTPUT};
use crate::usage::record::{Meta, Status, UsageRecord};

use super::common::*;
use super::openai_chat::chat_usage;
use super::{never, Format, Probe};

pub(super) static FORMAT: Format = Format {
    name: "litellm",
    describe: "LiteLLM standard logging payload and spend logs",
    detect,
    detect_loose: never,
    read: |o, _| litellm(o),
};

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("response_cost") || (p.o.has("spend") && (p.o.has("request_id") || p.o.has("call_type")))
}

/// LiteLLM: the standard logging payload (`response_cost`, `prompt_tokens`, `startTime`, `cache_hit`,
/// `metadata.spend_logs_metadata`, `request_tags`, `end_user`) and spend-log rows (`spend`, `request_id`,
/// metadata as a JSON string). Counts follow OpenAI's rule; `metadata.usage_object`, when present, gives the
/// cache and reasoning split.
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
    rec.reported_cost = match money(o, "response_cost")? {
        Some(c) => Some(c),
        None => money(o, "spend")?,
    };
    let meta_raw = o.present("metadata");
    let meta = meta_raw.and_then(|m| if kind(m) == Kind::String { None } else { json::object(m) });
    // The full usage object, when LiteLLM kept it.
    let usage_obj = meta.as_ref().and_then(|m| m.obj("usage_object")).or_else(|| o.obj("usage"));
    rec.usage = match &usage_obj {
        Some(u) if u.has("prompt_tokens") => chat_usage(u, "metadata.usage_object")?,
        _ => {
            let mut c = Counts::new();
            c.set(INPUT, n(o, "", "prompt_tokens")?);
            c.set(OUTPUT, n(o, "", "completion_tokens")?);
            c.usage()
        }
    };
    rec.has_usage = o.present("prompt_tokens").is_some() || usage_obj.is_some();
    let mut labels = Vec::new();
    if let Some(m) = meta_raw {
        if kind(m) == Kind::String {
            labels_member(m, "metadata", &mut labels)?;
        } else if let Some(m) = &meta {
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
    if let Some(tags) = o.arr("request_tags") {
        let tags: Vec<String> = tags.iter().filter_map(|t| json::string(t).map(|s| s.into_owned())).collect();
        if !tags.is_empty() {
            labels.push(("tags".into(), Meta::Str(tags.join(","))));
        }
    }
    if let Some(t) = o.str("model_group") {
        labels.push(("model_group".into(), Meta::Str(t.into_owned())));
    }
    rec.metadata = labels;
    Ok(rec)
}
