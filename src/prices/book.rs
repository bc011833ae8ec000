//! The compiled price book: providers and models with their dated prices, model-name resolution, and the one
//! place a price is chosen ([`PriceBook::sheet_for`]): the entry in force on the day, the time-of-day window, the
//! service tier by the provider's stacking rule, the region and any negotiated discount.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use super::calendar::{format_moment, in_window, minute_of_day};
use super::schema::{self, EntryDef, MatchRule, PriceDef, ProviderDef, TierRule, TIER_VOCABULARY};
use super::units::{Dim, LeafPlan, N_UNITS, UNITS};
use crate::error::{Error, Result};
use crate::fork::{PerProcess, RaceCell};
use crate::money::Factor;

/// A compiled match rule (case-insensitive).
#[derive(Debug)]
enum Matcher {
    Equals(String),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    /// Compiled when the book is made, or, in the embedded book, when first needed: most names are found by their
    /// exact id, and compiling every rule took a third of the book's loading. The build compiled each of those
    /// patterns the same way ([`schema::regex_rule`]), so they compile. A [`RaceCell`], not a `OnceLock`: a
    /// child forked while another thread compiles it must not wait for that thread.
    Regex(String, RaceCell<Option<regex::Regex>>),
    All(Vec<Matcher>),
}

impl Matcher {
    /// `lazy`: regex rules are compiled when first needed (only for rules the build checked).
    fn new(rule: &MatchRule, lazy: bool) -> Result<Matcher> {
        Ok(match rule {
            MatchRule::Equals(s) => Matcher::Equals(s.to_ascii_lowercase()),
            MatchRule::StartsWith(s) => Matcher::StartsWith(s.to_ascii_lowercase()),
            MatchRule::EndsWith(s) => Matcher::EndsWith(s.to_ascii_lowercase()),
            MatchRule::Contains(s) => Matcher::Contains(s.to_ascii_lowercase()),
            MatchRule::Regex(r) if lazy => Matcher::Regex(r.clone(), RaceCell::new()),
            MatchRule::Regex(r) => {
                let compiled = schema::regex_rule(r).map_err(|e| Error::PriceBook(format!("regex {r:?}: {e}")))?;
                Matcher::Regex(r.clone(), RaceCell::with(Some(compiled)))
            }
            MatchRule::All(rules) => Matcher::All(rules.iter().map(|r| Matcher::new(r, lazy)).collect::<Result<_>>()?),
        })
    }

    /// `lower` is already lower case.
    fn matches(&self, lower: &str) -> bool {
        match self {
            Matcher::Equals(s) => lower == s,
            Matcher::StartsWith(s) => lower.starts_with(s.as_str()),
            Matcher::EndsWith(s) => lower.ends_with(s.as_str()),
            Matcher::Contains(s) => lower.contains(s.as_str()),
            Matcher::Regex(pattern, compiled) => {
                compiled.get_or_init(|| schema::regex_rule(pattern).ok()).as_ref().is_some_and(|r| r.is_match(lower))
            }
            Matcher::All(rules) => rules.iter().all(|m| m.matches(lower)),
        }
    }
}

#[derive(Debug)]
pub struct Region {
    pub name: String,
    pub multiplier: Decimal,
    pub from: Option<i64>,
    pub until: Option<i64>,
    models: Vec<Matcher>,
}

#[derive(Debug)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub pricing_urls: Vec<String>,
    pub aliases: Vec<String>,
    pub id_prefixes: Vec<String>,
    /// Providers (indexes) whose prices apply to a model this one does not list, in order.
    pub fallbacks: Vec<usize>,
    pub notes: Option<String>,
    pub tier_aliases: BTreeMap<String, String>,
    pub tier_rules: BTreeMap<String, TierRule>,
    pub regions: Vec<Region>,
    /// A negotiated discount on everything this provider charges (1 = none).
    pub multiplier: Decimal,
    pub origin: String,
}

impl Provider {
    /// Tier names this provider prices, the vocabulary's and its own.
    pub fn tier_names(&self) -> Vec<String> {
        let mut names: Vec<String> = TIER_VOCABULARY.iter().map(|s| s.to_string()).collect();
        names.extend(self.tier_rules.keys().filter(|k| !TIER_VOCABULARY.contains(&k.as_str())).cloned());
        names
    }

    /// The tier a caller's word means here (`default` → `standard` for OpenAI), or an error naming the choices.
    pub fn canonical_tier(&self, tier: &str) -> Result<String> {
        let t = tier.trim().to_ascii_lowercase();
        let t = self.tier_aliases.get(&t).cloned().unwrap_or(t);
        let names = self.tier_names();
        if names.contains(&t) {
            Ok(t)
        } else {
            let mut known = names;
            known.extend(self.tier_aliases.keys().cloned());
            Err(Error::UnknownOption {
                what: "service tier".into(),
                name: tier.into(),
                provider: self.id.clone(),
                known,
            })
        }
    }
}

