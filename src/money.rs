//! Exact money: amounts are whole numbers of 10^-18 USD in an `i128` (Arrow's decimal128(38, 18) holds them as
//! they are), and a price is a fraction `num / den` of 10^-18 USD per counted unit.
//!
//! The one rounding point: the cost of one item (one unit's count × its price) is rounded half-to-even to
//! 10^-18 USD. That changes nothing unless a price is per hour (÷ 3,600) or a multiplier makes the per-unit price
//! non-terminating; token prices per million with up to 12 decimals are exact. Totals are exact sums of items.
//!
//! Every Arrow column of amounts (priced tables, priced logs, their summaries, reported costs) is built here:
//! [`MONEY_TYPE`], [`money_field`], [`money_builder`], [`money_array`].
//!
//! ```
//! use rust_decimal::Decimal;
//! use tokenprice::money::{amount_text, format_usd, Factor};
//!
//! // $2.50 per million tokens: 1,234 tokens cost $0.003085, exactly.
//! let price = Factor::new(Decimal::new(250, 2), Decimal::ONE, 1_000_000).unwrap();
//! let amount = price.cost(1_234).unwrap();
//! assert_eq!(amount_text(amount), "0.003085");
//! assert_eq!(format_usd(amount), "$0.003085");
//! ```

use arrow_array::builder::Decimal128Builder;
use arrow_array::Decimal128Array;
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field};
use rust_decimal::Decimal;

use crate::error::{Error, Result};

/// Decimal places of every amount: amounts are whole numbers of 10^-18 USD.
pub const SCALE: u32 = 18;
/// One USD in amounts (10^18).
pub const TEN18: i128 = 1_000_000_000_000_000_000;
/// Digits of an amount column: decimal128(38, 18) holds every amount below 10^20 USD.
pub const PRECISION: u8 = 38;
/// The Arrow type of every amount column, decimal128(38, 18): its values are the `i128` amounts as they are.
pub const MONEY_TYPE: DataType = DataType::Decimal128(PRECISION, SCALE as i8);

/// A price per counted unit, as `num / den` × 10^-18 USD, in lowest terms with `den > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Factor {
    pub num: i128,
    pub den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

fn mul(a: i128, b: i128, what: &str) -> Result<i128> {
    a.checked_mul(b).ok_or_else(|| Error::Overflow(what.to_string()))
}

impl Factor {
    pub const ZERO: Factor = Factor { num: 0, den: 1 };

    /// The factor of `price` USD per `per` units (e.g. per 1,000,000 tokens), times `multiplier`.
    pub fn new(price: Decimal, multiplier: Decimal, per: u64) -> Result<Factor> {
        let what = format!("price {price} × {multiplier} per {per}");
        let (pm, ps) = (price.mantissa(), price.scale());
        let (mm, ms) = (multiplier.mantissa(), multiplier.scale());
        let mut num = mul(pm, mm, &what)?;
        let mut den =
            mul(per as i128, 10i128.checked_pow(ps + ms).ok_or_else(|| Error::Overflow(what.clone()))?, &what)?;
        // × 10^18, cancelling common factors first so that the numbers stay small.
        let g = gcd(TEN18, den);
        num = mul(num, TEN18 / g, &what)?;
        den /= g;
        let g = gcd(num, den);
        Ok(Factor { num: num / g, den: den / g })
    }

    /// The cost of `count` units, in 10^-18 USD, rounded half-to-even when not whole.
    #[inline]
    pub fn cost(&self, count: u64) -> Option<i128> {
        if self.den == 1 && (0..=i64::MAX as i128).contains(&self.num) {
            // 64 × 63 bits: one widening multiply, and it cannot overflow.
            return Some((count as u128 * self.num as u128) as i128);
        }
        let n = (count as i128).checked_mul(self.num)?;
        if self.den == 1 {
            return Some(n);
        }
        Some(div_round_half_even(n, self.den))
    }

    /// The same factor times a decimal multiplier (negotiated discounts, tier and region factors).
    pub fn times(&self, multiplier: Decimal) -> Result<Factor> {
        let what = format!("multiplier {multiplier}");
        let num = mul(self.num, multiplier.mantissa(), &what)?;
        let den =
            mul(self.den, 10i128.checked_pow(multiplier.scale()).ok_or_else(|| Error::Overflow(what.clone()))?, &what)?;
        let g = gcd(num, den);
        Ok(Factor { num: num / g, den: den / g })
    }

