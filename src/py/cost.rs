//! The pricing classes of the Python API (`PriceBook`, `Usage`, `Cost`) and `price` / `price_table`: arguments
//! converted, work delegated to `prices`, `usage` and `cost`, results converted back.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;
use rust_decimal::Decimal;

use crate::cost::money::amount_text;
use crate::cost::table::TableOptions;
use crate::cost::table_input::{price_batches, ColumnNames, TableJob};
use crate::cost::{price_model, Cost};
use crate::prices::book::PriceBook;
use crate::prices::calendar::{
    days_from_civil, format_date, format_moment, instant_of_epoch_seconds, parse_instant, MICROS_PER_DAY,
};
use crate::prices::schema::{PriceDef, SheetDef};
use crate::prices::units::UNITS;
use crate::py::convert::{opt_text, text};
use crate::py::encoding::type_name;
use crate::py::errors::{guard, invalid_argument, invalid_type, IntoPy};
use crate::usage::{GivenCount, Usage};

fn json_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<serde_json::Value> {
    super::to_json(obj, what)
}

/// A price book: the default one (embedded), one loaded from files or dicts, or one with overrides.
#[pyclass(frozen, module = "tokenprice", name = "PriceBook")]
#[derive(Clone)]
pub struct PyPriceBook {
    pub book: Arc<PriceBook>,
    /// How it was made, by content (a path's files as read): what pickling sends and equality compares.
    recipe: Recipe,
}

/// How a `PriceBook` was made: the default book by name, others by their content.
#[derive(Clone)]
enum Recipe {
    Default,
    Values { values: Arc<Vec<serde_json::Value>>, origin: String },
    Overrides { base: Box<PyPriceBook>, overrides: Arc<serde_json::Value> },
}

impl Recipe {
    fn same(&self, other: &Recipe) -> bool {
        match (self, other) {
            (Recipe::Default, Recipe::Default) => true,
            (Recipe::Values { values: a, origin: oa }, Recipe::Values { values: b, origin: ob }) => a == b && oa == ob,
            (Recipe::Overrides { base: a, overrides: oa }, Recipe::Overrides { base: b, overrides: ob }) => {
                oa == ob && a.recipe.same(&b.recipe)
            }
            _ => false,
        }
    }
}

/// Books alive in this process with their recipes, so that a `Cost` (which holds only the core book) can name
/// its book when pickled. Weak: a book's entry goes when the book does.
static RECIPES: std::sync::Mutex<Vec<(std::sync::Weak<PriceBook>, Recipe)>> = std::sync::Mutex::new(Vec::new());

impl PyPriceBook {
    fn made(book: PriceBook, recipe: Recipe) -> PyPriceBook {
        let book = Arc::new(book);
        let mut known = RECIPES.lock().unwrap_or_else(|p| p.into_inner());
        known.retain(|(w, _)| w.strong_count() > 0);
        known.push((Arc::downgrade(&book), recipe.clone()));
        PyPriceBook { book, recipe }
    }

    /// The Python book of a core book (for pickling a `Cost`), if it is the default or was made here.
    fn of(book: &Arc<PriceBook>) -> Option<PyPriceBook> {
        if Arc::ptr_eq(book, &PriceBook::default_book()) {
            return Some(PyPriceBook::default());
        }
        let known = RECIPES.lock().unwrap_or_else(|p| p.into_inner());
        known
            .iter()
            .find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(book)))
            .map(|(_, recipe)| PyPriceBook { book: book.clone(), recipe: recipe.clone() })
    }
}

/// A JSON value as Python objects (dicts, lists, str, int, float, bool, None).
fn py_json<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (value.to_string(),))
}

/// An amount in 10^-18 USD → Python `decimal.Decimal`, exact at any size (through its text; never rust_decimal's
/// 96-bit mantissa, which would saturate past 7.9 × 10^10 USD).
pub fn py_amount(py: Python<'_>, amount: i128) -> PyResult<Bound<'_, PyAny>> {
    static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    DECIMAL.import(py, "decimal", "Decimal")?.call1((amount_text(amount),))
}

/// Decimal → Python `decimal.Decimal` (exact, through its text).
pub fn py_decimal<'py>(py: Python<'py>, d: Decimal) -> PyResult<Bound<'py, PyAny>> {
    static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let cls = DECIMAL.import(py, "decimal", "Decimal")?;
    cls.call1((d.to_string(),))
}

