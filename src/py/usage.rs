//! `Usage`, `extract_usage`, `extract_usages` and the `UsageRecord` class: Python objects become JSON text at the
//! boundary (dicts, SDK response objects through `model_dump`, str, bytes), the core reads them with the GIL
//! released, and records come back as Python objects or one Arrow table.

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::prices::units::UNITS;
use crate::py::args::{type_name, Arg};
use crate::py::capsule::{self, ArrowTable};
use crate::py::convert::{instant_of, py_datetime, py_decimal};
use crate::py::convert::{opt_text, str_lossy, text, to_json};
use crate::py::errors::{guard, invalid_argument, invalid_type, is_tokenprice_error, IntoPy};
use crate::usage::batch::{extract_all, to_batch, Finish, Input};
use crate::usage::formats::{self, Mapping, MappingKey};
use crate::usage::{GivenCount, Hints, Meta, Usage, UsageRecord};

/// One request's usage, read from a provider response or a log record and normalized to the price book's rule.
#[pyclass(frozen, module = "tokenprice", name = "UsageRecord")]
pub struct PyUsageRecord {
    pub record: UsageRecord,
}

fn meta_py<'py>(py: Python<'py>, m: &Meta) -> PyResult<Bound<'py, PyAny>> {
    Ok(match m {
        Meta::Str(s) => PyString::new(py, s).into_any(),
        Meta::Int(i) => i.into_pyobject(py)?.into_any(),
        Meta::Float(f) => f.into_pyobject(py)?.into_any(),
        Meta::Bool(b) => pyo3::types::PyBool::new(py, *b).to_owned().into_any(),
    })
}

