//! Python objects → JSON values: the one converter every argument read as data goes through (chat messages and
//! tools, records for `extract_usage` / `extract_usages`, price definitions and overrides). It walks at most
//! [`MAX_DEPTH`] containers deep and keeps the `id()` of each container on the current path, so a dict that holds
//! itself, 100,000 nested lists or an SDK object whose `model_dump()` returns itself is an `InvalidArgumentError`
//! naming the path (`messages[0].content[2]`), never a stack overflow. Strings holding lone surrogates are read
//! with U+FFFD in their place, as tiktoken reads them and as the JSON reader reads a lone `\ud800` escape.
//!
//! Also the converters every area shares: money (`decimal.Decimal`, exact), dates and instants both ways.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::fork::RaceCell;
use crate::money::amount_text;
use crate::prices::calendar::{days_from_civil, format_date, instant_of_epoch_seconds, parse_instant, MICROS_PER_DAY};
use crate::py::args::{type_name, Arg};
use crate::py::errors::{invalid_argument, invalid_type};

/// A pyclass's display (`__repr__`, `_repr_html_`), made by the named function of `tokenprice._display`:
/// what a person reads is laid out there, the binding only hands the object over.
pub(crate) fn displayed(obj: &Arg<'_>, function: &str) -> PyResult<String> {
    obj.py().import("tokenprice._display")?.getattr(function)?.call1((obj,))?.extract()
}

/// How many containers (dicts, lists, tuples, `model_dump()` results) deep a Python value may nest. Real API
/// payloads nest a dozen levels at most; the bound keeps the walk's stack (and the JSON built from it, which the
/// core's reader accepts up to 512 levels) small.
pub(crate) const MAX_DEPTH: usize = 256;

/// Converts plain Python data (dicts, lists, tuples, str, int, float, bool, None; or objects with
/// `model_dump()`, such as the OpenAI SDK's message types) to a JSON value. `path` names the argument
/// (`"messages"`); errors name the path inside it.
pub(crate) fn to_json(obj: &Arg<'_>, path: &str) -> PyResult<Value> {
    let mut walk = Walk { path: path.to_string(), open: Vec::new() };
    walk.value(obj)
}

/// A Python `str` as Rust text; lone surrogates (which UTF-8 cannot hold) become U+FFFD, one per surrogate, as
/// tiktoken's `encode` reads them.
pub(crate) fn str_lossy(s: &Bound<'_, PyString>) -> PyResult<String> {
    crate::py::args::name(s.as_any(), "text")
}

/// An optional text argument (`provider=`, `model=`): None, or a str; anything else is an `InvalidTypeError`.
pub(crate) fn opt_text(obj: Option<&Arg<'_>>, what: &str) -> PyResult<Option<String>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => text(o, what).map(Some),
    }
}

/// A text argument: a str, else an `InvalidTypeError` naming the argument and the type given.
pub(crate) fn text(obj: &Arg<'_>, what: &str) -> PyResult<String> {
    crate::py::args::name(obj, what)
}

struct Walk {
    /// The path of the value being converted, e.g. `messages[0].content`.
    path: String,
    /// `id()` of each container on the path, with the length of `path` where it was entered.
    open: Vec<(usize, usize)>,
}

impl Walk {
    fn error(&self, py: Python<'_>, problem: &str) -> PyErr {
        invalid_argument(py, format!("{}: {problem}", shown(&self.path)))
    }

    /// A Python error raised while reading the value (a failing `model_dump()`, a broken `__iter__`), as an
    /// `InvalidArgumentError` naming the path, chained to the original. An interrupt, `SystemExit` or
    /// `MemoryError` is not about the value: it goes on as it was raised.
    fn raised(&self, py: Python<'_>, during: &str, e: PyErr) -> PyErr {
        if !e.is_instance_of::<pyo3::exceptions::PyException>(py)
            || e.is_instance_of::<pyo3::exceptions::PyMemoryError>(py)
        {
            return e;
        }
        let err = self.error(
            py,
            &format!("{during} raised {}", e.value(py).repr().map_or_else(|_| "?".into(), |r| r.to_string())),
        );
        err.set_cause(py, Some(e));
        err
    }

