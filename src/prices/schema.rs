//! The price files' schema: reading a provider's prices (TOML in `prices/`, or the same shape as JSON or a Python
//! dict) into plain definitions, with every rule checked and every error naming the file, the model and the field.
//! `prices/SCHEMA.md` documents the format; this is its implementation.
//!
//! Also compiled into `build.rs`, which validates the repository's price files with it before embedding them.
//! It depends only on `serde_json`, `rust_decimal` and `regex`.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::calendar::{format_moment, parse_instant, parse_time_of_day, parse_utc_offset};
use super::units::{unit_of_price_key, UNITS};

/// The service tiers every provider understands; providers may declare more (e.g. Anthropic's `fast`).
/// `ultrafast` is OpenAI's fastest tier (`service_tier: "ultrafast"`,
/// <https://developers.openai.com/api/docs/guides/ultrafast-mode>), sold for GPT-6 Astra and later models.
pub const TIER_VOCABULARY: [&str; 5] = ["standard", "batch", "flex", "priority", "ultrafast"];

/// How a model id is recognised.
#[derive(Clone, Debug, PartialEq)]
pub enum MatchRule {
    Equals(String),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    Regex(String),
    /// Every rule must match.
    All(Vec<MatchRule>),
}

/// A price: flat, or a long-context ladder where above a prompt size the whole request pays another price.
#[derive(Clone, Debug, PartialEq)]
pub enum PriceDef {
    Flat(Decimal),
    Tiered { base: Decimal, above: Vec<(u64, Decimal)> },
}

/// Prices by unit id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SheetDef {
    pub prices: BTreeMap<usize, PriceDef>,
}

/// A daily time window with its own prices (listed components replace the entry's).
#[derive(Clone, Debug, PartialEq)]
pub struct WindowDef {
    pub start_minute: u32,
    pub end_minute: u32,
    pub utc_offset_minutes: i32,
    /// The window's own date range (microseconds since the epoch; `until` exclusive).
    pub from: Option<i64>,
    pub until: Option<i64>,
    pub sheet: SheetDef,
}

/// One dated price entry; it holds from `from` (microseconds since the epoch) until the next entry's.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryDef {
    pub from: Option<i64>,
    /// When these prices were last checked against the source (not a price change: a check adds no entry).
    pub checked: Option<i64>,
    pub source: Option<String>,
    /// The date of the copy of the `source` page these prices were read from (not the day they were read).
    pub source_date: Option<i64>,
    /// Where the entry came from: `hand`, `genai-prices <version>`, `LiteLLM <version>`, or several joined by
    /// ` + ` (see [`check_origin`]). The repository's files must give it (`build.rs`); other books may not.
    pub origin: Option<String>,
    pub notes: Option<String>,
    pub sheet: SheetDef,
    /// Sheets for service tiers (listed components replace the standard ones).
    pub tiers: BTreeMap<String, SheetDef>,
    pub windows: Vec<WindowDef>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelDef {
    pub id: String,
    pub name: Option<String>,
    pub matches: Vec<MatchRule>,
    pub context_window: Option<u64>,
    pub deprecated: bool,
    pub notes: Option<String>,
    pub entries: Vec<EntryDef>,
}