/// A dated price entry as its file gives it (the book adds nothing to it).
pub type Entry = EntryDef;

#[derive(Debug)]
pub struct Model {
    pub provider: usize,
    pub id: String,
    pub name: String,
    pub context_window: Option<u64>,
    pub deprecated: bool,
    pub notes: Option<String>,
    pub entries: Vec<Entry>,
    /// A negotiated discount for this model (1 = none).
    pub multiplier: Decimal,
}

/// One unit's price in an effective sheet: the base factor and the long-context steps.
#[derive(Clone, Debug, PartialEq)]
pub struct PricePoint {
    pub base: Factor,
    pub above: Vec<(u64, Factor)>,
}

impl PricePoint {
    /// The factor for a request with `prompt_tokens` input tokens, and the threshold crossed if any.
    /// As genai-prices and the providers: above a threshold the whole request pays that step's price.
    #[inline]
    pub fn at(&self, prompt_tokens: u64) -> (&Factor, Option<u64>) {
        for (threshold, f) in self.above.iter().rev() {
            if prompt_tokens > *threshold {
                return (f, Some(*threshold));
            }
        }
        (&self.base, None)
    }
}

/// The prices that apply to one request: everything resolved (entry, window, tier, region, discount).
#[derive(Debug)]
pub struct EffectiveSheet {
    pub prices: [Option<PricePoint>; N_UNITS],
    pub plan: LeafPlan,
    /// The same plan in a compact form for table pricing, when every price is a whole number of 10^-18 USD
    /// per unit (the common case; see `cost::compute_fast`).
    pub fast: Option<FastPlan>,
    pub model: usize,
    pub entry: usize,
    pub tier: String,
    pub window: Option<usize>,
    pub region: Option<String>,
    /// How this sheet was derived, in words (for `explain()`).
    pub derivation: Vec<String>,
}

/// One priced unit of a [`FastPlan`]: its descendants' positions and its price (with long-context steps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastStep {
    pub unit: usize,
    pub descendants: [u8; 8],
    pub n_descendants: u8,
    /// Price per unit in 10^-18 USD, then up to two (threshold, price) long-context steps.
    pub base: u64,
    pub above: [(u64, u64); 2],
    pub n_above: u8,
}

/// A [`LeafPlan`] with its prices inline: no allocation or option checks while pricing a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastPlan {
    pub steps: Vec<FastStep>,
}

impl FastPlan {
    fn new(plan: &LeafPlan, prices: &[Option<PricePoint>; N_UNITS]) -> Option<FastPlan> {
        let whole = |f: &Factor| (f.den == 1).then(|| u64::try_from(f.num).ok()).flatten();
        let mut steps = Vec::with_capacity(plan.steps.len());
        for (unit, descendants) in &plan.steps {
            let point = prices[*unit].as_ref()?;
            if descendants.len() > 8 || point.above.len() > 2 {
                return None;
            }
            let mut d = [0u8; 8];
            for (i, pos) in descendants.iter().enumerate() {
                d[i] = u8::try_from(*pos).ok()?;
            }
            let mut above = [(0u64, 0u64); 2];
            for (i, (t, f)) in point.above.iter().enumerate() {
                above[i] = (*t, whole(f)?);
            }
            steps.push(FastStep {
                unit: *unit,
                descendants: d,
                n_descendants: descendants.len() as u8,
                base: whole(&point.base)?,
                above,
                n_above: point.above.len() as u8,
            });
        }
        Some(FastPlan { steps })
    }
}

/// Where a resolution looked: (provider index, model index).
pub type ModelRef = usize;

#[derive(Hash, PartialEq, Eq, Clone)]
struct SheetKey {
    model: usize,
    entry: usize,
    tier: String,
    window: Option<usize>,
    region: Option<String>,
}

/// (provider name as given; model name as given).
type ResolveKey = (Option<String>, String);

/// A [`ResolveKey`] borrowed, to look one up without allocating (it hashes as the key does).
#[derive(Hash)]
struct NameRef<'a>(Option<&'a str>, &'a str);

impl hashbrown::Equivalent<ResolveKey> for NameRef<'_> {
    fn equivalent(&self, key: &ResolveKey) -> bool {
        self.1 == key.1 && self.0 == key.0.as_deref()
    }
}

/// Names remembered per book: enough for any real table; past it, new names are resolved each time they are met
/// (a table of a million distinct junk names must not grow the book without bound).
const MAX_CACHED_NAMES: usize = 1 << 16;

/// Why a name does not resolve: what its error needs, without the closest names (looked for only when the error
/// is shown, see [`Resolution`]).
#[derive(Clone, Debug)]
enum Miss {
    UnknownProvider(String),
    /// No model by this name at the provider given (its name as given and index), or at any provider.
    Unknown(Option<(String, usize)>),
    Ambiguous(Vec<String>),
}

