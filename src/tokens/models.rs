//! Model name → encoding, for the names that logs actually contain.
//!
//! The table extends tiktoken 0.14's `tiktoken/model.py` with the model families released since and with the
//! forms gateways and clouds write: `openai/gpt-4o`, `azure/gpt-4o`, `openrouter/openai/gpt-4o`, Azure deployment
//! names (`gpt-35-turbo`), fine-tunes (`ft:gpt-4o-mini-2024-07-18:org::id`), Bedrock ids (`openai.gpt-oss-20b-1:0`)
//! and Vertex paths (`publishers/openai/models/...`).

use crate::error::{Error, Result};
use crate::names::closest;

/// Exact model names (after normalisation).
const EXACT: &[(&str, &str)] = &[
    // reasoning
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4-mini", "o200k_base"),
    // chat
    ("gpt-5", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-4o", "o200k_base"),
    ("chatgpt-4o-latest", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5-turbo", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("gpt-35-turbo", "cl100k_base"),
    // base
    ("davinci-002", "cl100k_base"),
    ("babbage-002", "cl100k_base"),
    // embeddings
    ("text-embedding-ada-002", "cl100k_base"),
    ("text-embedding-3-small", "cl100k_base"),
    ("text-embedding-3-large", "cl100k_base"),
    // legacy completions
    ("text-davinci-003", "p50k_base"),
    ("text-davinci-002", "p50k_base"),
    ("text-davinci-001", "r50k_base"),
    ("text-curie-001", "r50k_base"),
    ("text-babbage-001", "r50k_base"),
    ("text-ada-001", "r50k_base"),
    ("davinci", "r50k_base"),
    ("curie", "r50k_base"),
    ("babbage", "r50k_base"),
    ("ada", "r50k_base"),
    // legacy code
    ("code-davinci-002", "p50k_base"),
    ("code-davinci-001", "p50k_base"),
    ("code-cushman-002", "p50k_base"),
    ("code-cushman-001", "p50k_base"),
    ("davinci-codex", "p50k_base"),
    ("cushman-codex", "p50k_base"),
    // legacy edits
    ("text-davinci-edit-001", "p50k_edit"),
    ("code-davinci-edit-001", "p50k_edit"),
    // legacy embeddings
    ("text-similarity-davinci-001", "r50k_base"),
    ("text-similarity-curie-001", "r50k_base"),
    ("text-similarity-babbage-001", "r50k_base"),
    ("text-similarity-ada-001", "r50k_base"),
    ("text-search-davinci-doc-001", "r50k_base"),
    ("text-search-curie-doc-001", "r50k_base"),
    ("text-search-babbage-doc-001", "r50k_base"),
    ("text-search-ada-doc-001", "r50k_base"),
    ("code-search-babbage-code-001", "r50k_base"),
    ("code-search-ada-code-001", "r50k_base"),
    // open weights
    ("gpt2", "gpt2"),
    ("gpt-2", "gpt2"),
];

/// Prefixes, most specific first (so `gpt-4o-…` is found before `gpt-4-…`).
const PREFIXES: &[(&str, &str)] = &[
    ("gpt-oss-", "o200k_harmony"),
    ("gpt-5", "o200k_base"), // gpt-5, gpt-5-mini, gpt-5.1, gpt-5.2-codex, ...
    ("gpt-4.5-", "o200k_base"),
    ("gpt-4.1-", "o200k_base"),
    ("gpt-4o-", "o200k_base"), // dated snapshots, -mini, -audio-preview, -realtime-preview, -search-preview
    ("chatgpt-4o-", "o200k_base"),
    ("o1-", "o200k_base"),
    ("o3-", "o200k_base"),
    ("o4-mini-", "o200k_base"),
    ("codex-mini", "o200k_base"),
    ("computer-use-preview", "o200k_base"),
    ("gpt-realtime", "o200k_base"),
    ("gpt-audio", "o200k_base"),
    ("gpt-4-", "cl100k_base"), // gpt-4-0613, gpt-4-32k, gpt-4-turbo, gpt-4-1106-preview
    ("gpt-3.5-turbo-", "cl100k_base"),
    ("gpt-35-turbo-", "cl100k_base"),
];

/// Current model ids offered as suggestions next to the exact names (prefix matches cover them already).
const WELL_KNOWN: &[&str] = &[
    "gpt-4o-mini",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-5.1",
    "gpt-5.2",
    "o1-mini",
    "o3-mini",
    "o3-pro",
    "gpt-4-turbo",
    "gpt-oss-20b",
    "gpt-oss-120b",
    "gpt-3.5-turbo-0125",
    "gpt-4o-2024-08-06",
];

/// Model families whose current tokenizer the vendor has not published: (name fragment, vendor).
const NOT_PUBLIC: &[(&str, &str)] = &[("claude", "Anthropic"), ("gemini", "Google")];

/// The encoding used to estimate counts for models whose tokenizer is not public.
pub const APPROXIMATION_ENCODING: &str = "o200k_base";

/// Reduces the forms logs contain to a bare OpenAI model id: lower case, no provider path, no fine-tune suffix,
/// no Bedrock vendor prefix or version suffix.
pub fn normalize_model(model: &str) -> String {
    let mut m = model.trim().to_ascii_lowercase();
    if let Some(rest) = m.strip_prefix("ft:") {
        // ft:gpt-4o-mini-2024-07-18:org:suffix:id → gpt-4o-mini-2024-07-18
        m = rest.split(':').next().unwrap_or(rest).to_string();
    }
    if let Some(last) = m.rsplit('/').next() {
        m = last.to_string();
    }
    for vendor in ["openai.", "azure.", "us.openai.", "eu.openai."] {
        if let Some(rest) = m.strip_prefix(vendor) {
            m = rest.to_string();
        }
    }
    // Bedrock version suffixes such as `-1:0` or `:0`.
    if let Some(colon) = m.find(':') {
        m.truncate(colon);
    }
    m
}

/// What is known about a model's tokenizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelTokenizer {
    /// The model uses this built-in encoding.
    Encoding(&'static str),
    /// The vendor has not published the tokenizer.
    NotPublic { vendor: &'static str },
}

/// Looks a model up without suggestions on failure.
pub fn lookup_model(model: &str) -> Option<ModelTokenizer> {
    let m = normalize_model(model);
    if let Some((_, enc)) = EXACT.iter().find(|(name, _)| *name == m) {
        return Some(ModelTokenizer::Encoding(enc));
    }
    if let Some((_, enc)) = PREFIXES.iter().find(|(prefix, _)| m.starts_with(prefix)) {
        return Some(ModelTokenizer::Encoding(enc));
    }
    NOT_PUBLIC.iter().find(|(fragment, _)| m.contains(fragment)).map(|(_, vendor)| ModelTokenizer::NotPublic { vendor })
}

/// The built-in encoding of an OpenAI model, or an error: `TokenizerNotPublic` for Claude and Gemini models,
/// `UnknownModel` (with the closest known names) for anything else.
pub fn encoding_name_for_model(model: &str) -> Result<&'static str> {
    match lookup_model(model) {
        Some(ModelTokenizer::Encoding(enc)) => Ok(enc),
        Some(ModelTokenizer::NotPublic { vendor }) => Err(Error::TokenizerNotPublic {
            model: model.to_string(),
            vendor: vendor.to_string(),
            fallback: APPROXIMATION_ENCODING.to_string(),
        }),
        None => Err(Error::UnknownModel { model: model.to_string(), suggestions: closest_models(model, 3) }),
    }
}

/// The known model names closest to `model` by edit distance (at most `n`, and only reasonably close ones).
pub fn closest_models(model: &str, n: usize) -> Vec<String> {
    let names = EXACT
        .iter()
        .map(|(name, _)| *name)
        .chain(PREFIXES.iter().map(|(p, _)| p.trim_end_matches('-')))
        .chain(WELL_KNOWN.iter().copied());
    closest(&normalize_model(model), names, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_openai_family_and_the_forms_logs_use() {
        let cases = [
            ("gpt-4o", "o200k_base"),
            ("gpt-4o-2024-08-06", "o200k_base"),
            ("openai/gpt-4o-2024-08-06", "o200k_base"),
            ("azure/gpt-4o", "o200k_base"),
            ("openrouter/openai/gpt-4o-mini", "o200k_base"),
            ("gpt-4o-mini-2024-07-18", "o200k_base"),
            ("chatgpt-4o-latest", "o200k_base"),
            ("gpt-4.1-nano-2025-04-14", "o200k_base"),
            ("gpt-4.5-preview", "o200k_base"),
            ("gpt-5", "o200k_base"),
            ("gpt-5-mini-2025-08-07", "o200k_base"),
            ("gpt-5.1-codex", "o200k_base"),
            ("gpt-5.2", "o200k_base"),
            ("o1-preview", "o200k_base"),
            ("o3-mini-2025-01-31", "o200k_base"),
            ("o4-mini", "o200k_base"),
            ("gpt-oss-120b", "o200k_harmony"),
            ("openai.gpt-oss-20b-1:0", "o200k_harmony"),
            ("gpt-4", "cl100k_base"),
            ("gpt-4-0613", "cl100k_base"),
            ("gpt-4-turbo-2024-04-09", "cl100k_base"),
            ("gpt-3.5-turbo-0125", "cl100k_base"),
            ("gpt-35-turbo", "cl100k_base"),
            ("azure/gpt-35-turbo-16k", "cl100k_base"),
            ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
            ("ft:gpt-3.5-turbo-0613:acme::xyz", "cl100k_base"),
            ("text-embedding-3-small", "cl100k_base"),
            ("text-embedding-ada-002", "cl100k_base"),
            ("text-davinci-003", "p50k_base"),
            ("code-davinci-edit-001", "p50k_edit"),
            ("davinci", "r50k_base"),
            ("gpt2", "gpt2"),
            ("GPT-4o", "o200k_base"),
        ];
        for (model, encoding) in cases {
            assert_eq!(encoding_name_for_model(model).unwrap(), encoding, "{model}");
        }
    }

    #[test]
    fn unpublished_tokenizers_say_so() {
        for model in [
            "claude-sonnet-4-5",
            "anthropic/claude-3-5-haiku",
            "us.anthropic.claude-opus-4-1-20250805-v1:0",
            "gemini-2.5-pro",
        ] {
            let err = encoding_name_for_model(model).unwrap_err();
            assert!(matches!(err, Error::TokenizerNotPublic { .. }), "{model}: {err}");
            assert!(err.to_string().contains("approximate=True"), "{err}");
        }
    }

    #[test]
    fn unknown_models_list_close_names() {
        let err = encoding_name_for_model("gpt4o-mini").unwrap_err();
        let Error::UnknownModel { suggestions, .. } = &err else { panic!("{err}") };
        assert!(suggestions.iter().any(|s| s.starts_with("gpt-4o")), "{suggestions:?}");
        assert!(err.to_string().contains("closest known names"), "{err}");
        let err = encoding_name_for_model("llama-3-70b").unwrap_err();
        assert!(matches!(err, Error::UnknownModel { .. }));
    }
}