fn py_date<'py>(py: Python<'py>, day: i64) -> PyResult<Bound<'py, PyAny>> {
    static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let cls = DATE.import(py, "datetime", "date")?;
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
    static EPOCH: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();
    let (epoch, timedelta) = EPOCH.get_or_try_init(py, || -> PyResult<_> {
        let m = py.import("datetime")?;
        let utc = m.getattr("timezone")?.getattr("utc")?;
        let epoch = m.getattr("datetime")?.call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
        Ok((epoch.unbind(), m.getattr("timedelta")?.unbind()))
    })?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("microseconds", micros)?;
    epoch.bind(py).add(timedelta.bind(py).call((), Some(&kwargs))?)
}

fn price_value<'py>(py: Python<'py>, p: &PriceDef) -> PyResult<Bound<'py, PyAny>> {
    match p {
        PriceDef::Flat(d) => py_decimal(py, *d),
        PriceDef::Tiered { base, above } => {
            let dict = PyDict::new(py);
            dict.set_item("base", py_decimal(py, *base)?)?;
            let steps = PyList::empty(py);
            for (t, price) in above {
                let step = PyDict::new(py);
                step.set_item("tokens", t)?;
                step.set_item("price", py_decimal(py, *price)?)?;
                steps.append(step)?;
            }
            dict.set_item("above", steps)?;
            Ok(dict.into_any())
        }
    }
}

fn sheet_dict<'py>(py: Python<'py>, sheet: &SheetDef) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (u, p) in &sheet.prices {
        dict.set_item(UNITS[*u].price_key, price_value(py, p)?)?;
    }
    Ok(dict)
}

