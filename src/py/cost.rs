//! `Usage`, `Cost`, `price` and `price_table` for Python: arguments converted, work delegated to `usage` and
//! `cost` (the table's column rules are `cost::table_input`'s), results converted back.

use pyo3::ffi;
use pyo3::impl_::trampoline::{fastcall_cfunction_with_keywords, MethodDef};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::cost::estimate::{estimate as core_estimate, Estimate, EstimateOptions};
use crate::cost::record::{price_record, RecordOptions};
use crate::cost::table::TableOptions;
use crate::cost::table_input::{price_batches, ColumnNames, TableJob};
use crate::cost::{price_model, Cost, CostItem};
use crate::money::amount_text;
use crate::prices::book::PriceBook;
use crate::prices::units::{Side, UNITS};
use crate::py::args::{type_name, Arg};
use crate::py::capsule::{self, ArrowTable};
use crate::py::convert::{
    displayed, instant_of, opt_instant, opt_text, py_amount, py_datetime, py_decimal, py_moment, text, to_json,
};
use crate::py::errors::{guard, invalid_argument, IntoPy};
use crate::py::prices::PyPriceBook;
use crate::py::usage::{given_count, text_of, PyUsage, PyUsageRecord};
use crate::usage::reading::{all_usage_fields, read_priceable_as, Reading};
use crate::usage::{GivenCount, Hints, Usage, UsageRecord};

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
        py_amount(py, self.cost.side_total(Side::Input))
    }

    /// The sum of the items on the output side.
    #[getter]
    fn output_cost<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_amount(py, self.cost.side_total(Side::Output))
    }

    /// One dict per item: field, count, unit_price (USD per `per`), per, amount, long_context_threshold, and the
    /// model and provider whose price it is (a record's parts and a sum of costs price several).
    #[getter]
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        let parts = std::iter::once(&self.cost).chain(&self.cost.others);
        for (part, item) in parts.flat_map(|part| part.items.iter().map(move |item| (part, item))) {
            let d = PyDict::new(py);
            d.set_item("model", part.model_id())?;
            d.set_item("provider", part.provider_id())?;
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

    /// Where the price entry used came from: "hand", "genai-prices 0.2.5", "LiteLLM 1.110.2", or several
    /// joined by " + " (None when its book does not say).
    #[getter]
    fn origin(&self) -> Option<&str> {
        self.cost.origin()
    }

    /// The region the call was priced in (Anthropic's `inference_geo`, a `region=` given), or None.
    #[getter]
    fn region(&self) -> Option<&str> {
        self.cost.sheet.region.as_deref()
    }

    #[getter]
    fn currency(&self) -> &'static str {
        "USD"
    }

    /// How the total was reached, in words.
    fn explain(&self) -> String {
        self.cost.explain()
    }

    /// How many calls this cost is the sum of (1 for one call's cost).
    #[getter]
    fn calls(&self) -> u64 {
        self.cost.calls
    }

    /// `a + b`, exact (`Cost::sum`: one section per price sheet); `0 + cost` is the cost, so `sum(costs)` works.
    fn __add__<'py>(&self, other: &Arg<'py>) -> PyResult<Bound<'py, PyAny>> {
        let py = other.py();
        if let Ok(o) = other.cast::<PyCost>() {
            return Ok(Bound::new(py, PyCost { cost: self.cost.sum(&o.get().cost).py_err(py)? })?.into_any());
        }
        let zero = other.is_exact_instance_of::<pyo3::types::PyInt>() && other.eq(0)?;
        if zero {
            return Ok(Bound::new(py, PyCost { cost: self.cost.clone() })?.into_any());
        }
        Ok(py.NotImplemented().into_bound(py))
    }

    fn __radd__<'py>(&self, other: &Arg<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.__add__(other)
    }

    /// Pickled as the `price(...)` call that gives it again: usage, model, provider, time, tier and region, and
    /// its book (by name or content). A cost of a `UsageRecord` with parts or a gateway cache hit is priced again
    /// from its (picklable) record instead.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let c = &self.cost;
        if c.calls > 1 {
            // A sum: its sections, each pickled as the plain cost on its sheet (priced again from the section's
            // usage) with the items, calls and waiver it had — the items are kept, not priced again, since a
            // long-context threshold may fall between the calls summed (`Cost::from_sections`).
            let mut sections = Vec::new();
            for s in c.sections() {
                let items: Vec<(usize, u64, i128, i128, Option<u64>, i128)> = s
                    .items
                    .iter()
                    .map(|i| (i.unit, i.count, i.factor.num, i.factor.den, i.threshold, i.amount))
                    .collect();
                let (calls, waived) = (s.calls, s.waived.clone());
                let plain = Cost { calls: 1, waived: None, ..s };
                sections.push((Bound::new(py, PyCost { cost: plain })?, items, calls, waived));
            }
            let args = (sections,).into_pyobject(py)?;
            return Ok((py.import("tokenprice._core")?.getattr("_cost_of_sections")?, args));
        }
        if !c.others.is_empty() || c.waived.is_some() {
            // A record's cost: its own part and the other parts, each pickled as the plain cost it is priced
            // from, put together again by the core's rule (`cost::record::with_parts`).
            let plain = |cost: &Cost| {
                let mut cost = cost.clone();
                cost.others.clear();
                cost.waived = None;
                Bound::new(py, PyCost { cost })
            };
            let others = c.others.iter().map(plain).collect::<PyResult<Vec<_>>>()?;
            let args = (plain(c)?, others, c.waived.is_some()).into_pyobject(py)?;
            return Ok((py.import("tokenprice._core")?.getattr("_cost_of_parts")?, args));
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
    fn __eq__(&self, other: &Arg<'_>) -> bool {
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
            && a.calls == b.calls
    }

    /// The total, the price entry and one line per item (`tokenprice._display`).
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        displayed(slf.as_any(), "cost_text")
    }

    /// The items as a table a notebook shows, money rounded for display (`tokenprice._display`).
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        displayed(slf.as_any(), "cost_html")
    }
}

