//! The ledger's fast lane: a Cloudflare AI Gateway Logs API item (`tokens_in` / `tokens_out`, the flat shape the
//! Logs API and its exports give, and the bulk of real gateway logs) read in one pass over its members, its strings
//! found beforehand 64 bytes at a time (`Quotes`), without building a
//! [`UsageRecord`](crate::usage::UsageRecord): its strings borrow the line, its labels go to a buffer
//! shared by the chunk; the `metadata` string is read without unescaping it when it is the usual flat object.
//! The lane reads exactly what [`crate::usage::formats`] reads for such an item, and declines (the line then takes
//! the general path) wherever that would need more than the common case: a key or string with escapes, a repeated
//! key, nested labels, a bad count or time, another format's keys.
//! `fast_lane_equals_the_general_path` checks the two lanes agree.

use std::borrow::Cow;

use rust_decimal::Decimal;

use crate::json::{self, boolean, count, kind, Kind, Quotes, Raw};
use crate::prices::units::{CACHE_READ, INPUT, OUTPUT, REASONING};
use crate::usage::formats::common::{milliseconds, money_value, provider_id, status_code_value, time_value};
use crate::usage::Status;
use crate::usage::Usage;

/// The members the lane reads.
const KEYS: [&str; 15] = [
    "id",
    "created_at",
    "provider",
    "model",
    "success",
    "status_code",
    "cached",
    "tokens_in",
    "tokens_out",
    "cost",
    "metadata",
    "step",
    "custom_cost",
    "duration",
    "path",
];

/// What the lane does with a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// Reads it: its place in [`KEYS`].
    Read(usize),
    /// Declines the line: another format's key, or a container's.
    Decline,
    /// Declines the line as a Logpush line's key (the Logpush lane, [`super::logpush`], may read it).
    Logpush,
    /// Passes over it.
    Other,
}

/// Why the lane declined a line: it looks like a Logpush line (for [`super::logpush`]), or it is for the general
/// path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declined {
    Logpush,
    General,
}

/// What the lane does with the member `key` (one `match`: by length, then bytes).
fn key_of(key: &str) -> Key {
    Key::Read(match key {
        "id" => 0,
        "created_at" => 1,
        "provider" => 2,
        "model" => 3,
        "success" => 4,
        "status_code" => 5,
        "cached" => 6,
        "tokens_in" => 7,
        "tokens_out" => 8,
        "cost" => 9,
        "metadata" => 10,
        "step" => 11,
        "custom_cost" => 12,
        "duration" => 13,
        "path" => 14,
        "result" | "resourceSpans" | "scopeSpans" => return Key::Decline,
        // Logpush's own fields (`ai_gateway_events`, PascalCase): a Logpush line, whose usage is in ResponseBody.
        "ResponseBody" | "Gateway" | "Timestamp" | "Cached" | "Endpoint" | "Provider" | "Model" | "StatusCode"
        | "Metadata" | "Metrics" => return Key::Logpush,
        _ => return Key::Other,
    })
}

/// Where a label's key and value are in the chunk's label buffer.
#[derive(Clone, Copy, Debug)]
pub struct Label {
    pub key: (u32, u32),
    pub value: (u32, u32),
}

/// The labels read from a chunk's lines: their texts, and where each label is in them.
#[derive(Default)]
pub struct Labels {
    pub text: String,
    pub spans: Vec<Label>,
}

impl Labels {
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    pub fn get(&self, span: (u32, u32)) -> &str {
        &self.text[span.0 as usize..span.1 as usize]
    }

    /// Appends `s` to the text; its span.
    fn push(&mut self, s: &str) -> Option<(u32, u32)> {
        let start = u32::try_from(self.text.len()).ok()?;
        self.text.push_str(s);
        Some((start, u32::try_from(self.text.len()).ok()?))
    }
}