#[pymethods]
impl PyUsageRecord {
    /// The format the record was read as (see `usage_formats()`).
    #[getter]
    fn format(&self) -> &'static str {
        self.record.format
    }
    #[getter]
    fn provider(&self) -> Option<&str> {
        self.record.provider.as_deref()
    }
    /// The model requested.
    #[getter]
    fn model(&self) -> Option<&str> {
        self.record.model.as_deref()
    }
    /// The model that answered, when the source names it and it differs from the requested one.
    #[getter]
    fn served_model(&self) -> Option<&str> {
        self.record.served_model.as_deref()
    }
    /// When the request ran (an aware UTC datetime), or None when the source does not say.
    #[getter]
    fn timestamp<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.record.timestamp.map(|t| py_datetime(py, t)).transpose()
    }
    #[getter]
    fn usage(&self) -> PyUsage {
        PyUsage { usage: self.record.usage }
    }
    /// (model, Usage) per billed step, where one response bills several (Anthropic's `usage.iterations`).
    #[getter]
    fn parts(&self) -> Vec<(Option<String>, PyUsage)> {
        self.record.parts.iter().map(|(m, u)| (m.clone(), PyUsage { usage: *u })).collect()
    }
    #[getter]
    fn service_tier(&self) -> Option<&str> {
        self.record.service_tier.as_deref()
    }
    #[getter]
    fn region(&self) -> Option<&str> {
        self.record.region.as_deref()
    }
    /// The gateway answered from its cache (the provider was not called).
    #[getter]
    fn cache_hit(&self) -> bool {
        self.record.cache_hit
    }
    /// "ok", or "error" for a failed request (kept, with zero usage).
    #[getter]
    fn status(&self) -> &'static str {
        self.record.status.as_str()
    }
    #[getter]
    fn status_code(&self) -> Option<u16> {
        self.record.status_code
    }
    /// Whether the source reported usage counts.
    #[getter]
    fn has_usage(&self) -> bool {
        self.record.has_usage
    }
    /// Labels (tenant, feature, conversation, user, ...), flattened: nested keys joined with dots.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.record.metadata {
            d.set_item(k, meta_py(py, v)?)?;
        }
        Ok(d)
    }
    /// The cost the source reported, as an exact Decimal read from the JSON text, or None.
    #[getter]
    fn reported_cost<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.record.reported_cost.map(|d| py_decimal(py, d)).transpose()
    }
    #[getter]
    fn id(&self) -> Option<&str> {
        self.record.id.as_deref()
    }
    /// The request's duration in milliseconds (an exact Decimal), when the source says.
    #[getter]
    fn duration_ms<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.record.extras.duration_ms.map(|d| py_decimal(py, d)).transpose()
    }
    /// Time to the first token of a streamed response in milliseconds (an exact Decimal), when the source says.
    #[getter]
    fn ttft_ms<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.record.extras.ttft_ms.map(|d| py_decimal(py, d)).transpose()
    }
    /// What groups the request with its retries and fallbacks (a trace id).
    #[getter]
    fn trace_id(&self) -> Option<&str> {
        self.record.extras.trace_id.as_deref()
    }
    /// The source's own id of the request or event.
    #[getter]
    fn request_id(&self) -> Option<&str> {
        self.record.extras.request_id.as_deref()
    }
    /// The path or URL the request was served on.
    #[getter]
    fn endpoint(&self) -> Option<&str> {
        self.record.extras.endpoint.as_deref()
    }
    /// Whether the source says the request was rate limited (None when it does not say).
    #[getter]
    fn rate_limited(&self) -> Option<bool> {
        self.record.extras.rate_limited
    }
    /// Whether the reported cost is the caller's own price (Cloudflare `custom_cost`), None when not said.
    #[getter]
    fn custom_cost(&self) -> Option<bool> {
        self.record.extras.custom_cost
    }
    /// The gateway's cache marker: the request whose cached response was served.
    #[getter]
    fn cache_reference_id(&self) -> Option<&str> {
        self.record.extras.cache_reference_id.as_deref()
    }
    /// The source's per-part cost (exact Decimals, keys as the source names them); empty when it gives none.
    #[getter]
    fn cost_breakdown<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.record.extras.cost_breakdown {
            d.set_item(k, py_decimal(py, *v)?)?;
        }
        Ok(d)
    }
    /// The extras the source gave (duration_ms, ttft_ms, trace_id, request_id, endpoint, rate_limited,
    /// custom_cost, cache_reference_id, cost_breakdown), as a dict of those present.
    #[getter]
    fn extra<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let e = &self.record.extras;
        if e.duration_ms.is_some() {
            d.set_item("duration_ms", self.duration_ms(py)?)?;
        }
        if e.ttft_ms.is_some() {
            d.set_item("ttft_ms", self.ttft_ms(py)?)?;
        }
        for (k, v) in [
            ("trace_id", &e.trace_id),
            ("request_id", &e.request_id),
            ("endpoint", &e.endpoint),
            ("cache_reference_id", &e.cache_reference_id),
        ] {
            if let Some(v) = v {
                d.set_item(k, v)?;
            }
        }
        for (k, v) in [("rate_limited", e.rate_limited), ("custom_cost", e.custom_cost)] {
            if let Some(v) = v {
                d.set_item(k, v)?;
            }
        }
        if !e.cost_breakdown.is_empty() {
            d.set_item("cost_breakdown", self.cost_breakdown(py)?)?;
        }
        Ok(d)
    }
    /// Every field as a plain dict (usage as a dict of counts).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("format", self.format())?;
        d.set_item("provider", self.provider())?;
        d.set_item("model", self.model())?;
        d.set_item("served_model", self.served_model())?;
        d.set_item("timestamp", self.timestamp(py)?)?;
        d.set_item("usage", self.usage().to_dict(py)?)?;
        let parts = PyList::empty(py);
        for (m, u) in &self.record.parts {
            parts.append((m.clone(), PyUsage { usage: *u }.to_dict(py)?))?;
        }
        d.set_item("parts", parts)?;
        d.set_item("service_tier", self.service_tier())?;
        d.set_item("region", self.region())?;
        d.set_item("cache_hit", self.cache_hit())?;
        d.set_item("status", self.status())?;
        d.set_item("status_code", self.status_code())?;
        d.set_item("has_usage", self.has_usage())?;
        d.set_item("metadata", self.metadata(py)?)?;
        d.set_item("reported_cost", self.reported_cost(py)?)?;
        d.set_item("id", self.id())?;
        d.set_item("extra", self.extra(py)?)?;
        Ok(d)
    }
    /// Pickles by content: every field, exact (see `UsageRecord::to_state`).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((slf.get_type().getattr("_from_state")?, (slf.get().record.to_state().to_string(),)))
    }
    /// The record a pickle holds (the text `__reduce__` wrote).
    #[classmethod]
    fn _from_state(cls: &Bound<'_, pyo3::types::PyType>, state: &str) -> PyResult<PyUsageRecord> {
        Ok(PyUsageRecord { record: UsageRecord::from_state_text(state).py_err(cls.py())? })
    }
    /// Equal when every field is equal.
    fn __eq__(&self, other: &Arg<'_>) -> bool {
        other.cast::<PyUsageRecord>().is_ok_and(|o| o.get().record == self.record)
    }
    fn __repr__(&self) -> String {
        let r = &self.record;
        format!(
            "<UsageRecord {}: {} {} input={} output={}{}>",
            r.format,
            r.provider.as_deref().unwrap_or("?"),
            r.served_model.as_deref().or(r.model.as_deref()).unwrap_or("?"),
            r.usage.input_tokens(),
            r.usage.output_tokens(),
            if r.cache_hit { " cache_hit" } else { "" }
        )
    }
}

/// A Python value as JSON text (str), or bytes as they are.
pub(crate) enum Text {
    Str(String),
    Bytes(Vec<u8>),
}

impl Text {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Text::Str(s) => s.as_bytes(),
            Text::Bytes(b) => b,
        }
    }
}

