//! Spend limits and rate limits per label combination: the rules (`Limiter`), the reservation protocol
//! (`Limiter::check` reserves an amount under every rule that applies, all or none; `Limiter::settlement` says
//! what to add back when the actual amount is known), windows fixed or sliding, and the in-process store
//! (`MemoryStore`, thread-safe). A store shared by processes (Redis, in the Python layer) follows the same rules:
//! `Limiter::slots` says what to reserve, the store reserves, `Limiter::decide` reads its answer.
//!
//! Amounts are integers (`i64`): money in nano-USD (10⁻⁹; [`nano_ceil`] and [`nano_of_text`] round a finer amount
//! up, so a limit is never passed by rounding), tokens and requests as counts. Amounts reserved and settled are
//! never negative (a negative one would hand the budget more than its limit), and a limit is at most
//! [`MAX_LIMIT`]. A fixed window is the period's
//! epoch-aligned interval (`now_ms / period_ms`); a sliding one adds the previous window's count weighted by the
//! part of it still inside the period (`prev × (period − now mod period) / period`, rounded down), as gateways'
//! rate limiters do.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The largest limit: 2⁵³ − 1 (nano-USD, about 9 million USD; or tokens, or requests), the largest integer a
/// double holds exactly, so that Redis's Lua script (whose numbers are doubles) counts it as this store does.
pub const MAX_LIMIT: i64 = (1 << 53) - 1;

/// An error unless every amount (indexed by [`Measure`]) is 0 or more.
fn never_negative(amounts: impl IntoIterator<Item = (Measure, i64)>, what: &str) -> Result<()> {
    match amounts.into_iter().find(|(_, a)| *a < 0) {
        Some((m, a)) => Err(Error::InvalidArgument(format!(
            "{what} of {a} {}: amounts are never negative (a negative one would raise the budget past its limit)",
            if m == Measure::Usd { "nano-USD" } else { m.name() }
        ))),
        None => Ok(()),
    }
}

/// What a rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Money, in nano-USD.
    Usd = 0,
    Tokens = 1,
    Requests = 2,
}

impl Measure {
    pub const ALL: [Measure; 3] = [Measure::Usd, Measure::Tokens, Measure::Requests];

    pub fn name(self) -> &'static str {
        match self {
            Measure::Usd => "usd",
            Measure::Tokens => "tokens",
            Measure::Requests => "requests",
        }
    }

    pub fn from_name(name: &str) -> Result<Measure> {
        Measure::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| Error::InvalidArgument(format!("measure {name:?}: expected one of usd, tokens, requests")))
    }
}

/// A limit on a label combination: `("tenant",)` or `("tenant", "feature")`, `limit` per `period_ms`.
#[derive(Clone, Debug)]
pub struct Rule {
    pub labels: Vec<String>,
    pub measure: Measure,
    pub limit: i64,
    pub period_ms: i64,
    /// The limit as the user wrote it ("tenant 50.00/day"), named by decisions.
    pub text: String,
}

/// One rule's reservation as a store sees it: the key of its label values (without the window), the limit, the
/// period, whether the window slides, the amount asked, and which rule it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    pub key: String,
    pub limit: i64,
    pub period_ms: i64,
    pub sliding: bool,
    pub amount: i64,
    pub rule: usize,
}

impl Slot {
    /// The window `now_ms` falls in.
    pub fn window(&self, now_ms: i64) -> i64 {
        now_ms.div_euclid(self.period_ms)
    }

    /// The store key of window `w`: `{key}:{w}`.
    pub fn window_key(&self, w: i64) -> String {
        format!("{}:{w}", self.key)
    }
}

/// A store's answer: all slots reserved (`denied == None`) or none (`denied`: the first slot that could not be);
/// `remaining` per slot up to and including the denying one (after the reservation when allowed, before it when
/// denied).
#[derive(Clone, Debug, PartialEq)]
pub struct Reserved {
    pub denied: Option<usize>,
    pub remaining: Vec<i64>,
}

/// A reservation held under one rule: the window key it was added to, the period, the amount and what it counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Held {
    pub key: String,
    pub period_ms: i64,
    /// When the window's count expires in a store (two periods after the window starts).
    pub expires_ms: i64,
    pub amount: i64,
    pub measure: Measure,
}

