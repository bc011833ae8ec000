//! The `generic` format: any JSON record, read by a caller-given [`Mapping`] of dotted paths. Not detected and
//! not in the registry (it needs the mapping); `usage_formats()` lists it after the registry's formats.

use crate::error::{Error, Result};
use crate::json::{self, count, kind, Kind, Obj, Raw};
use crate::prices::units::{self, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT, UNITS};
use crate::usage::record::{Hints, UsageRecord};

use super::common::{add, err, meta_object, normalize_provider, time_value, Counts};
use super::finish;

/// The generic format's name (`format="generic"`, `UsageRecord::format`).
pub const NAME: &str = "generic";
/// What the generic format reads.
pub const DESCRIBE: &str = "any JSON record, read by a caller-given mapping (mapping={...})";

/// Where each field sits in a record the registry does not know: dotted paths (`usage.in`, `meta.tenant`).
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    pub model: Option<String>,
    pub provider: Option<String>,
    pub timestamp: Option<String>,
    pub id: Option<String>,
    pub reported_cost: Option<String>,
    pub service_tier: Option<String>,
    pub cache_hit: Option<String>,
    /// (usage field, path) for each count.
    pub counts: Vec<(String, String)>,
    /// (label name, path); a path to an object adds all its members.
    pub metadata: Vec<(String, String)>,
    /// The input count leaves out cache reads and writes (Anthropic's and Bedrock's rule): add them.
    pub input_excludes_cache: bool,
}

/// A key of a caller's mapping: a record field, a usage field, the labels, or the input-excludes-cache flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappingKey {
    Model,
    Provider,
    Timestamp,
    Id,
    ReportedCost,
    ServiceTier,
    CacheHit,
    /// Labels: named paths, or paths named by their last segment.
    Metadata,
    /// A flag, not a path.
    InputExcludesCache,
    /// A usage field: its unit (an index into [`units::UNITS`]).
    Count(usize),
}

impl MappingKey {
    /// The keys other than the usage fields, in the order errors list them.
    const NAMED: [(&'static str, MappingKey); 9] = [
        ("model", MappingKey::Model),
        ("provider", MappingKey::Provider),
        ("timestamp", MappingKey::Timestamp),
        ("id", MappingKey::Id),
        ("reported_cost", MappingKey::ReportedCost),
        ("service_tier", MappingKey::ServiceTier),
        ("cache_hit", MappingKey::CacheHit),
        ("metadata", MappingKey::Metadata),
        ("input_excludes_cache", MappingKey::InputExcludesCache),
    ];

    /// The key named `name`, else an argument error listing every key.
    ///
    /// ```
    /// use tokenprice::usage::formats::MappingKey;
    /// assert_eq!(MappingKey::parse("model").unwrap(), MappingKey::Model);
    /// assert!(matches!(MappingKey::parse("input_tokens").unwrap(), MappingKey::Count(_)));
    /// assert!(MappingKey::parse("tokens").unwrap_err().to_string().contains("is not known; keys: model"));
    /// ```
    pub fn parse(name: &str) -> Result<MappingKey> {
        if let Some((_, key)) = Self::NAMED.iter().find(|(n, _)| *n == name) {
            return Ok(*key);
        }
        if let Some(unit) = units::unit_of_usage_field(name) {
            return Ok(MappingKey::Count(unit));
        }
        Err(Error::InvalidArgument(format!(
            "mapping key {name:?} is not known; keys: {}, and the usage fields ({})",
            Self::NAMED.map(|(n, _)| n).join(", "),
            crate::usage::field_names().collect::<Vec<_>>().join(", ")
        )))
    }
}

impl Mapping {
    /// Sets where `key` is read (a no-op for [`MappingKey::Metadata`] and [`MappingKey::InputExcludesCache`],
    /// which take [`Mapping::add_label`] and the `input_excludes_cache` flag).
    pub fn set_path(&mut self, key: MappingKey, path: String) {
        let slot = match key {
            MappingKey::Model => &mut self.model,
            MappingKey::Provider => &mut self.provider,
            MappingKey::Timestamp => &mut self.timestamp,
            MappingKey::Id => &mut self.id,
            MappingKey::ReportedCost => &mut self.reported_cost,
            MappingKey::ServiceTier => &mut self.service_tier,
            MappingKey::CacheHit => &mut self.cache_hit,
            MappingKey::Count(unit) => return self.counts.push((UNITS[unit].usage_field.to_string(), path)),
            MappingKey::Metadata | MappingKey::InputExcludesCache => return,
        };
        *slot = Some(path);
    }

