//! A price sheet as a linear function of a table's count columns, for pricing tables fast.
//!
//! Within one long-context regime, every leaf count of a sheet's plan (see `cost::compute_fast`) is a sum of
//! the table's count columns with small integer coefficients, and the total is the leaves times their prices,
//! so the total of a row is a dot product of its counts with one coefficient vector per regime. The leaves that
//! could go negative (a part larger than its whole) and the counts' own rule (`Usage::validate`) become
//! checks, also dot products: a row that fails one, or has a count at or above [`MAX_COUNT`], is left to the
//! general path (`compute`), which prices it or says why not. Where both apply they give the same number:
//! `tests::linear_totals_equal_compute_fast` and the table tests compare them.

use crate::prices::book::FastPlan;
use crate::prices::units::{
    CACHE_AUDIO_READ, CACHE_IMAGE_READ, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, INPUT, INPUT_AUDIO, INPUT_IMAGE,
    N_UNITS, OUTPUT, REASONING, REQUESTS, WHOLE_OF,
};

/// Counts below 2^40 (a trillion tokens) keep every product and sum far inside `i128`; rows with larger counts
/// take the general path (which saturates and checks like a single `price()` call).
pub const MAX_COUNT: u64 = 1 << 40;

/// How a table's count columns feed the pricing units.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The unit of each count column, in column order (each unit once).
    pub units: Vec<usize>,
    /// The input column leaves out cache reads and writes (they are added to it).
    pub input_excludes_cache: bool,
    /// The output column leaves out reasoning tokens (Gemini's thoughts; they are added to it).
    pub output_excludes_reasoning: bool,
}

impl Layout {
    /// Coefficients per vector: one per column, then the constant 1.
    fn width(&self) -> usize {
        self.units.len() + 1
    }

    /// Each unit's count before pricing, as a vector over the columns (and the constant): what the general path
    /// puts in `Usage::counts` before `validate`.
    fn unit_vectors(&self) -> Vec<Vec<i64>> {
        let w = self.width();
        let mut v = vec![vec![0i64; w]; N_UNITS];
        for (c, &u) in self.units.iter().enumerate() {
            v[u][c] = 1;
        }
        if !self.units.contains(&REQUESTS) {
            v[REQUESTS][w - 1] = 1; // one request per row unless a column says otherwise
        }
        if self.input_excludes_cache {
            for part in [CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H] {
                let add = v[part].clone();
                add_into(&mut v[INPUT], &add, 1);
            }
        }
        if self.output_excludes_reasoning {
            let add = v[REASONING].clone();
            add_into(&mut v[OUTPUT], &add, 1);
        }
        v
    }
}

fn add_into(into: &mut [i64], v: &[i64], times: i64) {
    for (a, b) in into.iter_mut().zip(v) {
        *a += b * times;
    }
}

/// A vector over a row's columns, as its nonzero terms: (column, coefficient).
type Terms = Vec<(usize, i64)>;

fn terms(v: &[i64]) -> Terms {
    v.iter().enumerate().filter(|(_, c)| **c != 0).map(|(i, c)| (i, *c)).collect()
}

/// A check `v · x >= 0` that reads "column a is at most column b": (a, b).
fn part_within_whole(v: &[i64]) -> Option<(usize, usize)> {
    match terms(v).as_slice() {
        [(i, 1), (j, -1)] => Some((*j, *i)),
        [(i, -1), (j, 1)] => Some((*i, *j)),
        _ => None,
    }
}

/// One sheet's prices as dot products (see the module docs).
#[derive(Clone, Debug)]
pub struct Linear {
    width: usize,
    /// The prompt size (the input count) that picks the long-context regime.
    prompt: Terms,
    /// Distinct long-context thresholds, ascending: the regime is how many of them the prompt is above.
    thresholds: Vec<u64>,
    /// Per regime, the price of each column (10^-18 USD per count).
    coefficients: Vec<Terms>,
    /// Checks of the form "column a is at most column b" (a part within its whole), as (a, b) ...
    at_most: Vec<(usize, usize)>,
    /// ... and the other vectors whose dot product with a row must not be negative.
    checks: Vec<Terms>,
    /// `coefficients` as fixed-width arrays, when a row has at most `LANES` values: a dot product without loop
    /// overhead (the zero padding costs less than the branches of a sparse one).
    dense: Option<Vec<[i64; LANES]>>,
}

