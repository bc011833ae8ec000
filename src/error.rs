//! The core's one error type. Each variant names the bad value, where it came from and what would be valid; the
//! Python layer maps each variant to a named subclass of `tokenprice.TokenPriceError`.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// A model name that no encoding is known for.
    #[error("unknown model {model:?}: no tokenizer is known for it{}", suggestions_text(.suggestions))]
    UnknownModel { model: String, suggestions: Vec<String> },

    /// An encoding name that is not built in.
    #[error("unknown encoding {name:?}; built-in encodings are: {}", .known.join(", "))]
    UnknownEncoding { name: String, known: Vec<String> },

    /// The model's tokenizer is not public, so an exact count is impossible.
    #[error(
        "{model:?} uses a tokenizer that {vendor} has not published, so tokenprice cannot count its tokens exactly; \
         pass approximate=True to estimate with {fallback} (results are marked approximate), or use the usage the \
         API reports"
    )]
    TokenizerNotPublic { model: String, vendor: String, fallback: String },

    /// Text contains a special token that the caller did not allow (tiktoken's `disallowed_special` rule).
    #[error(
        "text contains the special token {token:?} at byte {offset}; pass allowed_special={{{token:?}}} (or \"all\") \
         to encode it as a special token, or disallowed_special=() to encode it as ordinary text"
    )]
    DisallowedSpecialToken { token: String, offset: usize },

    /// A token id outside the encoding's vocabulary.
    #[error("token id {id} is not in encoding {encoding} (ids run 0..{max} with special tokens above)")]
    InvalidTokenId { id: u64, encoding: String, max: u32 },

    /// A tokenizer or vocabulary file that cannot be read or parsed.
    #[error("{path}: {what}")]
    TokenizerFile { path: String, what: String },

    /// Input text that is not valid UTF-8 (for example a file counted by the CLI).
    #[error("{source_name}: invalid UTF-8 at byte {offset}")]
    InvalidUtf8 { source_name: String, offset: u64 },

    /// Reading input failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },

    /// An argument outside its valid range (a thread count of zero, an unknown detail level, ...).
    #[error("{0}")]
    InvalidArgument(String),

    /// An argument of the wrong type (a number where a name is expected, `None` for a required value, ...).
    #[error("{0}")]
    InvalidType(String),

    /// No price is known for this model (with this provider, if one was given).
    #[error("no price is known for model {model:?}{}{}", provider_text(.provider), suggestions_text(.suggestions))]
    UnknownPricedModel { model: String, provider: Option<String>, suggestions: Vec<String> },

    /// A provider name the price book does not know.
    #[error("unknown provider {provider:?}; known providers: {}", .known.join(", "))]
    UnknownProvider { provider: String, known: Vec<String> },

    /// A model id that several providers price and none of them owns: the provider must be given.
    #[error("model {model:?} is priced by several providers ({}); pass provider= to choose", .providers.join(", "))]
    AmbiguousModel { model: String, providers: Vec<String> },

    /// The model's first known price is later than the time asked about.
    #[error("no price for {model} on {date}: its first known price starts on {first}")]
    NoPriceAtDate { model: String, date: String, first: String },

    /// The model has no price for the requested service tier.
    #[error("no {tier:?} price for {model} ({provider}) on {date}; tiers priced: {}", .known.join(", "))]
    NoTierPrice { model: String, provider: String, tier: String, date: String, known: Vec<String> },

    /// A service tier or region name the provider does not know.
    #[error("{what} {name:?} is not known for provider {provider}; known: {}", .known.join(", "))]
    UnknownOption { what: String, name: String, provider: String, known: Vec<String> },

    /// Usage counts that are impossible (negative, not whole, or parts larger than their total).
    #[error("invalid usage: {field}: {message}")]
    InvalidUsage { field: String, message: String },

    /// A price file or price-book definition that breaks the schema.
    #[error("invalid price book: {0}")]
    PriceBook(String),

    /// An amount too large for exact 38-digit arithmetic.
    #[error("{0}: the amount is too large to compute exactly")]
    Overflow(String),

    /// A chat message or tool definition that does not have the expected shape.
    #[error("{0}")]
    InvalidMessage(String),

    /// A record that cannot be read as usage: which format, which field, what was wrong.
    #[error("usage record: {0}")]
    UsageFormat(String),

    /// A budget's store (Redis) cannot be reached and the budget fails closed (raised by the Python layer).
    #[error("{0}")]
    BudgetStore(String),

    /// A bug: a panic caught at the Python boundary. It should never happen; the message says where.
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

impl Error {
    /// The error of an Arrow call that cannot fail on the core's own columns (building `table`): an internal one.
    pub fn arrow(table: &'static str) -> impl Fn(arrow_schema::ArrowError) -> Error {
        move |e| Error::Internal(format!("{table}: {e}"))
    }
}

fn provider_text(provider: &Option<String>) -> String {
    provider.as_ref().map(|p| format!(" from provider {p:?}")).unwrap_or_default()
}

fn suggestions_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; closest known names: {}", suggestions.join(", "))
    }
}