/// One (provider, model) name's resolution, cached whole, misses included: the model, or why not. The closest
/// names and the message are made the first time the error is shown, once per name (never per row).
#[derive(Debug)]
pub struct Resolution {
    outcome: std::result::Result<ModelRef, Miss>,
    suggestions: RaceCell<Vec<String>>,
    message: RaceCell<Arc<str>>,
}

/// A book's caches of this process (see [`PerProcess`]: a forked child never waits on a lock its parent's
/// threads held).
#[derive(Default)]
struct Caches {
    resolved: RwLock<hashbrown::HashMap<ResolveKey, Arc<Resolution>, rustc_hash::FxBuildHasher>>,
    sheets: RwLock<FxHashMap<SheetKey, Arc<EffectiveSheet>>>,
    /// How often the full resolution and the closest-name search ran (for the tests that they run once a name).
    #[cfg(test)]
    uncached: std::sync::atomic::AtomicUsize,
    #[cfg(test)]
    suggested: std::sync::atomic::AtomicUsize,
}

/// The whole price book.
pub struct PriceBook {
    pub providers: Vec<Provider>,
    pub models: Vec<Model>,
    provider_index: FxHashMap<String, usize>,
    exact: FxHashMap<(usize, String), usize>,
    patterns: Vec<Vec<(Matcher, usize)>>,
    owners: Vec<(Matcher, usize)>,
    caches: PerProcess<Caches>,
    /// Where the book came from (for messages): "default", a file name, ...
    pub origin: String,
    /// The definitions it was compiled from (overrides merge into these).
    defs: Vec<ProviderDef>,
    /// Negotiated discounts applied, as given (kept for further overrides).
    discounts: Vec<(String, Decimal)>,
}

impl std::fmt::Debug for PriceBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PriceBook({}: {} providers, {} models)", self.origin, self.providers.len(), self.models.len())
    }
}

/// The validated `prices/*.toml`, as one deflated JSON array (build.rs).
static DEFAULT_DEFLATED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/prices.json.deflate"));

/// Regional prefixes Bedrock puts before inference-profile ids.
const BEDROCK_REGIONS: [&str; 8] = ["us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."];
/// Vendor prefixes of Bedrock model ids.
const BEDROCK_VENDORS: [&str; 12] = [
    "anthropic.",
    "meta.",
    "amazon.",
    "mistral.",
    "cohere.",
    "ai21.",
    "openai.",
    "deepseek.",
    "qwen.",
    "writer.",
    "twelvelabs.",
    "stability.",
];

fn strip_version_suffix(s: &str) -> Option<&str> {
    // Bedrock: `-v1:0`, `-v2:0`, `:0`; keep the rest.
    let base = s.split_once(':').map_or(s, |(a, _)| a);
    let base = match base.rfind("-v") {
        Some(i) if base[i + 2..].chars().all(|c| c.is_ascii_digit()) && i + 2 < base.len() => &base[..i],
        _ => base,
    };
    (base != s).then_some(base)
}

impl PriceBook {
    /// The book in `prices/`, validated at build time and embedded.
    ///
    /// ```
    /// use tokenprice::prices::PriceBook;
    /// let book = PriceBook::default_book();
    /// let gpt4o = book.resolve("gpt-4o", None).unwrap(); // OpenAI owns gpt-*
    /// assert_eq!(book.models[gpt4o].id, "gpt-4o");
    /// ```
    pub fn default_book() -> Arc<PriceBook> {
        // Not a `OnceLock`: a child forked while another thread loads the book must not wait for that thread.
        static BOOK: RaceCell<Arc<PriceBook>> = RaceCell::new();
        BOOK.get_or_init(|| {
            let mut json = String::new();
            std::io::Read::read_to_string(&mut flate2::read::DeflateDecoder::new(DEFAULT_DEFLATED), &mut json)
                .expect("embedded prices inflate");
            let providers: Vec<serde_json::Value> = serde_json::from_str(&json).expect("embedded prices are JSON");
            let defs = providers
                .iter()
                .map(|p| {
                    let origin = format!("prices/{}.toml", p.get("id").and_then(|v| v.as_str()).unwrap_or("?"));
                    schema::provider_checked_at_build(p, &origin)
                })
                .collect::<Result<Vec<_>, _>>()
                .expect("embedded prices were validated at build time");
            Arc::new(PriceBook::build(defs, "default", true).expect("embedded prices were validated at build time"))
        })
        .clone()
    }

    /// Compiles definitions (checked by `schema`) into a book.
    pub fn from_defs(defs: Vec<ProviderDef>, origin: &str) -> Result<PriceBook> {
        PriceBook::build(defs, origin, false)
    }

