//! The Python exception tree, defined once here: `tokenprice.TokenPriceError` and one named subclass per kind of
//! core error. Where tiktoken or Python convention raises a builtin (`KeyError` for an unknown model, `ValueError`
//! for a disallowed special token), the subclass also derives from it, so existing `except` clauses still work.
//! Panics never cross into Python as `PanicException`: [`guard`] turns them into `InternalError`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyException, PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::error::Error;

/// The builtin exception a class also derives from, so existing `except` clauses still work.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Key,
    Lookup,
    Value,
    Type,
    Runtime,
}

/// The named exception classes, one per kind of core error ([`class_of`] picks one by the error's variant): each
/// `Class` is the Python class `<Class>Error`, deriving from `TokenPriceError` and the builtin named after `:`, with
/// its docstring. One list makes both the enum and its table, so they cannot fall out of step.
macro_rules! classes {
    ($($class:ident $(: $builtin:ident)? => $doc:literal,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Class {
            $($class),*
        }

        /// (name, builtin base besides TokenPriceError, docstring), indexed by [`Class`].
        const CLASSES: &[(&str, Option<Builtin>, &str)] =
            &[$((concat!(stringify!($class), "Error"), classes!(@builtin $($builtin)?), $doc)),*];
    };
    (@builtin) => {
        None
    };
    (@builtin $builtin:ident) => {
        Some(Builtin::$builtin)
    };
}

classes! {
    UnknownModel: Key => "No tokenizer is known for this model name.",
    UnknownEncoding: Value => "No built-in encoding has this name.",
    TokenizerNotPublic => "The model's tokenizer is not public; pass approximate=True to estimate.",
    DisallowedSpecialToken: Value => "Text contains a special token that was not allowed.",
    InvalidToken: Key => "A token id that is not in the encoding.",
    TokenizerFile: Value => "A tokenizer or vocabulary file that cannot be parsed.",
    InvalidText: Value => "Input that is not valid UTF-8 text.",
    Input => "Input that cannot be read (a missing or unreadable file).",
    InvalidArgument: Value => "An argument outside its valid values.",
    InvalidType: Type => "An argument of the wrong type.",
    InvalidMessage: Value => "A chat message or tool definition of the wrong shape.",
    UnknownProvider: Key => "A provider name the price book does not know.",
    AmbiguousModel: Value => "A model several providers price, with no provider given.",
    NoPrice: Lookup => "No price for the model on that date or in that service tier.",
    InvalidUsage: Value => "Impossible usage counts (negative, fractional, parts above totals).",
    PriceBook: Value => "A price file or price definition that breaks the schema.",
    UsageFormat: Value => "A record that cannot be read as usage (unknown shape, bad field).",
    BudgetStore: Runtime => "A budget's store (Redis) cannot be reached and the budget fails closed.",
    Internal: Runtime => "A bug in tokenprice (please report it).",
}

struct Classes {
    base: Py<PyType>,
    /// Indexed by [`Class`].
    named: Vec<Py<PyType>>,
}

/// Made while the module is imported (never waiting, see `convert::imported`); a thread that loses a race to
/// make them uses the first thread's classes.
static CLASSES_CELL: crate::fork::RaceCell<Classes> = crate::fork::RaceCell::new();

fn builtin_base(py: Python<'_>, builtin: Builtin) -> Bound<'_, PyType> {
    match builtin {
        Builtin::Key => py.get_type::<PyKeyError>(),
        Builtin::Lookup => py.get_type::<pyo3::exceptions::PyLookupError>(),
        Builtin::Value => py.get_type::<PyValueError>(),
        Builtin::Type => py.get_type::<pyo3::exceptions::PyTypeError>(),
        Builtin::Runtime => py.get_type::<PyRuntimeError>(),
    }
}

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES_CELL.get_or_try_init(|| {
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
                Some(b) => PyTuple::new(py, [base.bind(py).clone(), builtin_base(py, *b)])?,
                None => PyTuple::new(py, [base.bind(py).clone()])?,
            };
            named.push(make(name, bases, doc, *builtin == Some(Builtin::Key))?);
        }
        Ok(Classes { base, named })
    })
}

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = classes(py)?;
    m.add("TokenPriceError", c.base.bind(py))?;
    for ((name, _, _), class) in CLASSES.iter().zip(&c.named) {
        m.add(*name, class.bind(py))?;
    }
    Ok(())
}

/// The class of a core error, by its variant (exhaustive: a new variant must be given a class here).
fn class_of(e: &Error) -> Class {
    match e {
        Error::UnknownModel { .. } => Class::UnknownModel,
        Error::UnknownEncoding { .. } => Class::UnknownEncoding,
        Error::TokenizerNotPublic { .. } => Class::TokenizerNotPublic,
        Error::DisallowedSpecialToken { .. } => Class::DisallowedSpecialToken,
        Error::InvalidTokenId { .. } => Class::InvalidToken,
        Error::TokenizerFile { .. } => Class::TokenizerFile,
        Error::InvalidUtf8 { .. } => Class::InvalidText,
        Error::Io { .. } => Class::Input,
        Error::InvalidArgument(_) => Class::InvalidArgument,
        Error::InvalidType(_) => Class::InvalidType,
        Error::InvalidMessage(_) => Class::InvalidMessage,
        Error::Internal(_) => Class::Internal,
        Error::UnknownPricedModel { .. } => Class::UnknownModel,
        Error::UnknownProvider { .. } => Class::UnknownProvider,
        Error::AmbiguousModel { .. } => Class::AmbiguousModel,
        Error::NoPriceAtDate { .. } | Error::NoTierPrice { .. } => Class::NoPrice,
        Error::UnknownOption { .. } => Class::InvalidArgument,
        Error::InvalidUsage { .. } | Error::Overflow(_) => Class::InvalidUsage,
        Error::PriceBook(_) => Class::PriceBook,
        Error::UsageFormat(_) => Class::UsageFormat,
        Error::BudgetStore(_) => Class::BudgetStore,
    }
}

/// A core error as the matching Python exception.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    match classes(py) {
        Ok(c) => PyErr::from_type(c.named[class_of(&e) as usize].bind(py).clone(), e.to_string()),
        Err(err) => err,
    }
}

/// Whether `e` is a `tokenprice.TokenPriceError`.
pub fn is_tokenprice_error(py: Python<'_>, e: &PyErr) -> bool {
    classes(py).is_ok_and(|c| e.get_type(py).is_subclass(c.base.bind(py)).unwrap_or(false))
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

/// Panics inside the binding, for the test that checks no panic reaches Python as `PanicException`.
#[pyfunction]
pub fn _panic_for_tests(py: Python<'_>, message: &str, threads: bool) -> PyResult<()> {
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
