//! Counting for Python: the `tokenprice.Encoding` class, `StreamCounter`, and the counting functions (encodings by
//! name or model, chat messages, images, files). Every one converts its arguments, releases the GIL for the work,
//! and converts the result back. Nothing is decided here.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyFrozenSet, PyList, PyString, PyTuple};
use serde_json::Value;

use crate::error::Error;
use crate::py::args::{self, type_name, Arg};
use crate::py::convert::{self, to_json};
use crate::py::errors::{self, guard, invalid_argument, invalid_type, IntoPy};
use crate::tokens::chat::{count_message_tokens as core_count_messages, message_encoding};
use crate::tokens::image::{image_tokens as core_image_tokens, Detail};
use crate::tokens::load::{encoding_from_ranks, load_tiktoken_file, HfTokenizer};
use crate::tokens::{
    encoding_name_for_model as core_encoding_name, get_encoding as core_get_encoding,
    lookup_model as core_lookup_model, Allowed, Disallowed, ModelTokenizer, Rank, StreamCounter, Tokenizer,
    ENCODING_NAMES,
};

/// A tokenizer: a built-in OpenAI encoding, a tiktoken rank file, or a Hugging Face tokenizer.json.
#[pyclass(frozen, module = "tokenprice", name = "Encoding")]
pub struct PyEncoding {
    pub tokenizer: Tokenizer,
    /// Built-in encodings pickle by name; others carry their data.
    pub builtin: bool,
}

/// tiktoken's `allowed_special` / `disallowed_special` values: `"all"` or a collection of token strings.
pub enum SpecialArg {
    All,
    Some(Vec<String>),
}

impl SpecialArg {
    pub fn parse(obj: Option<&Arg<'_>>, name: &str) -> PyResult<SpecialArg> {
        let Some(obj) = obj else {
            return Ok(SpecialArg::Some(Vec::new()));
        };
        if obj.is_instance_of::<PyString>() {
            let s = &crate::py::args::name(obj, name)?;
            if s == "all" {
                return Ok(SpecialArg::All);
            }
            return Err(invalid_argument(
                obj.py(),
                format!("{name}={s:?}: pass \"all\" or a set of special tokens, e.g. {{{s:?}}}"),
            ));
        }
        let mut names = Vec::new();
        for item in obj
            .try_iter()
            .map_err(|_| invalid_argument(obj.py(), format!("{name} must be \"all\" or a set of strings")))?
        {
            let item = item?;
            let s = crate::py::args::name(&item, &format!("each item of {name}"))?;
            names.push(s);
        }
        Ok(SpecialArg::Some(names))
    }

    /// `encode`'s `allowed_special` and `disallowed_special`, with tiktoken's defaults: no special token allowed,
    /// and every one not allowed disallowed (`"all"`).
    fn parse_encode(allowed: Option<&Arg<'_>>, disallowed: Option<&Arg<'_>>) -> PyResult<(SpecialArg, SpecialArg)> {
        let allowed = SpecialArg::parse(allowed, "allowed_special")?;
        let disallowed = match disallowed {
            None => SpecialArg::All,
            Some(d) => SpecialArg::parse(Some(d), "disallowed_special")?,
        };
        Ok((allowed, disallowed))
    }