/// How a service tier is priced where an entry has no sheet for it.
#[derive(Clone, Debug, PartialEq)]
pub enum TierRule {
    /// Every price of the standard sheet times this.
    Multiplier(Decimal),
    /// Priced as another tier (OpenAI's flex uses the batch sheet).
    SameAs(String),
    /// Only explicit sheets (no rule).
    SheetOnly,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RegionDef {
    pub name: String,
    pub multiplier: Decimal,
    pub from: Option<i64>,
    pub until: Option<i64>,
    /// Models it applies to (empty: all of the provider's).
    pub models: Vec<MatchRule>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderDef {
    pub id: String,
    pub name: String,
    pub pricing_urls: Vec<String>,
    /// Other names logs use for this provider (`azure_openai`, `bedrock`, `vertex_ai`).
    pub aliases: Vec<String>,
    /// Model ids this provider is the first party for (used when no provider is given).
    pub owns: Vec<MatchRule>,
    /// Prefixes that logs put before this provider's model ids, removed before matching.
    pub id_prefixes: Vec<String>,
    /// Providers whose prices apply to a model this one does not list (Azure hosts OpenAI's models), in order.
    pub fallbacks: Vec<String>,
    pub notes: Option<String>,
    /// Provider words for tiers → tier names (`default` → `standard`).
    pub tier_aliases: BTreeMap<String, String>,
    pub tier_rules: BTreeMap<String, TierRule>,
    pub regions: Vec<RegionDef>,
    pub models: Vec<ModelDef>,
    /// Where this definition came from (a file name), for messages.
    pub origin: String,
}

/// A validation error: where (origin and path) and what.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaError {
    pub origin: String,
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.path, self.message)
        }
    }
}

type R<T> = Result<T, SchemaError>;

struct Ctx<'a> {
    origin: &'a str,
    /// Whether regex rules are compiled to check them (not for the embedded book, which the build checked).
    compile_regexes: bool,
}