/// Values per row of the fixed-width form (see `Linear::dense`).
const LANES: usize = 8;

impl Linear {
    /// The linear form of `plan` for `layout`, or `None` when it does not fit (the general path prices then).
    pub fn new(plan: &FastPlan, layout: &Layout) -> Option<Linear> {
        let mut seen = [false; N_UNITS];
        for &u in &layout.units {
            if std::mem::replace(&mut seen[u], true) {
                return None; // one column per unit
            }
        }
        let width = layout.width();
        let mut v = layout.unit_vectors();
        let mut checks: Vec<Vec<i64>> = Vec::new();
        let mut check = |c: Vec<i64>| {
            if c.iter().any(|x| *x < 0) && !checks.contains(&c) {
                checks.push(c);
            }
        };
        // `Usage::validate`: every part within its whole, cache reads and writes within the input, cached
        // audio and image within both their wholes.
        let diff = |v: &[Vec<i64>], whole: usize, parts: &[usize]| {
            let mut d = v[whole].clone();
            for p in parts {
                add_into(&mut d, &v[*p], -1);
            }
            d
        };
        for (u, whole) in WHOLE_OF.iter().enumerate() {
            if let Some(w) = whole {
                check(diff(&v, *w, &[u]));
            }
        }
        check(diff(&v, INPUT, &[CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H]));
        for (part, wholes) in
            [(CACHE_AUDIO_READ, [CACHE_READ, INPUT_AUDIO]), (CACHE_IMAGE_READ, [CACHE_READ, INPUT_IMAGE])]
        {
            for w in wholes {
                check(diff(&v, w, &[part]));
            }
        }
        // Pricing counts 1-hour cache writes as cache writes (see `Usage::unit_counts`).
        if layout.units.contains(&CACHE_WRITE_1H) {
            let add = v[CACHE_WRITE_1H].clone();
            add_into(&mut v[CACHE_WRITE], &add, 1);
        }
        let mut thresholds: Vec<u64> =
            plan.steps.iter().flat_map(|s| s.above[..s.n_above as usize].iter().map(|(t, _)| *t)).collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        // A prompt in each regime: 0, then one above each threshold.
        let mut representatives = vec![0u64];
        for t in &thresholds {
            representatives.push(t.checked_add(1)?);
        }
        let mut coefficients = vec![vec![0i64; width]; representatives.len()];
        let mut leaves: Vec<Vec<i64>> = Vec::with_capacity(plan.steps.len());
        for step in &plan.steps {
            let mut leaf = v[step.unit].clone();
            for d in &step.descendants[..step.n_descendants as usize] {
                add_into(&mut leaf, leaves.get(*d as usize)?, -1);
            }
            check(leaf.clone());
            for (r, prompt) in representatives.iter().enumerate() {
                let mut price = step.base;
                for (threshold, p) in step.above[..step.n_above as usize].iter().rev() {
                    if prompt > threshold {
                        price = *p;
                        break;
                    }
                }
                let price = i64::try_from(price).ok()?;
                for (c, x) in coefficients[r].iter_mut().zip(&leaf) {
                    *c = c.checked_add(x.checked_mul(price)?)?;
                }
            }
            leaves.push(leaf);
        }
        Some(Linear {
            width,
            prompt: terms(&v[INPUT]),
            thresholds,
            coefficients: coefficients.iter().map(|c| terms(c)).collect(),
            at_most: checks.iter().filter_map(|c| part_within_whole(c)).collect(),
            checks: checks.iter().filter(|c| part_within_whole(c).is_none()).map(|c| terms(c)).collect(),
            dense: (width <= LANES).then(|| {
                coefficients
                    .iter()
                    .map(|c| {
                        let mut d = [0i64; LANES];
                        d[..width].copy_from_slice(c);
                        d
                    })
                    .collect()
            }),
        })
    }

    /// A row's values for [`Linear::total`]: one per column (filled by the caller), then the constant 1,
    /// then zeros up to the fixed width.
    pub fn row(columns: usize) -> Vec<u64> {
        let mut x = vec![0u64; (columns + 1).max(LANES)];
        x[columns] = 1;
        x
    }