    /// Runs `f` with the core's view of this set as `disallowed_special`.
    fn with_disallowed<R>(&self, f: impl FnOnce(Disallowed<'_>) -> R) -> R {
        match self {
            SpecialArg::All => f(Disallowed::NotAllowed),
            SpecialArg::Some(v) => {
                let refs: Vec<&str> = v.iter().map(String::as_str).collect();
                f(Disallowed::Only(&refs))
            }
        }
    }

    /// Runs `f` with the core's view of this set.
    pub fn with_allowed<R>(&self, f: impl FnOnce(Allowed<'_>) -> R) -> R {
        match self {
            SpecialArg::All => f(Allowed::All),
            SpecialArg::Some(v) if v.is_empty() => f(Allowed::None),
            SpecialArg::Some(v) => {
                let refs: Vec<&str> = v.iter().map(String::as_str).collect();
                f(Allowed::Only(&refs))
            }
        }
    }
}

/// Extracts texts from a list, tuple or other iterable of `str | None`, naming the first bad element.
pub fn extract_texts(obj: &Arg<'_>, what: &str) -> PyResult<Vec<Option<PyBackedStr>>> {
    let py = obj.py();
    let extract_one = |i: usize, item: Bound<'_, PyAny>| -> PyResult<Option<PyBackedStr>> {
        if item.is_none() {
            return Ok(None);
        }
        item.cast::<PyString>()
            .map_err(|_| invalid_type(py, format!("{what}[{i}] is {}, expected str or None", type_name(&item))))?;
        Ok(Some(args::text(&item, what)?))
    };
    if let Ok(list) = obj.cast::<PyList>() {
        return list.iter().enumerate().map(|(i, item)| extract_one(i, item)).collect();
    }
    if obj.is_instance_of::<PyString>() {
        return Err(invalid_type(py, format!("{what} must be a list of str, got a str")));
    }
    let iter = obj
        .try_iter()
        .map_err(|_| invalid_type(py, format!("{what} must be a list of str, got {}", type_name(obj))))?;
    iter.enumerate().map(|(i, item)| extract_one(i, item?)).collect()
}

fn token_ids(obj: &Arg<'_>) -> PyResult<Vec<u64>> {
    let py = obj.py();
    let iter = obj
        .try_iter()
        .map_err(|_| invalid_type(py, format!("tokens must be a list of int, got {}", type_name(obj))))?;
    iter.enumerate().map(|(i, item)| args::count(&item?, &format!("tokens[{i}]"), u64::MAX)).collect()
}

/// Key/value pairs from a dict or an iterable of 2-tuples (tiktoken passes dicts, pickles pass lists).
fn pairs<'py, K: for<'a> FromPyObjectOwned<'py>, V: for<'a> FromPyObjectOwned<'py>>(
    obj: Option<&Arg<'py>>,
    what: &str,
) -> PyResult<Vec<(K, V)>> {
    let Some(obj) = obj else { return Ok(Vec::new()) };
    let py = obj.py();
    let items = if let Ok(d) = obj.cast::<pyo3::types::PyDict>() { d.items().into_any() } else { obj.clone() };
    let mut out = Vec::new();
    for (i, item) in items
        .try_iter()
        .map_err(|_| invalid_argument(py, format!("{what} must be a dict or a list of pairs")))?
        .enumerate()
    {
        let item = item?;
        let pair: (K, V) = item.extract().map_err(|_| {
            invalid_argument(
                py,
                format!(
                    "{what}: entry {i} ({}) is not a (key, value) pair of the right types",
                    item.repr().map(|r| r.to_string()).unwrap_or_default()
                ),
            )
        })?;
        out.push(pair);
    }
    Ok(out)
}

/// Encodes one text under tiktoken's special-token rules.
fn encode_checked(
    tokenizer: &Tokenizer,
    text: &str,
    allowed: &SpecialArg,
    disallowed: &SpecialArg,
) -> Result<Vec<u32>, Error> {
    match tokenizer {
        Tokenizer::HuggingFace(h) => h.encode(text),
        Tokenizer::Bpe(e) => allowed.with_allowed(|a| disallowed.with_disallowed(|d| e.encode_checked(text, a, d))),
    }
}

impl PyEncoding {
    pub fn builtin(name: &str, py: Python<'_>) -> PyResult<PyEncoding> {
        let enc = core_get_encoding(name).py_err(py)?;
        Ok(PyEncoding { tokenizer: Tokenizer::Bpe(enc), builtin: true })
    }

    fn bpe(&self, py: Python<'_>, what: &str) -> PyResult<&Arc<crate::tokens::Encoding>> {
        match &self.tokenizer {
            Tokenizer::Bpe(e) => Ok(e),
            Tokenizer::HuggingFace(h) => Err(invalid_argument(
                py,
                format!("{what} is not available for the Hugging Face tokenizer {:?}", h.name()),
            )),
        }
    }

    fn encode_impl(
        &self,
        py: Python<'_>,
        text: &PyBackedStr,
        allowed: &SpecialArg,
        disallowed: &SpecialArg,
    ) -> PyResult<Vec<u32>> {
        py.detach(|| encode_checked(&self.tokenizer, text, allowed, disallowed)).py_err(py)
    }
}