/// `price`'s positional and keyword parameters, in order; any other keyword is a usage count (`input_tokens=...`).
const PRICE_PARAMS: [&str; 7] = ["usage", "model", "provider", "at", "service_tier", "book", "region"];

/// `price` as CPython's vectorcall convention hands it over (`METH_FASTCALL | METH_KEYWORDS`): the positional
/// values, then the keyword values named by `kwnames`. Written by hand rather than with `#[pyfunction]` because
/// pyo3 calls a function that takes `**counts` through the tuple-and-dict convention, which built a dict on
/// every call (a `price()` took 0.71 µs against 0.59 µs before it took keyword counts); here no argument is
/// copied and the keyword counts are read in place.
///
/// It runs inside pyo3's own trampoline (the one `#[pyfunction]` uses: the attach count, deferred reference
/// drops, a panic turned into an exception); that API is pyo3's hidden one, so a pyo3 upgrade that changes it
/// fails the build here rather than silently.
unsafe fn price_fastcall(
    py: Python<'_>,
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: `args` holds `nargs` positional values then one value per name in `kwnames` (CPython's contract).
    guard(py, || unsafe { price_vectorcall(py, args, nargs, kwnames) }).map(Bound::into_ptr)
}

struct PriceMethod;
impl MethodDef<fastcall_cfunction_with_keywords::Func> for PriceMethod {
    const METH: fastcall_cfunction_with_keywords::Func = price_fastcall;
}

/// Reads `price`'s arguments from a vectorcall and prices them.
///
/// # Safety
/// `args` holds `nargs` positional values followed by one value for each name of `kwnames` (a tuple of str, or
/// null), all borrowed for the call.
unsafe fn price_vectorcall<'py>(
    py: Python<'py>,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<Bound<'py, PyAny>> {
    let nargs = usize::try_from(nargs).unwrap_or(0);
    if nargs > PRICE_PARAMS.len() {
        let message = format!("price() takes at most {} positional arguments ({nargs} given)", PRICE_PARAMS.len());
        return Err(pyo3::exceptions::PyTypeError::new_err(message));
    }
    // SAFETY: the caller's contract.
    let arg = |i: usize| unsafe { Bound::from_borrowed_ptr(py, *args.add(i)) };
    let mut slots: [Option<Bound<'py, PyAny>>; 7] = Default::default();
    for (i, slot) in slots.iter_mut().enumerate().take(nargs) {
        *slot = Some(arg(i));
    }
    let mut counts: Vec<(String, Bound<'py, PyAny>)> = Vec::new();
    if !kwnames.is_null() {
        // SAFETY: a non-null `kwnames` is a tuple of str (the caller's contract).
        let names = unsafe { Bound::from_borrowed_ptr(py, kwnames) };
        for (j, name) in names.cast::<PyTuple>()?.iter().enumerate() {
            let name = name.cast::<pyo3::types::PyString>()?;
            let name = name.to_str()?;
            let value = arg(nargs + j);
            match PRICE_PARAMS.iter().position(|p| *p == name) {
                Some(k) if slots[k].is_some() => {
                    let message = format!("price() got multiple values for argument '{name}'");
                    return Err(pyo3::exceptions::PyTypeError::new_err(message));
                }
                Some(k) => slots[k] = Some(value),
                None => counts.push((name.to_string(), value)),
            }
        }
    }
    let [usage, model, provider, at, service_tier, book, region] = slots.map(|v| v.filter(|v| !v.is_none()));
    let book = match &book {
        Some(b) => Some(b.cast::<PyPriceBook>().map_err(|_| {
            let message = format!("price(): book must be a PriceBook, not {}", type_name(b));
            pyo3::exceptions::PyTypeError::new_err(message)
        })?),
        None => None,
    };
    let book = book.as_ref().map(|b| b.get());
    let counts: Vec<(&str, GivenCount)> = counts.iter().map(|(n, v)| (n.as_str(), given_count(v))).collect();
    let (usage, model, provider, at, service_tier, region) =
        (usage.as_ref(), model.as_ref(), provider.as_ref(), at.as_ref(), service_tier.as_ref(), region.as_ref());
    let cost = price_any(py, usage, model, provider, at, service_tier, book, region, &counts)?;
    Ok(Bound::new(py, cost)?.into_any())
}

/// A `PyMethodDef` is plain data that CPython only reads; a `static` of it needs `Sync`.
struct StaticMethodDef(ffi::PyMethodDef);
// SAFETY: the definition is never written after it is built, and its pointers are to static data.
unsafe impl Sync for StaticMethodDef {}

static PRICE_DEF: StaticMethodDef = StaticMethodDef(ffi::PyMethodDef {
    ml_name: c"price".as_ptr(),
    ml_meth: ffi::PyMethodDefPointer {
        PyCFunctionFastWithKeywords: fastcall_cfunction_with_keywords::<PriceMethod>,
    },
    ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
    // CPython reads the text signature (for `inspect.signature`) from the lines before "--".
    ml_doc: c"price(usage=None, model=None, provider=None, at=None, service_tier=None, book=None, region=None, **counts)\n--\n\nPrices one usage (a Usage or keyword counts such as input_tokens=...), a UsageRecord, or a \
response (an SDK object, a dict or JSON text); returns a Cost whose total is an exact Decimal in USD. \
Arguments given here win over what a record says. at=None means now (for a record: its timestamp); naive \
datetimes are UTC. provider=None picks the model's first party."
        .as_ptr(),
});

/// `price`, a builtin function of `module` (see [`price_fastcall`]).
pub fn price_function<'py>(module: &Bound<'py, PyModule>) -> PyResult<Bound<'py, PyAny>> {
    let py = module.py();
    let name = module.name()?;
    // SAFETY: the definition is static; CPython keeps the module and its name referenced while the function lives.
    unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyCFunction_NewEx(std::ptr::addr_of!(PRICE_DEF.0).cast_mut(), module.as_ptr(), name.as_ptr()),
        )
    }
}