/// Instants from Python: None (now), datetime (naive = UTC), date (midnight UTC), ISO string, or epoch seconds.
pub fn instant_of(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<i64> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
        return Ok(now);
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
    static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    // (naive epoch, aware epoch, one microsecond)
    static EPOCHS: PyOnceLock<(Py<PyAny>, Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();
    let datetime = DATETIME.import(py, "datetime", "datetime")?;
    let date = DATE.import(py, "datetime", "date")?;
    if v.is_instance(datetime)? {
        // (dt - epoch) // 1 µs is exact and takes three calls; naive datetimes are read as UTC.
        let (naive, aware, micro) = EPOCHS.get_or_try_init(py, || -> PyResult<_> {
            let m = py.import("datetime")?;
            let naive = datetime.call1((1970, 1, 1))?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("tzinfo", m.getattr("timezone")?.getattr("utc")?)?;
            let aware = naive.call_method("replace", (), Some(&kwargs))?;
            let micro = m.getattr("timedelta")?.call1((0, 0, 1))?;
            Ok((naive.unbind(), aware.unbind(), micro.unbind()))
        })?;
        let epoch = if v.getattr("tzinfo")?.is_none() { naive } else { aware };
        return v.sub(epoch.bind(py))?.floor_div(micro.bind(py))?.extract();
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

#[pymethods]
impl PyPriceBook {
    /// The price book in the repository's `prices/` files, embedded at build time (shared, never modified).
    #[staticmethod]
    fn default() -> PyPriceBook {
        PyPriceBook { book: PriceBook::default_book(), recipe: Recipe::Default }
    }

    /// A book from provider definitions (dicts in the price-file schema, `prices/SCHEMA.md`).
    #[staticmethod]
    #[pyo3(signature = (providers, *, origin = "dicts"))]
    fn from_dicts(py: Python<'_>, providers: &Bound<'_, PyAny>, origin: &str) -> PyResult<PyPriceBook> {
        guard(py, || {
            let list = match json_of(providers, "providers")? {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            let values: Vec<(serde_json::Value, String)> =
                list.into_iter().enumerate().map(|(i, v)| (v, format!("{origin}[{i}]"))).collect();
            let book = py.detach(|| PriceBook::from_values(&values, origin)).py_err(py)?;
            let values = Arc::new(values.into_iter().map(|(v, _)| v).collect());
            Ok(PyPriceBook::made(book, Recipe::Values { values, origin: origin.to_string() }))
        })
    }

    /// A book from price files: one provider's TOML file, or a folder of them (like `prices/`).
    #[staticmethod]
    fn from_path(py: Python<'_>, path: PathBuf) -> PyResult<PyPriceBook> {
        guard(py, || {
            let (book, values) = py.detach(|| PriceBook::load_path(&path)).py_err(py)?;
            let origin = path.display().to_string();
            Ok(PyPriceBook::made(book, Recipe::Values { values: Arc::new(values), origin }))
        })
    }

    /// A new book with overrides layered on this one (this one is unchanged): a dict or a TOML file with
    /// `discounts` ({"openai": "0.8", "openai/gpt-4o": "0.7"}) and `providers` (models to add or replace).
    fn with_overrides(&self, py: Python<'_>, overrides: &Bound<'_, PyAny>) -> PyResult<PyPriceBook> {
        guard(py, || {
            let (book, value) = if let Ok(path) = overrides.extract::<PathBuf>() {
                py.detach(|| self.book.with_overrides_file(&path)).py_err(py)?
            } else {
                let value = json_of(overrides, "overrides")?;
                (py.detach(|| self.book.with_overrides_value(&value, "overrides")).py_err(py)?, value)
            };
            let recipe = Recipe::Overrides { base: Box::new(self.clone()), overrides: Arc::new(value) };
            Ok(PyPriceBook::made(book, recipe))
        })
    }

    /// Pickled by name (the default book) or by content (`PriceBook.from_dicts` of the definitions read, then
    /// `with_overrides` of each override), so that a worker process gets the same prices.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let cls = py.get_type::<PyPriceBook>();
        match &self.recipe {
            Recipe::Default => Ok((cls.getattr("default")?, PyTuple::empty(py))),
            Recipe::Values { values, origin } => {
                let list = PyList::empty(py);
                for v in values.iter() {
                    list.append(py_json(py, v)?)?;
                }
                let partial = py.import("functools")?.getattr("partial")?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("origin", origin)?;
                Ok((partial.call((cls.getattr("from_dicts")?,), Some(&kwargs))?, PyTuple::new(py, [list])?))
            }
            Recipe::Overrides { base, overrides } => {
                let base = Bound::new(py, (**base).clone())?.into_any();
                Ok((cls.getattr("with_overrides")?, PyTuple::new(py, [base, py_json(py, overrides)?])?))
            }
        }
    }

    /// Books are equal when made the same way from the same content.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyPriceBook>()
            .is_ok_and(|o| Arc::ptr_eq(&self.book, &o.get().book) || self.recipe.same(&o.get().recipe))
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.book.models.len().hash(&mut h);
        self.book.providers.len().hash(&mut h);
        h.finish()
    }

    /// The canonical model a name refers to (`UnknownModelError` lists the closest names).
    #[pyo3(signature = (model, provider=None))]
    fn resolve<'py>(
        &self,
        py: Python<'py>,
        model: &Bound<'py, PyAny>,
        provider: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let (model, provider) = (text(model, "model")?, opt_text(provider, "provider")?);
            let mi = self.book.resolve(&model, provider.as_deref()).py_err(py)?;
            self.model_info(py, mi)
        })
    }

    /// The price entry in force for `model` at `at` (default: now): its dates, source and prices.
    #[pyo3(signature = (model, at=None, provider=None))]
    fn price_at<'py>(
        &self,
        py: Python<'py>,
        model: &Bound<'py, PyAny>,
        at: Option<&Bound<'py, PyAny>>,
        provider: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let (model, provider) = (text(model, "model")?, opt_text(provider, "provider")?);
            let mi = self.book.resolve(&model, provider.as_deref()).py_err(py)?;
            let at = instant_of(at, "at")?;
            let ei = self.book.entry_index(mi, at).py_err(py)?;
            let m = &self.book.models[mi];
            let e = &m.entries[ei];
            let d = self.model_info(py, mi)?;
            d.set_item("effective_from", e.from.map(|at| py_moment(py, at)).transpose()?)?;
            d.set_item(
                "effective_until",
                m.entries.get(ei + 1).and_then(|n| n.from).map(|at| py_moment(py, at)).transpose()?,
            )?;
            d.set_item("source", e.source.as_deref())?;
            d.set_item("notes", e.notes.as_deref())?;
            d.set_item("prices", sheet_dict(py, &e.standard)?)?;
            let tiers = PyDict::new(py);
            for (name, sheet) in &e.tiers {
                tiers.set_item(name, sheet_dict(py, sheet)?)?;
            }
            d.set_item("service_tiers", tiers)?;
            let windows = PyList::empty(py);
            for w in &e.windows {
                let wd = PyDict::new(py);
                wd.set_item("start", format!("{:02}:{:02}", w.start_minute / 60, w.start_minute % 60))?;
                wd.set_item("end", format!("{:02}:{:02}", w.end_minute / 60, w.end_minute % 60))?;
                wd.set_item("utc_offset_minutes", w.utc_offset_minutes)?;
                wd.set_item("from", w.from.map(|at| py_moment(py, at)).transpose()?)?;
                wd.set_item("until", w.until.map(|at| py_moment(py, at)).transpose()?)?;
                wd.set_item("prices", sheet_dict(py, &w.sheet)?)?;
                windows.append(wd)?;
            }
            d.set_item("windows", windows)?;
            Ok(d)
        })
    }

    /// Every model (optionally of one provider), as dicts: provider, id, name, context_window, deprecated.
    #[pyo3(signature = (provider=None))]
    fn models<'py>(&self, py: Python<'py>, provider: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyList>> {
        guard(py, || {
            let provider = opt_text(provider, "provider")?;
            let pi = provider.as_deref().map(|p| self.book.provider_by_name(p)).transpose().py_err(py)?;
            let list = PyList::empty(py);
            for mi in self.book.model_indexes(pi) {
                list.append(self.model_info(py, mi)?)?;
            }
            Ok(list)
        })
    }

    /// Provider ids, in book order.
    #[getter]
    fn providers(&self) -> Vec<String> {
        self.book.providers.iter().map(|p| p.id.clone()).collect()
    }

    fn __len__(&self) -> usize {
        self.book.models.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<PriceBook {}: {} providers, {} models>",
            self.book.origin,
            self.book.providers.len(),
            self.book.models.len()
        )
    }
}