/// A Logs API item as the lane read it (or a Logpush line as [`super::logpush`] read it).
#[derive(Clone, Debug)]
pub struct Flat<'t> {
    pub id: Option<Cow<'t, str>>,
    /// The source's own id of the request (`Extras::request_id`): a Logs API item's `id`, a Logpush line's `ID`.
    pub request_id: Option<&'t str>,
    pub provider: Option<Cow<'t, str>>,
    pub model: &'t str,
    /// The model the response names, where it differs from the one requested (Logpush).
    pub served: Option<Box<str>>,
    /// The response's `service_tier` (Logpush).
    pub tier: Option<Box<str>>,
    pub at: i64,
    pub cache_hit: bool,
    pub status: Status,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Cached input and reasoning tokens (parts of the input and output; Logpush's OpenAI bodies).
    pub cache_read_tokens: u64,
    pub reasoning_tokens: u64,
    pub has_usage: bool,
    pub reported_cost: Option<Decimal>,
    /// `duration` in milliseconds, `path`, and `custom_cost`, as the general path keeps them (`Extras`).
    pub duration_ms: Option<Decimal>,
    pub endpoint: Option<&'t str>,
    pub rate_limited: Option<bool>,
    pub custom_cost: Option<bool>,
    /// This item's labels: a range of the chunk's [`Labels::spans`], in the order the general path gives them.
    pub labels: (u32, u32),
}

impl Flat<'_> {
    /// The item's usage (input and output tokens only from the Logs API; cached input and reasoning too from a
    /// Logpush line's body).
    pub fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        usage.counts[INPUT] = self.input_tokens;
        usage.counts[OUTPUT] = self.output_tokens;
        usage.counts[CACHE_READ] = self.cache_read_tokens;
        usage.counts[REASONING] = self.reasoning_tokens;
        usage
    }
}

/// A string's text when it has no escapes (`escaped` says, as the walk found it); `None` (decline) for an escaped
/// string; `Some(None)` for another kind.
pub(super) fn plain(raw: Raw<'_>, escaped: bool) -> Option<Option<&str>> {
    if kind(raw) != Kind::String {
        return Some(None);
    }
    let t = raw.get();
    (!escaped).then_some(Some(&t[1..t.len() - 1]))
}

/// A whole number's text when it is exactly how the general path would print it (an `i64` in its shortest form:
/// no sign but a minus, no leading zero, no `-0`), without printing it.
pub(super) fn int_text(t: &str) -> Option<&str> {
    t.parse::<i64>().ok()?;
    let digits = t.strip_prefix('-').unwrap_or(t);
    let shortest = !t.starts_with('+') && (digits == "0" && t == "0" || !digits.starts_with('0'));
    shortest.then_some(t)
}

/// The first key of an object's text (`{` first), when it is plain ASCII without escapes.
fn first_key(bytes: &[u8]) -> Option<&str> {
    let rest = bytes[1..].trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    let key = &rest[..end];
    (rest[end] == b'"' && key.is_ascii()).then(|| std::str::from_utf8(key).ok()).flatten()
}

/// Reads one line in the lane, its labels appended to `labels`, its strings found with `quotes`; declined, it
/// goes to the Logpush lane or the general path.
pub(crate) fn read<'t>(bytes: &'t [u8], labels: &mut Labels, quotes: &mut Quotes) -> Result<Flat<'t>, Declined> {
    let bytes = bytes.trim_ascii();
    if bytes.first() != Some(&b'{') {
        return Err(Declined::General); // (Unicode spaces around the object: the general path trims them)
    }
    // A line whose first key the lane declines is declined before its strings are found (a Logpush line: the
    // walk and the index were 3% of pricing one).
    match first_key(bytes).map(key_of) {
        Some(Key::Decline) => return Err(Declined::General),
        Some(Key::Logpush) => return Err(Declined::Logpush),
        _ => {}
    }
    let text = indexed_text(bytes, quotes).ok_or(Declined::General)?;
    let mut slots: [Option<Raw<'t>>; KEYS.len()] = [None; KEYS.len()];
    // Per slot: its value is a string holding an escape.
    let mut escapes = [false; KEYS.len()];
    let mut ok = true;
    let mut logpush = false;
    let whole = json::walk_members(text, quotes, |key, value, escaped| {
        match key_of(key) {
            // A repeated key: the last wins there; not here.
            Key::Read(i) => {
                ok = slots[i].replace(value).is_none();
                escapes[i] = escaped;
            }
            Key::Decline => ok = false,
            Key::Logpush => (ok, logpush) = (false, true),
            Key::Other => {}
        }
        ok
    });
    if logpush {
        return Err(Declined::Logpush);
    }
    read_slots(text, slots, escapes, ok && whole, labels, quotes).ok_or(Declined::General)
}

