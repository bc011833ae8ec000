//! Arrow string columns in, Int64 counts out, through the Arrow PyCapsule interface: pyarrow, polars and pandas
//! columns are read in place (no copy of the strings), and nulls stay null.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::ArrayRef;
use arrow_schema::DataType;
use pyo3::prelude::*;

use crate::error::{Error, Result};
use crate::py::args::Arg;
use crate::py::capsule::{self, ArrowArray};
use crate::py::errors::{guard, IntoPy};
use crate::py::tokens::{PyEncoding, SpecialArg};
use crate::tokens::column::{count_chunks, strings};

/// The values of a string or binary chunk as bytes (for JSON records), borrowed.
pub fn byte_strings(array: &ArrayRef) -> Result<Vec<Option<&[u8]>>> {
    Ok(match array.data_type() {
        DataType::Binary => array.as_binary::<i32>().iter().collect(),
        DataType::LargeBinary => array.as_binary::<i64>().iter().collect(),
        DataType::BinaryView => array.as_binary_view().iter().collect(),
        _ => strings(array)
            .map_err(|_| {
                Error::InvalidArgument(format!(
                    "records must be a column of JSON strings or bytes; this column holds {}",
                    array.data_type()
                ))
            })?
            .into_iter()
            .map(|s| s.map(str::as_bytes))
            .collect(),
    })
}

/// Token counts of an Arrow-compatible string column, as one Int64 Arrow array (nulls stay null).
#[pyfunction]
#[pyo3(signature = (encoding, column, *, allowed_special=None, num_threads=None))]
pub fn count_column(
    py: Python<'_>,
    encoding: &PyEncoding,
    column: &Arg<'_>,
    allowed_special: Option<&Arg<'_>>,
    num_threads: Option<&Arg<'_>>,
) -> PyResult<ArrowArray> {
    guard(py, || {
        let num_threads = crate::py::args::threads(num_threads)?;
        let allowed = SpecialArg::parse(allowed_special, "allowed_special")?;
        let chunks = capsule::column(column, "column")?;
        let tok = &encoding.tokenizer;
        let counts = py.detach(|| allowed.with_allowed(|a| count_chunks(tok, &chunks, a, num_threads)));
        let array: ArrayRef = Arc::new(counts.py_err(py)?);
        Ok(ArrowArray::new(array))
    })
}
