//! Which columns of a usage table are its counts, and by which vendor's rule they are read.
//!
//! The same name means different things per vendor: OpenAI's `input_tokens` includes cached tokens
//! (`input_tokens_details.cached_tokens` is a part of it) and Anthropic's excludes them (`cache_read_input_tokens`
//! and `cache_creation_input_tokens` are separate). So the rule is chosen once per table, from the whole set of
//! recognised names: the conventions that hold every one of them are the candidates, and they must agree on every
//! rule that the present columns make matter (a mix with no single reading is an error, as are two columns for one
//! count). Recognising columns is per table, never per row.

use crate::error::{Error, Result};
use crate::prices::units::{
    unit_of_usage_field, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT, OUTPUT, REASONING, UNITS,
};

/// One vendor's names for its counts, and how its totals relate to their parts.
pub struct Convention {
    pub name: &'static str,
    /// Where the names come from (SDK file or documentation).
    pub source: &'static str,
    /// The input count leaves out cache reads and writes (they are added to it before pricing).
    pub input_excludes_cache: bool,
    /// The output count leaves out reasoning ("thinking") tokens (they are added to it before pricing).
    pub output_excludes_reasoning: bool,
    /// (column name, unit). The `tokenprice` convention's names are the `Usage` fields themselves.
    pub columns: &'static [(&'static str, usize)],
}

/// In order of preference when several conventions read a table the same way (the first is reported).
pub const CONVENTIONS: &[Convention] = &[
    Convention {
        name: "tokenprice",
        source: "tokenprice.Usage fields",
        input_excludes_cache: false,
        output_excludes_reasoning: false,
        columns: &[],
    },
    Convention {
        name: "openai",
        source: "openai/types/completion_usage.py (chat completions; also LiteLLM and Helicone exports)",
        input_excludes_cache: false,
        output_excludes_reasoning: false,
        columns: &[
            ("prompt_tokens", INPUT),
            ("completion_tokens", OUTPUT),
            ("cached_tokens", CACHE_READ),
            ("cache_write_tokens", CACHE_WRITE),
            ("reasoning_tokens", REASONING),
        ],
    },
    Convention {
        name: "openai-responses",
        source: "openai/types/responses/response_usage.py",
        input_excludes_cache: false,
        output_excludes_reasoning: false,
        columns: &[
            ("input_tokens", INPUT),
            ("output_tokens", OUTPUT),
            ("cached_tokens", CACHE_READ),
            ("cache_write_tokens", CACHE_WRITE),
            ("reasoning_tokens", REASONING),
        ],
    },
    Convention {
        name: "anthropic",
        source: "anthropic/types/usage.py",
        input_excludes_cache: true,
        output_excludes_reasoning: false,
        columns: &[
            ("input_tokens", INPUT),
            ("output_tokens", OUTPUT),
            ("cache_read_input_tokens", CACHE_READ),
            ("cache_creation_input_tokens", CACHE_WRITE),
        ],
    },
    Convention {
        name: "bedrock",
        source: "Bedrock Converse TokenUsage (botocore bedrock-runtime service model), and its snake_case form",
        input_excludes_cache: true,
        output_excludes_reasoning: false,
        columns: &[
            ("inputTokens", INPUT),
            ("outputTokens", OUTPUT),
            ("cacheReadInputTokens", CACHE_READ),
            ("cacheWriteInputTokens", CACHE_WRITE),
            ("input_tokens", INPUT),
            ("output_tokens", OUTPUT),
            ("cache_read_input_tokens", CACHE_READ),
            ("cache_write_input_tokens", CACHE_WRITE),
        ],
    },
    Convention {
        name: "gemini",
        source: "google/genai/types.py GenerateContentResponseUsageMetadata (REST camelCase and SDK snake_case)",
        input_excludes_cache: false,
        // Thoughts are billed as output but not counted in candidatesTokenCount.
        output_excludes_reasoning: true,
        columns: &[
            ("promptTokenCount", INPUT),
            ("candidatesTokenCount", OUTPUT),
            ("cachedContentTokenCount", CACHE_READ),
            ("thoughtsTokenCount", REASONING),
            ("prompt_token_count", INPUT),
            ("candidates_token_count", OUTPUT),
            ("cached_content_token_count", CACHE_READ),
            ("thoughts_token_count", REASONING),
        ],
    },
    Convention {
        name: "ai-sdk",
        source: "Vercel AI SDK LanguageModelUsage (inputTokens includes cachedInputTokens)",
        input_excludes_cache: false,
        output_excludes_reasoning: false,
        columns: &[
            ("inputTokens", INPUT),
            ("outputTokens", OUTPUT),
            ("cachedInputTokens", CACHE_READ),
            ("reasoningTokens", REASONING),
        ],
    },
    Convention {
        name: "otel",
        source: "OpenTelemetry GenAI semantic conventions (gen_ai.usage.*; input SHOULD include cached)",
        input_excludes_cache: false,
        output_excludes_reasoning: false,
        columns: &[
            ("gen_ai.usage.input_tokens", INPUT),
            ("gen_ai.usage.output_tokens", OUTPUT),
            ("gen_ai.usage.cache_read.input_tokens", CACHE_READ),
            ("gen_ai.usage.cache_creation.input_tokens", CACHE_WRITE),
            ("gen_ai.usage.reasoning.output_tokens", REASONING),
        ],
    },
    Convention {
        name: "cloudflare",
        source: "Cloudflare AI Gateway logs (tokens_in, tokens_out)",
        input_excludes_cache: false,
        output_excludes_reasoning: false,
        columns: &[("tokens_in", INPUT), ("tokens_out", OUTPUT)],
    },
];