/// `bytes` as text, its strings indexed in `quotes`.
pub(super) fn indexed_text<'t>(bytes: &'t [u8], quotes: &mut Quotes) -> Option<&'t str> {
    if quotes.index(bytes) {
        // SAFETY: ASCII bytes are UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

/// The item the walk found (`whole`: the line is one object the lane could walk to its end).
fn read_slots<'t>(
    text: &'t str,
    slots: [Option<Raw<'t>>; KEYS.len()],
    escapes: [bool; KEYS.len()],
    whole: bool,
    labels: &mut Labels,
    quotes: &Quotes,
) -> Option<Flat<'t>> {
    if !whole {
        return None;
    }
    let [id_escaped, _, provider_escaped, model_escaped, .., path_escaped] = escapes;
    let [id, created_at, provider, model, success, status_code, cached, tokens_in, tokens_out, cost, metadata, step, custom_cost, duration, path] =
        slots;
    if tokens_in.is_none() && tokens_out.is_none() {
        return None; // not this format
    }
    let present = |r: Option<Raw<'t>>| r.filter(|v| kind(*v) != Kind::Null);
    let text_of = |r: Option<Raw<'t>>, escaped: bool| -> Option<Option<&'t str>> {
        match r {
            None => Some(None),
            Some(v) => plain(v, escaped).map(|t| t.filter(|t| !t.is_empty())),
        }
    };
    let model = text_of(model, model_escaped)??;
    let id = text_of(id, id_escaped)?;
    let provider = text_of(provider, provider_escaped)?.map(provider_id);
    let at = time_value(present(created_at)?).ok()??;
    let code = present(status_code).and_then(status_code_value);
    let status = if success.and_then(boolean) == Some(false) { Status::Error } else { Status::of_http(code) };
    let tokens = |r: Option<Raw<'t>>| match r {
        None => Some(0),
        Some(v) => count(v).ok().map(|c| c.unwrap_or(0)),
    };
    let (input_tokens, output_tokens) = (tokens(tokens_in)?, tokens(tokens_out)?);
    // A success logged without counts is rejected by the general path (`cloudflare_logs`): leave it to it.
    if status == Status::Ok && input_tokens == 0 && output_tokens == 0 && cached.and_then(boolean) != Some(true) {
        return None;
    }
    let reported_cost = match present(cost) {
        Some(v) => Some(money_value(v, "cost").ok()?),
        None => None,
    };
    // A duration the general path rejects (not a number, negative, too large): leave it to it.
    let duration_ms = match present(duration) {
        Some(v) => Some(milliseconds(money_value(v, "duration").ok()?, 1).ok()?),
        None => None,
    };
    let endpoint = text_of(path, path_escaped)?;
    let (first, text_start) = (labels.spans.len(), labels.text.len());
    let read_labels = (|| {
        if let Some(m) = present(metadata) {
            labels_of(text, m, quotes, labels)?;
        }
        // As the general path: `step` (a number) becomes a label after the metadata's.
        if let Some(s) = present(step) {
            if kind(s) == Kind::String {
                return None;
            }
            if kind(s) == Kind::Number && s.get().parse::<i64>().is_ok() {
                add(labels, "step", int_text(s.get())?)?;
            }
        }
        unique_since(labels, first)
    })();
    if read_labels.is_none() {
        labels.spans.truncate(first);
        labels.text.truncate(text_start);
        return None;
    }
    Some(Flat {
        id: id.map(Cow::Borrowed),
        request_id: id,
        provider,
        model,
        served: None,
        tier: None,
        at,
        cache_hit: cached.and_then(boolean) == Some(true),
        status,
        input_tokens,
        output_tokens,
        cache_read_tokens: 0,
        reasoning_tokens: 0,
        // As `cloudflare_logs`: a failed request's zero counts are no usage.
        has_usage: (present(tokens_in).is_some() || present(tokens_out).is_some())
            && (status == Status::Ok || input_tokens > 0 || output_tokens > 0),
        reported_cost,
        duration_ms,
        endpoint,
        rate_limited: None,
        custom_cost: custom_cost.and_then(boolean),
        labels: (first as u32, labels.spans.len() as u32),
    })
}