impl Ctx<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> SchemaError {
        SchemaError { origin: self.origin.to_string(), path: path.to_string(), message: message.into() }
    }

    fn object<'v>(&self, v: &'v Value, path: &str) -> R<&'v Map<String, Value>> {
        v.as_object().ok_or_else(|| self.err(path, format!("expected a table, found {}", kind(v))))
    }

    fn check_keys(&self, obj: &Map<String, Value>, path: &str, allowed: &[&str]) -> R<()> {
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(self.err(path, format!("unknown key {key:?}; expected one of: {}", allowed.join(", "))));
            }
        }
        Ok(())
    }

    fn string(&self, obj: &Map<String, Value>, key: &str, path: &str) -> R<Option<String>> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.err(&join(path, key), format!("expected a string, found {}", kind(other)))),
        }
    }

    fn required_string(&self, obj: &Map<String, Value>, key: &str, path: &str) -> R<String> {
        self.string(obj, key, path)?.ok_or_else(|| self.err(path, format!("missing {key:?}")))
    }

    fn strings(&self, obj: &Map<String, Value>, key: &str, path: &str) -> R<Vec<String>> {
        match obj.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        self.err(&format!("{}[{i}]", join(path, key)), format!("expected a string, found {}", kind(v)))
                    })
                })
                .collect(),
            Some(other) => {
                Err(self.err(&join(path, key), format!("expected a list of strings, found {}", kind(other))))
            }
        }
    }

    /// A date (`2025-06-10`, midnight UTC) or a date-time (`2025-09-05T16:00:00Z`), as microseconds since the epoch.
    fn instant(&self, obj: &Map<String, Value>, key: &str, path: &str) -> R<Option<i64>> {
        self.string(obj, key, path)?.map(|s| parse_instant(&s).map_err(|e| self.err(&join(path, key), e))).transpose()
    }

    fn decimal(&self, v: &Value, path: &str) -> R<Decimal> {
        // Strings keep every digit; a bare number in JSON/TOML would have gone through a float.
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            other => {
                return Err(self.err(
                    path,
                    format!("expected a decimal string such as \"2.50\" (not a float), found {}", describe(other)),
                ))
            }
        };
        let d = Decimal::from_str_exact(text.trim())
            .map_err(|_| self.err(path, format!("{text:?} is not a decimal number")))?;
        if d.is_sign_negative() && !d.is_zero() {
            return Err(self.err(path, format!("{text} is negative; prices are never negative")));
        }
        Ok(d)
    }

    fn price(&self, v: &Value, path: &str) -> R<PriceDef> {
        match v {
            Value::Object(obj) => {
                self.check_keys(obj, path, &["base", "above"])?;
                let base = self
                    .decimal(obj.get("base").ok_or_else(|| self.err(path, "missing \"base\""))?, &join(path, "base"))?;
                let steps = match obj.get("above") {
                    Some(Value::Array(items)) => items,
                    _ => return Err(self.err(path, "a tiered price needs \"above\": a list of {tokens, price}")),
                };
                let mut above = Vec::new();
                for (i, step) in steps.iter().enumerate() {
                    let p = format!("{path}.above[{i}]");
                    let s = self.object(step, &p)?;
                    self.check_keys(s, &p, &["tokens", "price"])?;
                    let tokens = s.get("tokens").and_then(Value::as_u64).filter(|t| *t > 0).ok_or_else(|| {
                        self.err(
                            &p,
                            "\"tokens\" must be a positive whole number (the prompt size above which it applies)",
                        )
                    })?;
                    let price = self.decimal(
                        s.get("price").ok_or_else(|| self.err(&p, "missing \"price\""))?,
                        &join(&p, "price"),
                    )?;
                    if let Some((last, _)) = above.last() {
                        if tokens <= *last {
                            return Err(self.err(&p, format!("thresholds must increase: {tokens} after {last}")));
                        }
                    }
                    above.push((tokens, price));
                }
                if above.is_empty() {
                    return Err(self.err(path, "a tiered price needs at least one step in \"above\""));
                }
                Ok(PriceDef::Tiered { base, above })
            }
            other => Ok(PriceDef::Flat(self.decimal(other, path)?)),
        }
    }

    /// Reads the price keys of `obj` into a sheet; other keys must be in `extra`.
    fn sheet(&self, obj: &Map<String, Value>, path: &str, extra: &[&str]) -> R<SheetDef> {
        let mut sheet = SheetDef::default();
        for (key, value) in obj {
            if extra.contains(&key.as_str()) {
                continue;
            }
            let unit = unit_of_price_key(key).ok_or_else(|| {
                let keys: Vec<&str> = UNITS.iter().map(|u| u.price_key).collect();
                self.err(
                    path,
                    format!(
                        "unknown key {key:?}; price keys are: {}; other keys here: {}",
                        keys.join(", "),
                        extra.join(", ")
                    ),
                )
            })?;
            sheet.prices.insert(unit, self.price(value, &join(path, key))?);
        }
        Ok(sheet)
    }

    fn match_rule(&self, v: &Value, path: &str) -> R<MatchRule> {
        match v {
            Value::String(s) if !s.is_empty() => Ok(MatchRule::Equals(s.clone())),
            Value::Object(obj) if obj.len() == 1 => {
                let (key, value) = obj.iter().next().unwrap();
                let p = join(path, key);
                if key == "all" {
                    let items = value.as_array().ok_or_else(|| self.err(&p, "\"all\" takes a list of rules"))?;
                    let rules = items.iter().enumerate().map(|(i, r)| self.match_rule(r, &format!("{p}[{i}]"))).collect::<R<Vec<_>>>()?;
                    return Ok(MatchRule::All(rules));
                }
                let text = value.as_str().filter(|s| !s.is_empty()).ok_or_else(|| self.err(&p, "expected a non-empty string"))?.to_string();
                match key.as_str() {
                    "equals" => Ok(MatchRule::Equals(text)),
                    "starts_with" => Ok(MatchRule::StartsWith(text)),
                    "ends_with" => Ok(MatchRule::EndsWith(text)),
                    "contains" => Ok(MatchRule::Contains(text)),
                    "regex" => {
                        if self.compile_regexes {
                            regex_rule(&text).map_err(|e| self.err(&p, format!("invalid regex: {e}")))?;
                        }
                        Ok(MatchRule::Regex(text))
                    }
                    other => Err(self.err(path, format!("unknown match rule {other:?}; use equals, starts_with, ends_with, contains, regex or all"))),
                }
            }
            other => Err(self.err(path, format!("a match rule is a model id string or a one-key table such as {{starts_with = \"gpt-4o-\"}}; found {}", describe(other)))),
        }
    }

    fn match_rules(&self, obj: &Map<String, Value>, key: &str, path: &str) -> R<Vec<MatchRule>> {
        match obj.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.match_rule(v, &format!("{}[{i}]", join(path, key))))
                .collect(),
            Some(other) => {
                Err(self.err(&join(path, key), format!("expected a list of match rules, found {}", kind(other))))
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("the number {n}"),
        other => kind(other).to_string(),
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn sheet_tier_names(provider_tiers: &BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<String> = TIER_VOCABULARY.iter().skip(1).map(|s| s.to_string()).collect();
    v.extend(provider_tiers.iter().filter(|t| !TIER_VOCABULARY.contains(&t.as_str())).cloned());
    v
}

fn entry(ctx: &Ctx, v: &Value, path: &str, tier_names: &[String]) -> R<EntryDef> {
    let obj = ctx.object(v, path)?;
    let mut extra: Vec<&str> = vec!["from", "checked", "source", "source_date", "origin", "notes", "windows"];
    extra.extend(tier_names.iter().map(String::as_str));
    let sheet = ctx.sheet(obj, path, &extra)?;
    let mut tiers = BTreeMap::new();
    for name in tier_names {
        if let Some(t) = obj.get(name) {
            let p = join(path, name);
            tiers.insert(name.clone(), ctx.sheet(ctx.object(t, &p)?, &p, &[])?);
        }
    }
    let mut windows = Vec::new();
    if let Some(w) = obj.get("windows") {
        let items = w.as_array().ok_or_else(|| ctx.err(&join(path, "windows"), "expected a list of windows"))?;
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}.windows[{i}]");
            let wo = ctx.object(item, &p)?;
            let start = ctx.required_string(wo, "start", &p)?;
            let end = ctx.required_string(wo, "end", &p)?;
            let offset = ctx.string(wo, "utc_offset", &p)?.unwrap_or_else(|| "UTC".into());
            let window = WindowDef {
                start_minute: parse_time_of_day(&start).map_err(|e| ctx.err(&join(&p, "start"), e))?,
                end_minute: parse_time_of_day(&end).map_err(|e| ctx.err(&join(&p, "end"), e))?,
                utc_offset_minutes: parse_utc_offset(&offset).map_err(|e| ctx.err(&join(&p, "utc_offset"), e))?,
                from: ctx.instant(wo, "from", &p)?,
                until: ctx.instant(wo, "until", &p)?,
                sheet: ctx.sheet(wo, &p, &["start", "end", "utc_offset", "from", "until"])?,
            };
            if window.start_minute == window.end_minute {
                return Err(ctx.err(&p, "a window's start and end must differ"));
            }
            if let (Some(f), Some(u)) = (window.from, window.until) {
                if u <= f {
                    return Err(ctx.err(
                        &p,
                        format!("\"until\" {} is not after \"from\" {}", format_moment(u), format_moment(f)),
                    ));
                }
            }
            if window.sheet.prices.is_empty() {
                return Err(ctx.err(&p, "a window needs at least one price"));
            }
            windows.push(window);
        }
    }
    // Windows that can be active at the same minute of the same day would make the price ambiguous.
    for (i, a) in windows.iter().enumerate() {
        for (j, b) in windows.iter().enumerate().skip(i + 1) {
            if windows_overlap(a, b) {
                return Err(ctx.err(path, format!("windows[{i}] and windows[{j}] overlap in time and dates")));
            }
        }
    }
    let origin = ctx.string(obj, "origin", path)?;
    if let Some(o) = &origin {
        check_origin(o).map_err(|m| ctx.err(&join(path, "origin"), m))?;
    }
    let source = ctx.string(obj, "source", path)?;
    let source_date = ctx.instant(obj, "source_date", path)?;
    // Prices written by hand are only as good as the page they were read from: name it and the copy's date.
    if origin.as_deref().is_some_and(|o| o.split(" + ").any(|part| part == "hand"))
        && (source.is_none() || source_date.is_none())
    {
        return Err(ctx.err(
            path,
            "an entry written by hand (origin \"hand\") needs \"source\" (the page) and \"source_date\" (the date \
             of the page copy its prices were read from)",
        ));
    }
    Ok(EntryDef {
        from: ctx.instant(obj, "from", path)?,
        checked: ctx.instant(obj, "checked", path)?,
        source,
        source_date,
        origin,
        notes: ctx.string(obj, "notes", path)?,
        sheet,
        tiers,
        windows,
    })
}

