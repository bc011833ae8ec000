//! Token counting: OpenAI's encodings (exact, embedded), file-loaded tiktoken and Hugging Face tokenizers, model
//! → encoding, chat-message and image token rules.
//!
//! Text flows one way: `split` cuts it into pieces, `bpe` merges each piece into ranks of a `vocab`, and
//! `encoding` ties those together with special tokens and a per-thread cache.

pub mod bpe;
pub mod chat;
pub mod classes;
pub mod column;
pub mod count;
pub mod encoding;
pub mod image;
pub mod load;
pub mod models;
pub mod registry;
pub mod special;
pub mod split;
pub mod vocab;

pub use count::{StreamCounter, Tokenizer};
pub use encoding::Encoding;
pub use models::{encoding_name_for_model, lookup_model, normalize_model, ModelTokenizer};
pub use registry::{get_encoding, ENCODING_NAMES};
pub use special::{Allowed, Disallowed};
pub use vocab::Rank;