/// `price` with its keyword counts as (field, count) pairs, read by `Usage::from_given_fields`; called inside
/// [`price_fastcall`]'s `guard` (one `catch_unwind` a call: a second one moved the `Cost` out once more).
#[allow(clippy::too_many_arguments)]
fn price_any(
    py: Python<'_>,
    usage: Option<&Arg<'_>>,
    model: Option<&Arg<'_>>,
    provider: Option<&Arg<'_>>,
    at: Option<&Arg<'_>>,
    service_tier: Option<&Arg<'_>>,
    book: Option<&PyPriceBook>,
    region: Option<&Arg<'_>>,
    counts: &[(&str, GivenCount)],
) -> PyResult<PyCost> {
    let [model, provider, service_tier, region] = choices([model, provider, service_tier, region])?;
    let (model, provider, service_tier, region) =
        (model.as_deref(), provider.as_deref(), service_tier.as_deref(), region.as_deref());
    let counts = (!counts.is_empty()).then_some(counts);
    let usage = match (usage.filter(|u| !u.is_none()), counts) {
        (Some(_), Some(_)) => {
            return Err(invalid_argument(py, "price() takes a usage or keyword counts, not both".into()))
        }
        (None, Some(given)) => Usage::from_given_fields(given).py_err(py)?,
        (None, None) => {
            return Err(invalid_argument(
                py,
                "price() needs what to price: a Usage, keyword counts (input_tokens=...), a UsageRecord or a \
                 response"
                    .into(),
            ))
        }
        (Some(u), None) => {
            if let Ok(rec) = u.cast::<PyUsageRecord>() {
                return price_usage_record(py, &rec.get().record, model, provider, at, service_tier, book, region);
            }
            match u.cast::<PyUsage>() {
                Ok(u) => u.get().usage,
                Err(_) => match read_value(py, u)? {
                    Reading::Usage(usage) => usage,
                    Reading::Response(rec) => {
                        return price_usage_record(py, &rec, model, provider, at, service_tier, book, region)
                    }
                },
            }
        }
    };
    let model = model.ok_or_else(|| invalid_argument(py, "price() needs model= for a Usage".into()))?;
    let at = instant_of(at, "at")?;
    let book = book.map_or_else(PriceBook::default_book, |b| b.book.clone());
    let mi = book.resolve(model, provider).py_err(py)?;
    let cost = price_model(&book, &usage, mi, at, service_tier, region).py_err(py)?;
    Ok(PyCost { cost })
}