pub(crate) fn text_of(obj: &Arg<'_>, what: &str) -> PyResult<Option<Text>> {
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(Text::Str(str_lossy(s)?)));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(Text::Bytes(b.as_bytes().to_vec())));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Some(Text::Bytes(b.to_vec())));
    }
    let data = obj.is_instance_of::<PyDict>()
        || obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<pyo3::types::PyTuple>()
        // A number is JSON too (and then not a record: a UsageFormatError says what was expected).
        || obj.is_instance_of::<pyo3::types::PyInt>()
        || obj.is_instance_of::<pyo3::types::PyFloat>()
        || obj.hasattr("model_dump").unwrap_or(false);
    if !data {
        return Err(invalid_type(
            obj.py(),
            format!(
                "{what} must be a dict, a list of stream chunks, JSON text (str or bytes) or an SDK response object \
                 (with model_dump()); got {}",
                type_name(obj)
            ),
        ));
    }
    Ok(Some(Text::Str(to_json(obj, what)?.to_string())))
}

/// The hints every reading function takes, each checked for its type.
type HintArgs<'a, 'py> = [Option<&'a Bound<'py, PyAny>>; 4];

fn hints_of([provider, format, model, at]: HintArgs<'_, '_>) -> PyResult<Hints> {
    let at = match at {
        Some(v) if !v.is_none() => {
            // An ISO string with a lone surrogate is read like any other text (and then refused as a date).
            let v = match v.cast::<PyString>() {
                Ok(s) => PyString::new(v.py(), &str_lossy(s)?).into_any(),
                Err(_) => v.clone(),
            };
            Some(instant_of(Some(&v), "at")?)
        }
        _ => None,
    };
    Ok(Hints {
        provider: opt_text(provider, "provider")?,
        format: opt_text(format, "format")?,
        model: opt_text(model, "model")?,
        at,
    })
}

/// A generic mapping from a dict: {"model": "path", "timestamp": ..., "input_tokens": "usage.in", ...,
/// "metadata": {"tenant": "path"} or ["path", ...], "input_excludes_cache": bool}.
fn mapping_of(obj: &Arg<'_>) -> PyResult<Mapping> {
    let py = obj.py();
    let d = obj
        .cast::<PyDict>()
        .map_err(|_| invalid_type(py, format!("mapping must be a dict, got {}", type_name(obj))))?;
    let mut m = Mapping::default();
    for (k, v) in d.iter() {
        let key = text(&k, "a mapping key")?;
        match MappingKey::parse(&key).py_err(py)? {
            MappingKey::InputExcludesCache => {
                m.input_excludes_cache = v.cast::<pyo3::types::PyBool>().map(|b| b.is_true()).map_err(|_| {
                    invalid_type(py, format!("mapping[\"input_excludes_cache\"] must be a bool, got {}", type_name(&v)))
                })?
            }
            MappingKey::Metadata => {
                if let Ok(md) = v.cast::<PyDict>() {
                    for (name, p) in md.iter() {
                        let name = text(&name, "a mapping[\"metadata\"] key")?;
                        let p = text(&p, &format!("mapping[\"metadata\"][{name:?}]"))?;
                        m.add_label(Some(name), p);
                    }
                } else if v.is_instance_of::<PyList>() || v.is_instance_of::<pyo3::types::PyTuple>() {
                    for (i, p) in v.try_iter()?.enumerate() {
                        m.add_label(None, text(&p?, &format!("mapping[\"metadata\"][{i}]"))?);
                    }
                } else {
                    return Err(invalid_type(
                        py,
                        format!("mapping[\"metadata\"] must be a dict or a list of paths, got {}", type_name(&v)),
                    ));
                }
            }
            path_key => m.set_path(path_key, text(&v, &format!("mapping[{key:?}]"))?),
        }
    }
    Ok(m)
}

/// Reads one response or log record.
#[pyfunction]
#[pyo3(signature = (obj, provider=None, format=None, model=None, at=None, mapping=None))]
pub fn extract_usage(
    py: Python<'_>,
    obj: &Arg<'_>,
    provider: Option<&Arg<'_>>,
    format: Option<&Arg<'_>>,
    model: Option<&Arg<'_>>,
    at: Option<&Arg<'_>>,
    mapping: Option<&Arg<'_>>,
) -> PyResult<PyUsageRecord> {
    guard(py, || {
        let hints = hints_of([provider, format, model, at])?;
        let mapping = mapping.filter(|m| !m.is_none()).map(mapping_of).transpose()?;
        let text = text_of(obj, "obj")?.ok_or_else(|| invalid_argument(py, "obj is None".into()))?;
        let record = py
            .detach(|| {
                let bytes = text.bytes();
                match &mapping {
                    Some(m) => formats::extract_mapped_bytes(bytes, m, &hints),
                    None => formats::extract_bytes(bytes, &hints),
                }
            })
            .py_err(py)?;
        Ok(PyUsageRecord { record })
    })
}