/// The unit a column name stands for in convention `c`.
fn unit_in(c: &Convention, name: &str) -> Option<usize> {
    if c.name == "tokenprice" {
        return unit_of_usage_field(name);
    }
    c.columns.iter().find(|(n, _)| *n == name).map(|(_, u)| *u)
}

/// Every name some convention knows, for messages.
pub fn known_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = UNITS.iter().map(|u| u.usage_field).collect();
    for c in &CONVENTIONS[1..] {
        for (n, _) in c.columns {
            if !names.contains(n) {
                names.push(n);
            }
        }
    }
    names
}

/// How a table's counts are read: the count columns and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountColumns {
    /// (unit, column name), in table order (explicit ones first).
    pub counts: Vec<(usize, String)>,
    pub input_excludes_cache: bool,
    pub output_excludes_reasoning: bool,
    /// The convention's name (`given` when the caller set the cache rule), for the result's metadata.
    pub convention: String,
}

impl CountColumns {
    /// The rule in words (for `usage_convention` and errors): which convention, and what was added to what.
    pub fn describe(&self) -> String {
        let mut rule = if self.input_excludes_cache {
            "input excludes cache reads and writes (they are added to it)".to_string()
        } else {
            "input includes cache reads and writes".to_string()
        };
        if self.output_excludes_reasoning {
            rule.push_str("; output excludes reasoning tokens (they are added to it)");
        }
        let columns: Vec<String> =
            self.counts.iter().map(|(u, name)| format!("{}={name}", UNITS[*u].usage_field)).collect();
        format!("{}: {rule}; columns: {}", self.convention, columns.join(", "))
    }
}

/// The result's columns must not take the name of one of the input's (the result would hold two `status`
/// columns, or an input `total_cost` beside the computed one).
pub fn check_no_clash(input_names: &[&str], added: &[String]) -> Result<()> {
    let clash: Vec<&str> = added.iter().map(String::as_str).filter(|n| input_names.contains(n)).collect();
    if clash.is_empty() {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "the table already has column(s) {} that price_table adds ({}); rename them, or pass keep_columns=False",
        clash.join(", "),
        added.join(", ")
    )))
}