/// The labels of the metadata member `m` of the line `text` (indexed in `quotes`): read without unescaping when
/// it is the usual flat object in a string, else as [`meta`] reads it; `None` (decline) where the general path
/// reads it another way.
pub(super) fn labels_of(text: &str, m: Raw<'_>, quotes: &Quotes, labels: &mut Labels) -> Option<()> {
    let (first, text_start) = (labels.spans.len(), labels.text.len());
    let at = m.get().as_ptr() as usize - text.as_ptr() as usize;
    if escaped_meta(text, at, m.get().len(), quotes, labels).is_none() {
        labels.spans.truncate(first);
        labels.text.truncate(text_start);
        meta(m, labels)?;
    }
    Some(())
}

/// The labels of a `metadata` string (at `text[at..at + len]`, quotes included) read without unescaping it, in
/// the common case: an object of flat labels whose only escapes are the `\"` around its keys and string values,
/// spaces as the only white space — `"{\"tenant\": \"acme\", \"n\": 5}"`. It gives the labels [`meta`] gives
/// for such a string; `None` for anything else — another kind of value, another shape of string — which [`meta`]
/// reads (`labels` may then hold part of it).
fn escaped_meta(text: &str, at: usize, len: usize, quotes: &Quotes, labels: &mut Labels) -> Option<()> {
    let b = text.as_bytes();
    if len < 2 || b[at] != b'"' {
        return None; // not a string: an object, or an array whose first element could pass for one
    }
    // The string's contents: `b[at + 1..close]`.
    let close = at + len - 1;
    let spaces = |mut i: usize| {
        while b[i] == b' ' {
            i += 1;
        }
        i
    };
    // A `\"`-quoted text without backslashes starting at `i`: its end (the backslash closing it).
    let quoted = |i: usize| -> Option<usize> {
        if b[i] != b'\\' || b[i + 1] != b'"' {
            return None;
        }
        let end = quotes.backslash(i + 2).filter(|&e| e + 1 < close)?;
        (b[end + 1] == b'"').then_some(end)
    };
    let mut i = spaces(at + 1);
    if b[i] != b'{' {
        return None;
    }
    i = spaces(i + 1);
    if b[i] == b'}' {
        return (spaces(i + 1) == close).then_some(());
    }
    loop {
        let key_end = quoted(i)?;
        let key = &text[i + 2..key_end];
        i = spaces(key_end + 2);
        if b[i] != b':' {
            return None;
        }
        i = spaces(i + 1);
        let value = if b[i] == b'\\' {
            let end = quoted(i)?;
            let value = &text[i + 2..end];
            i = end + 2;
            Some(value)
        } else {
            let end = i + b[i..close].iter().position(|c| !matches!(c, b'-' | b'0'..=b'9' | b'a'..=b'z'))?;
            let word = &text[i..end];
            i = end;
            match word {
                "null" => None,
                "true" | "false" => Some(word),
                _ => Some(int_text(word)?),
            }
        };
        if let Some(value) = value {
            add(labels, key, value)?;
        }
        i = spaces(i);
        match b[i] {
            b',' => i = spaces(i + 1),
            b'}' => return (spaces(i + 1) == close).then_some(()),
            _ => return None,
        }
    }
}

/// `Some` when no label from `first` on repeats a key: a repeated label's last value wins in the general path
/// (and moves); the lanes decline it.
pub(super) fn unique_since(labels: &Labels, first: usize) -> Option<()> {
    let mine = &labels.spans[first..];
    let repeated =
        mine.iter().enumerate().any(|(i, a)| mine[..i].iter().any(|b| labels.get(b.key) == labels.get(a.key)));
    (!repeated).then_some(())
}

pub(super) fn add(labels: &mut Labels, key: &str, value: &str) -> Option<()> {
    let key = labels.push(key)?;
    let value = labels.push(value)?;
    labels.spans.push(Label { key, value });
    Some(())
}