impl PyPriceBook {
    fn model_info<'py>(&self, py: Python<'py>, mi: usize) -> PyResult<Bound<'py, PyDict>> {
        let m = &self.book.models[mi];
        let p = &self.book.providers[m.provider];
        let d = PyDict::new(py);
        d.set_item("provider", &p.id)?;
        d.set_item("model", &m.id)?;
        d.set_item("name", &m.name)?;
        d.set_item("context_window", m.context_window)?;
        d.set_item("deprecated", m.deprecated)?;
        d.set_item("price_changes", m.entries.iter().filter_map(|e| e.from).map(format_moment).collect::<Vec<_>>())?;
        Ok(d)
    }
}

/// A count from Python as the core takes it (`GivenCount`, whose rules say what is valid).
fn given_count(v: &Bound<'_, PyAny>) -> GivenCount {
    let text = || v.repr().map(|r| r.to_string()).unwrap_or_else(|_| type_name(v));
    let number = !v.is_instance_of::<pyo3::types::PyBool>();
    if number && v.is_instance_of::<PyInt>() {
        return match v.extract::<i128>() {
            Ok(n) => GivenCount::Int(n),
            Err(_) => GivenCount::OutOfRange { negative: !v.gt(0).unwrap_or(false), text: text() },
        };
    }
    match v.extract::<f64>() {
        Ok(f) if number && v.is_instance_of::<PyFloat>() => GivenCount::Float(f),
        _ => GivenCount::NotANumber { type_name: type_name(v), text: text() },
    }
}

/// What one request (or a sum of requests) used. `input_tokens` is the whole prompt (cache reads and writes,
/// audio, image included), `output_tokens` the whole output (reasoning, audio included); other counts are parts.
#[pyclass(frozen, module = "tokenprice", name = "Usage", eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyUsage {
    pub usage: Usage,
}

/// `#[pymethods]` of `PyUsage` with one getter per usage field, each reading the count of the unit of its name
/// in `units::UNITS`; a field list that differs from the table (a unit added, renamed or moved) does not compile.
macro_rules! usage_methods {
    ([$($field:ident),* $(,)?] { $($methods:tt)* }) => {
        const _: () = {
            let fields: &[&str] = &[$(stringify!($field)),*];
            assert!(fields.len() == UNITS.len(), "one getter per unit of units::UNITS");
            let mut u = 0;
            while u < fields.len() {
                assert!(same_str(fields[u], UNITS[u].usage_field), "getters in the order of units::UNITS");
                u += 1;
            }
        };

        #[pymethods]
        impl PyUsage {
            $($methods)*

            $(
                #[getter]
                fn $field(&self) -> u64 {
                    const UNIT: usize = unit_index(stringify!($field));
                    self.usage.counts[UNIT]
                }
            )*
        }
    };
}

