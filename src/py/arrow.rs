//! Arrow string columns in, Int64 counts out, through the Arrow PyCapsule interface: pyarrow, polars and pandas
//! columns are read in place (no copy of the strings), and nulls stay null.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, DictionaryArray, Int64Array};
use arrow_schema::DataType;
use pyo3::prelude::*;

use crate::error::{Error, Result};
use crate::py::capsule::{self, ArrowArray};
use crate::py::errors::{guard, IntoPy};
use crate::py::tokens::{PyEncoding, SpecialArg};
use crate::tokens::{Allowed, Tokenizer};

/// The strings of one chunk, borrowed from its Arrow buffers.
fn strings(array: &ArrayRef) -> Result<Vec<Option<&str>>> {
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        DataType::Null => vec![None; array.len()],
        other => {
            return Err(Error::InvalidArgument(format!(
                "count_tokens needs a column of strings; this column holds {other}"
            )))
        }
    })
}

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

/// A dictionary-encoded chunk (pandas categoricals, polars Categorical): each distinct value is counted once.
fn count_dictionary<K: ArrowDictionaryKeyType>(
    tok: &Tokenizer,
    array: &ArrayRef,
    allowed: Allowed<'_>,
    threads: Option<usize>,
) -> Result<Vec<Option<i64>>> {
    let dict: &DictionaryArray<K> = array.as_dictionary::<K>();
    let values = strings(dict.values())?;
    let value_counts = tok.count_batch(&values, allowed, threads)?;
    Ok((0..dict.len())
        .map(|i| {
            if dict.is_null(i) {
                return None;
            }
            let key = dict.key(i)?;
            value_counts.get(key).copied().flatten().map(|n| n as i64)
        })
        .collect())
}

fn count_chunk(
    tok: &Tokenizer,
    array: &ArrayRef,
    allowed: Allowed<'_>,
    threads: Option<usize>,
) -> Result<Vec<Option<i64>>> {
    if let DataType::Dictionary(key, _) = array.data_type() {
        // Each distinct value once, then mapped through the keys.
        return match key.as_ref() {
            DataType::Int8 => count_dictionary::<Int8Type>(tok, array, allowed, threads),
            DataType::Int16 => count_dictionary::<Int16Type>(tok, array, allowed, threads),
            DataType::Int32 => count_dictionary::<Int32Type>(tok, array, allowed, threads),
            DataType::Int64 => count_dictionary::<Int64Type>(tok, array, allowed, threads),
            DataType::UInt8 => count_dictionary::<UInt8Type>(tok, array, allowed, threads),
            DataType::UInt16 => count_dictionary::<UInt16Type>(tok, array, allowed, threads),
            DataType::UInt32 => count_dictionary::<UInt32Type>(tok, array, allowed, threads),
            DataType::UInt64 => count_dictionary::<UInt64Type>(tok, array, allowed, threads),
            other => Err(Error::InvalidArgument(format!("dictionary keys of type {other} are not supported"))),
        };
    }
    let texts = strings(array)?;
    Ok(tok.count_batch(&texts, allowed, threads)?.into_iter().map(|c| c.map(|n| n as i64)).collect())
}

/// Token counts of an Arrow-compatible string column, as one Int64 Arrow array (nulls stay null).
#[pyfunction]
#[pyo3(signature = (encoding, column, *, allowed_special=None, num_threads=None))]
pub fn count_column(
    py: Python<'_>,
    encoding: &PyEncoding,
    column: &Bound<'_, PyAny>,
    allowed_special: Option<&Bound<'_, PyAny>>,
    num_threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<ArrowArray> {
    guard(py, || {
        let num_threads = crate::py::args::threads(num_threads)?;
        let allowed = SpecialArg::parse(allowed_special, "allowed_special")?;
        let chunks = capsule::column(column, "column")?;
        let tok = &encoding.tokenizer;
        let counts: Result<Vec<Option<i64>>> = py.detach(|| {
            allowed.with_allowed(|a| {
                if chunks.iter().any(|c| matches!(c.data_type(), DataType::Dictionary(..))) {
                    let mut all = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
                    for chunk in &chunks {
                        all.extend(count_chunk(tok, chunk, a, num_threads)?);
                    }
                    return Ok(all);
                }
                // One batch over every chunk, so that many small chunks still keep every core busy.
                let mut texts = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
                for chunk in &chunks {
                    texts.extend(strings(chunk)?);
                }
                Ok(tok.count_batch(&texts, a, num_threads)?.into_iter().map(|c| c.map(|n| n as i64)).collect())
            })
        });
        let array: ArrayRef = Arc::new(Int64Array::from(counts.py_err(py)?));
        Ok(ArrowArray::new(array))
    })
}
