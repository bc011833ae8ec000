//! Budgets and rate limits for Python (`tokenprice._budget`): the core's `Limiter` and `MemoryStore` behind a
//! check that converts the labels and the amount and hands back a `Decision`. For a store written in Python
//! (Redis), `_Limiter.slots` says what to reserve and `_Limiter.decide` reads the store's answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString, PyType};

use crate::budget::{nano_ceil, nano_of_text, Decision, Limiter, Measure, MemoryStore, Reserved, Rule, Slot};
use crate::fork::RaceCell;
use crate::money::amount_text;
use crate::py::args::Arg;
use crate::py::convert::{imported, py_datetime};
use crate::py::cost::{PyCost, PyEstimate};
use crate::py::errors::{guard, invalid_argument, invalid_type, IntoPy};

/// Limits counted in this process (thread-safe; the counting is the core's `budget::MemoryStore`). For a service
/// of several processes use `RedisStore`.
#[pyclass(frozen, module = "tokenprice", name = "MemoryStore")]
pub struct PyMemoryStore {
    store: Arc<MemoryStore>,
}

#[pymethods]
impl PyMemoryStore {
    #[new]
    fn new() -> Self {
        PyMemoryStore { store: Arc::new(MemoryStore::new()) }
    }

    /// The `Store` protocol's reserve: every slot `(key, limit, period_ms, sliding, amount)` or none; returns
    /// (allowed, index of the slot that denied or -1, remaining per slot).
    fn reserve(
        &self,
        py: Python<'_>,
        slots: Vec<(String, i64, i64, bool, i64)>,
        now_ms: i64,
    ) -> PyResult<(bool, i64, Vec<i64>)> {
        let slots: Vec<Slot> = slots
            .into_iter()
            .enumerate()
            .map(|(rule, (key, limit, period_ms, sliding, amount))| Slot {
                key,
                limit,
                period_ms,
                sliding,
                amount,
                rule,
            })
            .collect();
        if let Some(s) = slots.iter().find(|s| s.period_ms <= 0) {
            return Err(invalid_argument(py, format!("slot {:?}: a period is positive", s.key)));
        }
        let r = self.store.reserve(&slots, now_ms).py_err(py)?;
        Ok((r.denied.is_none(), r.denied.map_or(-1, |i| i as i64), r.remaining))
    }

    /// The `Store` protocol's settle: adds each (window key, period in ms, delta).
    fn settle(&self, py: Python<'_>, entries: Vec<(String, i64, i64)>) -> PyResult<()> {
        let entries: Vec<_> = entries
            .into_iter()
            .map(|(key, period_ms, delta)| {
                let window = key.rsplit(':').next().and_then(|w| w.parse::<i64>().ok()).unwrap_or(0);
                let expires = window.saturating_add(2).saturating_mul(period_ms);
                (key, period_ms, expires, delta)
            })
            .collect();
        self.store.settle(&entries).py_err(py)
    }

    /// How many window keys the store holds.
    fn __len__(&self) -> usize {
        self.store.len()
    }
}

/// What `check` decided. `remaining` is what is left under the tightest limit that applies (after this
/// reservation when allowed; USD as a Decimal for budgets, a count for rate limits), `resets_at` when that
/// limit's window ends, `limit` which limit it is (as given). `degraded`: the store could not be reached and the
/// store fails open. Truthy when allowed. A decision is settled (`record`) once.
#[pyclass(frozen, module = "tokenprice", name = "Decision")]
pub struct PyDecision {
    decision: Decision,
    limit: Option<String>,
    money: bool,
    /// The limiter it came from (its address), so a decision is settled by the limiter that made it.
    owner: usize,
    /// Set by the first `record`: a second one would count the spend twice (or give the reservation back twice).
    settled: AtomicBool,
}

#[pymethods]
impl PyDecision {
    #[getter]
    fn allowed(&self) -> bool {
        self.decision.allowed
    }

    #[getter]
    fn degraded(&self) -> bool {
        self.decision.degraded
    }

    #[getter]
    fn limit(&self) -> Option<&str> {
        self.limit.as_deref()
    }