#[pymethods]
impl PyEncoding {
    /// The encoding's name (`cl100k_base`, or the name given when loading a file).
    #[getter]
    fn name(&self) -> &str {
        self.tokenizer.name()
    }

    /// `"tiktoken"` for BPE rank encodings (built in or loaded), `"huggingface"` for tokenizer.json.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.tokenizer {
            Tokenizer::Bpe(_) => "tiktoken",
            Tokenizer::HuggingFace(_) => "huggingface",
        }
    }

    /// One past the largest token id, special tokens included.
    #[getter]
    fn n_vocab(&self) -> u64 {
        match &self.tokenizer {
            Tokenizer::Bpe(e) => e.n_vocab() as u64,
            Tokenizer::HuggingFace(h) => h.vocab_size() as u64,
        }
    }

    #[getter]
    fn max_token_value(&self) -> u64 {
        self.n_vocab().saturating_sub(1)
    }

    /// The split pattern (tiktoken's `_pat_str`); `None` for Hugging Face tokenizers.
    #[getter]
    fn pattern(&self) -> Option<String> {
        match &self.tokenizer {
            Tokenizer::Bpe(e) => Some(e.pattern().to_string()),
            Tokenizer::HuggingFace(_) => None,
        }
    }

    #[getter]
    fn special_tokens_set<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyFrozenSet>> {
        let names = match &self.tokenizer {
            Tokenizer::Bpe(e) => e.special_token_names(),
            Tokenizer::HuggingFace(_) => Vec::new(),
        };
        PyFrozenSet::new(py, names)
    }

    /// The id of `<|endoftext|>`, if the encoding has it.
    #[getter]
    fn eot_token(&self) -> Option<Rank> {
        match &self.tokenizer {
            Tokenizer::Bpe(e) => e.special_token_rank("<|endoftext|>"),
            Tokenizer::HuggingFace(_) => None,
        }
    }

    /// Token ids of `text`, exactly as tiktoken's `Encoding.encode`: special tokens in the text raise
    /// `DisallowedSpecialTokenError` unless allowed (`allowed_special`) or explicitly disallowed=().
    #[pyo3(signature = (text, *, allowed_special=None, disallowed_special=None))]
    fn encode(
        &self,
        py: Python<'_>,
        text: &Arg<'_>,
        allowed_special: Option<&Arg<'_>>,
        disallowed_special: Option<&Arg<'_>>,
    ) -> PyResult<Vec<u32>> {
        guard(py, || {
            let text = args::text(text, "text")?;
            let (allowed, disallowed) = SpecialArg::parse_encode(allowed_special, disallowed_special)?;
            self.encode_impl(py, &text, &allowed, &disallowed)
        })
    }

    /// Token ids of `text`, with special-token text encoded as ordinary text.
    fn encode_ordinary(&self, py: Python<'_>, text: &Arg<'_>) -> PyResult<Vec<u32>> {
        guard(py, || {
            let text = args::text(text, "text")?;
            self.encode_impl(py, &text, &SpecialArg::Some(Vec::new()), &SpecialArg::Some(Vec::new()))
        })
    }

    /// `encode` for many texts, on every core (or `num_threads`).
    #[pyo3(signature = (texts, *, num_threads=None, allowed_special=None, disallowed_special=None))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        texts: &Arg<'_>,
        num_threads: Option<&Arg<'_>>,
        allowed_special: Option<&Arg<'_>>,
        disallowed_special: Option<&Arg<'_>>,
    ) -> PyResult<Vec<Vec<u32>>> {
        guard(py, || {
            let num_threads = args::threads(num_threads)?;
            let (allowed, disallowed) = SpecialArg::parse_encode(allowed_special, disallowed_special)?;
            let texts = extract_texts(texts, "texts")?;
            let texts: Vec<PyBackedStr> = texts
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    t.ok_or_else(|| invalid_argument(py, format!("texts[{i}] is None; encode_batch needs strings")))
                })
                .collect::<PyResult<_>>()?;
            // Run the check and the work without the GIL, in parallel.
            use rayon::prelude::*;
            let this = &self.tokenizer;
            let result: Result<Vec<Vec<u32>>, Error> = py.detach(|| {
                crate::parallel::install(num_threads, || {
                    texts.par_iter().map(|t| encode_checked(this, t, &allowed, &disallowed)).collect()
                })?
            });
            result.py_err(py)
        })
    }

    #[pyo3(signature = (texts, *, num_threads=None))]
    fn encode_ordinary_batch(
        &self,
        py: Python<'_>,
        texts: &Arg<'_>,
        num_threads: Option<&Arg<'_>>,
    ) -> PyResult<Vec<Vec<u32>>> {
        let empty = PyTuple::empty(py);
        self.encode_batch(py, texts, num_threads, None, Some(empty.as_any()))
    }

    /// The bytes of `tokens`, concatenated.
    fn decode_bytes<'py>(&self, py: Python<'py>, tokens: &Arg<'py>) -> PyResult<Bound<'py, PyBytes>> {
        guard(py, || {
            let ids = token_ids(tokens)?;
            let bytes = match &self.tokenizer {
                Tokenizer::Bpe(e) => py.detach(|| e.decode_bytes(&ids)).py_err(py)?,
                Tokenizer::HuggingFace(h) => {
                    let ids32: Vec<u32> = ids.iter().map(|i| u32::try_from(*i).unwrap_or(u32::MAX)).collect();
                    h.decode(&ids32).py_err(py)?.into_bytes()
                }
            };
            Ok(PyBytes::new(py, &bytes))
        })
    }

    /// The text of `tokens`; bytes that are not UTF-8 are handled by `errors` as in `bytes.decode`.
    #[pyo3(signature = (tokens, errors=None))]
    fn decode<'py>(
        &self,
        py: Python<'py>,
        tokens: &Arg<'py>,
        errors: Option<&Arg<'py>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let errors = match errors {
            None => "replace".to_string(),
            Some(e) => {
                let name = args::name(e, "errors")?;
                // Checked up front: bytes.decode looks the handler up only when it meets a bad byte.
                py.import("codecs")?.call_method1("lookup_error", (name.as_str(),)).map_err(|_| {
                    invalid_argument(py, format!("errors={name:?} is not an error handler of bytes.decode"))
                })?;
                name
            }
        };
        let bytes = self.decode_bytes(py, tokens)?;
        bytes.call_method1("decode", ("utf-8", errors.as_str()))
    }

    fn decode_single_token_bytes<'py>(&self, py: Python<'py>, token: &Arg<'py>) -> PyResult<Bound<'py, PyBytes>> {
        guard(py, || {
            let token = args::count(token, "token", u64::MAX)?;
            let e = self.bpe(py, "decode_single_token_bytes")?;
            Ok(PyBytes::new(py, &e.decode_bytes(&[token]).py_err(py)?))
        })
    }

    /// Number of tokens in `text`. Special-token text counts as ordinary text unless `allowed_special` names it
    /// (counting never fails on user text). Texts over 1 MB are counted on several threads.
    #[pyo3(signature = (text, *, allowed_special=None, num_threads=None))]
    fn count(
        &self,
        py: Python<'_>,
        text: &Arg<'_>,
        allowed_special: Option<&Arg<'_>>,
        num_threads: Option<&Arg<'_>>,
    ) -> PyResult<usize> {
        guard(py, || {
            let text = args::text(text, "text")?;
            let num_threads = args::threads(num_threads)?;
            let allowed = SpecialArg::parse(allowed_special, "allowed_special")?;
            py.detach(|| allowed.with_allowed(|a| self.tokenizer.count(&text, a, num_threads))).py_err(py)
        })
    }

    /// `count` for many texts at once, on every core (or `num_threads`). A list gives a list (None stays None);
    /// an Arrow-compatible column (pyarrow, polars, pandas) gives a column of the same kind.
    #[pyo3(signature = (texts, *, allowed_special=None, num_threads=None))]
    fn count_batch<'py>(
        slf: &Bound<'py, Self>,
        texts: &Arg<'py>,
        allowed_special: Option<&Arg<'py>>,
        num_threads: Option<&Arg<'py>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let num_threads = guard(py, || args::threads(num_threads))?;
        if !texts.is_instance_of::<PyList>()
            && !texts.is_instance_of::<PyTuple>()
            && (texts.hasattr("__arrow_c_stream__")? || texts.hasattr("__arrow_c_array__")?)
        {
            let columns = py.import("tokenprice._columns")?;
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("allowed_special", allowed_special)?;
            kwargs.set_item("num_threads", num_threads)?;
            return columns.getattr("count_column")?.call((slf, texts), Some(&kwargs));
        }
        let this = slf.get();
        let counts = guard(py, || {
            let allowed = SpecialArg::parse(allowed_special, "allowed_special")?;
            let owned = extract_texts(texts, "texts")?;
            py.detach(|| {
                let refs: Vec<Option<&str>> = owned.iter().map(|t| t.as_deref()).collect();
                allowed.with_allowed(|a| this.tokenizer.count_batch(&refs, a, num_threads))
            })
            .py_err(py)
        })?;
        Ok(PyList::new(py, counts)?.into_any())
    }

    /// The token count if `text` fits in `limit` tokens, else `None`; stops reading at the first piece over.
    #[pyo3(signature = (text, limit, *, allowed_special=None))]
    fn count_till_limit(
        &self,
        py: Python<'_>,
        text: &Arg<'_>,
        limit: &Arg<'_>,
        allowed_special: Option<&Arg<'_>>,
    ) -> PyResult<Option<usize>> {
        guard(py, || {
            let text = args::text(text, "text")?;
            let limit = args::count(limit, "limit", usize::MAX as u64)? as usize;
            let allowed = SpecialArg::parse(allowed_special, "allowed_special")?;
            py.detach(|| allowed.with_allowed(|a| self.tokenizer.count_till_limit(&text, limit, a))).py_err(py)
        })
    }

    /// Loads a tiktoken-format rank file (`base64-token rank` per line), as Llama 3 ships its tokenizer.
    #[staticmethod]
    #[pyo3(signature = (path, *, pattern, special_tokens=None, name=None))]
    fn from_tiktoken_file(
        py: Python<'_>,
        path: &Arg<'_>,
        pattern: &Arg<'_>,
        special_tokens: Option<&Arg<'_>>,
        name: Option<&Arg<'_>>,
    ) -> PyResult<PyEncoding> {
        guard(py, || {
            let path = args::path(path, "path")?;
            let pattern = args::name(pattern, "pattern")?;
            let pattern = pattern.as_str();
            let name = args::opt_name(name, "name")?.unwrap_or_else(|| {
                path.file_stem().map_or_else(|| "custom".into(), |s| s.to_string_lossy().into_owned())
            });
            let specials: Vec<(String, Rank)> = pairs(special_tokens, "special_tokens")?;
            let enc = py.detach(|| load_tiktoken_file(&path, &name, pattern, &specials)).py_err(py)?;
            Ok(PyEncoding { tokenizer: Tokenizer::Bpe(Arc::new(enc)), builtin: false })
        })
    }

    /// An encoding from in-memory ranks: `{token_bytes: rank}` (tiktoken's `mergeable_ranks`).
    #[staticmethod]
    #[pyo3(signature = (name, *, mergeable_ranks, pattern, special_tokens=None))]
    fn from_ranks(
        py: Python<'_>,
        name: &Arg<'_>,
        mergeable_ranks: &Arg<'_>,
        pattern: &Arg<'_>,
        special_tokens: Option<&Arg<'_>>,
    ) -> PyResult<PyEncoding> {
        guard(py, || {
            let name = args::name(name, "name")?;
            let pattern = args::name(pattern, "pattern")?;
            let pattern = pattern.as_str();
            let ranks: Vec<(Vec<u8>, Rank)> = pairs(Some(mergeable_ranks), "mergeable_ranks")?;
            let ranks: Vec<(Rank, Vec<u8>)> = ranks.into_iter().map(|(b, r)| (r, b)).collect();
            let specials: Vec<(String, Rank)> = pairs(special_tokens, "special_tokens")?;
            let enc = py.detach(|| encoding_from_ranks(&name, &ranks, pattern, &specials, &name)).py_err(py)?;
            Ok(PyEncoding { tokenizer: Tokenizer::Bpe(Arc::new(enc)), builtin: false })
        })
    }

    /// Loads a Hugging Face `tokenizer.json` from a local path (no network).
    #[staticmethod]
    #[pyo3(signature = (path, *, name=None))]
    fn from_tokenizer_json(py: Python<'_>, path: &Arg<'_>, name: Option<&Arg<'_>>) -> PyResult<PyEncoding> {
        guard(py, || {
            let path = args::path(path, "path")?;
            let name = args::opt_name(name, "name")?;
            let tok = py.detach(|| HfTokenizer::from_file(&path, name.as_deref())).py_err(py)?;
            Ok(PyEncoding { tokenizer: Tokenizer::HuggingFace(Arc::new(tok)), builtin: false })
        })
    }

    /// A Hugging Face tokenizer from the text of a tokenizer.json.
    #[staticmethod]
    #[pyo3(signature = (json, *, name))]
    fn from_tokenizer_json_str(py: Python<'_>, json: &Arg<'_>, name: &Arg<'_>) -> PyResult<PyEncoding> {
        guard(py, || {
            let json = args::name(json, "json")?;
            let name = args::name(name, "name")?;
            let tok = py.detach(|| HfTokenizer::from_json(&name, json, "tokenizer.json text")).py_err(py)?;
            Ok(PyEncoding { tokenizer: Tokenizer::HuggingFace(Arc::new(tok)), builtin: false })
        })
    }

    /// Pickles by name for built-in encodings, by content for loaded ones (so worker processes need no files).
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        guard(py, || self.reduce(py))
    }

    fn __repr__(&self) -> String {
        format!("<Encoding '{}'>", self.tokenizer.name())
    }

    /// Name, kind, vocabulary and special tokens as a table a notebook shows (`tokenprice._display`).
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        convert::displayed(slf.as_any(), "encoding_html")
    }

    fn __eq__(&self, other: &Arg<'_>) -> bool {
        let Ok(other) = other.cast::<PyEncoding>() else {
            return false;
        };
        let other = other.get();
        match (&self.tokenizer, &other.tokenizer) {
            (Tokenizer::Bpe(a), Tokenizer::Bpe(b)) => {
                Arc::ptr_eq(a, b) || (self.builtin && other.builtin && a.name() == b.name())
            }
            (Tokenizer::HuggingFace(a), Tokenizer::HuggingFace(b)) => Arc::ptr_eq(a, b) || a.json() == b.json(),
            _ => false,
        }
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.tokenizer.name().hash(&mut h);
        h.finish()
    }
}