fn windows_overlap(a: &WindowDef, b: &WindowDef) -> bool {
    let dates_overlap = a.from.unwrap_or(i64::MIN) < b.until.unwrap_or(i64::MAX)
        && b.from.unwrap_or(i64::MIN) < a.until.unwrap_or(i64::MAX);
    if !dates_overlap {
        return false;
    }
    // Compare in UTC minutes of the day, sampling each minute (1,440 checks: simple and exact).
    let utc = |w: &WindowDef, m: u32| {
        let local = (m as i32 + w.utc_offset_minutes).rem_euclid(1440) as u32;
        super::calendar::in_window(local, w.start_minute, w.end_minute)
    };
    (0..1440).any(|m| utc(a, m) && utc(b, m))
}

fn model(ctx: &Ctx, v: &Value, path: &str, tier_names: &[String]) -> R<ModelDef> {
    let obj = ctx.object(v, path)?;
    ctx.check_keys(obj, path, &["id", "name", "match", "context_window", "deprecated", "notes", "prices"])?;
    let id = ctx.required_string(obj, "id", path)?;
    let path = &format!("{path} ({id})");
    let mut matches = ctx.match_rules(obj, "match", path)?;
    if matches.is_empty() {
        matches.push(MatchRule::Equals(id.clone()));
    }
    let context_window = match obj.get("context_window") {
        None => None,
        Some(v) => Some(
            v.as_u64().ok_or_else(|| ctx.err(&join(path, "context_window"), "expected a whole number of tokens"))?,
        ),
    };
    let deprecated = match obj.get("deprecated") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ctx.err(&join(path, "deprecated"), format!("expected true or false, found {}", kind(other))))
        }
    };
    let items = match obj.get("prices") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => return Err(ctx.err(path, "needs \"prices\": at least one price entry")),
    };
    let entries = items
        .iter()
        .enumerate()
        .map(|(i, e)| entry(ctx, e, &format!("{path}.prices[{i}]"), tier_names))
        .collect::<R<Vec<_>>>()?;
    // Dated entries: only the first may be open-ended to the past, and dates strictly increase (no overlaps).
    for (i, e) in entries.iter().enumerate() {
        match (i, e.from) {
            (0, _) => {}
            (_, None) => {
                return Err(ctx.err(&format!("{path}.prices[{i}]"), "only the first price entry may omit \"from\""))
            }
            (_, Some(day)) => {
                if let Some(prev) = entries[i - 1].from {
                    if day <= prev {
                        return Err(ctx.err(
                            &format!("{path}.prices[{i}]"),
                            format!("\"from\" {} is not after the previous entry's {}; entries must be in date order without overlaps", format_moment(day), format_moment(prev)),
                        ));
                    }
                }
            }
        }
    }
    // A dated entry is a price change: one that repeats the previous prices would report a change that never
    // happened (the day a price was checked goes to `checked`).
    for (i, pair) in entries.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        if a.sheet == b.sheet && a.windows == b.windows && a.tiers == b.tiers {
            return Err(ctx.err(
                &format!("{path}.prices[{}]", i + 1),
                "repeats the previous entry's prices; a new entry is only for a price change (record the date \
                 the price was checked as \"checked\" on the entry in force)",
            ));
        }
    }
    Ok(ModelDef {
        id,
        name: ctx.string(obj, "name", path)?,
        matches,
        context_window,
        deprecated,
        notes: ctx.string(obj, "notes", path)?,
        entries,
    })
}