/// The labels of a `metadata` member: an object, or a JSON string holding one (as the Logs API gives it), of flat
/// values. `None` (decline) for what the general path reads another way: nested objects, escaped strings inside,
/// fractional numbers, a value that is not an object.
fn meta(raw: Raw<'_>, labels: &mut Labels) -> Option<()> {
    let start = labels.text.len();
    match kind(raw) {
        Kind::String => {
            let t = raw.get();
            if !json::unescape_into(&t[1..t.len() - 1], &mut labels.text) {
                return None;
            }
            // An empty string gives no labels; other text that is not an object is the general path's reject.
            let inner = labels.text[start..].trim_start();
            if inner.is_empty() {
                return Some(());
            }
            if !inner.starts_with('{') {
                return None;
            }
        }
        Kind::Object => labels.text.push_str(raw.get()),
        _ => return None,
    }
    // Spans are `u32`s: a chunk's labels past 4 GB go the general path.
    u32::try_from(labels.text.len()).ok()?;
    let first = labels.spans.len();
    let text = std::mem::take(&mut labels.text);
    let spans = &mut labels.spans;
    let mut ok = true;
    let parsed = json::for_each_member(&text[start..], |key, value| {
        let span = |s: &str| {
            let at = s.as_ptr() as usize - text.as_ptr() as usize;
            (at as u32, (at + s.len()) as u32)
        };
        match (key, label_text(value)) {
            (Cow::Borrowed(k), Some(Some(v))) => spans.push(Label { key: span(k), value: span(v) }),
            (Cow::Borrowed(_), Some(None)) => {} // null: no label
            _ => ok = false,                     // an escaped key, or a value read another way
        }
        ok
    });
    labels.text = text;
    // Text that does not parse as an object is the general path's reject.
    if parsed != Ok(true) {
        labels.spans.truncate(first);
        return None;
    }
    ok.then_some(())
}