    /// Enters a container: refuses one already on the path (a cycle) or one past [`MAX_DEPTH`].
    fn enter(&mut self, obj: &Arg<'_>) -> PyResult<()> {
        let id = obj.as_ptr() as usize;
        if let Some(&(_, at)) = self.open.iter().find(|(open, _)| *open == id) {
            let back = if at == self.path.len() { "itself".to_string() } else { shown(&self.path[..at]) };
            return Err(self.error(obj.py(), &format!("refers back to {back} (a cycle)")));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(self.error(obj.py(), &format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.open.push((id, self.path.len()));
        Ok(())
    }

    /// Converts `child` with `segment` appended to the path.
    fn child(&mut self, child: &Arg<'_>, segment: std::fmt::Arguments<'_>) -> PyResult<Value> {
        let len = self.path.len();
        std::fmt::Write::write_fmt(&mut self.path, segment).expect("writing to a String");
        let value = self.value(child);
        self.path.truncate(len);
        value
    }

    fn value(&mut self, obj: &Arg<'_>) -> PyResult<Value> {
        let py = obj.py();
        if obj.is_none() {
            return Ok(Value::Null);
        }
        if let Ok(b) = obj.cast::<PyBool>() {
            return Ok(Value::Bool(b.is_true()));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(Value::String(str_lossy(s)?));
        }
        if obj.is_instance_of::<PyInt>() {
            if let Ok(i) = obj.extract::<i64>() {
                return Ok(Value::from(i));
            }
            if let Ok(u) = obj.extract::<u64>() {
                return Ok(Value::from(u));
            }
            // Past 64 bits: the digits as text, which the readers then report as out of range.
            return Ok(Value::String(obj.str()?.to_string()));
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            // JSON has no NaN or infinity: their names as text, so a reader that expects a count rejects the
            // field by name ("NaN" is not a number) instead of reading a null (a missing count) or a 0.
            let x = f.value();
            return Ok(match serde_json::Number::from_f64(x) {
                Some(n) => Value::Number(n),
                None if x.is_nan() => Value::String("NaN".into()),
                None if x > 0.0 => Value::String("Infinity".into()),
                None => Value::String("-Infinity".into()),
            });
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            self.enter(obj)?;
            // A snapshot of the items: a child's model_dump() cannot change what is walked.
            let items: Vec<_> = d.iter().collect();
            let mut map = serde_json::Map::with_capacity(items.len());
            for (k, v) in items {
                let key = match k.cast::<PyString>() {
                    Ok(s) => str_lossy(s)?,
                    Err(_) => {
                        return Err(invalid_type(
                            py,
                            format!(
                                "{}: keys must be strings, found {} {}",
                                shown(&self.path),
                                type_name(&k),
                                short_repr(&k)
                            ),
                        ))
                    }
                };
                let child = self.child(&v, format_args!(".{key}"))?;
                map.insert(key, child);
            }
            self.open.pop();
            return Ok(Value::Object(map));
        }
        if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
            self.enter(obj)?;
            let items: Vec<_> = match obj.cast::<PyList>() {
                Ok(list) => list.iter().collect(),
                Err(_) => obj.cast::<PyTuple>()?.iter().collect(),
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(self.child(item, format_args!("[{i}]"))?);
            }
            self.open.pop();
            return Ok(Value::Array(out));
        }
        let has_dump = obj.hasattr("model_dump").map_err(|e| self.raised(py, "looking up model_dump", e))?;
        if has_dump {
            self.enter(obj)?;
            let dumped = self.model_dump(obj)?;
            let value = self.value(&dumped);
            self.open.pop();
            return value;
        }
        Err(invalid_type(
            py,
            format!(
                "{}: a value of type {} cannot be read as JSON data (dict, list, str, number, bool, None)",
                shown(&self.path),
                type_name(obj)
            ),
        ))
    }

    /// The API's own JSON shape: aliases (google-genai's camelCase) and JSON values (datetimes as text) —
    /// pydantic's keywords; an object whose model_dump takes fewer is asked with fewer.
    fn model_dump<'py>(&self, obj: &Arg<'py>) -> PyResult<Bound<'py, PyAny>> {
        let py = obj.py();
        let pydantic = PyDict::new(py);
        pydantic.set_item("exclude_none", true)?;
        pydantic.set_item("by_alias", true)?;
        pydantic.set_item("mode", "json")?;
        let plain = PyDict::new(py);
        plain.set_item("exclude_none", true)?;
        match obj.call_method("model_dump", (), Some(&pydantic)) {
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) => {
                obj.call_method("model_dump", (), Some(&plain))
            }
            other => other,
        }
        .map_err(|e| self.raised(py, "model_dump()", e))
    }
}

