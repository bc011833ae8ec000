//! The Python binding (`tokenprice._core`), compiled only with the `python` feature. Each function converts its
//! arguments, releases the GIL for the work, and converts the result; all decisions live in the core.

mod args;
mod columns;
mod convert;
mod encoding;
mod errors;
mod extract;
mod ledger;
mod pricing;

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use serde_json::Value;

use crate::error::Error;
use crate::tokens::chat::count_message_tokens as core_count_messages;
use crate::tokens::image::{image_tokens as core_image_tokens, Detail};
use crate::tokens::{
    encoding_name_for_model as core_encoding_name, get_encoding as core_get_encoding,
    lookup_model as core_lookup_model, ModelTokenizer, StreamCounter, Tokenizer, ENCODING_NAMES,
};
pub(crate) use convert::to_json;
use encoding::{type_name, PyEncoding};
use errors::{guard, invalid_argument, IntoPy};

/// A built-in encoding by name: gpt2, r50k_base, p50k_base, p50k_edit, cl100k_base, o200k_base, o200k_harmony.
#[pyfunction]
fn get_encoding(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<PyEncoding> {
    guard(py, || PyEncoding::builtin(&args::name(name, "name")?, py))
}

/// The name of the encoding an OpenAI model uses (provider prefixes, Azure, fine-tune and dated names accepted).
#[pyfunction]
fn encoding_name_for_model(py: Python<'_>, model: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    guard(py, || core_encoding_name(&args::name(model, "model")?).py_err(py))
}

/// The encoding an OpenAI model uses.
#[pyfunction]
fn encoding_for_model(py: Python<'_>, model: &Bound<'_, PyAny>) -> PyResult<PyEncoding> {
    guard(py, || PyEncoding::builtin(core_encoding_name(&args::name(model, "model")?).py_err(py)?, py))
}

#[pyfunction]
fn list_encoding_names() -> Vec<&'static str> {
    ENCODING_NAMES.to_vec()
}

/// What is known about a model's tokenizer: ("encoding", name), ("not_public", vendor) or None.
#[pyfunction]
fn lookup_model(model: &Bound<'_, PyAny>) -> PyResult<Option<(&'static str, &'static str)>> {
    Ok(core_lookup_model(&args::name(model, "model")?).map(|m| match m {
        ModelTokenizer::Encoding(e) => ("encoding", e),
        ModelTokenizer::NotPublic { vendor } => ("not_public", vendor),
    }))
}

fn to_json_list(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Value>> {
    if !(obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>()) {
        return Err(errors::invalid_type(obj.py(), format!("{what} must be a list, got {}", type_name(obj))));
    }
    match to_json(obj, what)? {
        Value::Array(items) => Ok(items),
        _ => Err(errors::invalid_type(obj.py(), format!("{what} must be a list, got {}", type_name(obj)))),
    }
}

/// Estimated prompt tokens of a chat request, by OpenAI's published rules (see `tokens::chat`).
#[pyfunction]
#[pyo3(signature = (messages, model, tools=None))]
fn count_message_tokens(
    py: Python<'_>,
    messages: &Bound<'_, PyAny>,
    model: &Bound<'_, PyAny>,
    tools: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    guard(py, || {
        let model = convert::text(model, "model")?;
        let messages = to_json_list(messages, "messages")?;
        let tools = tools.filter(|t| !t.is_none()).map(|t| to_json_list(t, "tools")).transpose()?;
        let enc = core_get_encoding(core_encoding_name(&model).py_err(py)?).py_err(py)?;
        py.detach(|| core_count_messages(&enc, &model, &messages, tools.as_deref())).py_err(py)
    })
}

/// Input tokens of one image of `width` × `height` pixels for `model` (OpenAI tiles or patches, Anthropic).
#[pyfunction]
#[pyo3(signature = (width, height, model, detail=None))]
fn image_tokens(
    py: Python<'_>,
    width: &Bound<'_, PyAny>,
    height: &Bound<'_, PyAny>,
    model: &Bound<'_, PyAny>,
    detail: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    guard(py, || {
        let dim = |v: &Bound<'_, PyAny>, what: &str| args::count(v, what, u32::MAX as u64).map(|n| n as u32);
        let model = args::name(model, "model")?;
        let detail = detail.map(|d| args::name(d, "detail")).transpose()?;
        let detail = detail.as_deref().unwrap_or("auto");
        core_image_tokens(dim(width, "width")?, dim(height, "height")?, &model, Detail::parse(detail).py_err(py)?)
            .py_err(py)
    })
}

fn errors_mode(py: Python<'_>, errors: &str) -> PyResult<bool> {
    match errors {
        "strict" => Ok(false),
        "replace" => Ok(true),
        other => Err(invalid_argument(py, format!("errors={other:?}: expected \"strict\" or \"replace\""))),
    }
}

fn stream_encoding(py: Python<'_>, encoding: &PyEncoding) -> PyResult<Arc<crate::tokens::Encoding>> {
    match &encoding.tokenizer {
        Tokenizer::Bpe(e) => Ok(e.clone()),
        Tokenizer::HuggingFace(h) => Err(invalid_argument(
            py,
            format!("streaming counts need a tiktoken-style encoding; {:?} is a Hugging Face tokenizer", h.name()),
        )),
    }
}

/// Counts the tokens of a file, streaming it in blocks (memory stays bounded whatever the file's size).
#[pyfunction]
#[pyo3(signature = (path, encoding, *, errors="strict", num_threads=None))]
fn count_file(
    py: Python<'_>,
    path: PathBuf,
    encoding: &PyEncoding,
    errors: &str,
    num_threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    guard(py, || {
        let num_threads = args::threads(num_threads)?;
        let replace = errors_mode(py, errors)?;
        let enc = stream_encoding(py, encoding)?;
        py.detach(|| {
            let name = path.display().to_string();
            let io = |e: std::io::Error| Error::Io { path: name.clone(), message: e.to_string() };
            let mut file = std::fs::File::open(&path).map_err(io)?;
            let mut counter = StreamCounter::new(enc, &name, replace, num_threads);
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                counter.feed(&buf[..n])?;
            }
            counter.finish()
        })
        .py_err(py)
    })
}