/// A label's text as the general path prints it: `Some(None)` for null (no label), `None` (decline) for a value
/// it reads another way (an escaped string, a fraction, a nested object).
fn label_text(value: Raw<'_>) -> Option<Option<&str>> {
    match kind(value) {
        Kind::Null => Some(None),
        Kind::String => plain(value, memchr::memchr(b'\\', value.get().as_bytes()).is_some()),
        Kind::Bool | Kind::Array => Some(Some(value.get())),
        Kind::Number => int_text(value.get()).map(Some),
        Kind::Object => None,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::Read as _;
    use std::sync::Arc;

    use super::super::groups::{Grouping, Groups};
    use super::super::pricer::price_items_in;
    use super::super::{Item, LedgerOptions, Text};
    use crate::prices::PriceBook;
    use crate::usage::Hints;

    /// One field of a Logs API item, written many ways: common, unusual and wrong.
    fn variants(field: &str) -> &'static [&'static str] {
        match field {
            "id" => &[r#""01J0001""#, r#""""#, "null", "7", r#""a\"b""#],
            "created_at" => &[
                r#""2025-08-05T07:41:12.788Z""#,
                r#""2025-08-05 07:41:12""#,
                "1754379672",
                "1754379672788",
                r#""1754379672""#,
                r#""yesterday""#,
                "null",
                r#""2019-01-01T00:00:00Z""#,
            ],
            "provider" => &[
                r#""openai""#,
                r#""OpenAI""#,
                r#""google-ai-studio""#,
                r#"" anthropic ""#,
                r#""""#,
                "null",
                r#""open\u0061i""#,
                r#""no-such-gateway""#,
            ],
            "model" => &[
                r#""gpt-4o""#,
                r#""gpt-4o-mini""#,
                r#""gemini-2.5-flash""#,
                r#""claude-sonnet-4-5""#,
                r#""no-such-model""#,
                r#""""#,
                "null",
                r#""gpt-4\u006f""#,
            ],
            "success" => &["true", "false", "null", r#""no""#],
            "status_code" => &["200", "429", r#""500""#, "null", "2e2"],
            "cached" => &["false", "true", "null", r#""true""#],
            "tokens_in" => &["1200", "0", "null", r#""35""#, "12.0", "-4", "1.5", r#""x""#, "18446744073709551615"],
            "tokens_out" => &["300", "0", "null", "7e2", "-1"],
            "cost" => &["0.0018345", "6e-05", r#""0.25""#, "null", r#""free""#, "0.1234567890123456789012"],
            "metadata" => &[
                r#""{\"tenant\": \"acme\", \"feature\": \"chat\"}""#,
                r#"{"tenant":"acme","conversation":"c1"}"#,
                r#""{\"tenant\": \"a\\\"b\"}""#,
                r#""{\"n\": 5, \"ok\": true, \"x\": null, \"tags\": [1,2]}""#,
                r#""{\"n\": 5.5}""#,
                r#""{\"n\": -0}""#,
                r#""{\"deep\": {\"a\": \"b\"}}""#,
                r#""{\"tenant\": \"a\", \"tenant\": \"b\"}""#,
                r#""{\"step\": \"s\"}""#,
                r#""not json""#,
                r#""{\"broken\": ""#,
                r#""""#,
                "null",
                "42",
                r#"["a"]"#,
                r#""{\"t\u00e9\": \"\u00e9\"}""#,
                "[{}]",
                r#"[ {} ]"#,
                r#"[{"a":"b"}]"#,
            ],
            "step" => &["0", "3", "-1", r#""2""#, "2.5", "null", "true", "007"],
            "custom_cost" => &["false", "true", "null"],
            "duration" => &["812", "0", "null", "1.5", "-3", r#""40""#, r#""x""#, "1e3", "-0"],
            "path" => &[r#""chat/completions""#, r#""""#, "null", "5", r#""a\/b""#],
            _ => &[],
        }
    }

    /// Random Logs API items (and lines that only look like them): each field absent, common, unusual or wrong;
    /// sometimes an extra member, a repeated or escaped key, another format's key, or broken JSON.
    fn random_lines(n: usize, seed: u64) -> Vec<String> {
        let mut next = crate::testing::below(seed);
        (0..n)
            .map(|_| {
                let mut members = Vec::new();
                for f in super::KEYS {
                    let vs = variants(f);
                    // Mostly the common value, so whole lines often take the lane.
                    match next(10) {
                        0 => {}
                        1..=6 => members.push(format!("\"{f}\":{}", vs[0])),
                        _ => members.push(format!("\"{f}\":{}", vs[next(vs.len())])),
                    }
                }
                match next(24) {
                    0 => members.push(r#""tokens_in":5"#.into()),
                    1 => members.push(r#""ResponseBody":"{}""#.into()),
                    2 => members.push(r#""Gateway":"g","Model":"gpt-4o""#.into()),
                    3 => members.push(r#""result":[]"#.into()),
                    4 => members.push(r#""tok\u0065ns_out":9"#.into()),
                    5 => members.push(r#""request_head":"{\"a\": [1, {\"b\": \"\\\"\"}]}""#.into()),
                    6 => members.push(r#""extra":{"nested":[1,2,{"x":"}"}]}"#.into()),
                    _ => {}
                }
                let line = format!("{{{}}}", members.join(","));
                match next(40) {
                    0 => format!("  {line}\t"),
                    1 => format!("{line} x"),
                    2 => line[..line.len() / 2].to_string(),
                    _ => line,
                }
            })
            .collect()
    }

    /// Prices `lines` with and without the lanes: the priced lines and the rejects must be the same, column for
    /// column; returns how many lines the lanes read (this one or the Logpush lane).
    pub(in crate::ledger) fn assert_lanes_agree(book: &Arc<PriceBook>, lines: &[Vec<u8>]) -> usize {
        let items: Vec<Item<'_>> =
            lines.iter().enumerate().map(|(i, l)| (i as u64 + 1, Text::Record(l.as_slice()))).collect();
        let opts = LedgerOptions { threads: Some(1), ..Default::default() };
        let hints = Hints::default();
        let (fast, n_fast) = price_items_in(book, "logs", &items, &hints, &opts, true, None).unwrap();
        let (general, n_general) = price_items_in(book, "logs", &items, &hints, &opts, false, None).unwrap();
        assert_eq!(n_fast, n_general);
        assert_eq!(fast.len(), general.len());
        for ((fp, fr), (gp, gr)) in fast.iter().zip(&general) {
            let (fp, gp) = (fp.as_ref().unwrap(), gp.as_ref().unwrap());
            assert_eq!(fp.schema(), gp.schema());
            for (i, f) in fp.schema().fields().iter().enumerate() {
                assert_eq!(fp.column(i).as_ref(), gp.column(i).as_ref(), "column {}", f.name());
            }
            assert_eq!(fr, gr);
        }
        // Totals by labels, fixed columns and period, in a zone with daylight saving time: the same both ways.
        let keys: Vec<String> = ["tenant", "model", "status", "priced_model", "step"].map(String::from).into();
        let grouping = Grouping::new(&keys, Some("week"), "America/New_York").unwrap();
        let totals = |lane: bool| {
            let mut groups = Groups::default();
            let (rejects, n) =
                price_items_in(book, "logs", &items, &hints, &opts, lane, Some((&grouping, &mut groups))).unwrap();
            (groups.batch(&grouping).map_err(|e| e.to_string()), rejects, n)
        };
        let (fast_totals, general_totals) = (totals(true), totals(false));
        assert_eq!(fast_totals.0, general_totals.0);
        if lines.len() > 100 {
            assert!(
                fast_totals.0.as_ref().is_ok_and(|b| b.num_rows() > 10),
                "{:?}",
                fast_totals.0.map(|b| b.num_rows())
            );
        }
        assert_eq!(fast_totals.2, n_fast);
        // The same rejects (in chunks of another size): line, reason and excerpt, in order.
        let rows = |batches: Vec<&arrow_array::RecordBatch>| -> Vec<(i64, String, String)> {
            use arrow_array::cast::AsArray;
            use arrow_array::types::Int64Type;
            batches
                .iter()
                .flat_map(|b| {
                    let (line, reason, excerpt) = (
                        b.column(1).as_primitive::<Int64Type>(),
                        b.column(2).as_string::<i32>(),
                        b.column(3).as_string::<i32>(),
                    );
                    (0..b.num_rows())
                        .map(|i| (line.value(i), reason.value(i).to_string(), excerpt.value(i).to_string()))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let general_rejects = rows(general.iter().map(|(_, r)| r).collect());
        assert_eq!(rows(fast_totals.1.iter().map(|(_, r)| r).collect()), general_rejects);
        assert_eq!(rows(general_totals.1.iter().map(|(_, r)| r).collect()), general_rejects);
        let (mut labels, mut quotes, mut body) = (super::Labels::default(), super::Quotes::default(), String::new());
        let mut read = |l: &[u8]| match super::read(l, &mut labels, &mut quotes) {
            Ok(_) => true,
            Err(super::Declined::Logpush) => {
                super::super::logpush::read(l, &mut labels, &mut quotes, &mut body).is_some()
            }
            Err(super::Declined::General) => false,
        };
        lines.iter().filter(|l| read(l)).count()
    }

    /// Metadata read without unescaping gives the labels that unescaping and parsing give: random label objects,
    /// written compact or with Python's spaces, with values of every kind, some cut short or changed, each held
    /// in a JSON string as the Logs API holds it.
    #[test]
    fn escaped_metadata_reads_as_unescaped() {
        let mut next = crate::testing::below(0x0000_ddba_11c0_ffee_u64);
        let keys = ["tenant", "feature", "conversation", "", "a b", "é", "t\"q", "n\\"];
        let values = [
            r#""acme""#,
            r#""""#,
            r#""c85320""#,
            r#""a\"b""#,
            r#""x\\y""#,
            r#""é""#,
            "5",
            "-12",
            "0",
            "-0",
            "007",
            "5.5",
            "1e3",
            "true",
            "false",
            "null",
            "[1, 2]",
            r#"{"a": "b"}"#,
            "nul",
            "9223372036854775808",
        ];
        // Metadata that is not a string is never read this way (`[{}]` once passed for an empty object).
        for other in ["[{}]", "[ {} ]", "{}", r#"{"a":"b"}"#, "5", "true"] {
            let line = format!(r#"{{"metadata":{other}}}"#);
            let mut quotes = super::Quotes::default();
            quotes.index(line.as_bytes());
            let mut labels = super::Labels::default();
            assert!(super::escaped_meta(&line, 12, other.len(), &quotes, &mut labels).is_none(), "{line}");
        }
        let (mut fast_read, mut tried) = (0, 0);
        for _ in 0..40_000 {
            let (colon, comma) = if next(2) == 0 { (":", ",") } else { (": ", ", ") };
            let members: Vec<String> = (0..next(5))
                .map(|_| {
                    let key = serde_json::to_string(keys[next(keys.len())]).unwrap();
                    format!("{key}{colon}{}", values[next(values.len())])
                })
                .collect();
            let mut inner = format!("{}{{{}}}{}", ["", " "][next(2)], members.join(comma), ["", " ", "\n"][next(3)]);
            match next(10) {
                0 => {
                    let mut cut = next(inner.len() + 1);
                    while !inner.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    inner.truncate(cut);
                }
                1 => inner = inner.replacen(':', " ", 1),
                2 => inner = format!("[{inner}]"),
                3 => inner.push_str(["}", " x", ","][next(3)]),
                _ => {}
            }
            let Ok(meta_string) = serde_json::to_string(&inner) else { continue };
            let line = format!(r#"{{"metadata":{meta_string}}}"#);
            let mut quotes = super::Quotes::default();
            quotes.index(line.as_bytes());
            let at = line.find(':').unwrap() + 1;
            let len = meta_string.len();
            let mut fast = super::Labels::default();
            tried += 1;
            if super::escaped_meta(&line, at, len, &quotes, &mut fast).is_none() {
                continue;
            }
            fast_read += 1;
            let mut slow = super::Labels::default();
            let raw = crate::json::parse_raw(&line[at..at + len]).unwrap();
            assert!(super::meta(raw, &mut slow).is_some(), "{line}");
            let texts = |l: &super::Labels| -> Vec<(String, String)> {
                l.spans.iter().map(|s| (l.get(s.key).to_string(), l.get(s.value).to_string())).collect()
            };
            assert_eq!(texts(&fast), texts(&slow), "{line}");
        }
        assert!(fast_read > tried / 10 && fast_read < tried * 9 / 10, "{fast_read} of {tried}");
    }

    /// `int_text` keeps exactly the texts an `i64` prints as.
    #[test]
    fn int_text_is_the_printed_form() {
        for t in [
            "0",
            "-0",
            "00",
            "007",
            "-07",
            "+7",
            "7",
            "-7",
            "120",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "1.0",
            "1e3",
            "",
            "-",
        ] {
            let printed = t.parse::<i64>().ok().map(|v| v.to_string());
            assert_eq!(super::int_text(t).is_some(), printed.as_deref() == Some(t), "{t}");
        }
    }

    #[test]
    fn key_of_is_the_place_in_keys() {
        use super::Key;
        for (i, k) in super::KEYS.iter().enumerate() {
            assert_eq!(super::key_of(k), Key::Read(i));
        }
        assert_eq!(super::key_of("ResponseBody"), Key::Logpush);
        assert_eq!(super::key_of("Timestamp"), Key::Logpush);
        assert_eq!(super::key_of("result"), Key::Decline);
        assert_eq!(super::first_key(br#"{ "Timestamp": 1}"#), Some("Timestamp"));
        assert_eq!(super::first_key(br#"{"a\"b": 1}"#), None);
        assert_eq!(super::first_key(b"{}"), None);
        assert_eq!(super::key_of("request_head"), Key::Other);
    }

    /// The fast lane prices exactly as the general path: random items with every field written every way (and
    /// lines that are not quite items), and the README's sample.
    #[test]
    fn fast_lane_equals_the_general_path() {
        let book = PriceBook::default_book();
        for seed in 1..=6u64 {
            let lines: Vec<Vec<u8>> = random_lines(3000, seed * 7919).into_iter().map(String::into_bytes).collect();
            let fast = assert_lanes_agree(&book, &lines);
            // Both lanes are exercised: most lines take the lane, many do not.
            assert!(fast > lines.len() / 10 && fast < lines.len() * 9 / 10, "{fast} of {} in the lane", lines.len());
        }
        // Not UTF-8, and empty objects.
        let odd = vec![b"{\"tokens_in\":1,\"model\":\"gpt-4o\",\"x\":\"\xff\"}".to_vec(), b"{}".to_vec()];
        assert_eq!(assert_lanes_agree(&book, &odd), 0);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/logs/gateway.jsonl.gz");
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
        let sample: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
        assert!(assert_lanes_agree(&book, &sample) > 1000);
    }
}