/// The `model`, `provider`, `service_tier` and `region` arguments of `price` and `estimate`, each None or a str.
fn choices(given: [Option<&Arg<'_>>; 4]) -> PyResult<[Option<String>; 4]> {
    let [model, provider, service_tier, region] = given;
    Ok([
        opt_text(model, "model")?,
        opt_text(provider, "provider")?,
        opt_text(service_tier, "service_tier")?,
        opt_text(region, "region")?,
    ])
}

/// A dict, JSON text or SDK object given to `price`, read by the core's rule. A dict of usage fields is read as
/// `Usage(**d)` reads it (the same errors for a bad count); the core still checks no format reads it otherwise.
fn read_value(py: Python<'_>, obj: &Arg<'_>) -> PyResult<Reading> {
    let mut as_usage = None;
    if let Ok(d) = obj.cast::<PyDict>() {
        let keys: Vec<String> = d.keys().iter().filter_map(|k| k.extract::<String>().ok()).collect();
        if !d.is_empty() && keys.len() == d.len() && all_usage_fields(keys.iter().map(String::as_str)) {
            as_usage = Some(PyUsage::new(py, Some(d))?.usage);
        }
    }
    let text = text_of(obj, "usage")?.ok_or_else(|| invalid_argument(py, "usage is None".into()))?;
    py.detach(|| read_priceable_as(text.bytes(), as_usage, &Hints::default())).py_err(py)
}

/// Prices an Arrow table of usage rows: the keywords of the Python `price_table` (roles to columns, `counts`
/// usage fields to columns), the rules in `cost::table_input`. `keep_columns`: the caller puts the result beside the
/// input's own columns, so their names must not clash.
#[pyfunction]
#[pyo3(signature = (table, *, book=None, model=None, timestamp=Some("timestamp".to_string()), provider=None, service_tier=None, region=None, cache_hit=None, counts=None, default_at=None, input_excludes_cache=None, itemized=false, as_float=false, keep_columns=false, num_threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn price_arrow_table(
    py: Python<'_>,
    table: &Arg<'_>,
    book: Option<&PyPriceBook>,
    model: Option<&Arg<'_>>,
    timestamp: Option<String>,
    provider: Option<&Arg<'_>>,
    service_tier: Option<&Arg<'_>>,
    region: Option<&Arg<'_>>,
    cache_hit: Option<&Arg<'_>>,
    counts: Option<&Bound<'_, PyDict>>,
    default_at: Option<&Arg<'_>>,
    input_excludes_cache: Option<bool>,
    itemized: bool,
    as_float: bool,
    keep_columns: bool,
    num_threads: Option<&Arg<'_>>,
) -> PyResult<ArrowTable> {
    guard(py, || {
        let threads = crate::py::args::threads(num_threads)?;
        let book = book.map_or_else(PriceBook::default_book, |b| b.book.clone());
        let default_at = opt_instant(default_at, "default_at")?;
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
        let (schema, batches) = capsule::table(table, "table")?;
        let (schema, results) = py.detach(|| price_batches(&book, &schema, &batches, &job)).py_err(py)?;
        Ok(ArrowTable::new(schema, results))
    })
}

