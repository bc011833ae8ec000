//! The `openai_chat` format: OpenAI Chat Completions and compatible APIs (Azure, Mistral, DeepSeek, xAI, Groq, …).

use crate::error::Result;
use crate::json::Obj;
use crate::prices::units::{CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT, OUTPUT};
use crate::usage::record::{Meta, UsageRecord};
use crate::usage::Usage;

use super::common::*;
use super::{Format, Probe};

pub(crate) static FORMAT: Format = Format::new(
    "openai_chat",
    "OpenAI Chat Completions and compatible APIs (Azure, Mistral, DeepSeek, xAI, Groq, …)",
    |o, _| openai_chat(o),
)
.loose(detect_loose);

/// Loose: OpenAI's count names (`prompt_tokens`, `completion_tokens`) or its `object`, which many compatible APIs
/// and gateways copy; tried after every format's own signals.
fn detect_loose(p: &Probe<'_, '_>) -> bool {
    p.usage_has("prompt_tokens")
        || p.usage_has("completion_tokens")
        || p.o.str("object").is_some_and(|s| s.starts_with("chat.completion") || s == "text_completion")
}

/// OpenAI Chat Completions, and the compatible APIs. `prompt_tokens` includes cached tokens
/// (`prompt_tokens_details.cached_tokens`; Mistral's `num_cached_tokens`, DeepSeek's `prompt_cache_hit_tokens`);
/// `completion_tokens` includes reasoning. xAI reports reasoning outside `completion_tokens`: when
/// `total_tokens` = prompt + completion + reasoning, reasoning is added to the output.
pub(crate) fn openai_chat(o: &Obj<'_>) -> Result<UsageRecord> {
    let mut rec = UsageRecord {
        format: "openai_chat",
        model: text(o, "model"),
        id: text(o, "id"),
        service_tier: text(o, "service_tier"),
        provider: provider_at(o, "provider"),
        ..Default::default()
    };
    rec.timestamp = time(o, "created")?;
    if let Some(u) = o.obj("usage") {
        rec.usage = chat_usage(&u, "usage")?;
        rec.has_usage = true;
        rec.reported_cost = money(&u, "cost")?;
    }
    if rec.provider.as_deref() == Some("openrouter") || o.has("provider") && rec.reported_cost.is_some() {
        // OpenRouter names the upstream provider; the cost it reports is OpenRouter's charge.
        rec.metadata.push(("upstream_provider".into(), Meta::Str(rec.provider.clone().unwrap_or_default())));
        rec.provider = Some("openrouter".into());
    }
    Ok(rec)
}

pub(crate) fn chat_usage(u: &Obj<'_>, path: &str) -> Result<Usage> {
    let mut c = Counts::new();
    let prompt = n(u, path, "prompt_tokens")?;
    let mut completion = n(u, path, "completion_tokens")?;
    let pd = u.obj("prompt_tokens_details");
    let cd = u.obj("completion_tokens_details");
    // The details' paths name a bad count in its error; built only when the details are there (most bodies have
    // none, and three `format!`s were 2% of pricing a Logpush line).
    let pd_path = pd.as_ref().map(|_| format!("{path}.prompt_tokens_details")).unwrap_or_default();
    let cd_path = cd.as_ref().map(|_| format!("{path}.completion_tokens_details")).unwrap_or_default();
    let mut cached = match &pd {
        Some(d) => n(d, &pd_path, "cached_tokens")?,
        None => 0,
    };
    for key in ["num_cached_tokens", "prompt_cache_hit_tokens", "cached_tokens", "cache_read_input_tokens"] {
        if cached == 0 {
            cached = n(u, path, key)?;
        }
    }
    let reasoning = match &cd {
        Some(d) => n(d, &cd_path, "reasoning_tokens")?,
        None => n(u, path, "reasoning_tokens")?,
    };
    if reasoning > 0 {
        if let Some(total) = opt(u, path, "total_tokens")? {
            // Exact sums: counts whose sum passes 2^64 are no such total.
            let both = prompt.checked_add(completion);
            if both.and_then(|b| b.checked_add(reasoning)) == Some(total) && both != Some(total) {
                completion = add(completion, reasoning, "completion_tokens + reasoning_tokens")?;
            }
        }
    }
    c.set(INPUT, prompt);
    c.set(OUTPUT, completion);
    c.set(CACHE_READ, cached);
    c.set(unit("reasoning_tokens"), reasoning);
    let (w5, w1h) = cache_writes(u, pd.as_ref(), path)?;
    c.set(CACHE_WRITE, w5);
    c.set(CACHE_WRITE_1H, w1h);
    if let Some(d) = &pd {
        c.set(unit("input_audio_tokens"), n(d, &pd_path, "audio_tokens")?);
        c.set(unit("input_image_tokens"), n(d, &pd_path, "image_tokens")?);
        c.set(unit("input_video_tokens"), n(d, &pd_path, "video_tokens")?);
    }
    if let Some(d) = &cd {
        c.set(unit("output_audio_tokens"), n(d, &cd_path, "audio_tokens")?);
        c.set(unit("output_image_tokens"), n(d, &cd_path, "image_tokens")?);
    }
    if let Some(searches) = opt(u, path, "num_sources_used")? {
        let _ = searches; // xAI live-search sources: not a per-call fee the book prices.
    }
    Ok(c.usage())
}

/// Cache writes inside `prompt_tokens`, as (5-minute, 1-hour). LiteLLM maps Anthropic's usage this way
/// (`litellm/llms/anthropic/chat/transformation.py`, `calculate_usage`): the writes are counted in `prompt_tokens`
/// and named `prompt_tokens_details.cache_creation_tokens` (also `cache_write_tokens`, and
/// `cache_creation_input_tokens` beside the counts), the 1-hour share in
/// `prompt_tokens_details.cache_creation_token_details.ephemeral_1h_input_tokens`.
fn cache_writes(u: &Obj<'_>, pd: Option<&Obj<'_>>, path: &str) -> Result<(u64, u64)> {
    let pd_path = pd.map(|_| format!("{path}.prompt_tokens_details")).unwrap_or_default();
    let mut writes = 0;
    if let Some(d) = pd {
        writes = n(d, &pd_path, "cache_write_tokens")?;
        if writes == 0 {
            writes = n(d, &pd_path, "cache_creation_tokens")?;
        }
    }
    if writes == 0 {
        writes = n(u, path, "cache_creation_input_tokens")?;
    }
    let details = pd.and_then(|d| d.obj("cache_creation_token_details"));
    let one_hour = match &details {
        Some(d) => n(d, &format!("{pd_path}.cache_creation_token_details"), "ephemeral_1h_input_tokens")?,
        None => 0,
    };
    if one_hour > writes {
        return Err(err(format!(
            "{pd_path}.cache_creation_token_details.ephemeral_1h_input_tokens: {one_hour} is more than the {writes} \
             cache writes"
        )));
    }
    Ok((writes - one_hour, one_hour))
}
