//! tokenprice: exact LLM token counting (and, in later modules, pricing) with no Python in the core.
//!
//! Modules by domain:
//! - [`tokens`]: encodings, the split patterns, byte-pair merging, model → encoding, chat and image counting.
//! - [`parallel`]: the fork-safe thread pools that batch work runs on.
//! - [`error`]: the one error type of the core.
//!
//! The pyo3 layer lives in `src/py/` behind the `python` feature; it converts and delegates, never decides.

pub mod error;
pub mod parallel;
pub mod tokens;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result};