/// Prices a record (see `tokenprice.price`).
#[allow(clippy::too_many_arguments)]
pub fn price_usage_record(
    py: Python<'_>,
    rec: &UsageRecord,
    model: Option<&str>,
    provider: Option<&str>,
    at: Option<&Arg<'_>>,
    service_tier: Option<&str>,
    book: Option<&PyPriceBook>,
    region: Option<&str>,
) -> PyResult<PyCost> {
    let book = book.map_or_else(PriceBook::default_book, |b| b.book.clone());
    let now = crate::prices::calendar::now_micros();
    let opts = RecordOptions {
        model: model.map(str::to_string),
        provider: provider.map(str::to_string),
        at: opt_instant(at, "at")?,
        service_tier: service_tier.map(str::to_string),
        region: region.map(str::to_string),
    };
    let cost = price_record(&book, rec, &opts, now).py_err(py)?;
    Ok(PyCost { cost })
}

/// Unpickling a record's cost: its own part, the parts on other models and whether the gateway answered from its
/// cache, put together as `price(record)` does.
#[pyfunction]
pub fn _cost_of_parts(
    py: Python<'_>,
    first: &PyCost,
    others: Vec<PyRef<'_, PyCost>>,
    cache_hit: bool,
) -> PyResult<PyCost> {
    let others = others.iter().map(|o| o.cost.clone()).collect();
    Ok(PyCost { cost: crate::cost::record::with_parts(first.cost.clone(), others, cache_hit).py_err(py)? })
}

/// Unpickling a sum of costs: per section, its plain cost, items `(unit, count, price numerator, denominator,
/// long-context threshold, amount)`, calls and waiver, put together by `Cost::from_sections`.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn _cost_of_sections(
    py: Python<'_>,
    sections: Vec<(PyRef<'_, PyCost>, Vec<(usize, u64, i128, i128, Option<u64>, i128)>, u64, Option<String>)>,
) -> PyResult<PyCost> {
    let mut out = Vec::with_capacity(sections.len());
    for (plain, items, calls, waived) in sections {
        let items = items
            .into_iter()
            .map(|(unit, count, num, den, threshold, amount)| CostItem {
                unit,
                count,
                factor: crate::money::Factor { num, den },
                threshold,
                amount,
            })
            .collect();
        out.push(plain.cost.clone().with_items(items, calls, waived).py_err(py)?);
    }
    Ok(PyCost { cost: Cost::from_sections(out).py_err(py)? })
}