/// Reads one provider's definition (the parsed content of `prices/<id>.toml`, or an equivalent dict).
pub fn provider_from_value(v: &Value, origin: &str) -> R<ProviderDef> {
    provider_from(v, origin, true)
}

/// [`provider_from_value`] for the embedded book's files, which the build read with it: their regex rules are not
/// compiled again (that took half of the book's loading).
pub fn provider_checked_at_build(v: &Value, origin: &str) -> R<ProviderDef> {
    provider_from(v, origin, false)
}

/// Checks an entry's `origin`: `hand`, `genai-prices <version>` or `LiteLLM <version>`, or several of them joined
/// by ` + ` (a genai-prices entry with a tier sheet from LiteLLM, or with a hand correction).
pub fn check_origin(origin: &str) -> Result<(), String> {
    for part in origin.split(" + ") {
        let ok = part == "hand"
            || ["genai-prices ", "LiteLLM "]
                .iter()
                .any(|p| part.strip_prefix(p).is_some_and(|v| !v.trim().is_empty() && v.trim() == v));
        if !ok {
            return Err(format!(
                "{origin:?} is not an origin; expected \"hand\", \"genai-prices <version>\" or \"LiteLLM <version>\", \
                 or several joined by \" + \""
            ));
        }
    }
    Ok(())
}