    /// Adds a label read at `path`, named `name` or, without one, by the path's last segment (`meta.tenant` →
    /// `tenant`).
    pub fn add_label(&mut self, name: Option<String>, path: String) {
        let name = name.unwrap_or_else(|| path.rsplit('.').next().unwrap_or(&path).to_string());
        self.metadata.push((name, path));
    }
}

fn at_path<'a>(o: &Obj<'a>, path: &str) -> Option<Raw<'a>> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut cur = o.present(first)?;
    for p in parts {
        cur = json::object(cur)?.present(p)?;
    }
    Some(cur)
}

/// Reads one object by a [`Mapping`] from bytes (UTF-8 JSON).
pub fn extract_mapped_bytes(bytes: &[u8], m: &Mapping, hints: &Hints) -> Result<UsageRecord> {
    let text = std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8 at byte {}", e.valid_up_to())))?;
    extract_mapped(text, m, hints)
}

/// Reads one object by a [`Mapping`].
pub fn extract_mapped(text: &str, m: &Mapping, hints: &Hints) -> Result<UsageRecord> {
    let o = Obj::parse(text.trim()).map_err(|e| err(format!("not a JSON object: {e}")))?;
    let str_at =
        |p: &Option<String>| p.as_ref().and_then(|p| at_path(&o, p)).and_then(json::string).map(|s| s.into_owned());
    let mut rec = UsageRecord {
        format: NAME,
        model: str_at(&m.model),
        provider: str_at(&m.provider).map(|p| normalize_provider(&p)),
        id: str_at(&m.id),
        service_tier: str_at(&m.service_tier),
        ..Default::default()
    };
    if let Some(p) = &m.timestamp {
        if let Some(raw) = at_path(&o, p) {
            rec.timestamp = time_value(raw).map_err(|e| err(format!("{p}: {e}")))?;
        }
    }
    if let Some(p) = &m.reported_cost {
        if let Some(raw) = at_path(&o, p) {
            let t = json::number_text(raw)
                .ok_or_else(|| err(format!("{p}: {} is not a number", json::excerpt(raw.get(), 40))))?;
            rec.reported_cost =
                Some(json::decimal(&t).ok_or_else(|| err(format!("{p}: {t} is not a decimal number")))?);
        }
    }
    if let Some(p) = &m.cache_hit {
        rec.cache_hit = at_path(&o, p).and_then(json::boolean).unwrap_or(false);
    }
    let mut c = Counts::new();
    for (field, path) in &m.counts {
        let u =
            units::unit_of_usage_field(field).ok_or_else(|| err(format!("mapping: {field:?} is not a usage field")))?;
        if let Some(raw) = at_path(&o, path) {
            let v = count(raw).map_err(|e| err(format!("{path}: {e}")))?.unwrap_or(0);
            c.set(u, v);
            rec.has_usage = true;
        }
    }
    if m.input_excludes_cache {
        let extra = c.c[CACHE_READ].saturating_add(c.c[CACHE_WRITE]).saturating_add(c.c[CACHE_WRITE_1H]);
        c.set(INPUT, add(c.c[INPUT], extra, "input")?);
    }
    rec.usage = c.usage();
    for (name, path) in &m.metadata {
        if let Some(raw) = at_path(&o, path) {
            if kind(raw) == Kind::Object {
                meta_object(raw, "", &mut rec.metadata);
            } else {
                meta_object(raw, name, &mut rec.metadata);
            }
        }
    }
    finish(rec, hints)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Meta;

    #[test]
    fn a_mapping_built_from_its_keys_reads_the_record() {
        let mut m = Mapping::default();
        for (key, path) in [("model", "m"), ("input_tokens", "u.in"), ("output_tokens", "u.out"), ("id", "rid")] {
            m.set_path(MappingKey::parse(key).unwrap(), path.into());
        }
        m.add_label(None, "meta.tenant".into());
        m.add_label(Some("team".into()), "meta.t".into());
        let text = r#"{"m":"gpt-4o","rid":"r1","u":{"in":10,"out":2},"meta":{"tenant":"acme","t":"ml"}}"#;
        let rec = extract_mapped(text, &m, &Hints::default()).unwrap();
        assert_eq!((rec.format, rec.model.as_deref(), rec.id.as_deref()), (NAME, Some("gpt-4o"), Some("r1")));
        assert_eq!((rec.usage.input_tokens(), rec.usage.output_tokens()), (10, 2));
        assert_eq!(
            rec.metadata,
            vec![("tenant".into(), Meta::Str("acme".into())), ("team".into(), Meta::Str("ml".into()))]
        );
        let e = MappingKey::parse("tokens").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert!(e.to_string().contains("keys: model, provider, timestamp, id, reported_cost, service_tier, cache_hit, metadata, input_excludes_cache, and the usage fields (input_tokens,"), "{e}");
    }
}
