//! Prompt tokens of a chat request, by the rules OpenAI publishes in its cookbook ("How to count tokens with
//! tiktoken"): a fixed overhead per message and per `name`, three tokens priming the reply, and a formula for
//! function/tool definitions. OpenAI calls the result an estimate, and so do we: the exact serialisation is not
//! public and changes between model versions.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::tokens::encoding::Encoding;
use crate::tokens::image::{image_tokens, Detail};
use crate::tokens::models::normalize_model;
use crate::tokens::special::Allowed;

/// Per-model constants of the cookbook's formulas.
struct ChatRules {
    per_message: i64,
    per_name: i64,
    func_init: i64,
}

const REPLY_PRIMING: i64 = 3; // <|start|>assistant<|message|>
const PROP_INIT: i64 = 3;
const PROP_KEY: i64 = 3;
const ENUM_INIT: i64 = -3;
const ENUM_ITEM: i64 = 3;
const FUNC_END: i64 = 12;

fn rules(model: &str, encoding: &Encoding) -> ChatRules {
    let m = normalize_model(model);
    if m == "gpt-3.5-turbo-0301" {
        return ChatRules { per_message: 4, per_name: -1, func_init: 10 };
    }
    // The cookbook gives 7 for gpt-4o/gpt-4o-mini and 10 for gpt-3.5-turbo/gpt-4: by encoding generation.
    let func_init = if encoding.name().starts_with("o200k") { 7 } else { 10 };
    ChatRules { per_message: 3, per_name: 1, func_init }
}

fn count(encoding: &Encoding, text: &str) -> Result<i64> {
    Ok(encoding.count(text, Allowed::None)? as i64)
}

fn bad(what: String) -> Error {
    Error::InvalidMessage(what)
}

/// Tokens of one content part (`{"type": "text", "text": ...}`, `{"type": "image_url", ...}`).
fn part_tokens(encoding: &Encoding, model: &str, part: &Value, at: &str) -> Result<i64> {
    if let Value::String(s) = part {
        return count(encoding, s);
    }
    let obj = part.as_object().ok_or_else(|| bad(format!("{at}: a content part must be an object or a string")))?;
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("text");
    match kind {
        "text" | "input_text" | "output_text" => {
            let text = obj
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("{at}: a text part needs a string \"text\"")))?;
            count(encoding, text)
        }
        "image_url" | "input_image" | "image" => {
            let detail_value = obj
                .get("image_url")
                .and_then(|u| u.get("detail"))
                .or_else(|| obj.get("detail"))
                .and_then(Value::as_str)
                .unwrap_or("auto");
            let detail = Detail::parse(detail_value)?;
            let dim = |k: &str| obj.get(k).and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
            match (dim("width"), dim("height")) {
                (Some(w), Some(h)) => Ok(image_tokens(w, h, model, detail)? as i64),
                _ if detail == Detail::Low => Ok(image_tokens(1, 1, model, Detail::Low)? as i64),
                _ => Err(bad(format!(
                    "{at}: an image's tokens depend on its size; add \"width\" and \"height\" (pixels) to the part, \
                     or use detail \"low\""
                ))),
            }
        }
        other => {
            Err(bad(format!("{at}: content parts of type {other:?} cannot be counted (text and image parts can)")))
        }
    }
}

/// Tokens of one message value: strings are encoded, content-part lists summed, tool calls and other structured
/// values counted as their compact JSON (an estimate: the serialisation OpenAI uses is not published).
fn value_tokens(encoding: &Encoding, model: &str, key: &str, value: &Value, at: &str) -> Result<i64> {
    match value {
        Value::Null => Ok(0),
        Value::String(s) => count(encoding, s),
        Value::Array(parts) if key == "content" => {
            let mut n = 0;
            for (i, part) in parts.iter().enumerate() {
                n += part_tokens(encoding, model, part, &format!("{at}[{i}]"))?;
            }
            Ok(n)
        }
        Value::Array(calls) if key == "tool_calls" => {
            let mut n = 0;
            for call in calls {
                let f = call.get("function").unwrap_or(call);
                for field in ["name", "arguments"] {
                    match f.get(field) {
                        Some(Value::String(s)) => n += count(encoding, s)?,
                        Some(other) => n += count(encoding, &other.to_string())?,
                        None => {}
                    }
                }
            }
            Ok(n)
        }
        other => count(encoding, &other.to_string()),
    }
}