    /// The price per `per` units in USD, for display (exact when it terminates within 28 digits). A price too
    /// large for a 96-bit decimal is an `Overflow` error, never a saturated number.
    pub fn per_units(&self, per: u64) -> Result<Decimal> {
        let too_large = || Error::Overflow(format!("price {}/{} × 10^-18 USD per {per}", self.num, self.den));
        let n = Decimal::try_from_i128_with_scale(self.num, 0).map_err(|_| too_large())?;
        let scaled = n.checked_mul(Decimal::from(per)).ok_or_else(too_large)?;
        let d = Decimal::try_from_i128_with_scale(self.den, 0).map_err(|_| too_large())?;
        let ten18 = Decimal::from_i128_with_scale(TEN18, 0);
        Ok(scaled.checked_div(d).and_then(|q| q.checked_div(ten18)).ok_or_else(too_large)?.normalize())
    }

    pub fn is_zero(&self) -> bool {
        self.num == 0
    }
}

/// `n / d` rounded half to even (`d > 0`).
#[inline]
pub fn div_round_half_even(n: i128, d: i128) -> i128 {
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    let twice = r * 2;
    if twice > d || (twice == d && q % 2 != 0) {
        q + 1
    } else {
        q
    }
}

/// An amount in 10^-18 USD as exact decimal text, without trailing zeros: every i128 amount (up to about
/// 1.7 × 10^20 USD) is written exactly, where a `rust_decimal` (96-bit mantissa) would overflow past 7.9 × 10^10.
pub fn amount_text(amount: i128) -> String {
    let scale = SCALE as usize;
    // At least one digit before the point: zero-padded to scale + 1 digits.
    let digits = format!("{:0>width$}", amount.unsigned_abs(), width = scale + 1);
    let sign = if amount < 0 { "-" } else { "" };
    let (whole, frac) = digits.split_at(digits.len() - scale);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac}")
    }
}

/// Formats an amount for people: `$0.00475`, at least two decimals, all significant digits kept.
pub fn format_usd(amount: i128) -> String {
    let s = amount_text(amount);
    match s.split_once('.') {
        None => format!("${s}.00"),
        Some((_, f)) if f.len() < 2 => format!("${s}0"),
        Some(_) => format!("${s}"),
    }
}

/// A decimal (USD) as an amount in 10^-18 USD, if it fits 38 digits; digits past the 18th decimal are cut off
/// (toward zero), as no price or reported cost has them.
///
/// ```
/// use rust_decimal::Decimal;
/// use tokenprice::money::amount_of;
/// assert_eq!(amount_of(Decimal::new(475, 5)), Some(4_750_000_000_000_000)); // $0.00475
/// ```
pub fn amount_of(d: Decimal) -> Option<i128> {
    let scale = d.scale();
    let m = d.mantissa();
    let amount = if scale <= SCALE {
        m.checked_mul(POWERS_OF_TEN[(SCALE - scale) as usize])?
    } else {
        m / POWERS_OF_TEN[(scale - SCALE) as usize]
    };
    fits(amount).then_some(amount)
}

/// The largest amount an amount column holds: 38 nines (10^20 USD less 10^-18).
pub const MAX_AMOUNT: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// Whether an amount fits an amount column (38 digits; an `i128` holds 39).
pub fn fits(amount: i128) -> bool {
    amount.unsigned_abs() <= MAX_AMOUNT as u128
}

/// `a + b` when the sum fits an amount column (a sum of amounts that each fit may not).
pub fn add_amounts(a: i128, b: i128) -> Option<i128> {
    a.checked_add(b).filter(|s| fits(*s))
}

