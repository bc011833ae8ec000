//! tokenprice: exact LLM token counting (and, in later modules, pricing) with no Python in the core.
//!
//! Modules by domain:
//! - [`tokens`]: encodings, the split patterns, byte-pair merging, model → encoding, chat and image counting.
//! - [`prices`]: the price book (providers, models, dated prices, tiers, windows, regions) and where a price is
//!   chosen; [`usage`]: what a request consumed; [`cost`]: exact pricing of usage with the book.
//! - [`ledger`]: log records read from files, priced line by line, with the rejects and their places.
//! - [`parallel`]: the fork-safe thread pools that batch work runs on; `fork`: caches and cells a forked child
//!   never waits for.
//! - [`error`]: the one error type of the core.
//!
//! The pyo3 layer lives in `src/py/` behind the `python` feature; it converts and delegates, never decides.

pub mod cost;
pub mod error;
pub(crate) mod fork;
pub mod ledger;
pub mod money;
pub mod parallel;
pub mod prices;
pub mod tokens;
pub mod usage;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result};

/// What the tests share.
#[cfg(test)]
pub(crate) mod testing {
    /// A seeded xorshift generator of numbers below its argument, for random test inputs that are the same every run.
    pub fn below(seed: u64) -> impl FnMut(usize) -> usize {
        let mut state = seed;
        move |m: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % m as u64) as usize
        }
    }
}

/// Log pricing allocates a few short strings per record on every core; mimalloc's per-thread heaps make that
/// markedly cheaper than the system allocator (measured with `benches/ledger_core.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