    /// [`PriceBook::from_defs`]; `lazy_regexes` for the embedded book, whose regex rules the build compiled.
    fn build(defs: Vec<ProviderDef>, origin: &str, lazy_regexes: bool) -> Result<PriceBook> {
        schema::check_book(&defs).map_err(|e| Error::PriceBook(e.to_string()))?;
        let kept = defs.clone();
        let mut book = PriceBook {
            providers: Vec::new(),
            models: Vec::new(),
            provider_index: FxHashMap::default(),
            exact: FxHashMap::default(),
            patterns: Vec::new(),
            owners: Vec::new(),
            caches: PerProcess::new(Caches::default),
            origin: origin.to_string(),
            defs: kept,
            discounts: Vec::new(),
        };
        for def in defs {
            let pi = book.providers.len();
            for name in std::iter::once(&def.id).chain(def.aliases.iter()) {
                book.provider_index.insert(name.to_ascii_lowercase(), pi);
            }
            for rule in &def.owns {
                book.owners.push((Matcher::new(rule, lazy_regexes)?, pi));
            }
            let mut patterns = Vec::new();
            for m in def.models {
                let mi = book.models.len();
                for rule in &m.matches {
                    match rule {
                        MatchRule::Equals(s) => {
                            book.exact.entry((pi, s.to_ascii_lowercase())).or_insert(mi);
                        }
                        other => patterns.push((Matcher::new(other, lazy_regexes)?, mi)),
                    }
                }
                book.exact.entry((pi, m.id.to_ascii_lowercase())).or_insert(mi);
                book.models.push(Model {
                    provider: pi,
                    name: m.name.unwrap_or_else(|| m.id.clone()),
                    id: m.id,
                    context_window: m.context_window,
                    deprecated: m.deprecated,
                    notes: m.notes,
                    entries: m.entries,
                    multiplier: Decimal::ONE,
                });
            }
            book.patterns.push(patterns);
            book.providers.push(Provider {
                id: def.id,
                name: def.name,
                pricing_urls: def.pricing_urls,
                aliases: def.aliases,
                id_prefixes: def.id_prefixes,
                fallbacks: Vec::new(),
                notes: def.notes,
                tier_aliases: def.tier_aliases,
                tier_rules: def.tier_rules,
                regions: def
                    .regions
                    .into_iter()
                    .map(|r| {
                        Ok(Region {
                            name: r.name,
                            multiplier: r.multiplier,
                            from: r.from,
                            until: r.until,
                            models: r.models.iter().map(|m| Matcher::new(m, lazy_regexes)).collect::<Result<_>>()?,
                        })
                    })
                    .collect::<Result<_>>()?,
                multiplier: Decimal::ONE,
                origin: def.origin,
            });
        }
        // Fallbacks by index, once every provider is known (check_book checked the names).
        for (pi, def) in book.defs.iter().enumerate() {
            book.providers[pi].fallbacks = def
                .fallbacks
                .iter()
                .filter_map(|f| book.provider_index.get(&f.to_ascii_lowercase()).copied())
                .collect();
        }
        Ok(book)
    }

    /// A new book: this one with `overrides` layered on (this one is not changed).
    pub fn with_overrides(&self, overrides: schema::OverridesDef, origin: &str) -> Result<PriceBook> {
        let mut defs = self.defs.clone();
        for p in overrides.providers {
            match defs.iter_mut().find(|d| d.id == p.id) {
                Some(existing) => schema::merge_provider(existing, p),
                None => defs.push(p),
            }
        }
        let mut book = PriceBook::from_defs(defs, origin)?;
        let discounts: Vec<(String, Decimal)> = self.discounts.iter().cloned().chain(overrides.discounts).collect();
        for (target, multiplier) in &discounts {
            book.apply_discount(target, *multiplier)?;
        }
        book.discounts = discounts;
        Ok(book)
    }

    /// Applies a discount to `provider` or `provider/model`.
    fn apply_discount(&mut self, target: &str, multiplier: Decimal) -> Result<()> {
        let (provider, model) = match self.provider_by_name(target) {
            Ok(pi) => (pi, None),
            Err(_) => {
                let (p, m) = target.split_once('/').ok_or_else(|| {
                    Error::PriceBook(format!("discount target {target:?}: expected a provider or provider/model"))
                })?;
                let pi = self.provider_by_name(p)?;
                (pi, Some(self.resolve(m, Some(p))?))
            }
        };
        self.set_multiplier(provider, model, multiplier);
        Ok(())
    }

    /// Sets a negotiated multiplier (e.g. 0.8 for 20% off) on a provider, or on one model of it.
    pub fn set_multiplier(&mut self, provider: usize, model: Option<usize>, multiplier: Decimal) {
        match model {
            Some(m) => self.models[m].multiplier = multiplier,
            None => self.providers[provider].multiplier = multiplier,
        }
        self.caches = PerProcess::new(Caches::default);
    }

    pub fn provider_by_name(&self, name: &str) -> Result<usize> {
        let key = name.trim().to_ascii_lowercase();
        self.provider_index.get(&key).copied().ok_or_else(|| Error::UnknownProvider {
            provider: name.to_string(),
            known: self.providers.iter().map(|p| p.id.clone()).collect(),
        })
    }