/// The first entry of `def` that does not say where it came from, as an error naming the model and the entry
/// (`build.rs` refuses to embed such a file).
pub fn missing_origin(def: &ProviderDef) -> Option<SchemaError> {
    for (mi, m) in def.models.iter().enumerate() {
        for (ei, e) in m.entries.iter().enumerate() {
            if e.origin.is_none() {
                return Some(SchemaError {
                    origin: def.origin.clone(),
                    path: format!("models[{mi}] ({}).prices[{ei}]", m.id),
                    message: "no \"origin\": say where these prices came from (\"hand\", \"genai-prices <version>\" \
                              or \"LiteLLM <version>\"; scripts/import_prices.py stamps it)"
                        .into(),
                });
            }
        }
    }
    None
}

/// Adds the line an error is about: of the model (`models[3] (gpt-4o)` → the line of `id = "gpt-4o"`), or of
/// its price entry (`models[3] (gpt-4o).prices[1]` → the second `[[models.prices]]` after it).
pub fn locate(e: &SchemaError, text: &str) -> String {
    let line = e.path.split_once(" (").and_then(|(_, rest)| rest.split_once(')')).and_then(|(id, after)| {
        let needle = format!("id = \"{id}\"");
        let model = text.lines().position(|l| l.trim() == needle)?;
        let entry = after.strip_prefix(".prices[").and_then(|r| r.split_once(']')).and_then(|(n, _)| n.parse().ok());
        match entry {
            None => Some(model + 1),
            Some(n) => text
                .lines()
                .enumerate()
                .skip(model)
                .filter(|(_, l)| l.trim() == "[[models.prices]]")
                .nth(n)
                .map(|(i, _)| i + 1),
        }
    });
    match line {
        Some(n) => format!("{}:{n}: {}: {}", e.origin, e.path, e.message),
        None => e.to_string(),
    }
}

/// The compiled form of a `regex` match rule (case-insensitive, as model ids are matched): what the book runs.
pub fn regex_rule(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern).case_insensitive(true).build()
}

/// The keys of a provider's definition, in the order files write them.
pub const PROVIDER_KEYS: &[&str] = &[
    "schema",
    "id",
    "name",
    "pricing_urls",
    "aliases",
    "owns",
    "id_prefixes",
    "fallbacks",
    "notes",
    "service_tiers",
    "regions",
    "models",
];