impl PyEncoding {
    /// `__reduce__`: built-in encodings by name, loaded ones by content.
    fn reduce<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let core = py.import("tokenprice._core")?;
        match &self.tokenizer {
            Tokenizer::Bpe(e) if self.builtin => Ok((core.getattr("get_encoding")?, PyTuple::new(py, [e.name()])?)),
            Tokenizer::Bpe(e) => {
                let ranks: Vec<(Bound<'py, PyBytes>, Rank)> =
                    e.vocab().iter().map(|(r, b)| (PyBytes::new(py, b), r)).collect();
                let specials: Vec<(String, Rank)> = e
                    .special_token_names()
                    .into_iter()
                    .map(|n| (n.clone(), e.special_token_rank(&n).unwrap_or(0)))
                    .collect();
                let kwargs = (e.name(), ranks, e.pattern(), specials);
                Ok((core.getattr("_encoding_from_ranks")?, kwargs.into_pyobject(py)?))
            }
            Tokenizer::HuggingFace(h) => {
                Ok((core.getattr("_encoding_from_tokenizer_json_str")?, (h.json(), h.name()).into_pyobject(py)?))
            }
        }
    }
}

/// Unpickling helper for loaded rank encodings.
#[pyfunction]
pub fn _encoding_from_ranks(
    py: Python<'_>,
    name: &Arg<'_>,
    ranks: &Arg<'_>,
    pattern: &Arg<'_>,
    specials: &Arg<'_>,
) -> PyResult<PyEncoding> {
    PyEncoding::from_ranks(py, name, ranks, pattern, Some(specials))
}