/// Counts a stream fed in pieces of bytes (for stdin and sockets): `feed(data)` as often as needed, then
/// `finish()` for the total.
#[pyclass(module = "tokenprice", name = "StreamCounter", frozen)]
struct PyStreamCounter {
    inner: Mutex<Option<StreamCounter>>,
}

impl PyStreamCounter {
    /// The counter, never waited for: a call overlapping another thread's (or inherited mid-call by a forked
    /// child, where that thread does not exist and its lock is never released) is an error, not a hang.
    fn counter(&self, py: Python<'_>) -> PyResult<std::sync::MutexGuard<'_, Option<StreamCounter>>> {
        match self.inner.try_lock() {
            Ok(guard) => Ok(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(invalid_argument(
                py,
                "StreamCounter is in use by another thread (or was when this process was forked); feed() and \
                 finish() calls must not overlap"
                    .into(),
            )),
        }
    }
}

#[pymethods]
impl PyStreamCounter {
    #[new]
    #[pyo3(signature = (encoding, *, source="<stream>", errors="strict", num_threads=None))]
    fn new(
        py: Python<'_>,
        encoding: &PyEncoding,
        source: &str,
        errors: &str,
        num_threads: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let num_threads = args::threads(num_threads)?;
            let replace = errors_mode(py, errors)?;
            let enc = stream_encoding(py, encoding)?;
            Ok(PyStreamCounter { inner: Mutex::new(Some(StreamCounter::new(enc, source, replace, num_threads))) })
        })
    }

    fn feed(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(py, || {
            let data = data.cast::<pyo3::types::PyBytes>().map_err(|_| {
                errors::invalid_type(py, format!("feed(data): data must be bytes, got {}", args::type_name(data)))
            })?;
            let data = data.as_bytes();
            let mut guard_ = self.counter(py)?;
            let counter = guard_.as_mut().ok_or_else(|| invalid_argument(py, "feed() after finish()".into()))?;
            py.detach(|| counter.feed(data)).py_err(py)
        })
    }

    fn finish(&self, py: Python<'_>) -> PyResult<u64> {
        guard(py, || {
            let counter = self.counter(py)?.take();
            let counter = counter.ok_or_else(|| invalid_argument(py, "finish() called twice".into()))?;
            py.detach(|| counter.finish()).py_err(py)
        })
    }
}

/// Panics inside the binding, for the test that checks no panic reaches Python as `PanicException`.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>, message: &str, threads: bool) -> PyResult<()> {
    guard(py, || {
        if threads {
            // A panic on a worker thread of the pool must come back the same way.
            crate::parallel::install(Some(2), || {
                use rayon::prelude::*;
                (0..4).into_par_iter().for_each(|i| {
                    if i == 3 {
                        panic!("{message}")
                    }
                });
            })
            .py_err(py)
        } else {
            panic!("{message}")
        }
    })
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<PyEncoding>()?;
    m.add_class::<PyStreamCounter>()?;
    m.add_function(wrap_pyfunction!(get_encoding, m)?)?;
    m.add_function(wrap_pyfunction!(encoding_for_model, m)?)?;
    m.add_function(wrap_pyfunction!(encoding_name_for_model, m)?)?;
    m.add_function(wrap_pyfunction!(list_encoding_names, m)?)?;
    m.add_function(wrap_pyfunction!(lookup_model, m)?)?;
    m.add_function(wrap_pyfunction!(count_message_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(image_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(count_file, m)?)?;
    m.add_function(wrap_pyfunction!(columns::count_column, m)?)?;
    m.add_function(wrap_pyfunction!(encoding::_encoding_from_ranks, m)?)?;
    m.add_function(wrap_pyfunction!(encoding::_encoding_from_tokenizer_json_str, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_class::<pricing::PyPriceBook>()?;
    m.add_class::<pricing::PyUsage>()?;
    m.add_class::<pricing::PyCost>()?;
    m.add_function(wrap_pyfunction!(pricing::price, m)?)?;
    m.add_function(wrap_pyfunction!(pricing::price_arrow_table, m)?)?;
    m.add_function(wrap_pyfunction!(pricing::usage_fields, m)?)?;
    m.add_class::<extract::PyUsageRecord>()?;
    m.add_function(wrap_pyfunction!(extract::extract_usage, m)?)?;
    m.add_function(wrap_pyfunction!(extract::extract_usages, m)?)?;
    m.add_function(wrap_pyfunction!(extract::usage_formats, m)?)?;
    m.add_function(wrap_pyfunction!(extract::format_names, m)?)?;
    m.add_function(wrap_pyfunction!(ledger::price_log_files, m)?)?;
    m.add_function(wrap_pyfunction!(ledger::price_log_texts, m)?)?;
    m.add_function(wrap_pyfunction!(ledger::log_columns, m)?)?;
    m.add_function(wrap_pyfunction!(ledger::reconcile_lines, m)?)?;
    m.add("APPROXIMATION_ENCODING", crate::tokens::models::APPROXIMATION_ENCODING)?;
    m.add("RECONCILE_CAUSES", crate::ledger::reconcile::CAUSES.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