const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The unit whose usage field is `field` (at compile time; an unknown name does not compile).
const fn unit_index(field: &str) -> usize {
    let mut u = 0;
    while u < UNITS.len() {
        if same_str(UNITS[u].usage_field, field) {
            return u;
        }
        u += 1;
    }
    panic!("not a usage field of units::UNITS")
}

usage_methods!([
    input_tokens,
    output_tokens,
    cache_read_tokens,
    cache_write_tokens,
    cache_write_1h_tokens,
    reasoning_tokens,
    citation_tokens,
    input_audio_tokens,
    output_audio_tokens,
    cache_audio_read_tokens,
    input_image_tokens,
    output_image_tokens,
    cache_image_read_tokens,
    input_video_tokens,
    output_video_tokens,
    input_characters,
    input_text_messages,
    audio_seconds,
    input_audio_seconds,
    input_document_pages,
    input_annotated_document_pages,
    web_searches,
    storage_searches,
    requests,
] {
    #[new]
    #[pyo3(signature = (**fields))]
    fn new(py: Python<'_>, fields: Option<&Bound<'_, PyDict>>) -> PyResult<PyUsage> {
        guard(py, || {
            let mut given = Vec::new();
            for (k, v) in fields.into_iter().flatten() {
                let name: String = k.extract()?;
                given.push((name, given_count(&v)));
            }
            let given: Vec<(&str, GivenCount)> = given.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
            Ok(PyUsage { usage: Usage::from_given_fields(&given).py_err(py)? })
        })
    }

    /// The usage as a dict of every field.
    pub fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (u, unit) in UNITS.iter().enumerate() {
            d.set_item(unit.usage_field, self.usage.counts[u])?;
        }
        Ok(d)
    }

    fn __add__(&self, py: Python<'_>, other: &PyUsage) -> PyResult<PyUsage> {
        let mut usage = self.usage;
        usage.add(&other.usage).py_err(py)?;
        usage.validate().py_err(py)?;
        Ok(PyUsage { usage })
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = UNITS
            .iter()
            .enumerate()
            .filter(|(u, unit)| {
                self.usage.counts[*u] != 0 && !(unit.usage_field == "requests" && self.usage.counts[*u] == 1)
            })
            .map(|(u, unit)| format!("{}={}", unit.usage_field, self.usage.counts[u]))
            .collect();
        format!("Usage({})", parts.join(", "))
    }

    /// Pickled as `Usage(**fields)` (the fields that are not their default).
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let kwargs = PyDict::new(py);
        for (u, unit) in UNITS.iter().enumerate() {
            if self.usage.counts[u] != Usage::default().counts[u] {
                kwargs.set_item(unit.usage_field, self.usage.counts[u])?;
            }
        }
        let partial = py.import("functools")?.getattr("partial")?;
        Ok((partial.call((py.get_type::<PyUsage>(),), Some(&kwargs))?, PyTuple::empty(py)))
    }

    /// The field names, in order.
    #[classattr]
    fn fields() -> Vec<&'static str> {
        UNITS.iter().map(|u| u.usage_field).collect()
    }
});

/// The cost of one usage: `total` (an exact `decimal.Decimal` in USD), the items it is the sum of, the price
/// entry used, and `explain()`.
#[pyclass(frozen, module = "tokenprice", name = "Cost")]
pub struct PyCost {
    pub cost: Cost,
}