/// Unpickling helper for Hugging Face tokenizers.
#[pyfunction]
pub fn _encoding_from_tokenizer_json_str(py: Python<'_>, json: &Arg<'_>, name: &Arg<'_>) -> PyResult<PyEncoding> {
    PyEncoding::from_tokenizer_json_str(py, json, name)
}

/// A built-in encoding by name: gpt2, r50k_base, p50k_base, p50k_edit, cl100k_base, o200k_base, o200k_harmony.
#[pyfunction]
pub fn get_encoding(py: Python<'_>, name: &Arg<'_>) -> PyResult<PyEncoding> {
    guard(py, || PyEncoding::builtin(&args::name(name, "name")?, py))
}

/// The name of the encoding an OpenAI model uses (provider prefixes, Azure, fine-tune and dated names accepted).
#[pyfunction]
pub fn encoding_name_for_model(py: Python<'_>, model: &Arg<'_>) -> PyResult<&'static str> {
    guard(py, || core_encoding_name(&args::name(model, "model")?).py_err(py))
}

/// The encoding an OpenAI model uses.
#[pyfunction]
pub fn encoding_for_model(py: Python<'_>, model: &Arg<'_>) -> PyResult<PyEncoding> {
    guard(py, || PyEncoding::builtin(core_encoding_name(&args::name(model, "model")?).py_err(py)?, py))
}