/// What a request will cost before it is sent (`cost::estimate`): the prompt counted, the output as a range.
#[pyclass(frozen, module = "tokenprice", name = "Estimate")]
pub struct PyEstimate {
    pub(crate) estimate: Estimate,
}

#[pymethods]
impl PyEstimate {
    /// The request's shape: "chat", "responses", "messages" or "gemini".
    #[getter]
    fn api(&self) -> &'static str {
        self.estimate.api.as_str()
    }
    #[getter]
    fn model(&self) -> &str {
        &self.estimate.model
    }
    /// Prompt tokens, by the chat counting rules.
    #[getter]
    fn input_tokens(&self) -> u64 {
        self.estimate.input_tokens
    }
    /// True when the model's tokenizer is not public and the prompt was counted with `encoding` instead.
    #[getter]
    fn approximate(&self) -> bool {
        self.estimate.approximate
    }
    #[getter]
    fn encoding(&self) -> &str {
        &self.estimate.encoding
    }
    /// How many outputs the request asks for: chat's `n`, Gemini's `candidateCount` (1 when unset).
    #[getter]
    fn choices(&self) -> u64 {
        self.estimate.choices
    }
    /// The most output tokens the call can produce, over all its choices: each choice's limit times `choices`
    /// (None when neither the request nor the book gives a limit).
    #[getter]
    fn output_limit(&self) -> Option<u64> {
        self.estimate.output_limit
    }
    /// Where `output_limit` came from: the request's key ("max_tokens", "max_completion_tokens",
    /// "max_output_tokens", "maxOutputTokens") or "context_window" (what the model's window leaves).
    #[getter]
    fn output_limit_from(&self) -> Option<&'static str> {
        self.estimate.output_limit_from
    }
    /// The cost with no output (cache cold).
    #[getter]
    fn low(&self) -> PyCost {
        PyCost { cost: self.estimate.low.clone() }
    }
    /// The cost with the output at its limit (cache cold), or None without a limit.
    #[getter]
    fn high(&self) -> Option<PyCost> {
        self.estimate.high.clone().map(|cost| PyCost { cost })
    }
    fn __repr__(&self) -> String {
        let e = &self.estimate;
        format!(
            "<Estimate {}: {}{} input tokens, {} to {} USD>",
            e.model,
            if e.approximate { "~" } else { "" },
            e.input_tokens,
            amount_text(e.low.total),
            e.high.as_ref().map_or_else(|| "?".to_string(), |h| amount_text(h.total))
        )
    }
}

/// The cost of a request before it is sent (see `cost::estimate`): a chat, Responses, Messages or Gemini request
/// body as a dict (or an SDK params object), `model=` when the request names none.
#[pyfunction]
#[pyo3(signature = (request, model=None, book=None, *, provider=None, at=None, service_tier=None, region=None))]
#[allow(clippy::too_many_arguments)]
pub fn estimate(
    py: Python<'_>,
    request: &Arg<'_>,
    model: Option<&Arg<'_>>,
    book: Option<&PyPriceBook>,
    provider: Option<&Arg<'_>>,
    at: Option<&Arg<'_>>,
    service_tier: Option<&Arg<'_>>,
    region: Option<&Arg<'_>>,
) -> PyResult<PyEstimate> {
    guard(py, || {
        let [model, provider, tier, region] = choices([model, provider, service_tier, region])?;
        let at = instant_of(at, "at")?;
        let request = to_json(request, "request")?;
        let book = book.map_or_else(PriceBook::default_book, |b| b.book.clone());
        let opts = EstimateOptions {
            model: model.as_deref(),
            provider: provider.as_deref(),
            at,
            tier: tier.as_deref(),
            region: region.as_deref(),
        };
        let estimate = py.detach(|| core_estimate(&book, request, &opts)).py_err(py)?;
        Ok(PyEstimate { estimate })
    })
}