#[pymethods]
impl PyCost {
    /// Total in USD, exact.
    #[getter]
    fn total<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_amount(py, self.cost.total)
    }

    /// The sum of the items on the input side (prompt, cache, audio/image input).
    #[getter]
    fn input_cost<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let sum: i128 = self
            .cost
            .all_items()
            .filter(|i| UNITS[i.unit].side == crate::prices::units::Side::Input)
            .map(|i| i.amount)
            .sum();
        py_amount(py, sum)
    }

    /// The sum of the items on the output side.
    #[getter]
    fn output_cost<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let sum: i128 = self
            .cost
            .all_items()
            .filter(|i| UNITS[i.unit].side == crate::prices::units::Side::Output)
            .map(|i| i.amount)
            .sum();
        py_amount(py, sum)
    }

    /// One dict per item: field, count, unit_price (USD per `per`), per, amount, long_context_threshold.
    #[getter]
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for item in self.cost.all_items() {
            let d = PyDict::new(py);
            let unit = &UNITS[item.unit];
            d.set_item("field", unit.usage_field)?;
            d.set_item("count", item.count)?;
            d.set_item("unit_price", py_decimal(py, item.factor.per_units(unit.per).py_err(py)?)?)?;
            d.set_item("per", unit.per)?;
            d.set_item("amount", py_amount(py, item.amount)?)?;
            d.set_item("long_context_threshold", item.threshold)?;
            list.append(d)?;
        }
        Ok(list)
    }

    #[getter]
    fn model(&self) -> &str {
        self.cost.model_id()
    }

    #[getter]
    fn provider(&self) -> &str {
        self.cost.provider_id()
    }

    #[getter]
    fn service_tier(&self) -> &str {
        &self.cost.sheet.tier
    }

    /// The first day of the price entry used (None for a model's first, open-ended entry).
    #[getter]
    fn effective_from<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.cost.effective_from().map(|at| py_moment(py, at)).transpose()
    }

    #[getter]
    fn source(&self) -> Option<&str> {
        self.cost.source()
    }

    #[getter]
    fn currency(&self) -> &'static str {
        "USD"
    }

    /// How the total was reached, in words.
    fn explain(&self) -> String {
        self.cost.explain()
    }

    /// Pickled as the `price(...)` call that gives it again: usage, model, provider, time, tier and region, and
    /// its book (by name or content). A cost of a `UsageRecord` with parts or a gateway cache hit is priced again
    /// from its (picklable) record instead.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let c = &self.cost;
        if !c.others.is_empty() || c.waived.is_some() {
            return Err(invalid_argument(
                py,
                "a Cost of a UsageRecord with parts or a gateway cache hit cannot be pickled alone: pickle the record \
                 and price it again"
                    .into(),
            ));
        }
        let book = PyPriceBook::of(&c.book).ok_or_else(|| {
            invalid_argument(py, format!("the price book of this Cost ({}) is no longer known", c.book.origin))
        })?;
        let args = [
            Bound::new(py, PyUsage { usage: c.usage })?.into_any(),
            c.model_id().into_pyobject(py)?.into_any(),
            c.provider_id().into_pyobject(py)?.into_any(),
            py_datetime(py, c.at_micros)?,
            c.sheet.tier.as_str().into_pyobject(py)?.into_any(),
            Bound::new(py, book)?.into_any(),
            c.sheet.region.as_deref().into_pyobject(py)?.into_any(),
        ];
        let price = py.import("tokenprice._core")?.getattr("price")?;
        Ok((price, PyTuple::new(py, args)?))
    }

    /// Costs are equal when they price the same usage the same way: total, items, model, provider, entry, tier,
    /// region and time.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        let Ok(o) = other.cast::<PyCost>() else { return false };
        let (a, b) = (&self.cost, &o.get().cost);
        a.total == b.total
            && a.items == b.items
            && a.usage == b.usage
            && a.at_micros == b.at_micros
            && a.model_id() == b.model_id()
            && a.provider_id() == b.provider_id()
            && a.sheet.entry == b.sheet.entry
            && a.sheet.tier == b.sheet.tier
            && a.sheet.region == b.sheet.region
            && a.others.len() == b.others.len()
            && a.waived == b.waived
    }

    fn __repr__(&self) -> String {
        format!("<Cost {} USD: {} ({})>", amount_text(self.cost.total), self.cost.model_id(), self.cost.provider_id())
    }
}

fn usage_of(obj: &Bound<'_, PyAny>) -> PyResult<Usage> {
    if let Ok(u) = obj.cast::<PyUsage>() {
        return Ok(u.get().usage);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(PyUsage::new(obj.py(), Some(d))?.usage);
    }
    Err(invalid_argument(
        obj.py(),
        format!("usage must be a tokenprice.Usage or a dict of its fields; got {}", type_name(obj)),
    ))
}