#[pyfunction]
pub fn list_encoding_names() -> Vec<&'static str> {
    ENCODING_NAMES.to_vec()
}

/// What is known about a model's tokenizer: ("encoding", name), ("not_public", vendor) or None.
#[pyfunction]
pub fn lookup_model(model: &Arg<'_>) -> PyResult<Option<(&'static str, &'static str)>> {
    Ok(core_lookup_model(&args::name(model, "model")?).map(|m| match m {
        ModelTokenizer::Encoding(e) => ("encoding", e),
        ModelTokenizer::NotPublic { vendor } => ("not_public", vendor),
    }))
}

fn to_json_list(obj: &Arg<'_>, what: &str) -> PyResult<Vec<Value>> {
    if !(obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>()) {
        return Err(errors::invalid_type(obj.py(), format!("{what} must be a list, got {}", type_name(obj))));
    }
    match to_json(obj, what)? {
        Value::Array(items) => Ok(items),
        _ => Err(errors::invalid_type(obj.py(), format!("{what} must be a list, got {}", type_name(obj)))),
    }
}

/// Estimated prompt tokens of a chat request, by OpenAI's published rules (see `tokens::chat`); messages in
/// OpenAI's, Anthropic's (blocks) or Gemini's (parts) shapes. `approximate=True` counts a model whose tokenizer
/// is not public (Claude, Gemini) with `APPROXIMATION_ENCODING` (the Python layer marks the count).
#[pyfunction]
#[pyo3(signature = (messages, model, tools=None, approximate=false))]
pub fn count_message_tokens(
    py: Python<'_>,
    messages: &Arg<'_>,
    model: &Arg<'_>,
    tools: Option<&Arg<'_>>,
    approximate: bool,
) -> PyResult<u64> {
    guard(py, || {
        let model = convert::text(model, "model")?;
        let messages = to_json_list(messages, "messages")?;
        let tools = tools.filter(|t| !t.is_none()).map(|t| to_json_list(t, "tools")).transpose()?;
        let (enc, _) = message_encoding(&model, approximate).py_err(py)?;
        py.detach(|| core_count_messages(&enc, &model, &messages, tools.as_deref())).py_err(py)
    })
}