    /// The model `candidate` names within provider `pi`, trying the forms logs use.
    fn find_in_provider(&self, pi: usize, model: &str) -> Option<usize> {
        let lower = model.trim().to_ascii_lowercase();
        let provider = &self.providers[pi];
        let mut candidates: Vec<String> = vec![lower.clone()];
        let mut push = |s: &str| {
            if !s.is_empty() && !candidates.iter().any(|c| c == s) {
                candidates.push(s.to_string());
            }
        };
        for prefix in &provider.id_prefixes {
            if let Some(rest) = lower.strip_prefix(&prefix.to_ascii_lowercase()) {
                push(rest);
            }
        }
        if let Some(i) = lower.rfind('/') {
            push(&lower[i + 1..]);
        }
        // Bedrock ids: [region.]vendor.model[-vN][:M]
        let mut bedrock = lower.rsplit('/').next().unwrap_or(&lower).to_string();
        for r in BEDROCK_REGIONS {
            if let Some(rest) = bedrock.strip_prefix(r) {
                bedrock = rest.to_string();
                push(&bedrock);
                break;
            }
        }
        for v in BEDROCK_VENDORS {
            if let Some(rest) = bedrock.strip_prefix(v) {
                bedrock = rest.to_string();
                push(&bedrock);
                break;
            }
        }
        if let Some(base) = strip_version_suffix(&bedrock) {
            push(base);
        }
        // Vertex: claude-3-5-sonnet@20240620
        let last = lower.rsplit('/').next().unwrap_or(&lower).to_string();
        if last.contains('@') {
            push(&last.replace('@', "-"));
            push(last.split('@').next().unwrap_or(&last));
        }
        // Azure deployment names: gpt-35-turbo
        if last.contains("gpt-35") {
            push(&last.replace("gpt-35", "gpt-3.5"));
        }
        for c in &candidates {
            if let Some(&mi) = self.exact.get(&(pi, c.clone())) {
                return Some(mi);
            }
        }
        for c in &candidates {
            if let Some((_, mi)) = self.patterns[pi].iter().find(|(m, _)| m.matches(c)) {
                return Some(*mi);
            }
        }
        None
    }

    /// The model a name refers to. With `provider`, only that provider's models; without, the first party's
    /// (OpenAI for gpt-*, Anthropic for claude-*, ... as the providers' `owns` rules say), then a provider named
    /// in the path (`anthropic/claude-…`), then any single provider that prices it.
    ///
    /// ```
    /// use tokenprice::prices::PriceBook;
    /// let book = PriceBook::default_book();
    /// let via_path = book.resolve("anthropic/claude-sonnet-4-5", None).unwrap();
    /// assert_eq!(via_path, book.resolve("claude-sonnet-4-5", Some("anthropic")).unwrap());
    /// let err = book.resolve("gpt-4o-minii", None).unwrap_err();
    /// assert!(err.to_string().contains("closest known names: gpt-4o-mini"), "{err}");
    /// ```
    pub fn resolve(&self, model: &str, provider: Option<&str>) -> Result<ModelRef> {
        let r = self.resolution(model, provider);
        r.outcome.as_ref().map(|mi| *mi).map_err(|_| self.error_of(&r, model))
    }

    /// [`PriceBook::resolve`] for batch work: the model, or the error's message (made once per name).
    pub fn resolve_or_reason(&self, model: &str, provider: Option<&str>) -> std::result::Result<ModelRef, Arc<str>> {
        let r = self.resolution(model, provider);
        match r.outcome {
            Ok(mi) => Ok(mi),
            Err(_) => Err(r.message.get_or_init(|| self.error_of(&r, model).to_string().into()).clone()),
        }
    }

    /// A name's cached resolution: after the first call for a name, one read of the cache, whether it resolves
    /// or not.
    pub fn resolution(&self, model: &str, provider: Option<&str>) -> Arc<Resolution> {
        let caches = self.caches.get();
        if let Some(r) = caches.resolved.read().unwrap_or_else(|p| p.into_inner()).get(&NameRef(provider, model)) {
            return r.clone();
        }
        #[cfg(test)]
        caches.uncached.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let r = Arc::new(Resolution {
            outcome: self.resolve_uncached(model, provider),
            suggestions: RaceCell::new(),
            message: RaceCell::new(),
        });
        let mut resolved = caches.resolved.write().unwrap_or_else(|p| p.into_inner());
        if resolved.len() < MAX_CACHED_NAMES {
            // Another thread may have resolved it meanwhile: keep the first, so its message is made once.
            let key = (provider.map(str::to_string), model.to_string());
            return resolved.entry(key).or_insert(r).clone();
        }
        r
    }