/// A path as an error shows it: a deep one keeps its start and its end.
fn shown(path: &str) -> String {
    const HEAD: usize = 40;
    const TAIL: usize = 60;
    let chars: Vec<char> = path.chars().collect();
    if chars.len() <= HEAD + TAIL + 10 {
        return path.to_string();
    }
    let head: String = chars[..HEAD].iter().collect();
    let tail: String = chars[chars.len() - TAIL..].iter().collect();
    format!("{head}...{tail}")
}

/// A value's repr, cut to 40 characters, for error messages.
fn short_repr(obj: &Arg<'_>) -> String {
    let r = obj.repr().map_or_else(|_| "?".to_string(), |r| r.to_string_lossy().into_owned());
    match r.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &r[..at]),
        None => r,
    }
}

/// A Python class looked up once per process and kept in a [`RaceCell`], which never waits. Not pyo3's
/// `PyOnceLock`: that releases the GIL before it takes its once-lock, so a child forked by another thread in that
/// moment would find the lock taken for good and wait forever on first use (docs/counting.md, "Threads and fork").
pub(crate) fn imported<'a, 'py>(
    py: Python<'py>,
    cell: &'a RaceCell<Py<PyType>>,
    module: &str,
    name: &str,
) -> PyResult<&'a Bound<'py, PyType>> {
    let class =
        cell.get_or_try_init(|| -> PyResult<_> { Ok(py.import(module)?.getattr(name)?.cast_into()?.unbind()) })?;
    Ok(class.bind(py))
}

/// An amount in 10^-18 USD → Python `decimal.Decimal`, exact at any size (through its text; never rust_decimal's
/// 96-bit mantissa, which would saturate past 7.9 × 10^10 USD).
pub fn py_amount(py: Python<'_>, amount: i128) -> PyResult<Bound<'_, PyAny>> {
    static DECIMAL: RaceCell<Py<PyType>> = RaceCell::new();
    imported(py, &DECIMAL, "decimal", "Decimal")?.call1((amount_text(amount),))
}

/// Decimal → Python `decimal.Decimal` (exact, through its text).
pub fn py_decimal<'py>(py: Python<'py>, d: Decimal) -> PyResult<Bound<'py, PyAny>> {
    static DECIMAL: RaceCell<Py<PyType>> = RaceCell::new();
    let cls = imported(py, &DECIMAL, "decimal", "Decimal")?;
    cls.call1((d.to_string(),))
}

fn py_date<'py>(py: Python<'py>, day: i64) -> PyResult<Bound<'py, PyAny>> {
    static DATE: RaceCell<Py<PyType>> = RaceCell::new();
    let cls = imported(py, &DATE, "datetime", "date")?;
    cls.call_method1("fromisoformat", (format_date(day),))
}

/// A price date for Python: a `date` at midnight UTC, else an aware UTC `datetime`.
pub fn py_moment<'py>(py: Python<'py>, micros: i64) -> PyResult<Bound<'py, PyAny>> {
    if micros.rem_euclid(MICROS_PER_DAY) == 0 {
        return py_date(py, micros.div_euclid(MICROS_PER_DAY));
    }
    py_datetime(py, micros)
}

/// An aware UTC `datetime`, exact to the microsecond (epoch + timedelta, no float on the way).
pub fn py_datetime<'py>(py: Python<'py>, micros: i64) -> PyResult<Bound<'py, PyAny>> {
    static EPOCH: RaceCell<(Py<PyAny>, Py<PyAny>)> = RaceCell::new();
    let (epoch, timedelta) = EPOCH.get_or_try_init(|| -> PyResult<_> {
        let m = py.import("datetime")?;
        let utc = m.getattr("timezone")?.getattr("utc")?;
        let epoch = m.getattr("datetime")?.call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
        Ok((epoch.unbind(), m.getattr("timedelta")?.unbind()))
    })?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("microseconds", micros)?;
    epoch.bind(py).add(timedelta.bind(py).call((), Some(&kwargs))?)
}

