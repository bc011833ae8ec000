//! Prompt tokens of a chat request, by the rules OpenAI publishes in its cookbook ("How to count tokens with
//! tiktoken"): a fixed overhead per message and per `name`, three tokens priming the reply, and a formula for
//! function/tool definitions. OpenAI calls the result an estimate, and so do we: the exact serialisation is not
//! public and changes between model versions.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::tokens::encoding::Encoding;
use crate::tokens::image::{image_tokens, Detail};
use std::sync::Arc;

use crate::tokens::models::{
    encoding_name_for_model, lookup_model, normalize_model, ModelTokenizer, APPROXIMATION_ENCODING,
};
use crate::tokens::registry::get_encoding;
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
        // Anthropic's blocks: a tool call counts its name and input, a result its content, thinking its text.
        "tool_use" | "server_tool_use" => {
            let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
            let input = obj.get("input").map(Value::to_string).unwrap_or_default();
            Ok(count(encoding, name)? + count(encoding, &input)?)
        }
        "tool_result" => match obj.get("content") {
            Some(content @ Value::Array(_)) => {
                value_tokens(encoding, model, "content", content, &format!("{at}.content"))
            }
            Some(Value::String(s)) => count(encoding, s),
            Some(other) => count(encoding, &other.to_string()),
            None => Ok(0),
        },
        "thinking" => count(encoding, obj.get("thinking").and_then(Value::as_str).unwrap_or("")),
        "redacted_thinking" => Ok(0),
        "document" => match obj.get("source") {
            Some(src) if src.get("type").and_then(Value::as_str) == Some("text") => {
                count(encoding, src.get("data").and_then(Value::as_str).unwrap_or(""))
            }
            _ => Err(bad(format!("{at}: only documents of plain text (source type \"text\") can be counted"))),
        },
        other => {
            Err(bad(format!("{at}: content parts of type {other:?} cannot be counted (text and image parts can)")))
        }
    }
}

/// Gemini's tokens for one image: 258 when both sides are at most 384 pixels, else 258 per 768 × 768 tile
/// (Google's "Image understanding" guide); 258 when the size is not given.
const GEMINI_IMAGE_TILE: i64 = 258;

fn gemini_image_tokens(obj: &serde_json::Map<String, Value>) -> i64 {
    let dim = |k: &str| obj.get(k).and_then(Value::as_u64);
    match (dim("width"), dim("height")) {
        (Some(w), Some(h)) if w > 384 || h > 384 => (w.div_ceil(768) * h.div_ceil(768)) as i64 * GEMINI_IMAGE_TILE,
        _ => GEMINI_IMAGE_TILE,
    }
}

/// Tokens of one Gemini part (`{"text": ...}`, `{"inlineData": ...}`, `{"functionCall": ...}`, ...).
fn gemini_part_tokens(encoding: &Encoding, part: &Value, at: &str) -> Result<i64> {
    let obj = part.as_object().ok_or_else(|| bad(format!("{at}: a part must be an object")))?;
    if let Some(text) = obj.get("text") {
        return count(encoding, text.as_str().unwrap_or(""));
    }
    for key in ["inlineData", "inline_data", "fileData", "file_data"] {
        if obj.contains_key(key) {
            return Ok(gemini_image_tokens(obj));
        }
    }
    for key in ["functionCall", "function_call", "functionResponse", "function_response"] {
        if let Some(v) = obj.get(key) {
            return count(encoding, &v.to_string());
        }
    }
    Err(bad(format!("{at}: Gemini parts other than text, images and function calls cannot be counted")))
}

/// Tokens of one message value: strings are encoded, content-part lists summed, tool calls and other structured
/// values counted as their compact JSON (an estimate: the serialisation OpenAI uses is not published).
fn value_tokens(encoding: &Encoding, model: &str, key: &str, value: &Value, at: &str) -> Result<i64> {
    match value {
        Value::Null => Ok(0),
        Value::String(s) => count(encoding, s),
        Value::Array(parts) if key == "parts" => {
            let mut n = 0;
            for (i, part) in parts.iter().enumerate() {
                n += gemini_part_tokens(encoding, part, &format!("{at}[{i}]"))?;
            }
            Ok(n)
        }
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
        // OpenAI's `parameters`, Anthropic's `input_schema`: the same JSON schema.
        let schema = f.get("parameters").or_else(|| f.get("input_schema"));
        let properties = schema.and_then(|p| p.get("properties")).and_then(Value::as_object);
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

/// The encoding that counts `model`'s messages, and whether counts with it are approximate: the model's own
/// when it is public; for a model whose tokenizer is not (Claude, Gemini), [`APPROXIMATION_ENCODING`] when
/// `approximate` is set, else the `TokenizerNotPublic` error saying so.
pub fn message_encoding(model: &str, approximate: bool) -> Result<(Arc<Encoding>, bool)> {
    match lookup_model(model) {
        Some(ModelTokenizer::Encoding(name)) => Ok((get_encoding(name)?, false)),
        Some(ModelTokenizer::NotPublic { .. }) if approximate => Ok((get_encoding(APPROXIMATION_ENCODING)?, true)),
        _ => Err(encoding_name_for_model(model).err().unwrap_or_else(|| Error::Internal("model lookup".into()))),
    }
}

/// The request shapes [`read_request`] knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestApi {
    /// OpenAI Chat Completions (`messages`, `tools`, `max_completion_tokens` / `max_tokens`).
    Chat,
    /// OpenAI Responses (`input`, `instructions`, `tools`, `max_output_tokens`).
    Responses,
    /// Anthropic Messages (`system`, `messages` of blocks, `tools` with `input_schema`, `max_tokens`).
    Messages,
    /// Gemini `generateContent` (`contents` of parts, `systemInstruction`, `generationConfig.maxOutputTokens`).
    Gemini,
}

impl RequestApi {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestApi::Chat => "chat",
            RequestApi::Responses => "responses",
            RequestApi::Messages => "messages",
            RequestApi::Gemini => "gemini",
        }
    }
}