    #[getter]
    fn remaining<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(left) = self.decision.left else { return Ok(None) };
        if self.money {
            static DECIMAL: RaceCell<Py<PyType>> = RaceCell::new();
            let text = amount_text(i128::from(left) * 1_000_000_000);
            return Ok(Some(imported(py, &DECIMAL, "decimal", "Decimal")?.call1((text,))?));
        }
        Ok(Some(left.into_pyobject(py)?.into_any()))
    }

    #[getter]
    fn resets_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.decision.resets_ms.map(|ms| py_datetime(py, ms.saturating_mul(1000))).transpose()
    }

    fn __bool__(&self) -> bool {
        self.decision.allowed
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let remaining = self.remaining(py)?.map_or(Ok("None".to_string()), |r| r.repr().map(|r| r.to_string()))?;
        let resets = self.resets_at(py)?.map_or(Ok("None".to_string()), |r| r.repr().map(|r| r.to_string()))?;
        Ok(format!(
            "Decision(allowed={}, remaining={remaining}, resets_at={resets}, limit={}{})",
            if self.decision.allowed { "True" } else { "False" },
            self.limit.as_ref().map_or_else(|| "None".to_string(), |l| format!("{l:?}").replace('"', "'")),
            if self.decision.degraded { ", degraded=True" } else { "" }
        ))
    }

    /// The decision of a store that could not be reached and fails open: allowed, nothing reserved.
    #[staticmethod]
    fn _degraded() -> Self {
        let decision = Decision { allowed: true, degraded: true, ..Default::default() };
        PyDecision { decision, limit: None, money: false, owner: 0, settled: AtomicBool::new(false) }
    }
}

/// What to reserve in a store written in Python, at `now_ms`: `slots` as the `Store` protocol's tuples.
#[pyclass(frozen, module = "tokenprice._core", name = "_Pending")]
pub struct PyPending {
    slots: Vec<Slot>,
    #[pyo3(get)]
    now_ms: i64,
}

#[pymethods]
impl PyPending {
    /// `(key, limit, period_ms, sliding, amount)` per slot.
    #[getter]
    fn slots(&self) -> Vec<(String, i64, i64, bool, i64)> {
        self.slots.iter().map(|s| (s.key.clone(), s.limit, s.period_ms, s.sliding, s.amount)).collect()
    }
}

/// The rules of a `Budget` or `RateLimit` (the core's `budget::Limiter`), the in-process store when it is the
/// core's, and the clock (None: the system's).
#[pyclass(frozen, module = "tokenprice._core", name = "_Limiter")]
pub struct PyLimiter {
    limiter: Limiter,
    store: Option<Arc<MemoryStore>>,
    clock: Option<Py<PyAny>>,
    needs_usd: bool,
}

impl PyLimiter {
    fn now_ms(&self, py: Python<'_>) -> PyResult<i64> {
        match &self.clock {
            None => Ok(std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)),
            Some(clock) => {
                let seconds: f64 = clock.bind(py).call0()?.extract()?;
                Ok((seconds * 1000.0).floor() as i64)
            }
        }
    }

    fn amounts(&self, py: Python<'_>, usd: Option<&Arg<'_>>, tokens: i64, requests: i64) -> PyResult<[i64; 3]> {
        never_negative(py, "tokens", tokens)?;
        never_negative(py, "requests", requests)?;
        let usd = match usd.filter(|u| !u.is_none()) {
            Some(u) => reservation(py, u)?,
            None if self.needs_usd => {
                return Err(invalid_type(py, "check() needs estimate=: an Estimate, a Cost or an amount in USD".into()))
            }
            None => 0,
        };
        Ok([usd, tokens, requests])
    }

    fn slots(&self, labels: &Arg<'_>, amounts: [i64; 3]) -> PyResult<Vec<Slot>> {
        let py = labels.py();
        let mut failed = None;
        let dict = labels.cast::<PyDict>().ok();
        let slots = self.limiter.slots(
            |name| {
                let value = match dict {
                    Some(d) => d.get_item(name).ok().flatten(),
                    None => labels.get_item(name).ok(),
                };
                let value = value.filter(|v| !v.is_none())?;
                if let Ok(s) = value.cast::<PyString>() {
                    return s.to_str().map(str::to_string).map_err(|e| failed = Some(e)).ok();
                }
                value.str().map(|s| s.to_string()).map_err(|e| failed = Some(e)).ok()
            },
            amounts,
        );
        match failed {
            Some(e) => Err(e),
            None => slots.py_err(py),
        }
    }

    fn decision(&self, decision: Decision) -> PyDecision {
        let rule = decision.rule.map(|i| &self.limiter.rules[i]);
        PyDecision {
            limit: rule.map(|r| r.text.clone()),
            money: rule.is_some_and(|r| r.measure == Measure::Usd),
            owner: self as *const Self as usize,
            decision,
            settled: AtomicBool::new(false),
        }
    }
}

