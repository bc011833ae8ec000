//! tokenprice: exact LLM token counting and pricing, with no Python in the core.
//!
//! Modules by layer, bottom → top: a module uses only the modules above it in this table (checked by
//! `tests/layers.rs`), so data flows one way: raw record → usage → priced line → aggregate.
//!
//! | layer | module | owns |
//! |---|---|---|
//! | shared | [`names`] | closest-name suggestions for unknown names (edit distance) |
//! | shared | [`error`] | the one error type of the core |
//! | shared | `fork` | caches and cells a forked child never waits for |
//! | shared | [`parallel`] | the fork-safe thread pools that batch work runs on |
//! | shared | [`money`] | exact amounts (10^-18 USD in an `i128`), prices as fractions, decimal128(38, 18) columns |
//! | shared | [`json`] | the lazy JSON scanner and its SIMD kernels, shared by the usage readers and the log reader |
//! | 1 | [`tokens`] | encodings, split patterns, byte-pair merging, model → encoding, chat and image counting |
//! | 2 | [`prices`] | the price book (providers, models, dated prices, tiers, windows, regions): where a price is chosen |
//! | 3 | [`usage`] | what a request consumed, read from provider and gateway records |
//! | 4 | [`cost`] | exact pricing of usage with the book: one usage, one record, or an Arrow table |
//! | 5 | [`ledger`] | log records read from files, priced line by line, with the rejects and their places |
//! | 6 | [`budget`] | spend and rate limits per label combination: reservations, windows, the in-process store |
//! | 7 | `py` | the pyo3 layer (behind the `python` feature): converts and delegates, never decides |

pub mod budget;
pub mod cost;
pub mod error;
pub(crate) mod fork;
pub mod json;
pub mod ledger;
pub mod money;
pub mod names;
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