/// A request body as the chat counting rules read it: messages and tools in the shapes [`count_message_tokens`]
/// takes, the model it names and the output limit it sets (with the key it came from).
#[derive(Debug)]
pub struct ChatRequest {
    pub api: RequestApi,
    pub model: Option<String>,
    pub messages: Vec<Value>,
    pub tools: Vec<Value>,
    /// The output limit of each choice, with the key it came from.
    pub max_output: Option<(u64, &'static str)>,
    /// How many outputs the request asks for, each up to `max_output`: chat's `n`, Gemini's
    /// `generationConfig.candidateCount`; 1 when unset (and for Responses and Messages, which have no such field).
    pub choices: u64,
}

/// The count at `obj[key]` (`path` names `obj` in an error): None when absent or null (what the APIs take as
/// unset), an error naming the field when it is not a whole number of at least `min`.
fn count_at(obj: &serde_json::Map<String, Value>, path: &str, key: &str, min: u64, what: &str) -> Result<Option<u64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= min => Ok(Some(n)),
            _ => Err(bad(format!("{path}.{key}: expected a whole number of {what}, {min} or more, got {v}"))),
        },
    }
}

/// The first of `keys` the request sets, as an output limit; each one set must be a count.
fn first_count(
    obj: &serde_json::Map<String, Value>,
    path: &str,
    keys: &[&'static str],
) -> Result<Option<(u64, &'static str)>> {
    let mut found = None;
    for k in keys {
        if let Some(n) = count_at(obj, path, k, 0, "tokens")? {
            found = found.or(Some((n, *k)));
        }
    }
    Ok(found)
}

/// How many choices (candidates) the request asks for at `obj[key]`: 1 when unset.
fn choices_at(obj: &serde_json::Map<String, Value>, path: &str, keys: &[&str]) -> Result<u64> {
    let mut found = None;
    for k in keys {
        if let Some(n) = count_at(obj, path, k, 1, "choices")? {
            found = found.or(Some(n));
        }
    }
    Ok(found.unwrap_or(1))
}

/// A Responses API input item as a chat message: tool calls and their outputs as chat has them; the item's own
/// bookkeeping (`type`, `id`, `status`, `call_id`) is not prompt text.
fn responses_item(item: &Value) -> Option<Value> {
    let Some(obj) = item.as_object() else { return Some(item.clone()) };
    match obj.get("type").and_then(Value::as_str) {
        Some("function_call") => Some(serde_json::json!({"role": "assistant", "tool_calls": [{"function": {
            "name": obj.get("name").cloned().unwrap_or(Value::Null),
            "arguments": obj.get("arguments").cloned().unwrap_or(Value::Null)}}]})),
        Some("function_call_output") => {
            Some(serde_json::json!({"role": "tool", "content": obj.get("output").cloned().unwrap_or(Value::Null)}))
        }
        // Reasoning items carried over are encrypted or summarised; their tokens are not countable here.
        Some("reasoning") => None,
        _ => {
            let mut m = obj.clone();
            for k in ["type", "id", "status", "call_id"] {
                m.remove(k);
            }
            Some(Value::Object(m))
        }
    }
}

/// The list at `key`, moved out of the request (a long prompt is never copied); none is an empty list.
fn take_list(obj: &mut serde_json::Map<String, Value>, key: &str) -> Result<Vec<Value>> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(bad(format!("request.{key}: expected a list"))),
    }
}

