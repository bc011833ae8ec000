//! Streams: server-sent-events framing and a stream's usage by each provider's rule.

use std::borrow::Cow;

use crate::error::Result;
use crate::json::{kind, Kind, Obj};
use crate::usage::formats::anthropic::{anthropic, anthropic_usage};
use crate::usage::formats::bedrock::bedrock;
use crate::usage::formats::common::{err, text, time};
use crate::usage::formats::gemini::gemini;
use crate::usage::formats::openai_chat::{openai_chat, FORMAT as OPENAI_CHAT};
use crate::usage::formats::{detect, extract_obj, finish};
use crate::usage::record::{Hints, UsageRecord};

/// The `data:` payloads of a server-sent-events stream (`[DONE]` left out).
pub fn sse_events(text: &str) -> Vec<Cow<'_, str>> {
    fn flush<'t>(current: &mut Option<Cow<'t, str>>, out: &mut Vec<Cow<'t, str>>) {
        if let Some(event) = current.take() {
            if event.trim() != "[DONE]" {
                out.push(event);
            }
        }
    }
    let mut out: Vec<Cow<'_, str>> = Vec::new();
    // An event is usually one `data:` line (borrowed); several lines join with newlines (owned).
    let mut current: Option<Cow<'_, str>> = None;
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data:") {
            let data = data.strip_prefix(' ').unwrap_or(data);
            current = Some(match current.take() {
                None => Cow::Borrowed(data),
                Some(prev) => Cow::Owned(format!("{prev}\n{data}")),
            });
        } else if line.trim().is_empty() {
            flush(&mut current, &mut out);
        }
    }
    flush(&mut current, &mut out);
    out
}

/// An OpenAI-style chunk with its usage where the chat completion format reads it (`usage`), or `None` when it has
/// none. Groq sends a stream's usage in the final chunk's `x_groq.usage` ("Usage information for the stream. Only
/// sent in the final chunk": groq-python 1.7.0, `groq/types/chat/chat_completion_chunk.py`, `XGroq.usage`), and
/// in `usage` as OpenAI does when the request sets `stream_options.include_usage`; `usage` wins where both are.
fn with_usage<'a>(o: &Obj<'a>) -> Option<Obj<'a>> {
    if o.obj("usage").is_some() {
        return Some(o.clone());
    }
    let groq = o.obj("x_groq")?.get("usage").filter(|u| kind(*u) == Kind::Object)?;
    let mut with = o.clone();
    with.members.retain(|(k, _)| k != "usage");
    with.members.push(("usage".into(), groq));
    Some(with)
}

/// A stream given as its chunks (a list, or SSE `data:` payloads), by each provider's rule: OpenAI's usage is in
/// the final chunk; Anthropic's starts in `message_start` and `message_delta` carries cumulative counts; Gemini's
/// chunks are cumulative (the last counts); the Responses API's `response.completed` event holds the response;
/// Bedrock's `metadata` event holds the usage.
pub fn extract_stream(chunks: &[&str], hints: &Hints) -> Result<UsageRecord> {
    if chunks.is_empty() {
        return Err(err("an empty stream: no chunks"));
    }
    // OpenAI-style streams (the common case) need only their last chunk with usage: read from the end.
    let other_kinds = ["\"message_start\"", "\"response.", "\"usageMetadata\"", "\"metadata\""];
    if hints.format.is_none() && !chunks.iter().any(|c| other_kinds.iter().any(|k| c.contains(k))) {
        for (i, c) in chunks.iter().enumerate().rev() {
            if !c.contains("\"usage\"") {
                continue;
            }
            let o = Obj::parse(c).map_err(|e| err(format!("stream chunk {i}: not a JSON object: {e}")))?;
            let Some(o) = with_usage(&o) else {
                continue;
            };
            let mut rec = openai_chat(&o)?;
            if rec.model.is_none() || rec.id.is_none() || rec.timestamp.is_none() {
                if let Ok(first) = Obj::parse(chunks[0]) {
                    rec.model = rec.model.or_else(|| text(&first, "model"));
                    rec.id = rec.id.or_else(|| text(&first, "id"));
                    rec.timestamp = rec.timestamp.or_else(|| time(&first, "created").ok().flatten());
                }
            }
            return finish(rec, hints);
        }
    }
    let mut objs = Vec::with_capacity(chunks.len());
    for (i, c) in chunks.iter().enumerate() {
        let o = Obj::parse(c).map_err(|e| err(format!("stream chunk {i}: not a JSON object: {e}")))?;
        objs.push(o);
    }
    if objs.is_empty() {
        return Err(err("an empty stream: no chunks"));
    }
    let kind_of = |o: &Obj<'_>| o.str("type").map(|t| t.into_owned());
    if objs.iter().any(|o| kind_of(o).as_deref() == Some("message_start")) {
        let start = objs.iter().find(|o| kind_of(o).as_deref() == Some("message_start")).expect("checked");
        let msg = start.obj("message").ok_or_else(|| err("message_start without a message"))?;
        let mut rec = anthropic(&msg)?;
        let mut usage = msg.obj("usage").map(|u| u.members.clone()).unwrap_or_default();
        for o in objs.iter().filter(|o| kind_of(o).as_deref() == Some("message_delta")) {
            if let Some(d) = o.obj("usage") {
                // Delta counts are cumulative: each replaces the one before.
                for (k, v) in d.members {
                    if kind(v) != Kind::Null {
                        usage.retain(|(key, _)| *key != k);
                        usage.push((k, v));
                    }
                }
            }
        }
        let merged = Obj { members: usage };
        rec.usage = anthropic_usage(&merged, "usage")?;
        rec.has_usage = true;
        rec.format = "anthropic";
        return finish(rec, hints);
    }
    if let Some(done) = objs.iter().rev().find(|o| {
        matches!(kind_of(o).as_deref(), Some("response.completed" | "response.incomplete" | "response.failed"))
    }) {
        return extract_obj(done, hints);
    }
    if objs.iter().any(|o| o.has("usageMetadata")) {
        let last = objs.iter().rev().find(|o| o.has("usageMetadata")).expect("checked");
        let mut rec = gemini(last)?;
        if rec.model.is_none() {
            rec.model = objs.iter().find_map(|o| text(o, "modelVersion"));
        }
        return finish(rec, hints);
    }
    if let Some(m) = objs.iter().rev().find(|o| o.obj("metadata").is_some_and(|m| m.has("usage"))) {
        let rec = bedrock(m)?;
        return finish(rec, hints);
    }
    // OpenAI-style: the last chunk with a usage object; model and id from any chunk.
    let Some(last) = objs.iter().rev().find_map(with_usage) else {
        return Err(err(format!(
            "a stream of {} chunks with no usage in any of them (OpenAI sends usage only when the request sets \
             stream_options={{\"include_usage\": true}})",
            objs.len()
        )));
    };
    let mut rec = match hints.format.as_deref() {
        Some(_) => return extract_obj(&last, hints),
        None => match detect(&last) {
            Some(f) if f.name != OPENAI_CHAT.name => return extract_obj(&last, hints),
            _ => openai_chat(&last)?,
        },
    };
    rec.model = rec.model.or_else(|| objs.iter().find_map(|o| text(o, "model")));
    rec.id = rec.id.or_else(|| objs.iter().find_map(|o| text(o, "id")));
    rec.timestamp = match rec.timestamp {
        Some(t) => Some(t),
        None => objs.iter().find_map(|o| time(o, "created").ok().flatten()),
    };
    finish(rec, hints)
}