/// What a check decided: allowed or not, the tightest rule that applies (the denying one when denied) with what
/// is left under it and when its window resets; and what was reserved, for the settlement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    /// The store could not be reached and fails open: allowed without a reservation.
    pub degraded: bool,
    pub rule: Option<usize>,
    pub left: Option<i64>,
    pub resets_ms: Option<i64>,
    pub held: Vec<Held>,
}

/// Rules over one store's keys: `prefix` starts every key, `sliding` says how windows are counted.
#[derive(Clone, Debug)]
pub struct Limiter {
    pub rules: Vec<Rule>,
    pub sliding: bool,
    pub prefix: String,
}

impl Limiter {
    pub fn new(rules: Vec<Rule>, sliding: bool, prefix: String) -> Result<Limiter> {
        for r in &rules {
            if r.limit < 0 || r.period_ms <= 0 || r.labels.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "limit {:?}: a limit is never negative, its period is positive and it names a label",
                    r.text
                )));
            }
            if r.limit > MAX_LIMIT {
                return Err(Error::InvalidArgument(format!(
                    "limit {:?}: {} is above the largest limit, {MAX_LIMIT} (2^53 - 1: nano-USD, tokens or \
                     requests), the largest count Redis's Lua script holds exactly",
                    r.text, r.limit
                )));
            }
        }
        Ok(Limiter { rules, sliding, prefix })
    }

    /// The slots of the rules whose labels are all given (`label(name)` is a label's value as text, if set),
    /// with `amounts` per measure (indexed by [`Measure`], never negative). Rules without all their labels do not
    /// apply.
    pub fn slots(&self, mut label: impl FnMut(&str) -> Option<String>, amounts: [i64; 3]) -> Result<Vec<Slot>> {
        never_negative(Measure::ALL.into_iter().zip(amounts), "a reservation")?;
        let mut out = Vec::with_capacity(self.rules.len());
        'rules: for (i, rule) in self.rules.iter().enumerate() {
            let mut key = format!("{}:{}:{}:", self.prefix, rule.measure.name(), rule.period_ms / 1000);
            for (k, name) in rule.labels.iter().enumerate() {
                let Some(value) = label(name) else { continue 'rules };
                if k > 0 {
                    key.push(',');
                }
                key.push_str(name);
                key.push('=');
                key.push_str(&value);
            }
            let amount = amounts[rule.measure as usize];
            out.push(Slot {
                key,
                limit: rule.limit,
                period_ms: rule.period_ms,
                sliding: self.sliding,
                amount,
                rule: i,
            });
        }
        Ok(out)
    }

    /// The decision from a store's answer to reserving `slots` at `now_ms`: the denying rule, or the tightest one
    /// (least remaining; the first of equals) when allowed; when its window resets; what is held.
    pub fn decide(&self, slots: &[Slot], now_ms: i64, reserved: &Reserved) -> Result<Decision> {
        if slots.is_empty() {
            return Ok(Decision { allowed: true, ..Default::default() });
        }
        let bad = || Error::InvalidArgument(format!("a store answered {reserved:?} to {} slots", slots.len()));
        let i = match reserved.denied {
            Some(i) if i < slots.len() && reserved.remaining.len() > i => i,
            Some(_) => return Err(bad()),
            None if reserved.remaining.len() == slots.len() => {
                let least = reserved.remaining.iter().min().expect("one slot at least");
                reserved.remaining.iter().position(|r| r == least).expect("the least is in the list")
            }
            None => return Err(bad()),
        };
        let slot = &slots[i];
        let resets_ms = (slot.window(now_ms) + 1) * slot.period_ms;
        let allowed = reserved.denied.is_none();
        let held = if allowed {
            slots
                .iter()
                .map(|s| Held {
                    key: s.window_key(s.window(now_ms)),
                    period_ms: s.period_ms,
                    expires_ms: (s.window(now_ms) + 2) * s.period_ms,
                    amount: s.amount,
                    measure: self.rules[s.rule].measure,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Decision {
            allowed,
            degraded: false,
            rule: Some(slot.rule),
            left: Some(reserved.remaining[i]),
            resets_ms: Some(resets_ms),
            held,
        })
    }

    /// Reserves under every rule that applies, in `store`, and decides.
    pub fn check(
        &self,
        store: &MemoryStore,
        label: impl FnMut(&str) -> Option<String>,
        amounts: [i64; 3],
        now_ms: i64,
    ) -> Result<Decision> {
        let slots = self.slots(label, amounts)?;
        if slots.is_empty() {
            return Ok(Decision { allowed: true, ..Default::default() });
        }
        let reserved = store.reserve(&slots, now_ms)?;
        self.decide(&slots, now_ms, &reserved)
    }

    /// What settles `decision`'s reservation with the `actual` amounts (per measure; `None`: not settled, as a
    /// request count is not; never negative): per held window, (key, period, expiry, actual − reserved). Empty for
    /// a denied or degraded decision, and a difference of zero is left out. Settling one decision twice is the
    /// caller's to prevent (the binding's `Decision` is settled once).
    pub fn settlement(&self, decision: &Decision, actual: [Option<i64>; 3]) -> Result<Vec<(String, i64, i64, i64)>> {
        never_negative(Measure::ALL.into_iter().zip(actual).filter_map(|(m, a)| Some((m, a?))), "a settlement")?;
        let mut out = Vec::with_capacity(decision.held.len());
        for h in &decision.held {
            if let Some(a) = actual[h.measure as usize] {
                let delta = a.checked_sub(h.amount).ok_or_else(|| Error::Overflow("a settlement".into()))?;
                if delta != 0 {
                    out.push((h.key.clone(), h.period_ms, h.expires_ms, delta));
                }
            }
        }
        Ok(out)
    }
}

/// Counts per window key, in this process: one lock around a map of (count, expiry), swept of expired windows
/// every 4,096 reservations.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    counts: HashMap<String, (i64, i64)>,
    ops: u64,
}