    /// The error of a name that does not resolve, with the closest names (looked for once per name).
    fn error_of(&self, r: &Resolution, model: &str) -> Error {
        match &r.outcome {
            Ok(mi) => Error::Internal(format!("{model:?} resolves (to {}), it has no error", self.models[*mi].id)),
            Err(Miss::UnknownProvider(p)) => Error::UnknownProvider {
                provider: p.clone(),
                known: self.providers.iter().map(|p| p.id.clone()).collect(),
            },
            Err(Miss::Ambiguous(providers)) => {
                Error::AmbiguousModel { model: model.to_string(), providers: providers.clone() }
            }
            Err(Miss::Unknown(provider)) => {
                let suggestions = r.suggestions.get_or_init(|| {
                    #[cfg(test)]
                    self.caches.get().suggested.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    match provider {
                        Some((_, pi)) => self.closest(model, &[*pi], 3),
                        None => self.closest(model, &(0..self.providers.len()).collect::<Vec<_>>(), 3),
                    }
                });
                Error::UnknownPricedModel {
                    model: model.to_string(),
                    provider: provider.as_ref().map(|(p, _)| p.clone()),
                    suggestions: suggestions.clone(),
                }
            }
        }
    }

    fn resolve_uncached(&self, model: &str, provider: Option<&str>) -> std::result::Result<ModelRef, Miss> {
        if let Some(p) = provider {
            let pi = self.provider_by_name(p).map_err(|_| Miss::UnknownProvider(p.to_string()))?;
            // The provider's own price, else its declared fallbacks' (Azure → OpenAI, ...): the model found names
            // the provider whose price is used.
            return std::iter::once(pi)
                .chain(self.providers[pi].fallbacks.iter().copied())
                .find_map(|fi| self.find_in_provider(fi, model))
                .ok_or_else(|| Miss::Unknown(Some((p.to_string(), pi))));
        }
        let lower = model.trim().to_ascii_lowercase();
        let last = lower.rsplit('/').next().unwrap_or(&lower).to_string();
        // A provider named in the path: "anthropic/claude-…", "openai/gpt-4o".
        if let Some((first, _)) = lower.split_once('/') {
            if let Some(&pi) = self.provider_index.get(first) {
                if let Some(mi) = self.find_in_provider(pi, &lower) {
                    return Ok(mi);
                }
            }
        }
        // The first party, by the providers' ownership rules.
        for (matcher, pi) in &self.owners {
            if matcher.matches(&lower) || matcher.matches(&last) {
                if let Some(mi) = self.find_in_provider(*pi, &lower) {
                    return Ok(mi);
                }
            }
        }
        // Otherwise only if exactly one provider prices it.
        let hits: Vec<usize> = (0..self.providers.len()).filter_map(|pi| self.find_in_provider(pi, &lower)).collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(Miss::Unknown(None)),
            many => {
                let mut providers: Vec<String> =
                    many.iter().map(|mi| self.providers[self.models[*mi].provider].id.clone()).collect();
                providers.dedup();
                Err(Miss::Ambiguous(providers))
            }
        }
    }

    fn closest(&self, model: &str, providers: &[usize], n: usize) -> Vec<String> {
        let target = model.trim().to_ascii_lowercase();
        let target = target.rsplit('/').next().unwrap_or(&target);
        let ids = self.models.iter().filter(|m| providers.contains(&m.provider)).map(|m| m.id.as_str());
        crate::names::closest(target, ids, n)
    }

    /// The index of the entry in force at `at` (microseconds since the epoch, UTC), or why there is none.
    #[inline]
    pub fn entry_index(&self, mi: usize, at: i64) -> Result<usize> {
        let model = &self.models[mi];
        let idx = match model.entries.as_slice() {
            [only] if only.from.is_none_or(|f| f <= at) => Some(0),
            entries => entries.iter().rposition(|e| e.from.is_none_or(|f| f <= at)),
        };
        idx.ok_or_else(|| Error::NoPriceAtDate {
            model: model.id.clone(),
            date: format_moment(at),
            first: model.entries[0].from.map(format_moment).unwrap_or_default(),
        })
    }

    /// When entry `ei` of model `mi` stops being in force: the next entry's date (entries are in strictly
    /// increasing date order, so it is the earliest later one); `None` while no later entry is known.
    pub fn entry_until(&self, mi: usize, ei: usize) -> Option<i64> {
        self.models[mi].entries.get(ei + 1).and_then(|next| next.from)
    }

    /// The time-of-day window of entry `ei` of model `mi` in force at `at_micros` (UTC), if any.
    #[inline]
    pub fn window_at(&self, mi: usize, ei: usize, at_micros: i64) -> Option<usize> {
        let windows = &self.models[mi].entries[ei].windows;
        if windows.is_empty() {
            return None;
        }
        windows.iter().position(|w| {
            w.from.is_none_or(|f| f <= at_micros)
                && w.until.is_none_or(|u| at_micros < u)
                && in_window(minute_of_day(at_micros, w.utc_offset_minutes), w.start_minute, w.end_minute)
        })
    }

    /// The prices for one request: model `mi` at instant `at_micros` (UTC), in `tier`, in `region`.
    pub fn sheet_for(
        &self,
        mi: usize,
        at_micros: i64,
        tier: Option<&str>,
        region: Option<&str>,
    ) -> Result<Arc<EffectiveSheet>> {
        let model = &self.models[mi];
        let provider = &self.providers[model.provider];
        let ei = self.entry_index(mi, at_micros)?;
        let window = self.window_at(mi, ei, at_micros);
        let tier = match tier {
            None => "standard".to_string(),
            Some(t) => provider.canonical_tier(t)?,
        };
        let region = match region {
            None => None,
            Some(r) => {
                let r = r.trim().to_ascii_lowercase();
                if !provider.regions.iter().any(|x| x.name == r) {
                    return Err(Error::UnknownOption {
                        what: "region".into(),
                        name: r,
                        provider: provider.id.clone(),
                        known: provider.regions.iter().map(|x| x.name.clone()).collect(),
                    });
                }
                Some(r)
            }
        };
        let key = SheetKey { model: mi, entry: ei, tier, window, region };
        let sheets = &self.caches.get().sheets;
        if let Some(s) = sheets.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(s.clone());
        }
        let sheet = Arc::new(self.build_sheet(&key, at_micros)?);
        Ok(sheets.write().unwrap_or_else(|p| p.into_inner()).entry(key).or_insert(sheet).clone())
    }

    fn build_sheet(&self, key: &SheetKey, at: i64) -> Result<EffectiveSheet> {
        let model = &self.models[key.model];
        let provider = &self.providers[model.provider];
        let entry = &model.entries[key.entry];
        let mut derivation = Vec::new();
        // Standard prices, with the time-of-day window's prices over them.
        let mut base: BTreeMap<usize, (PriceDef, Decimal)> =
            entry.sheet.prices.iter().map(|(u, p)| (*u, (p.clone(), Decimal::ONE))).collect();
        if let Some(wi) = key.window {
            let w = &entry.windows[wi];
            for (u, p) in &w.sheet.prices {
                base.insert(*u, (p.clone(), Decimal::ONE));
            }
            derivation.push(format!(
                "time-of-day window {}–{} (UTC{}) prices",
                fmt_minute(w.start_minute),
                fmt_minute(w.end_minute),
                fmt_offset(w.utc_offset_minutes)
            ));
        }
        let prices = self.tier_prices(provider, model, entry, &key.tier, &base, at, &mut derivation, 0)?;
        // A region surcharge multiplies token prices; negotiated discounts multiply everything.
        let mut prices = prices;
        if let Some(r) = &key.region {
            let region = provider.regions.iter().find(|x| &x.name == r).expect("checked in sheet_for");
            let applies = region.from.is_none_or(|f| f <= at)
                && region.until.is_none_or(|u| at < u)
                && (region.models.is_empty()
                    || region.models.iter().any(|m| m.matches(&model.id.to_ascii_lowercase())));
            if applies {
                prices = scale_tokens(&prices, region.multiplier);
                derivation.push(format!("region {r}: token prices × {}", region.multiplier.normalize()));
            } else {
                derivation.push(format!("region {r}: no surcharge for this model on this date"));
            }
        }
        let mut factor = Decimal::ONE;
        if provider.multiplier != Decimal::ONE {
            factor *= provider.multiplier;
            derivation.push(format!("negotiated {} multiplier × {}", provider.id, provider.multiplier.normalize()));
        }
        if model.multiplier != Decimal::ONE {
            factor *= model.multiplier;
            derivation.push(format!("negotiated {} multiplier × {}", model.id, model.multiplier.normalize()));
        }
        let mut out: [Option<PricePoint>; N_UNITS] = Default::default();
        let mut priced = Vec::new();
        for (u, (price, m)) in prices {
            let m = m * factor;
            let per = UNITS[u].per;
            let point = match price {
                PriceDef::Flat(p) => PricePoint { base: Factor::new(p, m, per)?, above: Vec::new() },
                PriceDef::Tiered { base, above } => PricePoint {
                    base: Factor::new(base, m, per)?,
                    above: above.iter().map(|(t, p)| Ok((*t, Factor::new(*p, m, per)?))).collect::<Result<_>>()?,
                },
            };
            out[u] = Some(point);
            priced.push(u);
        }
        let plan = LeafPlan::new(&priced);
        Ok(EffectiveSheet {
            fast: FastPlan::new(&plan, &out),
            prices: out,
            plan,
            model: key.model,
            entry: key.entry,
            tier: key.tier.clone(),
            window: key.window,
            region: key.region.clone(),
            derivation,
        })
    }

    /// Prices for `tier`, from the entry's sheet for it or the provider's rule. Each price comes with the
    /// multiplier still to apply.
    #[allow(clippy::too_many_arguments)]
    fn tier_prices(
        &self,
        provider: &Provider,
        model: &Model,
        entry: &Entry,
        tier: &str,
        base: &BTreeMap<usize, (PriceDef, Decimal)>,
        at: i64,
        derivation: &mut Vec<String>,
        depth: usize,
    ) -> Result<BTreeMap<usize, (PriceDef, Decimal)>> {
        if tier == "standard" {
            return Ok(base.clone());
        }
        let rule = provider.tier_rules.get(tier);
        let rule_multiplier = match rule {
            Some(TierRule::Multiplier(m)) => Some(*m),
            _ => None,
        };
        if let Some(sheet) = entry.tiers.get(tier) {
            // Listed prices replace the standard ones; the others follow the provider's multiplier, if any.
            let m = rule_multiplier.unwrap_or(Decimal::ONE);
            let mut out = scale_tokens(base, m);
            for (u, p) in &sheet.prices {
                out.insert(*u, (p.clone(), Decimal::ONE));
            }
            derivation.push(match rule_multiplier {
                Some(m) => format!("{tier} prices from the {tier} price sheet (others × {})", m.normalize()),
                None => format!("{tier} prices from the {tier} price sheet"),
            });
            return Ok(out);
        }
        match rule {
            Some(TierRule::Multiplier(m)) => {
                derivation.push(format!("{tier}: {}'s rule, standard token prices × {}", provider.name, m.normalize()));
                Ok(scale_tokens(base, *m))
            }
            Some(TierRule::SameAs(other)) if depth < 4 => {
                derivation.push(format!("{tier}: {}'s rule, priced as {other}", provider.name));
                self.tier_prices(provider, model, entry, other, base, at, derivation, depth + 1)
            }
            _ => {
                let mut known: Vec<String> = vec!["standard".into()];
                known.extend(entry.tiers.keys().cloned());
                known.extend(
                    provider
                        .tier_rules
                        .iter()
                        .filter(|(_, r)| !matches!(r, TierRule::SheetOnly))
                        .map(|(k, _)| k.clone()),
                );
                known.dedup();
                Err(Error::NoTierPrice {
                    model: model.id.clone(),
                    provider: provider.id.clone(),
                    tier: tier.to_string(),
                    date: format_moment(at),
                    known,
                })
            }
        }
    }

    /// Models, optionally of one provider, in book order.
    pub fn model_indexes(&self, provider: Option<usize>) -> Vec<usize> {
        (0..self.models.len()).filter(|mi| provider.is_none_or(|p| self.models[*mi].provider == p)).collect()
    }
}