/// Input tokens of one image of `width` × `height` pixels for `model` (OpenAI tiles or patches, Anthropic).
#[pyfunction]
#[pyo3(signature = (width, height, model, detail=None))]
pub fn image_tokens(
    py: Python<'_>,
    width: &Arg<'_>,
    height: &Arg<'_>,
    model: &Arg<'_>,
    detail: Option<&Arg<'_>>,
) -> PyResult<u64> {
    guard(py, || {
        let dim = |v: &Arg<'_>, what: &str| args::count(v, what, u32::MAX as u64).map(|n| n as u32);
        let model = args::name(model, "model")?;
        let detail = detail.map(|d| args::name(d, "detail")).transpose()?;
        let detail = detail.as_deref().unwrap_or("auto");
        core_image_tokens(dim(width, "width")?, dim(height, "height")?, &model, Detail::parse(detail).py_err(py)?)
            .py_err(py)
    })
}

/// `errors=`: None or "strict" (invalid UTF-8 is an error), or "replace" (it counts as U+FFFD).
fn errors_mode(errors: Option<&Arg<'_>>) -> PyResult<bool> {
    let Some(errors) = errors.filter(|e| !e.is_none()) else { return Ok(false) };
    match args::name(errors, "errors")?.as_str() {
        "strict" => Ok(false),
        "replace" => Ok(true),
        other => Err(invalid_argument(errors.py(), format!("errors={other:?}: expected \"strict\" or \"replace\""))),
    }
}