/// Reads a request body of one of the [`RequestApi`] shapes. `anthropic` says the model is Claude: then a
/// `messages` request is read as Anthropic's Messages even without a top-level `system`.
pub fn read_request(request: Value, anthropic: bool) -> Result<ChatRequest> {
    let Value::Object(mut obj) = request else {
        return Err(bad("request: a request must be an object (a dict)".into()));
    };
    let model = obj.get("model").and_then(Value::as_str).map(str::to_string);

    if obj.contains_key("contents") {
        let mut messages = Vec::new();
        if let Some(sys) = obj.get("systemInstruction").or_else(|| obj.get("system_instruction")) {
            messages.push(match sys {
                Value::String(s) => serde_json::json!({"role": "system", "parts": [{"text": s}]}),
                other => {
                    serde_json::json!({"role": "system", "parts": other.get("parts").cloned().unwrap_or_default()})
                }
            });
        }
        messages.extend(take_list(&mut obj, "contents")?);
        let tools = take_list(&mut obj, "tools")?
            .iter()
            .flat_map(|t| {
                let decls = t.get("functionDeclarations").or_else(|| t.get("function_declarations"));
                decls.and_then(Value::as_array).cloned().unwrap_or_default()
            })
            .collect();
        // maxOutputTokens bounds each candidate and candidateCount says how many there are; the usage's
        // candidatesTokenCount is the total across all candidates (google-genai's types.py, GenerationConfig and
        // GenerateContentResponseUsageMetadata; Vertex AI's GenerationConfig reference: "maxOutputTokens: the maximum
        // number of output tokens to generate per message", https://cloud.google.com/vertex-ai/generative-ai/docs/
        // reference/nodejs/latest/vertexai/generationconfig).
        let (key, config) =
            match obj.get_key_value("generationConfig").or_else(|| obj.get_key_value("generation_config")) {
                None | Some((_, Value::Null)) => ("generationConfig", None),
                Some((k, Value::Object(c))) => (k.as_str(), Some(c)),
                Some((k, other)) => return Err(bad(format!("request.{k}: expected an object, got {other}"))),
            };
        let path = format!("request.{key}");
        let (max_output, choices) = match config {
            Some(c) => (
                first_count(c, &path, &["maxOutputTokens", "max_output_tokens"])?,
                choices_at(c, &path, &["candidateCount", "candidate_count"])?,
            ),
            None => (None, 1),
        };
        return Ok(ChatRequest { api: RequestApi::Gemini, model, messages, tools, max_output, choices });
    }
    if !obj.contains_key("messages") && (obj.contains_key("input") || obj.contains_key("instructions")) {
        let mut messages = Vec::new();
        if let Some(Value::String(s)) = obj.get("instructions") {
            messages.push(serde_json::json!({"role": "developer", "content": s}));
        }
        match obj.get("input") {
            Some(Value::String(s)) => messages.push(serde_json::json!({"role": "user", "content": s})),
            Some(Value::Array(items)) => messages.extend(items.iter().filter_map(responses_item)),
            None | Some(Value::Null) => {}
            Some(_) => return Err(bad("request.input: expected a string or a list of items".into())),
        }
        // Built-in tools (web search, file search, ...) are charged per call, not as prompt tokens.
        let tools = take_list(&mut obj, "tools")?.into_iter().filter(|t| t.get("name").is_some()).collect();
        // One output per response: the Responses API has no `n`.
        let max_output = first_count(&obj, "request", &["max_output_tokens"])?;
        return Ok(ChatRequest { api: RequestApi::Responses, model, messages, tools, max_output, choices: 1 });
    }
    if !obj.contains_key("messages") {
        return Err(bad(
            "request: expected a chat request (\"messages\"), a Responses request (\"input\"), an Anthropic \
             Messages request (\"messages\", \"system\") or a Gemini request (\"contents\")"
                .into(),
        ));
    }
    let messages_api = anthropic || obj.contains_key("system");
    let mut messages = Vec::new();
    if messages_api {
        match obj.get("system") {
            Some(Value::String(s)) => messages.push(serde_json::json!({"role": "system", "content": s})),
            Some(blocks @ Value::Array(_)) => messages.push(serde_json::json!({"role": "system", "content": blocks})),
            _ => {}
        }
    }
    messages.extend(take_list(&mut obj, "messages")?);
    let mut tools = take_list(&mut obj, "tools")?;
    tools.extend(take_list(&mut obj, "functions")?);
    if messages_api {
        // Anthropic's Messages API writes one message per request: it has no `n` (anthropic's
        // types/message_create_params.py).
        let max_output = first_count(&obj, "request", &["max_tokens"])?;
        return Ok(ChatRequest { api: RequestApi::Messages, model, messages, tools, max_output, choices: 1 });
    }
    // Chat Completions: `n` choices, each up to max_completion_tokens (or the deprecated max_tokens), billed for the
    // generated tokens across all choices and the prompt once (openai's types/chat/completion_create_params.py,
    // openai 3.63: "When requesting multiple choices, you are billed for generated tokens across all choices";
    // a test with n=80 and max_tokens=1 billed 80 output tokens,
    // https://community.openai.com/t/how-does-n-parameter-work-in-chat-completions/288725).
    let max_output = first_count(&obj, "request", &["max_completion_tokens", "max_tokens"])?;
    let choices = choices_at(&obj, "request", &["n"])?;
    Ok(ChatRequest { api: RequestApi::Chat, model, messages, tools, max_output, choices })
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