/// The count columns of a table with columns `names`.
///
/// `explicit`: (usage field, column) pairs the caller mapped; `taken`: columns used for other roles (model,
/// timestamp, ...), never read as counts; `input_excludes_cache`: the caller's rule, or `None` to detect it. An
/// explicitly mapped unit wins over a recognised column for the same unit.
pub fn count_columns(
    names: &[&str],
    explicit: &[(String, String)],
    taken: &[&str],
    input_excludes_cache: Option<bool>,
) -> Result<CountColumns> {
    let mut counts: Vec<(usize, String)> = Vec::new();
    for (field, column) in explicit {
        let unit = unit_of_usage_field(field).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "columns= names {field:?}, which is not a usage field; fields are: {}",
                UNITS.iter().map(|u| u.usage_field).collect::<Vec<_>>().join(", ")
            ))
        })?;
        if !names.contains(&column.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "no column {column:?} (for {field}); the table has: {}",
                names.join(", ")
            )));
        }
        counts.push((unit, column.clone()));
    }
    // Recognised names, each with the conventions that know it.
    let mapped_units: Vec<usize> = counts.iter().map(|(u, _)| *u).collect();
    let mapped_columns: Vec<&str> = explicit.iter().map(|(_, c)| c.as_str()).collect();
    let recognised: Vec<(&str, usize, Vec<usize>)> = names
        .iter()
        .filter(|n| !taken.contains(n) && !mapped_columns.contains(n))
        .filter_map(|n| {
            let conventions: Vec<usize> =
                CONVENTIONS.iter().enumerate().filter(|(_, c)| unit_in(c, n).is_some()).map(|(i, _)| i).collect();
            let unit = conventions.first().and_then(|i| unit_in(&CONVENTIONS[*i], n))?;
            (!mapped_units.contains(&unit)).then_some((*n, unit, conventions))
        })
        .collect();
    for (i, (a, unit, _)) in recognised.iter().enumerate() {
        if let Some((b, _, _)) = recognised[i + 1..].iter().find(|(_, u, _)| u == unit) {
            return Err(Error::InvalidArgument(format!(
                "columns {a:?} and {b:?} both give {}: keep one, or choose with columns={{{:?}: ...}}",
                UNITS[*unit].usage_field, UNITS[*unit].usage_field
            )));
        }
    }
    let has = |units: &[usize]| {
        counts.iter().map(|(u, _)| *u).chain(recognised.iter().map(|(_, u, _)| *u)).any(|u| units.contains(&u))
    };
    let cache_matters = has(&[CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H]) && has(&[INPUT]);
    let reasoning_matters = has(&[REASONING]) && has(&[OUTPUT]);
    let candidates: Vec<&Convention> = CONVENTIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| recognised.iter().all(|(_, _, cs)| cs.contains(i)))
        .map(|(_, c)| c)
        .collect();
    if !recognised.is_empty() && candidates.is_empty() {
        let each: Vec<String> = recognised
            .iter()
            .map(|(n, _, cs)| {
                format!("{n} ({})", cs.iter().map(|i| CONVENTIONS[*i].name).collect::<Vec<_>>().join(" or "))
            })
            .collect();
        return Err(Error::InvalidArgument(format!(
            "the count columns have no single reading: {} come from different conventions, whose input counts \
             include or exclude the cache differently; map them with columns= and input_excludes_cache=",
            each.join(", ")
        )));
    }
    let chosen = candidates.first().copied();
    if let (Some(first), None) = (chosen, input_excludes_cache) {
        for other in &candidates[1..] {
            if (cache_matters && other.input_excludes_cache != first.input_excludes_cache)
                || (reasoning_matters && other.output_excludes_reasoning != first.output_excludes_reasoning)
            {
                return Err(Error::InvalidArgument(format!(
                    "the count columns {} read one way as {} and another as {}; pass input_excludes_cache= to say \
                     which",
                    recognised.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", "),
                    first.name,
                    other.name
                )));
            }
        }
    }
    counts.extend(recognised.iter().map(|(n, u, _)| (*u, n.to_string())));
    if counts.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no count column recognised: the table has {}; known count names are {} (or map yours with \
             columns={{\"input_tokens\": ...}})",
            names.join(", "),
            known_names().join(", ")
        )));
    }
    let (convention, excludes_cache, excludes_reasoning) = match (input_excludes_cache, chosen) {
        (Some(given), _) => ("given".to_string(), given, chosen.is_some_and(|c| c.output_excludes_reasoning)),
        (None, Some(c)) => (c.name.to_string(), c.input_excludes_cache, c.output_excludes_reasoning),
        // Only explicitly mapped columns: tokenprice's own rule.
        (None, None) => (if explicit.is_empty() { "tokenprice" } else { "columns=" }.to_string(), false, false),
    };
    Ok(CountColumns {
        counts,
        input_excludes_cache: excludes_cache && cache_matters,
        output_excludes_reasoning: excludes_reasoning && reasoning_matters,
        convention,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(names: &[&str]) -> Result<CountColumns> {
        count_columns(names, &[], &["model", "timestamp"], None)
    }

    fn fields(c: &CountColumns) -> Vec<(&'static str, &str)> {
        c.counts.iter().map(|(u, n)| (UNITS[*u].usage_field, n.as_str())).collect()
    }

    #[test]
    fn each_vendor_names_are_read_with_their_cache_rule() {
        let c = read(&["model", "prompt_tokens", "completion_tokens", "cached_tokens"]).unwrap();
        assert_eq!(c.convention, "openai");
        assert!(!c.input_excludes_cache);
        assert_eq!(
            fields(&c),
            [
                ("input_tokens", "prompt_tokens"),
                ("output_tokens", "completion_tokens"),
                ("cache_read_tokens", "cached_tokens")
            ]
        );
        let c =
            read(&["model", "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"])
                .unwrap();
        assert_eq!(c.convention, "anthropic");
        assert!(c.input_excludes_cache);
        let c =
            read(&["model", "inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens"]).unwrap();
        assert_eq!((c.convention.as_str(), c.input_excludes_cache), ("bedrock", true));
        let c = read(&["promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount", "thoughtsTokenCount"])
            .unwrap();
        assert_eq!(c.convention, "gemini");
        assert!(!c.input_excludes_cache && c.output_excludes_reasoning);
        let c = read(&["model", "input_tokens", "output_tokens", "cached_tokens"]).unwrap();
        assert_eq!((c.convention.as_str(), c.input_excludes_cache), ("openai-responses", false));
        let c = read(&["model", "tokens_in", "tokens_out"]).unwrap();
        assert_eq!(c.convention, "cloudflare");
        let c = read(&["model", "input_tokens", "cache_read_tokens"]).unwrap();
        assert_eq!((c.convention.as_str(), c.input_excludes_cache), ("tokenprice", false));
        // No cache column: the rule does not matter, and the first convention is reported.
        let c = read(&["model", "input_tokens", "output_tokens"]).unwrap();
        assert_eq!((c.convention.as_str(), c.input_excludes_cache), ("tokenprice", false));
    }

    #[test]
    fn mixes_duplicates_and_nothing_recognised_are_errors() {
        let e = read(&["model", "prompt_tokens", "cache_read_input_tokens"]).unwrap_err().to_string();
        assert!(e.contains("no single reading") && e.contains("prompt_tokens (openai)"), "{e}");
        let e = read(&["model", "prompt_tokens", "input_tokens"]).unwrap_err().to_string();
        assert!(e.contains("\"prompt_tokens\" and \"input_tokens\" both give input_tokens"), "{e}");
        let e = read(&["model", "timestamp", "tokens", "n_out"]).unwrap_err().to_string();
        assert!(e.contains("no count column recognised: the table has model, timestamp, tokens, n_out"), "{e}");
        assert!(e.contains("prompt_tokens") && e.contains("cacheReadInputTokens"), "{e}");
    }

    #[test]
    fn result_columns_cannot_clash_with_the_input() {
        let added = vec!["total_cost".to_string(), "status".to_string()];
        assert!(check_no_clash(&["model", "input_tokens"], &added).is_ok());
        let e = check_no_clash(&["model", "status"], &added).unwrap_err().to_string();
        assert!(e.contains("already has column(s) status"), "{e}");
    }

    #[test]
    fn explicit_columns_win_and_set_the_rule() {
        let explicit = [("input_tokens".to_string(), "uncached".to_string())];
        let c = count_columns(&["m", "uncached", "cache_read_tokens", "input_tokens"], &explicit, &["m"], Some(true))
            .unwrap();
        assert_eq!(fields(&c), [("input_tokens", "uncached"), ("cache_read_tokens", "cache_read_tokens")]);
        assert!(c.input_excludes_cache);
        assert_eq!(c.convention, "given");
        let bad = [("tokens_in".to_string(), "x".to_string())];
        assert!(count_columns(&["x"], &bad, &[], None).unwrap_err().to_string().contains("not a usage field"));
    }
}