/// The `encoding` argument of the streaming counters: an `Encoding` of tiktoken's kind.
fn stream_encoding(encoding: &Arg<'_>) -> PyResult<Arc<crate::tokens::Encoding>> {
    let py = encoding.py();
    let encoding = encoding.cast::<PyEncoding>().map_err(|_| {
        errors::invalid_type(
            py,
            format!(
                "encoding must be a tokenprice.Encoding (get_encoding(name), encoding_for_model(model)), got {}",
                type_name(encoding)
            ),
        )
    })?;
    match &encoding.get().tokenizer {
        Tokenizer::Bpe(e) => Ok(e.clone()),
        Tokenizer::HuggingFace(h) => Err(invalid_argument(
            py,
            format!("streaming counts need a tiktoken-style encoding; {:?} is a Hugging Face tokenizer", h.name()),
        )),
    }
}

/// The arguments both streaming counters take: the encoding, `errors=` (whether to replace invalid UTF-8) and
/// `num_threads=`.
fn stream_options(
    encoding: &Arg<'_>,
    errors: Option<&Arg<'_>>,
    num_threads: Option<&Arg<'_>>,
) -> PyResult<(Arc<crate::tokens::Encoding>, bool, Option<usize>)> {
    Ok((stream_encoding(encoding)?, errors_mode(errors)?, args::threads(num_threads)?))
}

/// Counts the tokens of a file, streaming it in blocks (memory stays bounded whatever the file's size).
#[pyfunction]
#[pyo3(
    signature = (path, encoding, *, errors=None, num_threads=None),
    text_signature = "(path, encoding, *, errors='strict', num_threads=None)"
)]
pub fn count_file(
    py: Python<'_>,
    path: &Arg<'_>,
    encoding: &Arg<'_>,
    errors: Option<&Arg<'_>>,
    num_threads: Option<&Arg<'_>>,
) -> PyResult<u64> {
    guard(py, || {
        let path = args::path(path, "path")?;
        let (enc, replace, num_threads) = stream_options(encoding, errors, num_threads)?;
        py.detach(|| StreamCounter::count_path(enc, &path, replace, num_threads)).py_err(py)
    })
}

/// Counts a stream fed in pieces of bytes (for stdin and sockets): `feed(data)` as often as needed, then
/// `finish()` for the total.
#[pyclass(module = "tokenprice", name = "StreamCounter", frozen)]
pub struct PyStreamCounter {
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
    #[pyo3(
        signature = (encoding, *, source=None, errors=None, num_threads=None),
        text_signature = "(encoding, *, source='<stream>', errors='strict', num_threads=None)"
    )]
    fn new(
        py: Python<'_>,
        encoding: &Arg<'_>,
        source: Option<&Arg<'_>>,
        errors: Option<&Arg<'_>>,
        num_threads: Option<&Arg<'_>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let (enc, replace, num_threads) = stream_options(encoding, errors, num_threads)?;
            let source = args::opt_name(source, "source")?.unwrap_or_else(|| "<stream>".into());
            Ok(PyStreamCounter { inner: Mutex::new(Some(StreamCounter::new(enc, &source, replace, num_threads))) })
        })
    }

    fn feed(&self, py: Python<'_>, data: &Arg<'_>) -> PyResult<()> {
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