    /// The total of a row whose counts (each below [`MAX_COUNT`]) are `x` (see [`Linear::row`]), or `None`
    /// when a check fails (the general path says why).
    #[inline]
    pub fn total(&self, x: &[u64]) -> Option<i128> {
        debug_assert!(x.len() >= self.width.max(LANES) && x[self.width - 1] == 1);
        // Counts are below 2^40 (see `MAX_COUNT`): as i64, each product is one widening multiply.
        let dot = |v: &Terms| -> i128 { v.iter().map(|&(c, a)| a as i128 * x[c] as i64 as i128).sum() };
        if self.at_most.iter().any(|&(a, b)| x[a] > x[b]) || self.checks.iter().any(|c| dot(c) < 0) {
            return None;
        }
        let regime = match self.thresholds.as_slice() {
            [] => 0,
            thresholds => {
                let prompt = dot(&self.prompt);
                thresholds.iter().take_while(|t| prompt > **t as i128).count()
            }
        };
        /// `c · x` over the first `L` values (the rest are zero).
        #[inline(always)]
        fn dense_dot<const L: usize>(c: &[i64; LANES], x: &[u64; LANES]) -> i128 {
            (0..L).map(|i| c[i] as i128 * x[i] as i64 as i128).sum()
        }
        match (&self.dense, x.first_chunk::<LANES>()) {
            // Most tables have up to three count columns: four values with the constant.
            (Some(dense), Some(x)) if self.width <= 4 => Some(dense_dot::<4>(&dense[regime], x)),
            (Some(dense), Some(x)) => Some(dense_dot::<LANES>(&dense[regime], x)),
            _ => Some(dot(&self.coefficients[regime])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::compute_fast;
    use crate::prices::units::OUTPUT;
    use crate::prices::PriceBook;

    /// Every sheet of the default book with a fast plan, on counts of every shape, for several layouts: the
    /// dot product gives `compute_fast`'s total, and declines exactly where `compute_fast` or the counts' rule
    /// does.
    #[test]
    fn linear_totals_equal_compute_fast() {
        let book = PriceBook::default_book();
        let layouts = [
            Layout {
                units: vec![INPUT, CACHE_READ, OUTPUT],
                input_excludes_cache: false,
                output_excludes_reasoning: false,
            },
            Layout {
                units: vec![INPUT, CACHE_READ, CACHE_WRITE, CACHE_WRITE_1H, OUTPUT],
                input_excludes_cache: true,
                output_excludes_reasoning: false,
            },
            Layout { units: (0..N_UNITS).collect(), input_excludes_cache: false, output_excludes_reasoning: false },
            Layout {
                units: vec![OUTPUT, INPUT_AUDIO, INPUT],
                input_excludes_cache: true,
                output_excludes_reasoning: false,
            },
            Layout {
                units: vec![INPUT, OUTPUT, REASONING],
                input_excludes_cache: false,
                output_excludes_reasoning: true,
            },
        ];
        let mut next = crate::testing::below(0x2545_F491_4F6C_DD1D);
        let mut compared = 0;
        for (mi, model) in book.models.iter().enumerate() {
            for entry in &model.entries {
                let Ok(sheet) = book.sheet_for(mi, entry.from.unwrap_or(0), None, None) else { continue };
                let Some(plan) = &sheet.fast else { continue };
                for layout in &layouts {
                    let lin = Linear::new(plan, layout).expect("default prices fit");
                    for _ in 0..40 {
                        let mut x = Linear::row(layout.units.len());
                        for v in &mut x[..layout.units.len()] {
                            *v = match next(4) {
                                0 => 0,
                                1 => next(2_000),
                                2 => next(300_000),
                                _ => next(2_000_000),
                            } as u64;
                        }
                        // What the general path does with the same row.
                        let mut usage = crate::usage::Usage::default();
                        for (c, &u) in layout.units.iter().enumerate() {
                            usage.counts[u] = x[c];
                        }
                        if layout.input_excludes_cache {
                            let c = &mut usage.counts;
                            c[INPUT] += c[CACHE_READ] + c[CACHE_WRITE] + c[CACHE_WRITE_1H];
                        }
                        if layout.output_excludes_reasoning {
                            usage.counts[OUTPUT] += usage.counts[REASONING];
                        }
                        let valid = usage.validate().is_ok();
                        let fast = compute_fast(plan, &usage.unit_counts(), |_, _| {});
                        let expected = if valid { fast } else { None };
                        assert_eq!(lin.total(&x), expected, "{} {:?} {x:?}", model.id, layout.units);
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 10_000, "only {compared} rows compared");
    }
}
