//! The Python exception tree, defined once here: `tokenprice.TokenPriceError` and one named subclass per kind of
//! core error. Where tiktoken or Python convention raises a builtin (`KeyError` for an unknown model, `ValueError`
//! for a disallowed special token), the subclass also derives from it, so existing `except` clauses still work.
//! Panics never cross into Python as `PanicException`: [`guard`] turns them into `InternalError`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyException, PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::error::Error;

/// (class name, builtin base besides TokenPriceError, docstring)
const CLASSES: &[(&str, Option<&str>, &str)] = &[
    ("UnknownModelError", Some("KeyError"), "No tokenizer is known for this model name."),
    ("UnknownEncodingError", Some("ValueError"), "No built-in encoding has this name."),
    ("TokenizerNotPublicError", None, "The model's tokenizer is not public; pass approximate=True to estimate."),
    ("DisallowedSpecialTokenError", Some("ValueError"), "Text contains a special token that was not allowed."),
    ("InvalidTokenError", Some("KeyError"), "A token id that is not in the encoding."),
    ("TokenizerFileError", Some("ValueError"), "A tokenizer or vocabulary file that cannot be parsed."),
    ("InvalidTextError", Some("ValueError"), "Input that is not valid UTF-8 text."),
    ("InputError", None, "Input that cannot be read (a missing or unreadable file)."),
    ("InvalidArgumentError", Some("ValueError"), "An argument outside its valid values."),
    ("InvalidTypeError", Some("TypeError"), "An argument of the wrong type."),
    ("InvalidMessageError", Some("ValueError"), "A chat message or tool definition of the wrong shape."),
    ("UnknownProviderError", Some("KeyError"), "A provider name the price book does not know."),
    ("AmbiguousModelError", Some("ValueError"), "A model several providers price, with no provider given."),
    ("NoPriceError", Some("LookupError"), "No price for the model on that date or in that service tier."),
    ("InvalidUsageError", Some("ValueError"), "Impossible usage counts (negative, fractional, parts above totals)."),
    ("PriceBookError", Some("ValueError"), "A price file or price definition that breaks the schema."),
    ("UsageFormatError", Some("ValueError"), "A record that cannot be read as usage (unknown shape, bad field)."),
    ("InternalError", Some("RuntimeError"), "A bug in tokenprice (please report it)."),
];

struct Classes {
    base: Py<PyType>,
    named: Vec<(&'static str, Py<PyType>)>,
}

static CLASSES_CELL: PyOnceLock<Classes> = PyOnceLock::new();

fn builtin_base<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyType> {
    match name {
        "KeyError" => py.get_type::<PyKeyError>(),
        "LookupError" => py.get_type::<pyo3::exceptions::PyLookupError>(),
        "ValueError" => py.get_type::<PyValueError>(),
        "TypeError" => py.get_type::<pyo3::exceptions::PyTypeError>(),
        _ => py.get_type::<PyRuntimeError>(),
    }
}

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES_CELL.get_or_try_init(py, || {
        let type_ = py.import("builtins")?.getattr("type")?;
        let make = |name: &str, bases: Bound<'_, PyTuple>, doc: &str, plain_str: bool| -> PyResult<Py<PyType>> {
            let dict = PyDict::new(py);
            dict.set_item("__module__", "tokenprice")?;
            dict.set_item("__doc__", doc)?;
            if plain_str {
                // KeyError's str() shows repr(message) in quotes; keep the message readable.
                dict.set_item("__str__", py.get_type::<PyException>().getattr("__str__")?)?;
            }
            Ok(type_.call1((name, bases, dict))?.cast_into::<PyType>()?.unbind())
        };
        let base = make(
            "TokenPriceError",
            PyTuple::new(py, [py.get_type::<PyException>()])?,
            "Base class of every error tokenprice raises.",
            false,
        )?;
        let mut named = Vec::new();
        for (name, builtin, doc) in CLASSES {
            let bases = match builtin {
                Some(b) => PyTuple::new(py, [base.bind(py).clone(), builtin_base(py, b)])?,
                None => PyTuple::new(py, [base.bind(py).clone()])?,
            };
            named.push((*name, make(name, bases, doc, *builtin == Some("KeyError"))?));
        }
        Ok(Classes { base, named })
    })
}

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = classes(py)?;
    m.add("TokenPriceError", c.base.bind(py))?;
    for (name, class) in &c.named {
        m.add(*name, class.bind(py))?;
    }
    Ok(())
}

fn class_name(e: &Error) -> &'static str {
    match e {
        Error::UnknownModel { .. } => "UnknownModelError",
        Error::UnknownEncoding { .. } => "UnknownEncodingError",
        Error::TokenizerNotPublic { .. } => "TokenizerNotPublicError",
        Error::DisallowedSpecialToken { .. } => "DisallowedSpecialTokenError",
        Error::InvalidTokenId { .. } => "InvalidTokenError",
        Error::TokenizerFile { .. } => "TokenizerFileError",
        Error::InvalidUtf8 { .. } => "InvalidTextError",
        Error::Io { .. } => "InputError",
        Error::InvalidArgument(_) => "InvalidArgumentError",
        Error::InvalidType(_) => "InvalidTypeError",
        Error::InvalidMessage(_) => "InvalidMessageError",
        Error::Internal(_) => "InternalError",
        Error::UnknownPricedModel { .. } => "UnknownModelError",
        Error::UnknownProvider { .. } => "UnknownProviderError",
        Error::AmbiguousModel { .. } => "AmbiguousModelError",
        Error::NoPriceAtDate { .. } | Error::NoTierPrice { .. } => "NoPriceError",
        Error::UnknownOption { .. } => "InvalidArgumentError",
        Error::InvalidUsage { .. } | Error::Overflow(_) => "InvalidUsageError",
        Error::PriceBook(_) => "PriceBookError",
        Error::UsageFormat(_) => "UsageFormatError",
    }
}

/// A core error as the matching Python exception.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let name = class_name(&e);
    match classes(py) {
        Ok(c) => {
            let class = c.named.iter().find(|(n, _)| *n == name).map(|(_, t)| t.bind(py).clone());
            match class {
                Some(class) => PyErr::from_type(class, e.to_string()),
                None => PyRuntimeError::new_err(e.to_string()),
            }
        }
        Err(err) => err,
    }
}

/// A `InvalidArgumentError` from the binding layer itself (wrong Python types).
pub fn invalid_argument(py: Python<'_>, message: String) -> PyErr {
    to_py(py, Error::InvalidArgument(message))
}

/// An `InvalidTypeError` (also a `TypeError`) from the binding layer: an argument of the wrong Python type.
pub fn invalid_type(py: Python<'_>, message: String) -> PyErr {
    to_py(py, Error::InvalidType(message))
}

/// Runs a binding body, turning a Rust panic into `InternalError` instead of pyo3's `PanicException`.
pub fn guard<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".to_string());
            Err(to_py(py, Error::Internal(message)))
        }
    }
}

/// `Result<T, Error>` → `PyResult<T>`.
pub trait IntoPy<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
