//! A seeded xorshift generator, so that random inputs are the same every run and need no crate beyond the
//! project's. Shared by the integration tests and the benches (`#[path]`); the unit tests have `testing::below`.

/// The generator's numbers, from `seed` (any but 0).
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
