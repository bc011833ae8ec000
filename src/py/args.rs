//! Arguments of the counting and encoding functions, converted by hand instead of by pyo3's automatic extraction
//! (which raises bare `TypeError` / `OverflowError` / `UnicodeEncodeError`): each wrong type is an
//! `InvalidTypeError` and each bad value an `InvalidArgumentError`, naming the argument and the value.

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyInt, PyString};

use crate::parallel;
use crate::py::errors::{invalid_argument, invalid_type, IntoPy};

/// A Python argument as it came: the binding takes its arguments as this and converts each by hand (the functions
/// here), so a wrong type is an `InvalidTypeError` naming the argument, not pyo3's bare `TypeError`.
pub type Arg<'py> = Bound<'py, PyAny>;

/// The name of `obj`'s type, for messages.
pub fn type_name(obj: &Arg<'_>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

/// The UTF-8 text of a `str`. A string holding lone surrogates (which UTF-8 cannot hold) is read as tiktoken reads
/// it: `text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")`, so each lone surrogate becomes U+FFFD
/// and a split surrogate pair becomes its character. Only that rare case pays for the round trip.
pub fn text(obj: &Arg<'_>, what: &str) -> PyResult<PyBackedStr> {
    let s = obj
        .cast::<PyString>()
        .map_err(|_| invalid_type(obj.py(), format!("{what} must be a str, got {}", type_name(obj))))?;
    match s.extract::<PyBackedStr>() {
        Ok(text) => Ok(text),
        Err(_) => {
            let replaced =
                s.call_method1("encode", ("utf-16", "surrogatepass"))?.call_method1("decode", ("utf-16", "replace"))?;
            replaced.extract::<PyBackedStr>()
        }
    }
}

/// A `str` argument that names something (an encoding, a model, an option).
pub fn name(obj: &Arg<'_>, what: &str) -> PyResult<String> {
    Ok(text(obj, what)?.to_string())
}

/// An optional `str` argument: `None` or a str.
pub fn opt_name(obj: Option<&Arg<'_>>, what: &str) -> PyResult<Option<String>> {
    obj.filter(|o| !o.is_none()).map(|o| name(o, what)).transpose()
}

/// A file path: a `str` or an `os.PathLike` giving one, as the operating system's bytes (`os.fsencode`, so a name
/// Python read with surrogate escapes is the same file again).
pub fn path(obj: &Arg<'_>, what: &str) -> PyResult<std::path::PathBuf> {
    let py = obj.py();
    let os = py.import("os")?;
    let wrong = || invalid_type(py, format!("{what} must be a str or an os.PathLike, got {}", type_name(obj)));
    if !obj.is_instance_of::<PyString>() && !obj.is_instance(&os.getattr("PathLike")?)? {
        return Err(wrong());
    }
    let text = os.call_method1("fspath", (obj,))?;
    if !text.is_instance_of::<PyString>() {
        return Err(wrong());
    }
    let bytes = os
        .call_method1("fsencode", (&text,))
        .map_err(|e| invalid_argument(py, format!("{what}={} cannot be a file name: {e}", repr(&text))))?;
    let bytes = bytes.cast::<pyo3::types::PyBytes>().map_err(|_| wrong())?.as_bytes().to_vec();
    #[cfg(unix)]
    let path = std::path::PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(bytes));
    #[cfg(not(unix))]
    let path = std::path::PathBuf::from(String::from_utf8_lossy(&bytes).into_owned());
    Ok(path)
}

/// A whole number, of any size.
fn int(obj: &Arg<'_>, what: &str, expected: &str) -> PyResult<i128> {
    if !obj.is_instance_of::<PyInt>() {
        return Err(invalid_type(obj.py(), format!("{what} must be {expected}, got {}", type_name(obj))));
    }
    // Past i128 the value is out of every range below; its text still names it.
    obj.extract::<i128>().or_else(|_| Ok(if obj.lt(0)? { i128::MIN } else { i128::MAX }))
}

fn repr(obj: &Arg<'_>) -> String {
    obj.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into())
}

/// A count that may be zero (a token limit, a pixel size): an `int` from 0 to `max`.
pub fn count(obj: &Arg<'_>, what: &str, max: u64) -> PyResult<u64> {
    let n = int(obj, what, "a non-negative int")?;
    u64::try_from(n).ok().filter(|n| *n <= max).ok_or_else(|| {
        invalid_argument(obj.py(), format!("{what}={} is out of range: expected an int from 0 to {max}", repr(obj)))
    })
}

/// `num_threads`: `None` (the default: `TOKENPRICE_NUM_THREADS` or every core) or an `int` the core accepts
/// (`True` is not a thread count).
pub fn threads(obj: Option<&Arg<'_>>) -> PyResult<Option<usize>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    if obj.is_instance_of::<pyo3::types::PyBool>() {
        return Err(invalid_type(obj.py(), "num_threads must be an int or None, got bool".into()));
    }
    let n = int(obj, "num_threads", "an int or None")?;
    parallel::check_threads(n).py_err(obj.py()).map(Some)
}