/// An optional instant: `None` stays `None` (the caller's default: a record's own time, or none); anything else as
/// [`instant_of`] reads it.
pub fn opt_instant(value: Option<&Arg<'_>>, what: &str) -> PyResult<Option<i64>> {
    value.filter(|v| !v.is_none()).map(|v| instant_of(Some(v), what)).transpose()
}

/// Instants from Python: None (now), datetime (naive = UTC), date (midnight UTC), ISO string, or epoch seconds.
pub fn instant_of(value: Option<&Arg<'_>>, what: &str) -> PyResult<i64> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        return Ok(crate::prices::calendar::now_micros());
    };
    let py = v.py();
    if v.is_instance_of::<PyString>() {
        let s = crate::py::args::name(v, what)?;
        return parse_instant(&s).map_err(|e| invalid_argument(py, format!("{what}: {e}")));
    }
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Err(invalid_type(py, format!("{what}: {} is not a time (bool)", v.repr()?)));
    }
    if v.is_instance_of::<PyInt>() {
        // Ints of any size: exact within i64 seconds, else certainly out of range.
        let secs = v.extract::<i64>().map(|s| s as f64).unwrap_or(f64::INFINITY);
        if secs.is_infinite() {
            return Err(invalid_argument(
                py,
                format!("{what}: {} epoch seconds is outside the years 1 to 9999", v.repr()?),
            ));
        }
        return instant_of_epoch_seconds(secs).map_err(|e| invalid_argument(py, format!("{what}: {e}")));
    }
    if v.is_instance_of::<PyFloat>() {
        let secs: f64 = v.extract()?;
        return instant_of_epoch_seconds(secs).map_err(|e| invalid_argument(py, format!("{what}: {e}")));
    }
    static DATETIME: RaceCell<Py<PyType>> = RaceCell::new();
    static DATE: RaceCell<Py<PyType>> = RaceCell::new();
    // The naive and aware epochs, and the attribute names read (kept here, not `intern!`ed: an interned name is a
    // pyo3 once-cell, which a fork while another thread fills it leaves locked in the child; see `crate::fork`).
    type Epochs = (Py<PyAny>, Py<PyAny>, [Py<PyString>; 4]);
    static EPOCHS: RaceCell<Epochs> = RaceCell::new();
    let datetime = imported(py, &DATETIME, "datetime", "datetime")?;
    let date = imported(py, &DATE, "datetime", "date")?;
    if v.is_instance(datetime)? {
        // dt - epoch is exact; naive datetimes are read as UTC.
        let (naive, aware, names) = EPOCHS.get_or_try_init(|| -> PyResult<_> {
            let m = py.import("datetime")?;
            let naive = datetime.call1((1970, 1, 1))?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("tzinfo", m.getattr("timezone")?.getattr("utc")?)?;
            let aware = naive.call_method("replace", (), Some(&kwargs))?;
            let names = ["tzinfo", "days", "seconds", "microseconds"].map(|n| PyString::new(py, n).unbind());
            Ok((naive.unbind(), aware.unbind(), names))
        })?;
        let [tzinfo, days, seconds, micros] = names;
        let epoch = if v.getattr(tzinfo.bind(py))?.is_none() { naive } else { aware };
        // The difference's fields, summed here: `timedelta // timedelta` goes through Python ints and took
        // two thirds of the conversion (165 ns of the 0.25 µs a datetime cost a `price` call, measured).
        let delta = v.sub(epoch.bind(py))?;
        let part = |name: &Py<PyString>| -> PyResult<i64> { delta.getattr(name.bind(py))?.extract() };
        let (days, seconds, micros) = (part(days)?, part(seconds)?, part(micros)?);
        return Ok(days * MICROS_PER_DAY + seconds * 1_000_000 + micros);
    }
    if v.is_instance(date)? {
        let field = |name: &str| -> PyResult<i64> { v.getattr(name)?.extract() };
        return Ok(days_from_civil(field("year")?, field("month")? as u32, field("day")? as u32) * MICROS_PER_DAY);
    }
    Err(invalid_type(
        py,
        format!("{what} must be a datetime, a date, an ISO 8601 string or epoch seconds; got {}", type_name(v)),
    ))
}
