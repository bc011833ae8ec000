//! `PriceBook` for Python: made from the default book, dicts, price files or overrides (the reading is the core's,
//! `prices::load`), pickled by how it was made, and its answers (`resolve`, `price_at`, `models`) as dicts.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::prices::book::PriceBook;
use crate::prices::calendar::format_moment;
use crate::prices::schema::{PriceDef, SheetDef};
use crate::prices::units::UNITS;
use crate::py::args::Arg;
use crate::py::convert::{displayed, instant_of, opt_text, py_decimal, py_moment, text};
use crate::py::errors::{guard, IntoPy};

fn json_of(obj: &Arg<'_>, what: &str) -> PyResult<serde_json::Value> {
    crate::py::convert::to_json(obj, what)
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
    pub(crate) fn of(book: &Arc<PriceBook>) -> Option<PyPriceBook> {
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
    fn from_dicts(py: Python<'_>, providers: &Arg<'_>, origin: &str) -> PyResult<PyPriceBook> {
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
    fn from_path(py: Python<'_>, path: &Arg<'_>) -> PyResult<PyPriceBook> {
        guard(py, || {
            let path = crate::py::args::path(path, "path")?;
            let (book, values) = py.detach(|| PriceBook::load_path(&path)).py_err(py)?;
            let origin = path.display().to_string();
            Ok(PyPriceBook::made(book, Recipe::Values { values: Arc::new(values), origin }))
        })
    }

    /// A new book with overrides layered on this one (this one is unchanged): a dict or a TOML file with
    /// `discounts` ({"openai": "0.8", "openai/gpt-4o": "0.7"}) and `providers` (models to add or replace).
    fn with_overrides(&self, py: Python<'_>, overrides: &Arg<'_>) -> PyResult<PyPriceBook> {
        guard(py, || {
            let is_path = overrides.is_instance_of::<pyo3::types::PyString>()
                || overrides.is_instance(&py.import("os")?.getattr("PathLike")?)?;
            let (book, value) = if is_path {
                let path = crate::py::args::path(overrides, "overrides")?;
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

    /// Dask's token for the book: its pickle (the default book by name, others by content), so equal books
    /// tokenize alike in every process.
    fn __dask_tokenize__<'py>(slf: &Bound<'py, Self>) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
        let state = slf.py().import("pickle")?.call_method1("dumps", (slf,))?;
        Ok(("tokenprice.PriceBook", state))
    }

    /// Books are equal when made the same way from the same content.
    fn __eq__(&self, other: &Arg<'_>) -> bool {
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
        model: &Arg<'py>,
        provider: Option<&Arg<'py>>,
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
        model: &Arg<'py>,
        at: Option<&Arg<'py>>,
        provider: Option<&Arg<'py>>,
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
            d.set_item("effective_until", self.book.entry_until(mi, ei).map(|at| py_moment(py, at)).transpose()?)?;
            d.set_item("source", e.source.as_deref())?;
            d.set_item("source_date", e.source_date.map(|at| py_moment(py, at)).transpose()?)?;
            d.set_item("origin", e.origin.as_deref())?;
            d.set_item("checked", e.checked.map(|at| py_moment(py, at)).transpose()?)?;
            d.set_item("notes", e.notes.as_deref())?;
            d.set_item("prices", sheet_dict(py, &e.sheet)?)?;
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
    fn models<'py>(&self, py: Python<'py>, provider: Option<&Arg<'py>>) -> PyResult<Bound<'py, PyList>> {
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

    /// Where the book came from: "default", the path or the `origin=` it was made with.
    #[getter]
    fn origin(&self) -> &str {
        &self.book.origin
    }

    fn __len__(&self) -> usize {
        self.book.models.len()
    }

    /// Providers and their model counts as a table a notebook shows (`tokenprice._display`).
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        displayed(slf.as_any(), "book_html")
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
