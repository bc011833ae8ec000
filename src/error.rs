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

    /// A chat message or tool definition that does not have the expected shape.
    #[error("{0}")]
    InvalidMessage(String),

    /// A bug: a panic caught at the Python boundary. It should never happen; the message says where.
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

fn suggestions_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; closest known names: {}", suggestions.join(", "))
    }
}