/// Tokens of the tool (function) definitions, by the cookbook's formula.
fn tools_tokens(encoding: &Encoding, rules: &ChatRules, tools: &[Value]) -> Result<i64> {
    if tools.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        // Accept {"type": "function", "function": {...}} and the legacy bare function definition.
        let f = tool.get("function").unwrap_or(tool);
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{at}: a function needs a string \"name\"")))?;
        let desc = f.get("description").and_then(Value::as_str).unwrap_or("");
        n += rules.func_init;
        n += count(encoding, &format!("{name}:{}", desc.strip_suffix('.').unwrap_or(desc)))?;
        let properties = f.get("parameters").and_then(|p| p.get("properties")).and_then(Value::as_object);
        if let Some(props) = properties.filter(|p| !p.is_empty()) {
            n += PROP_INIT;
            for (key, prop) in props {
                n += PROP_KEY;
                let kind = match prop.get("type") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let pdesc = prop.get("description").and_then(Value::as_str).unwrap_or("");
                if let Some(items) = prop.get("enum").and_then(Value::as_array) {
                    n += ENUM_INIT;
                    for item in items {
                        n += ENUM_ITEM;
                        let text = item.as_str().map_or_else(|| item.to_string(), str::to_string);
                        n += count(encoding, &text)?;
                    }
                }
                n += count(encoding, &format!("{key}:{kind}:{}", pdesc.strip_suffix('.').unwrap_or(pdesc)))?;
            }
        }
    }
    Ok(n + FUNC_END)
}

/// Estimated prompt tokens of a chat request: `messages` (OpenAI chat format) plus optional `tools`.
pub fn count_message_tokens(
    encoding: &Encoding,
    model: &str,
    messages: &[Value],
    tools: Option<&[Value]>,
) -> Result<u64> {
    let rules = rules(model, encoding);
    let mut n: i64 = 0;
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let obj = message.as_object().ok_or_else(|| bad(format!("{at}: a message must be an object (a dict)")))?;
        n += rules.per_message;
        for (key, value) in obj {
            n += value_tokens(encoding, model, key, value, &format!("{at}.{key}"))?;
            if key == "name" {
                n += rules.per_name;
            }
        }
    }
    n += REPLY_PRIMING;
    n += tools_tokens(encoding, &rules, tools.unwrap_or(&[]))?;
    Ok(n.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::get_encoding;
    use serde_json::json;

    #[test]
    fn cookbook_example_messages() {
        // The cookbook's example conversation: 129 prompt tokens for gpt-4o / gpt-4o-mini / gpt-4-0613.
        let messages = vec![
            json!({"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."}),
            json!({"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."}),
            json!({"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."}),
            json!({"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."}),
            json!({"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."}),
            json!({"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}),
        ];
        let o200k = get_encoding("o200k_base").unwrap();
        let cl100k = get_encoding("cl100k_base").unwrap();
        assert_eq!(count_message_tokens(&o200k, "gpt-4o", &messages, None).unwrap(), 124);
        assert_eq!(count_message_tokens(&cl100k, "gpt-4-0613", &messages, None).unwrap(), 129);
    }

    #[test]
    fn cookbook_example_tools() {
        // The cookbook's weather-function example: 101 prompt tokens for gpt-4o and gpt-4o-mini.
        let tools = vec![json!({"type": "function", "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {"type": "object", "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]}
            }, "required": ["location"]}
        }})];
        let messages = vec![
            json!({"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."}),
            json!({"role": "user", "content": "What's the weather like in San Francisco?"}),
        ];
        let o200k = get_encoding("o200k_base").unwrap();
        assert_eq!(count_message_tokens(&o200k, "gpt-4o", &messages, Some(&tools)).unwrap(), 101);
    }

    #[test]
    fn bad_messages_name_where() {
        let enc = get_encoding("o200k_base").unwrap();
        let err = count_message_tokens(&enc, "gpt-4o", &[json!("hi")], None).unwrap_err();
        assert!(err.to_string().contains("messages[0]"), "{err}");
        let parts = json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]});
        let err = count_message_tokens(&enc, "gpt-4o", &[parts], None).unwrap_err();
        assert!(err.to_string().contains("messages[0].content[0]") && err.to_string().contains("width"), "{err}");
        let with_size = json!({"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "x", "detail": "high"}, "width": 1024, "height": 1024}
        ]});
        let text_only = json!({"role": "user", "content": "What is this?"});
        let a = count_message_tokens(&enc, "gpt-4o", &[with_size], None).unwrap();
        let b = count_message_tokens(&enc, "gpt-4o", &[text_only], None).unwrap();
        assert_eq!(a - b, 765);
    }
}