fn provider_from(v: &Value, origin: &str, compile_regexes: bool) -> R<ProviderDef> {
    let ctx = Ctx { origin, compile_regexes };
    let obj = ctx.object(v, "")?;
    ctx.check_keys(obj, "", PROVIDER_KEYS)?;
    match obj.get("schema").and_then(Value::as_u64) {
        Some(1) => {}
        _ => return Err(ctx.err("schema", "expected schema = 1")),
    }
    let id = ctx.required_string(obj, "id", "")?;
    if !valid_id(&id) {
        return Err(ctx.err("id", format!("{id:?}: provider ids are lower case letters, digits, - and _")));
    }
    let mut tier_aliases = BTreeMap::new();
    let mut tier_rules = BTreeMap::new();
    if let Some(st) = obj.get("service_tiers") {
        let st = ctx.object(st, "service_tiers")?;
        for (key, value) in st {
            let p = join("service_tiers", key);
            if key == "aliases" {
                for (alias, target) in ctx.object(value, &p)? {
                    let target = target.as_str().ok_or_else(|| ctx.err(&join(&p, alias), "expected a tier name"))?;
                    tier_aliases.insert(alias.clone(), target.to_string());
                }
                continue;
            }
            if key == "standard" {
                return Err(ctx.err(&p, "the standard tier is the entry's own prices; it takes no rule"));
            }
            let rule = ctx.object(value, &p)?;
            ctx.check_keys(rule, &p, &["multiplier", "same_as"])?;
            let parsed = match (rule.get("multiplier"), rule.get("same_as")) {
                (Some(m), None) => TierRule::Multiplier(ctx.decimal(m, &join(&p, "multiplier"))?),
                (None, Some(Value::String(s))) => TierRule::SameAs(s.clone()),
                (None, None) => TierRule::SheetOnly,
                _ => return Err(ctx.err(&p, "give either \"multiplier\" or \"same_as\" (a tier name), not both")),
            };
            tier_rules.insert(key.clone(), parsed);
        }
    }
    let declared: BTreeSet<String> = tier_rules.keys().cloned().collect();
    let tier_names = sheet_tier_names(&declared);
    let known_tiers: Vec<String> = std::iter::once("standard".to_string()).chain(tier_names.iter().cloned()).collect();
    for (alias, target) in &tier_aliases {
        if !known_tiers.contains(target) {
            return Err(ctx.err(
                &join("service_tiers.aliases", alias),
                format!("{target:?} is not a tier; tiers: {}", known_tiers.join(", ")),
            ));
        }
    }
    for (name, rule) in &tier_rules {
        if let TierRule::SameAs(target) = rule {
            if !known_tiers.contains(target) || target == name {
                return Err(ctx.err(&join("service_tiers", name), format!("same_as {target:?} is not another tier")));
            }
        }
    }
    let mut regions = Vec::new();
    if let Some(r) = obj.get("regions") {
        for (name, value) in ctx.object(r, "regions")? {
            let p = join("regions", name);
            let ro = ctx.object(value, &p)?;
            ctx.check_keys(ro, &p, &["multiplier", "from", "until", "models"])?;
            regions.push(RegionDef {
                name: name.clone(),
                multiplier: ctx.decimal(
                    ro.get("multiplier").ok_or_else(|| ctx.err(&p, "missing \"multiplier\""))?,
                    &join(&p, "multiplier"),
                )?,
                from: ctx.instant(ro, "from", &p)?,
                until: ctx.instant(ro, "until", &p)?,
                models: ctx.match_rules(ro, "models", &p)?,
            });
        }
    }
    let models = match obj.get("models") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, m)| model(&ctx, m, &format!("models[{i}]"), &tier_names))
            .collect::<R<Vec<_>>>()?,
        Some(other) => return Err(ctx.err("models", format!("expected a list of models, found {}", kind(other)))),
    };
    // Every model id and exact alias is unique within the provider.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for m in &models {
        for rule in m.matches.iter().chain(std::iter::once(&MatchRule::Equals(m.id.clone()))) {
            if let MatchRule::Equals(s) = rule {
                let key = s.to_ascii_lowercase();
                if let Some(other) = seen.get(&key) {
                    if other != &m.id {
                        return Err(ctx.err(
                            &format!("models ({})", m.id),
                            format!("{s:?} also names model {other:?}; every alias must be unique"),
                        ));
                    }
                }
                seen.insert(key, m.id.clone());
            }
        }
    }
    Ok(ProviderDef {
        name: ctx.string(obj, "name", "")?.unwrap_or_else(|| id.clone()),
        pricing_urls: ctx.strings(obj, "pricing_urls", "")?,
        aliases: ctx.strings(obj, "aliases", "")?,
        owns: ctx.match_rules(obj, "owns", "")?,
        id_prefixes: ctx.strings(obj, "id_prefixes", "")?,
        fallbacks: ctx.strings(obj, "fallbacks", "")?,
        notes: ctx.string(obj, "notes", "")?,
        tier_aliases,
        tier_rules,
        regions,
        models,
        origin: origin.to_string(),
        id,
    })
}

