//! The `gemini` format: Google Gemini and Vertex AI generateContent (usageMetadata).

use std::borrow::Cow;

use crate::error::Result;
use crate::json::{self, Obj};
use crate::prices::units::{CACHE_READ, INPUT, OUTPUT};
use crate::usage::record::{Meta, UsageRecord};

use super::common::*;
use super::{Format, Probe};

pub(super) static FORMAT: Format =
    Format::new("gemini", "Google Gemini and Vertex AI generateContent (usageMetadata)", |o, _| gemini(o))
        .detect(detect);

fn detect(p: &Probe<'_, '_>) -> bool {
    p.o.has("usageMetadata") || p.o.has("usage_metadata")
}

/// Google Gemini / Vertex `usageMetadata`: `promptTokenCount` includes cached content; tool-use prompt tokens are
/// billed as input though outside `promptTokenCount`; thoughts are billed as output though outside
/// `candidatesTokenCount`. Per-modality details give audio, image and video parts (documents are billed as images).
pub(crate) fn gemini(o: &Obj<'_>) -> Result<UsageRecord> {
    // The google-genai SDK's own dumps (`model_dump()`) use snake_case; the REST API camelCase.
    let snake = !o.has("usageMetadata") && o.has("usage_metadata");
    let camel_o = snake.then(|| camel(o));
    let o = camel_o.as_ref().unwrap_or(o);
    let mut rec = UsageRecord {
        format: "gemini",
        model: text(o, "modelVersion").or_else(|| text(o, "model")),
        id: text(o, "responseId"),
        ..Default::default()
    };
    rec.timestamp = time(o, "createTime")?;
    let key = "usageMetadata";
    if let Some(u) = o.obj(key).map(|u| if snake { camel(&u) } else { u }) {
        let mut c = Counts::new();
        let prompt = n(&u, key, "promptTokenCount")?;
        let tool = n(&u, key, "toolUsePromptTokenCount")?;
        let thoughts = n(&u, key, "thoughtsTokenCount")?;
        let candidates = n(&u, key, "candidatesTokenCount")?;
        c.set(INPUT, add(prompt, tool, key)?);
        c.set(CACHE_READ, n(&u, key, "cachedContentTokenCount")?);
        c.set(OUTPUT, add(candidates, thoughts, key)?);
        c.set(unit("reasoning_tokens"), thoughts);
        let modalities = |field: &str, targets: &[(&str, &str)], c: &mut Counts| -> Result<()> {
            let Some(list) = u.arr(field) else { return Ok(()) };
            let mut sums = vec![0u64; targets.len()];
            for (i, item) in list.iter().enumerate() {
                let Some(item) = json::object(item).map(|i| if snake { camel(&i) } else { i }) else { continue };
                let m = item.str("modality").unwrap_or_default().to_ascii_uppercase();
                let m = if m == "DOCUMENT" { "IMAGE".to_string() } else { m };
                if let Some(t) = targets.iter().position(|(name, _)| *name == m) {
                    sums[t] += n(&item, &format!("{key}.{field}[{i}]"), "tokenCount")?;
                }
            }
            for ((_, field), v) in targets.iter().zip(sums) {
                c.set(unit(field), v);
            }
            Ok(())
        };
        let input = [("AUDIO", "input_audio_tokens"), ("IMAGE", "input_image_tokens"), ("VIDEO", "input_video_tokens")];
        modalities("promptTokensDetails", &input, &mut c)?;
        let cached = [("AUDIO", "cache_audio_read_tokens"), ("IMAGE", "cache_image_read_tokens")];
        modalities("cacheTokensDetails", &cached, &mut c)?;
        let output =
            [("AUDIO", "output_audio_tokens"), ("IMAGE", "output_image_tokens"), ("VIDEO", "output_video_tokens")];
        modalities("candidatesTokensDetails", &output, &mut c)?;
        rec.usage = c.usage();
        rec.has_usage = true;
        rec.service_tier = text(&u, "serviceTier").map(|t| t.to_ascii_lowercase());
        if let Some(t) = text(&u, "trafficType") {
            rec.metadata.push(("traffic_type".into(), Meta::Str(t)));
        }
    }
    Ok(rec)
}

/// The object with snake_case keys written in camelCase (`prompt_token_count` → `promptTokenCount`).
fn camel<'a>(o: &Obj<'a>) -> Obj<'a> {
    let members = o
        .members
        .iter()
        .map(|(k, v)| {
            if !k.contains('_') {
                return (k.clone(), *v);
            }
            let mut out = String::with_capacity(k.len());
            let mut upper = false;
            for ch in k.chars() {
                if ch == '_' {
                    upper = true;
                } else if upper {
                    out.extend(ch.to_uppercase());
                    upper = false;
                } else {
                    out.push(ch);
                }
            }
            (Cow::Owned(out), *v)
        })
        .collect();
    Obj { members }
}