/// Token prices × `m`; per-call fees (web search, requests, ...) are not discounted by tiers or regions.
fn scale_tokens(prices: &BTreeMap<usize, (PriceDef, Decimal)>, m: Decimal) -> BTreeMap<usize, (PriceDef, Decimal)> {
    prices
        .iter()
        .map(|(u, (p, bm))| {
            let scaled = if UNITS[*u].dims.contains(&Dim::Tokens) { *bm * m } else { *bm };
            (*u, (p.clone(), scaled))
        })
        .collect()
}

fn fmt_minute(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn fmt_offset(minutes: i32) -> String {
    if minutes == 0 {
        String::new()
    } else {
        let sign = if minutes < 0 { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
    }
}

#[cfg(test)]
impl PriceBook {
    /// A copy of the default book with caches of its own (the default one is shared by every test of the binary,
    /// so its counts would race).
    pub(crate) fn fresh_default() -> Arc<PriceBook> {
        Arc::new(PriceBook::build(PriceBook::default_book().defs.clone(), "test", true).unwrap())
    }

    /// (full resolutions, closest-name searches) run so far.
    pub(crate) fn resolution_work(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let caches = self.caches.get();
        (caches.uncached.load(Relaxed), caches.suggested.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A miss is cached like a hit: asked again, neither the resolution nor the closest-name search runs again,
    /// and the search runs only when the error is shown.
    #[test]
    fn a_miss_is_resolved_once_and_its_closest_names_looked_for_once() {
        let book = PriceBook::fresh_default();
        for _ in 0..100 {
            assert!(book.resolution("gpt-4o-minii", None).outcome.is_err());
        }
        assert_eq!(book.resolution_work(), (1, 0), "a miss not shown looks for no closest names");
        for _ in 0..100 {
            let err = book.resolve("gpt-4o-minii", None).unwrap_err();
            assert!(err.to_string().contains("closest known names: gpt-4o-mini"), "{err}");
        }
        assert_eq!(book.resolution_work(), (1, 1));
        for _ in 0..100 {
            let reason = book.resolve_or_reason("gpt-4o-minii", None).unwrap_err();
            assert!(reason.contains("gpt-4o-mini"), "{reason}");
        }
        assert_eq!(book.resolution_work(), (1, 1));
        // Other misses keep their own errors; hits are cached too.
        for _ in 0..3 {
            assert!(matches!(book.resolve("gpt-4o", Some("nope")), Err(Error::UnknownProvider { .. })));
            assert!(matches!(
                book.resolve("gpt-4o-minii", Some("openai")),
                Err(Error::UnknownPricedModel { provider: Some(_), .. })
            ));
            book.resolve("gpt-4o", Some("openai")).unwrap();
        }
        assert_eq!(book.resolution_work(), (4, 2));
    }
}