#[pymethods]
impl PyLimiter {
    /// `rules`: (label names, measure "usd"/"tokens"/"requests", limit, period in ms, text) each; `store`: the
    /// core's store when the limits are counted in this process, None for a store in Python.
    #[new]
    #[pyo3(signature = (rules, sliding, prefix, store=None, clock=None))]
    fn new(
        py: Python<'_>,
        rules: Vec<(Vec<String>, String, i64, i64, String)>,
        sliding: bool,
        prefix: String,
        store: Option<&PyMemoryStore>,
        clock: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let rules = rules
            .into_iter()
            .map(|(labels, measure, limit, period_ms, text)| {
                Ok(Rule { labels, measure: Measure::from_name(&measure)?, limit, period_ms, text })
            })
            .collect::<crate::Result<Vec<_>>>()
            .py_err(py)?;
        let needs_usd = rules.iter().any(|r| r.measure == Measure::Usd);
        let limiter = Limiter::new(rules, sliding, prefix).py_err(py)?;
        Ok(PyLimiter { limiter, store: store.map(|s| s.store.clone()), clock, needs_usd })
    }

    /// Reserves in the in-process store and decides: `usd` an `Estimate` (its high end), a `Cost`, a
    /// `PricedCall` or USD (Decimal, int or decimal text); `tokens` and `requests` counts.
    #[pyo3(signature = (labels, usd=None, tokens=0, requests=0))]
    fn check(&self, labels: &Arg<'_>, usd: Option<&Arg<'_>>, tokens: i64, requests: i64) -> PyResult<PyDecision> {
        let py = labels.py();
        guard(py, || {
            let store = self.store.as_ref().ok_or_else(|| {
                invalid_argument(py, "this limiter's store is in Python: use slots() and decide()".into())
            })?;
            let PyPending { slots, now_ms } = self.slots_for(labels, usd, tokens, requests)?;
            if slots.is_empty() {
                return Ok(self.decision(Decision { allowed: true, ..Default::default() }));
            }
            let reserved = store.reserve(&slots, now_ms).py_err(py)?;
            Ok(self.decision(self.limiter.decide(&slots, now_ms, &reserved).py_err(py)?))
        })
    }

    /// What to reserve in a store written in Python (see `check` for the arguments).
    #[pyo3(signature = (labels, usd=None, tokens=0, requests=0))]
    fn slots_for(&self, labels: &Arg<'_>, usd: Option<&Arg<'_>>, tokens: i64, requests: i64) -> PyResult<PyPending> {
        let py = labels.py();
        let amounts = self.amounts(py, usd, tokens, requests)?;
        let slots = self.slots(labels, amounts)?;
        let now_ms = if slots.is_empty() { 0 } else { self.now_ms(py)? };
        Ok(PyPending { slots, now_ms })
    }

    /// The decision from a Python store's answer to `pending`: (allowed, denying index or -1, remaining).
    fn decide(
        &self,
        py: Python<'_>,
        pending: &PyPending,
        allowed: bool,
        denied: i64,
        remaining: Vec<i64>,
    ) -> PyResult<PyDecision> {
        let denied = if allowed { None } else { Some(usize::try_from(denied).unwrap_or(usize::MAX)) };
        let reserved = Reserved { denied, remaining };
        Ok(self.decision(self.limiter.decide(&pending.slots, pending.now_ms, &reserved).py_err(py)?))
    }

    /// Settles `decision`'s reservation with the actual amounts (`usd` as `check` reads it; `tokens`; None: not
    /// settled; never negative). In the in-process store it is done here (returns None); for a store in Python,
    /// returns the entries (window key, period in ms, delta) for its `settle`. A decision is settled once: a
    /// second `record` of it raises InvalidArgumentError and changes nothing.
    #[pyo3(signature = (decision, usd=None, tokens=None))]
    fn settle(
        &self,
        py: Python<'_>,
        decision: &PyDecision,
        usd: Option<&Arg<'_>>,
        tokens: Option<i64>,
    ) -> PyResult<Option<Vec<(String, i64, i64)>>> {
        guard(py, || {
            let held = decision.decision.allowed && !decision.decision.held.is_empty();
            if held && decision.owner != self as *const Self as usize {
                return Err(invalid_argument(
                    py,
                    "record(): this decision was made by another Budget or RateLimit".into(),
                ));
            }
            // The actual amounts are read (and refused) before the decision counts as settled.
            let usd = usd.filter(|u| !u.is_none()).map(|u| actual(py, u)).transpose()?;
            if let Some(t) = tokens {
                never_negative(py, "tokens", t)?;
            }
            let entries = if held {
                self.limiter.settlement(&decision.decision, [usd, tokens, None]).py_err(py)?
            } else {
                Vec::new()
            };
            if decision.settled.swap(true, Ordering::AcqRel) {
                return Err(invalid_argument(
                    py,
                    "record(): this decision was already recorded; a decision is settled once (recording it again \
                     would count its spend twice)"
                        .into(),
                ));
            }
            match &self.store {
                Some(store) => {
                    store.settle(&entries).py_err(py)?;
                    Ok(None)
                }
                None => Ok(Some(entries.into_iter().map(|(key, period, _, delta)| (key, period, delta)).collect())),
            }
        })
    }
}