/// Checks rules that span providers: provider ids and aliases are unique across the book, and fallbacks name
/// other providers of the book.
pub fn check_book(providers: &[ProviderDef]) -> R<()> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for p in providers {
        for name in std::iter::once(&p.id).chain(p.aliases.iter()) {
            let key = name.to_ascii_lowercase();
            if let Some(other) = names.insert(key, p.id.clone()) {
                return Err(SchemaError {
                    origin: p.origin.clone(),
                    path: "aliases".into(),
                    message: format!("{name:?} already names provider {other:?}"),
                });
            }
        }
    }
    for p in providers {
        for f in &p.fallbacks {
            if f.eq_ignore_ascii_case(&p.id) || !providers.iter().any(|o| o.id.eq_ignore_ascii_case(f)) {
                return Err(SchemaError {
                    origin: p.origin.clone(),
                    path: "fallbacks".into(),
                    message: format!("{f:?} is not another provider id of the book"),
                });
            }
        }
    }
    Ok(())
}

/// Changes layered over a book: negotiated discounts and added or replaced providers and models.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OverridesDef {
    /// (`provider` or `provider/model`, multiplier): 0.8 is 20% off.
    pub discounts: Vec<(String, Decimal)>,
    /// Provider definitions in the price-file schema (`schema` may be omitted). An existing provider id merges:
    /// models with the same id replace the book's, new ones are added, and given tier rules or regions replace.
    pub providers: Vec<ProviderDef>,
}

/// Reads overrides: `{"discounts": {"openai": "0.8", "openai/gpt-4o": "0.7"}, "providers": [{...}]}`.
pub fn overrides_from_value(v: &Value, origin: &str) -> R<OverridesDef> {
    let ctx = Ctx { origin, compile_regexes: true };
    let obj = ctx.object(v, "")?;
    ctx.check_keys(obj, "", &["discounts", "providers"])?;
    let mut out = OverridesDef::default();
    if let Some(d) = obj.get("discounts") {
        for (target, m) in ctx.object(d, "discounts")? {
            out.discounts.push((target.clone(), ctx.decimal(m, &join("discounts", target))?));
        }
    }
    if let Some(p) = obj.get("providers") {
        let items = p.as_array().ok_or_else(|| ctx.err("providers", "expected a list of provider definitions"))?;
        for (i, item) in items.iter().enumerate() {
            let mut item = item.clone();
            if let Some(o) = item.as_object_mut() {
                o.entry("schema").or_insert(Value::from(1));
            }
            let origin = format!("{origin}: providers[{i}]");
            out.providers.push(provider_from_value(&item, &origin)?);
        }
    }
    Ok(out)
}

/// Merges an override provider into a book provider of the same id.
pub fn merge_provider(base: &mut ProviderDef, over: ProviderDef) {
    for m in over.models {
        match base.models.iter_mut().find(|x| x.id == m.id) {
            Some(existing) => *existing = m,
            None => base.models.push(m),
        }
    }
    if !over.tier_rules.is_empty() {
        base.tier_rules = over.tier_rules;
    }
    base.tier_aliases.extend(over.tier_aliases);
    if !over.regions.is_empty() {
        base.regions = over.regions;
    }
    base.aliases.extend(over.aliases.into_iter().filter(|a| a != &base.id));
    base.aliases.sort();
    base.aliases.dedup();
    base.owns.extend(over.owns);
    base.id_prefixes.extend(over.id_prefixes);
}