/// 10^0 … 10^28 (a decimal's scale is at most 28).
const POWERS_OF_TEN: [i128; 29] = {
    let mut p = [1i128; 29];
    let mut i = 1;
    while i < 29 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// A nullable amount column named `name`.
///
/// ```
/// use tokenprice::money::{money_field, MONEY_TYPE};
/// assert_eq!(money_field("total_cost").data_type(), &MONEY_TYPE);
/// ```
pub fn money_field(name: &str) -> Field {
    Field::new(name, MONEY_TYPE, true)
}

/// A builder of an amount column with room for `capacity` amounts.
///
/// ```
/// use arrow_array::Array;
/// use tokenprice::money::{money_builder, MONEY_TYPE};
/// let mut b = money_builder(2);
/// b.append_value(5);
/// b.append_null();
/// assert_eq!(b.finish().data_type(), &MONEY_TYPE);
/// ```
pub fn money_builder(capacity: usize) -> Decimal128Builder {
    Decimal128Builder::with_capacity(capacity).with_data_type(MONEY_TYPE)
}

/// An amount column of `values`, null where `valid` says so.
pub fn money_array(values: Vec<i128>, valid: Option<NullBuffer>) -> Decimal128Array {
    Decimal128Array::new(values.into(), valid).with_data_type(MONEY_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn per_million_token_prices_are_exact() {
        let f = Factor::new(d("2.50"), Decimal::ONE, 1_000_000).unwrap();
        assert_eq!(f.den, 1);
        assert_eq!(f.cost(1_000_000), Some(2_500_000_000_000_000_000)); // $2.50
        assert_eq!(f.cost(1), Some(2_500_000_000_000)); // $0.0000025
        assert_eq!(amount_text(f.cost(1234).unwrap()), "0.003085");
        let half = f.times(d("0.5")).unwrap();
        assert_eq!(amount_text(half.cost(1_000_000).unwrap()), "1.25");
        assert_eq!(half.per_units(1_000_000).unwrap().to_string(), "1.25");
    }

    #[test]
    fn per_hour_prices_round_half_even_once() {
        // $1 per hour, per second: 1/3600 USD = 0.000277777…
        let f = Factor::new(d("1"), Decimal::ONE, 3600).unwrap();
        assert_eq!(f.cost(1), Some(277_777_777_777_778));
        assert_eq!(f.cost(3600), Some(TEN18));
        assert_eq!(div_round_half_even(5, 2), 2);
        assert_eq!(div_round_half_even(7, 2), 4);
        assert_eq!(div_round_half_even(-5, 2), -2);
    }

    #[test]
    fn large_amounts_are_written_exactly_never_saturated() {
        // 10^17 tokens at $2.50 per million: $250,000,000,000, past rust_decimal's 28 digits at scale 18.
        let f = Factor::new(d("2.50"), Decimal::ONE, 1_000_000).unwrap();
        assert_eq!(amount_text(f.cost(100_000_000_000_000_000).unwrap()), "250000000000");
        assert_eq!(amount_text(i128::MAX), "170141183460469231731.687303715884105727");
        assert_eq!(amount_text(-5), "-0.000000000000000005");
        assert_eq!(amount_text(0), "0");
        assert_eq!(format_usd(5 * TEN18 / 10), "$0.50");
        let huge = Factor { num: i128::MAX, den: 1 };
        assert!(matches!(huge.per_units(1_000_000), Err(Error::Overflow(_))));
    }

    #[test]
    fn decimals_become_amounts_exactly_or_not_at_all() {
        assert_eq!(amount_of(d("2.5")), Some(5 * TEN18 / 2));
        assert_eq!(amount_of(d("-0.000000000000000001")), Some(-1));
        // Past 18 decimals: cut toward zero.
        assert_eq!(amount_of(d("0.0000000000000000019")), Some(1));
        assert_eq!(amount_of(d("-0.0000000000000000019")), Some(-1));
        // 79228162514264337593543950335 USD × 10^18 does not fit an i128.
        assert_eq!(amount_of(Decimal::MAX), None);
    }

    #[test]
    fn amounts_are_what_an_amount_column_holds() {
        let d = |t: &str| Decimal::from_str(t).unwrap();
        // (A decimal holds 28 digits: the largest amount itself is not one.)
        let most = 99_999_999_999_999_999_999_999_999_990_000_000_000;
        assert_eq!(amount_of(d("99999999999999999999.99999999")), Some(most));
        assert_eq!(amount_of(d("-99999999999999999999.99999999")), Some(-most));
        // 10^20 USD fits an i128 at 10^-18 (39 digits) but not decimal128(38, 18).
        assert_eq!(amount_of(d("100000000000000000000")), None);
        assert_eq!(amount_of(d("-100000000000000000000")), None);
        assert_eq!(add_amounts(MAX_AMOUNT, 1), None);
        assert_eq!(add_amounts(MAX_AMOUNT, -1), Some(MAX_AMOUNT - 1));
        assert_eq!(add_amounts(i128::MAX, 1), None);
        assert!(fits(MAX_AMOUNT) && !fits(MAX_AMOUNT + 1) && !fits(i128::MIN));
    }

    #[test]
    fn amount_columns_are_decimal128_38_18() {
        assert_eq!(MONEY_TYPE, DataType::Decimal128(38, 18));
        use arrow_array::Array;
        let column = money_array(vec![1, 2], Some(NullBuffer::from(vec![true, false])));
        assert_eq!(column.data_type(), &MONEY_TYPE);
        assert_eq!((column.value(0), column.is_null(1)), (1, true));
        assert!(money_field("x").is_nullable());
    }

    #[test]
    fn formatting() {
        assert_eq!(format_usd(4_750_000_000_000_000), "$0.00475");
        assert_eq!(format_usd(2 * TEN18), "$2.00");
        assert_eq!(format_usd(0), "$0.00");
    }
}