/// An error naming `what` when `n` is negative.
fn never_negative(py: Python<'_>, what: &str, n: i64) -> PyResult<()> {
    if n < 0 {
        return Err(invalid_argument(py, format!("{what}={n}: a count is never negative")));
    }
    Ok(())
}

/// What `check` reserves, in nano-USD rounded up: an `Estimate`'s high end, a `Cost`, or USD.
fn reservation(py: Python<'_>, value: &Arg<'_>) -> PyResult<i64> {
    if let Ok(e) = value.cast::<PyEstimate>() {
        let e = &e.get().estimate;
        let high = e.high.as_ref().ok_or_else(|| {
            invalid_argument(
                py,
                format!(
                    "the estimate for {} has no upper bound (the request sets no output limit and the price book \
                     knows no context window): set max_tokens, or pass an amount to reserve",
                    e.model
                ),
            )
        })?;
        return nano_ceil(high.total).py_err(py);
    }
    usd_amount(py, value, "estimate")
}

/// What `record` settles with: a `Cost`, anything with a Decimal `total` (a `PricedCall`), or USD.
fn actual(py: Python<'_>, value: &Arg<'_>) -> PyResult<i64> {
    if value.cast::<PyCost>().is_err() && !is_amount(py, value)? {
        if let Ok(total) = value.getattr("total") {
            if is_decimal(py, &total)? {
                return usd_amount(py, &total, "cost");
            }
        }
    }
    usd_amount(py, value, "cost")
}

fn is_decimal(py: Python<'_>, value: &Arg<'_>) -> PyResult<bool> {
    static DECIMAL: RaceCell<Py<PyType>> = RaceCell::new();
    value.is_instance(imported(py, &DECIMAL, "decimal", "Decimal")?)
}

fn is_amount(py: Python<'_>, value: &Arg<'_>) -> PyResult<bool> {
    Ok(value.is_instance_of::<PyString>() || value.is_instance_of::<PyInt>() || is_decimal(py, value)?)
}

/// A `Cost`'s total, a Decimal, an int or decimal text, in nano-USD rounded up; never negative (a negative
/// estimate or cost would raise the budget past its limit).
fn usd_amount(py: Python<'_>, value: &Arg<'_>, what: &str) -> PyResult<i64> {
    let nano = any_usd_amount(py, value, what)?;
    if nano < 0 {
        let shown = value.repr().map_or_else(|_| "?".to_string(), |r| r.to_string());
        return Err(invalid_argument(
            py,
            format!("{what}={shown}: an amount in USD is never negative (it would raise the budget past its limit)"),
        ));
    }
    Ok(nano)
}

/// `usd_amount` of any sign: a negative amount stays negative (its magnitude rounded up).
fn any_usd_amount(py: Python<'_>, value: &Arg<'_>, what: &str) -> PyResult<i64> {
    if let Ok(c) = value.cast::<PyCost>() {
        let total = c.get().cost.total;
        return if total < 0 { Ok(-1) } else { nano_ceil(total).py_err(py) };
    }
    let wrong = || {
        let shown = value.repr().map_or_else(|_| "?".to_string(), |r| r.to_string());
        invalid_type(py, format!("{what}: expected an amount in USD as a Decimal, int or decimal text, got {shown}"))
    };
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(wrong());
    }
    if let Ok(n) = value.cast::<PyInt>() {
        let n: i64 = n.extract().map_err(|_| wrong())?;
        return n
            .checked_mul(1_000_000_000)
            .ok_or_else(|| invalid_argument(py, format!("{what}: {n} USD is too large")));
    }
    let text = if let Ok(s) = value.cast::<PyString>() {
        s.to_str()?.trim().to_string()
    } else if is_decimal(py, value)? {
        value.str()?.to_string()
    } else {
        return Err(wrong());
    };
    nano_of_text(&text).map_err(|e| match e {
        crate::Error::InvalidArgument(_) => wrong(),
        other => crate::py::errors::to_py(py, other),
    })
}