impl State {
    fn get(&self, key: &str, now_ms: i64) -> i64 {
        match self.counts.get(key) {
            Some((count, expires)) if *expires > now_ms => *count,
            _ => 0,
        }
    }
}

fn overflow() -> Error {
    Error::Overflow("a budget's count".into())
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the map half-updated (each update is one insert).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves every slot's amount, atomically: all are added or none is (see [`Reserved`]).
    pub fn reserve(&self, slots: &[Slot], now_ms: i64) -> Result<Reserved> {
        let mut state = self.state();
        let mut remaining = Vec::with_capacity(slots.len());
        let mut keys = Vec::with_capacity(slots.len());
        for (i, s) in slots.iter().enumerate() {
            let w = s.window(now_ms);
            let key = s.window_key(w);
            let mut used = state.get(&key, now_ms);
            if s.sliding {
                let prev = state.get(&s.window_key(w - 1), now_ms) as i128;
                let inside = (s.period_ms - now_ms.rem_euclid(s.period_ms)) as i128;
                used = used.checked_add((prev * inside).div_euclid(s.period_ms as i128) as i64).ok_or_else(overflow)?;
            }
            let after = used.checked_add(s.amount).ok_or_else(overflow)?;
            if after > s.limit {
                remaining.push(s.limit - used);
                return Ok(Reserved { denied: Some(i), remaining });
            }
            remaining.push(s.limit - after);
            keys.push((key, after, (w + 2) * s.period_ms));
        }
        for (key, count, expires) in keys {
            state.counts.insert(key, (count, expires));
        }
        state.ops += 1;
        if state.ops & 4095 == 0 {
            state.counts.retain(|_, (_, expires)| *expires > now_ms);
        }
        Ok(Reserved { denied: None, remaining })
    }

    /// Adds each (window key, expiry, delta): the difference between the actual amount and the reserved one.
    pub fn settle(&self, entries: &[(String, i64, i64, i64)]) -> Result<()> {
        let mut state = self.state();
        for (key, _, expires, delta) in entries {
            let entry = state.counts.entry(key.clone()).or_insert((0, *expires));
            entry.0 = entry.0.checked_add(*delta).ok_or_else(overflow)?;
        }
        Ok(())
    }

    /// The count of a window key at `now_ms` (0 once it expired).
    pub fn count(&self, key: &str, now_ms: i64) -> i64 {
        self.state().get(key, now_ms)
    }

    /// How many window keys are held (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.state().counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An amount in 10⁻¹⁸ USD as whole nano-USD, rounded up (toward +∞).
pub fn nano_ceil(amount: i128) -> Result<i64> {
    let nano = amount.div_euclid(1_000_000_000) + i128::from(amount.rem_euclid(1_000_000_000) != 0);
    i64::try_from(nano).map_err(|_| Error::Overflow(format!("{amount}e-18 USD in nano-USD")))
}

/// Decimal text in USD ("0.0001", "-2", "1E-7", "12.5e3"; what Python's `str(Decimal)` writes) as whole nano-USD,
/// its magnitude rounded up (so a negative amount, however small, stays negative: callers refuse those), exact at
/// any number of digits.
pub fn nano_of_text(text: &str) -> Result<i64> {
    let bad = || Error::InvalidArgument(format!("{text:?}: not an amount in USD"));
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], body[at + 1..].parse::<i64>().map_err(|_| bad())?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // The digits, and where the decimal point falls among them once scaled to nano (9 places right).
    let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).map(|b| b - b'0').collect();
    let point = (int_part.len() as i64).saturating_add(exponent).saturating_add(9);
    let too_big = || Error::Overflow(format!("{text} USD in nano-USD"));
    let mut whole: i64 = 0;
    let mut rest = false;
    for (k, d) in digits.iter().enumerate() {
        if (k as i64) < point {
            whole = whole.checked_mul(10).and_then(|w| w.checked_add(i64::from(*d))).ok_or_else(too_big)?;
        } else if *d != 0 {
            rest = true;
        }
    }
    let zeros = point - digits.len() as i64;
    if zeros > 0 && whole != 0 {
        let scale = 10i64.checked_pow(u32::try_from(zeros).map_err(|_| too_big())?).ok_or_else(too_big)?;
        whole = whole.checked_mul(scale).ok_or_else(too_big)?;
    }
    let magnitude = whole.checked_add(i64::from(rest)).ok_or_else(too_big)?;
    Ok(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(labels: &[&str], measure: Measure, limit: i64, period_s: i64) -> Rule {
        Rule {
            labels: labels.iter().map(|s| s.to_string()).collect(),
            measure,
            limit,
            period_ms: period_s * 1000,
            text: format!("{} {limit}/{period_s}s", labels.join("+")),
        }
    }

    fn labels<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_reservation_is_all_or_nothing_and_names_the_tightest_rule() {
        let limiter = Limiter::new(
            vec![rule(&["tenant"], Measure::Usd, 1000, 86400), rule(&["tenant", "feature"], Measure::Usd, 500, 3600)],
            false,
            "p".into(),
        )
        .unwrap();
        let store = MemoryStore::new();
        let acme = [("tenant", "acme"), ("feature", "search")];
        let now = 1_000_000 * HOUR + HOUR / 2;
        let d = limiter.check(&store, labels(&acme), [400, 0, 0], now).unwrap();
        assert!(d.allowed);
        assert_eq!((d.rule, d.left, d.resets_ms), (Some(1), Some(100), Some(1_000_001 * HOUR)));
        assert_eq!(d.held[1].key, "p:usd:3600:tenant=acme,feature=search:1000000");
        // Denied by the hourly rule: nothing is added to the daily one either.
        let denied = limiter.check(&store, labels(&acme), [200, 0, 0], now).unwrap();
        assert!(!denied.allowed && denied.held.is_empty());
        assert_eq!((denied.rule, denied.left), (Some(1), Some(100)));
        assert_eq!(store.count(&d.held[0].key, now), 400);
        // Settling gives back what was not spent.
        let entries = limiter.settlement(&d, [Some(250), None, None]).unwrap();
        assert_eq!(entries.iter().map(|e| e.3).collect::<Vec<_>>(), [-150, -150]);
        store.settle(&entries).unwrap();
        assert_eq!(store.count(&d.held[0].key, now), 250);
        assert!(limiter.settlement(&denied, [Some(1), None, None]).unwrap().is_empty());
        // The day's rule denies once another feature spends the rest.
        let chat = [("tenant", "acme"), ("feature", "chat")];
        assert!(limiter.check(&store, labels(&chat), [500, 0, 0], now).unwrap().allowed);
        let over = limiter.check(&store, labels(&[("tenant", "acme"), ("feature", "x")]), [300, 0, 0], now).unwrap();
        assert_eq!((over.allowed, over.rule, over.left), (false, Some(0), Some(250)));
        // Without the labels a rule names, it does not apply.
        let free = limiter.check(&store, labels(&[("user", "u")]), [i64::MAX, 0, 0], now).unwrap();
        assert!(free.allowed && free.rule.is_none() && free.left.is_none());
    }

    #[test]
    fn fixed_windows_reset_and_sliding_ones_fade() {
        let fixed = Limiter::new(vec![rule(&["t"], Measure::Usd, 100, 3600)], false, "f".into()).unwrap();
        let store = MemoryStore::new();
        let t = [("t", "a")];
        let now = 7 * HOUR + HOUR / 2;
        assert!(fixed.check(&store, labels(&t), [100, 0, 0], now).unwrap().allowed);
        assert!(!fixed.check(&store, labels(&t), [1, 0, 0], now).unwrap().allowed);
        assert!(fixed.check(&store, labels(&t), [100, 0, 0], 8 * HOUR).unwrap().allowed);

        let sliding = Limiter::new(vec![rule(&["t"], Measure::Usd, 100, 3600)], true, "s".into()).unwrap();
        let last_second = 8 * HOUR - 1000;
        assert!(sliding.check(&store, labels(&t), [100, 0, 0], last_second).unwrap().allowed);
        // The next window: the previous one still weighs (3599/3600 of 100, rounded down: 99).
        let d = sliding.check(&store, labels(&t), [2, 0, 0], 8 * HOUR + 1000).unwrap();
        assert_eq!((d.allowed, d.left), (false, Some(1)));
        let half = sliding.check(&store, labels(&t), [40, 0, 0], 8 * HOUR + HOUR / 2).unwrap();
        assert_eq!((half.allowed, half.left), (true, Some(10)));
        // Two windows on, nothing is left of it.
        let later = sliding.check(&store, labels(&t), [100, 0, 0], 10 * HOUR).unwrap();
        assert_eq!((later.allowed, later.left), (true, Some(0)));
    }

    #[test]
    fn rate_limits_count_tokens_and_requests_apart() {
        let limiter = Limiter::new(
            vec![rule(&["t"], Measure::Tokens, 1000, 60), rule(&["t"], Measure::Requests, 3, 60)],
            false,
            "r".into(),
        )
        .unwrap();
        let store = MemoryStore::new();
        let t = [("t", "a")];
        let d = limiter.check(&store, labels(&t), [0, 600, 1], 60_000_000).unwrap();
        assert_eq!((d.allowed, d.rule, d.left), (true, Some(1), Some(2)));
        // Tokens are settled, requests are not.
        let entries = limiter.settlement(&d, [None, Some(100), None]).unwrap();
        assert_eq!(entries.len(), 1);
        store.settle(&entries).unwrap();
        let d = limiter.check(&store, labels(&t), [0, 800, 1], 60_000_000).unwrap();
        assert_eq!((d.allowed, d.left), (true, Some(1)));
        let denied = limiter.check(&store, labels(&t), [0, 200, 1], 60_000_000).unwrap();
        assert_eq!((denied.allowed, denied.rule, denied.left), (false, Some(0), Some(100)));
    }

    #[test]
    fn threads_never_overshoot_a_limit_by_more_than_the_overruns() {
        let limiter = Limiter::new(vec![rule(&["t"], Measure::Usd, 50_000, 86400)], false, "m".into()).unwrap();
        let store = MemoryStore::new();
        let now = 1_700_000_000_000;
        let totals = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u64)
                .map(|seed| {
                    let (limiter, store) = (&limiter, &store);
                    s.spawn(move || {
                        let mut next = crate::testing::below(seed + 1);
                        let (mut spent, mut over) = (0i64, 0i64);
                        for _ in 0..2000 {
                            let est = next(100) as i64 + 1;
                            let d = limiter.check(store, |_| Some("a".into()), [est, 0, 0], now).unwrap();
                            if d.allowed {
                                let actual = est * next(151) as i64 / 100;
                                store.settle(&limiter.settlement(&d, [Some(actual), None, None]).unwrap()).unwrap();
                                spent += actual;
                                over += (actual - est).max(0);
                            }
                        }
                        (spent, over)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        });
        assert!(totals.0 <= 50_000 + totals.1, "{totals:?}");
        assert!(totals.0 > 40_000, "the limit was reached: {totals:?}");
        assert_eq!(store.count("m:usd:86400:t=a:19675", now), totals.0);
    }

    #[test]
    fn expired_windows_are_swept() {
        let limiter = Limiter::new(vec![rule(&["t"], Measure::Requests, 10, 1)], false, "e".into()).unwrap();
        let store = MemoryStore::new();
        for k in 0..5000i64 {
            let value = format!("{}", k % 7);
            limiter.check(&store, |_| Some(value.clone()), [0, 0, 1], k * 1000).unwrap();
        }
        assert!(store.len() < 4096 / 2, "{} keys held", store.len());
    }

    #[test]
    fn a_store_answer_that_does_not_fit_is_an_error() {
        let limiter = Limiter::new(vec![rule(&["t"], Measure::Usd, 10, 60)], false, "x".into()).unwrap();
        let slots = limiter.slots(|_| Some("a".into()), [1, 0, 0]).unwrap();
        assert!(limiter.decide(&slots, 0, &Reserved { denied: None, remaining: vec![] }).is_err());
        assert!(limiter.decide(&slots, 0, &Reserved { denied: Some(3), remaining: vec![1] }).is_err());
        let ok = limiter.decide(&slots, 0, &Reserved { denied: None, remaining: vec![9] }).unwrap();
        assert_eq!((ok.allowed, ok.left, ok.held.len()), (true, Some(9), 1));
        assert!(Limiter::new(vec![rule(&["t"], Measure::Usd, -1, 60)], false, "x".into()).is_err());
        assert!(Measure::from_name("euros").is_err());
    }

    #[test]
    fn amounts_round_up_to_nano_usd() {
        assert_eq!(nano_ceil(1_000_000_000).unwrap(), 1);
        assert_eq!(nano_ceil(1_000_000_001).unwrap(), 2);
        assert_eq!(nano_ceil(1).unwrap(), 1);
        assert_eq!(nano_ceil(0).unwrap(), 0);
        assert_eq!(nano_ceil(-1_500_000_000).unwrap(), -1);
        assert!(nano_ceil(i128::MAX).is_err());
        for (text, nano) in [
            ("0.0001", 100_000),
            ("1", 1_000_000_000),
            ("50.00", 50_000_000_000),
            ("0.0000000001", 1),
            ("0.0000000010", 1),
            ("0.00000000100000000000000000001", 2),
            ("-0.0000000015", -2),
            ("-0.0000000000001", -1),
            ("1E-7", 100),
            ("1E+3", 1_000_000_000_000),
            ("12.5e3", 12_500_000_000_000),
            ("0E-30", 0),
            ("-0", 0),
            (".5", 500_000_000),
            ("5.", 5_000_000_000),
        ] {
            assert_eq!(nano_of_text(text).unwrap(), nano, "{text}");
        }
        for bad in ["", "-", ".", "1.2.3", "NaN", "Infinity", "1e", "abc", "1_000"] {
            assert!(matches!(nano_of_text(bad), Err(Error::InvalidArgument(_))), "{bad}");
        }
        assert!(matches!(nano_of_text("1e30"), Err(Error::Overflow(_))));
        assert!(matches!(nano_of_text("1e99999999999"), Err(Error::Overflow(_))));
    }
    #[test]
    fn negative_amounts_are_refused_and_leave_the_counts_alone() {
        let limiter = Limiter::new(vec![rule(&["t"], Measure::Usd, 1000, 86400)], false, "n".into()).unwrap();
        let store = MemoryStore::new();
        let now = 1_700_000_000_000;
        let err = limiter.check(&store, labels(&[("t", "a")]), [-1, 0, 0], now).unwrap_err();
        assert!(err.to_string().contains("a reservation of -1 nano-USD: amounts are never negative"), "{err}");
        assert!(limiter.slots(|_| Some("a".into()), [0, -5, 0]).is_err());
        assert!(store.is_empty());
        let d = limiter.check(&store, labels(&[("t", "a")]), [400, 0, 0], now).unwrap();
        let err = limiter.settlement(&d, [Some(-5), None, None]).unwrap_err();
        assert!(err.to_string().contains("a settlement of -5 nano-USD"), "{err}");
        assert_eq!(store.count(&d.held[0].key, now), 400);
        // Zero is an amount: reserving nothing, spending nothing.
        assert_eq!(limiter.check(&store, labels(&[("t", "a")]), [0, 0, 0], now).unwrap().left, Some(600));
        store.settle(&limiter.settlement(&d, [Some(0), None, None]).unwrap()).unwrap();
        assert_eq!(store.count(&d.held[0].key, now), 0);
    }

    #[test]
    fn a_limit_above_what_redis_counts_exactly_is_refused() {
        assert!(Limiter::new(vec![rule(&["t"], Measure::Usd, MAX_LIMIT, 60)], false, "x".into()).is_ok());
        let err = Limiter::new(vec![rule(&["t"], Measure::Tokens, MAX_LIMIT + 1, 60)], false, "x".into()).unwrap_err();
        assert!(err.to_string().contains("above the largest limit, 9007199254740991"), "{err}");
    }
}