/// Prices one usage, or a `UsageRecord` (its served model, tier, parts and gateway cache hit; arguments given
/// here win). `at=None` means now (for a record: its timestamp, else now); naive datetimes are UTC.
/// `provider=None` picks the model's first party.
#[pyfunction]
#[pyo3(signature = (usage, model=None, provider=None, at=None, service_tier=None, book=None, region=None))]
#[allow(clippy::too_many_arguments)]
pub fn price(
    py: Python<'_>,
    usage: &Bound<'_, PyAny>,
    model: Option<&Bound<'_, PyAny>>,
    provider: Option<&Bound<'_, PyAny>>,
    at: Option<&Bound<'_, PyAny>>,
    service_tier: Option<&Bound<'_, PyAny>>,
    book: Option<&PyPriceBook>,
    region: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyCost> {
    guard(py, || {
        let model = opt_text(model, "model")?;
        let provider = opt_text(provider, "provider")?;
        let service_tier = opt_text(service_tier, "service_tier")?;
        let region = opt_text(region, "region")?;
        let (model, provider, service_tier, region) =
            (model.as_deref(), provider.as_deref(), service_tier.as_deref(), region.as_deref());
        if let Ok(rec) = usage.cast::<crate::py::extract::PyUsageRecord>() {
            return crate::py::extract::price_usage_record(
                py,
                rec.get(),
                model,
                provider,
                at,
                service_tier,
                book,
                region,
            );
        }
        let model = model.ok_or_else(|| invalid_argument(py, "price() needs model= for a Usage".into()))?;
        let usage = usage_of(usage)?;
        let at = instant_of(at, "at")?;
        let book = book.map_or_else(PriceBook::default_book, |b| b.book.clone());
        let mi = book.resolve(model, provider).py_err(py)?;
        let cost = price_model(&book, &usage, mi, at, service_tier, region).py_err(py)?;
        Ok(PyCost { cost })
    })
}

/// Prices an Arrow table of usage rows: the keywords of the Python `price_table` (roles to columns, `counts`
/// usage fields to columns), the rules in `cost::table_input`. `keep_columns`: the caller puts the result beside the
/// input's own columns, so their names must not clash.
#[pyfunction]
#[pyo3(signature = (table, *, book=None, model=None, timestamp=Some("timestamp".to_string()), provider=None, service_tier=None, region=None, cache_hit=None, counts=None, default_at=None, input_excludes_cache=None, itemized=false, as_float=false, keep_columns=false, num_threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn price_arrow_table(
    py: Python<'_>,
    table: AnyRecordBatch,
    book: Option<&PyPriceBook>,
    model: Option<&Bound<'_, PyAny>>,
    timestamp: Option<String>,
    provider: Option<&Bound<'_, PyAny>>,
    service_tier: Option<&Bound<'_, PyAny>>,
    region: Option<&Bound<'_, PyAny>>,
    cache_hit: Option<&Bound<'_, PyAny>>,
    counts: Option<&Bound<'_, PyDict>>,
    default_at: Option<&Bound<'_, PyAny>>,
    input_excludes_cache: Option<bool>,
    itemized: bool,
    as_float: bool,
    keep_columns: bool,
    num_threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTable> {
    guard(py, || {
        let threads = crate::py::args::threads(num_threads)?;
        let book = book.map_or_else(PriceBook::default_book, |b| b.book.clone());
        let default_at = match default_at {
            Some(v) if !v.is_none() => Some(instant_of(Some(v), "default_at")?),
            _ => None,
        };
        let counts = counts.map_or(Ok(Vec::new()), |d| {
            d.iter().map(|(k, v)| Ok((text(&k, "columns= key")?, text(&v, "columns= value")?))).collect::<PyResult<_>>()
        })?;
        let columns = ColumnNames {
            model: opt_text(model, "model")?.unwrap_or_else(|| "model".into()),
            timestamp,
            provider: opt_text(provider, "provider")?,
            service_tier: opt_text(service_tier, "service_tier")?,
            region: opt_text(region, "region")?,
            cache_hit: opt_text(cache_hit, "cache_hit")?,
            counts,
            input_excludes_cache,
        };
        let job = TableJob { columns, default_at, options: TableOptions { itemized, as_float, threads }, keep_columns };
        let reader = table.into_reader()?;
        let schema = reader.schema();
        let batches: Vec<arrow_array::RecordBatch> =
            reader.collect::<Result<_, _>>().map_err(|e| invalid_argument(py, format!("reading the table: {e}")))?;
        let (schema, results) = py.detach(|| price_batches(&book, &schema, &batches, &job)).py_err(py)?;
        PyTable::try_new(results, schema)
    })
}

/// The Usage field names (for the Python layer's column mapping).
#[pyfunction]
pub fn usage_fields() -> Vec<&'static str> {
    UNITS.iter().map(|u| u.usage_field).collect()
}