/// Reads many records (a list of dicts / str / bytes, or an Arrow column of JSON strings) on all cores; returns
/// an Arrow table with one row per record and an `error` for each one that could not be read.
#[pyfunction]
#[pyo3(signature = (records, provider=None, format=None, model=None, at=None, mapping=None, num_threads=None, labels=None, approximate=false))]
#[allow(clippy::too_many_arguments)]
pub fn extract_usages(
    py: Python<'_>,
    records: &Arg<'_>,
    provider: Option<&Arg<'_>>,
    format: Option<&Arg<'_>>,
    model: Option<&Arg<'_>>,
    at: Option<&Arg<'_>>,
    mapping: Option<&Arg<'_>>,
    num_threads: Option<&Arg<'_>>,
    labels: Option<Vec<String>>,
    approximate: bool,
) -> PyResult<ArrowTable> {
    guard(py, || {
        let finish = Finish { approximate, labels: labels.as_deref() };
        let hints = hints_of([provider, format, model, at])?;
        let num_threads = crate::py::args::threads(num_threads)?;
        let mapping = mapping.filter(|m| !m.is_none()).map(mapping_of).transpose()?;
        let batch = if records.is_instance_of::<PyList>() || records.is_instance_of::<pyo3::types::PyTuple>() {
            // An item that cannot be converted (a cycle, too deep, not data) is a reject row with its reason.
            let mut texts = Vec::new();
            for (i, item) in records.try_iter()?.enumerate() {
                texts.push(match text_of(&item?, &format!("records[{i}]")) {
                    Ok(text) => Ok(text),
                    Err(e) => Err(item_reject(py, e)?),
                });
            }
            py.detach(|| {
                let inputs: Vec<Input<'_>> = texts
                    .iter()
                    .map(|t| match t {
                        Ok(t) => t.as_ref().map(|t| t.bytes()).into(),
                        Err(why) => Input::Unreadable(why),
                    })
                    .collect();
                to_batch(&extract_all(&inputs, &hints, mapping.as_ref(), num_threads)?, &finish)
            })
            .py_err(py)?
        } else {
            if !capsule::speaks_arrow(records)? {
                return Err(invalid_argument(
                    py,
                    format!("records must be a list or an Arrow column of JSON strings; got {}", type_name(records)),
                ));
            }
            let chunks = capsule::column(records, "records")?;
            py.detach(|| {
                let mut strings: Vec<Option<&[u8]>> = Vec::new();
                for chunk in &chunks {
                    strings.extend(crate::py::arrow::byte_strings(chunk)?);
                }
                to_batch(&extract_all(&strings, &hints, mapping.as_ref(), num_threads)?, &finish)
            })
            .py_err(py)?
        };
        let schema = batch.schema();
        Ok(ArrowTable::new(schema, vec![batch]))
    })
}

/// Why one item of a batch could not be converted, as its reject row says: the message of a tokenprice error
/// (the item's path and what is wrong). Anything else — an interrupt, a failure of the interpreter itself, also
/// when raised inside an item's `model_dump()` — stops the call.
fn item_reject(py: Python<'_>, e: PyErr) -> PyResult<String> {
    let fatal = |e: &PyErr| {
        !e.is_instance_of::<pyo3::exceptions::PyException>(py)
            || e.is_instance_of::<pyo3::exceptions::PyMemoryError>(py)
    };
    if let Some(cause) = e.cause(py).filter(fatal) {
        return Err(cause);
    }
    if fatal(&e) || !is_tokenprice_error(py, &e) {
        return Err(e);
    }
    Ok(e.value(py).str().map(|s| s.to_string()).unwrap_or_else(|_| "could not be read".into()))
}

/// The format names `extract_usage(format=...)` accepts, with what each reads.
#[pyfunction]
pub fn usage_formats() -> Vec<(&'static str, &'static str)> {
    formats::usage_formats().collect()
}

/// The names of the registry's formats, in detection order: what `price_logs(format=...)` and the CLI's `--format`
/// accept.
#[pyfunction(name = "formats")]
pub fn format_names() -> Vec<&'static str> {
    formats::format_names().collect()
}

/// A count from Python as the core takes it (`GivenCount`, whose rules say what is valid).
pub(crate) fn given_count(v: &Arg<'_>) -> GivenCount {
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
    pub(crate) fn new(py: Python<'_>, fields: Option<&Bound<'_, PyDict>>) -> PyResult<PyUsage> {
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

/// The Usage field names (for the Python layer's column mapping).
#[pyfunction]
pub fn usage_fields() -> Vec<&'static str> {
    UNITS.iter().map(|u| u.usage_field).collect()
}
