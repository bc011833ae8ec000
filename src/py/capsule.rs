//! The Arrow PyCapsule interface, both ways, on arrow-rs's C data interface alone
//! (<https://arrow.apache.org/docs/format/CDataInterface/PyCapsuleInterface.html>).
//!
//! In: any object with `__arrow_c_stream__` (tables, chunked arrays, readers, polars and pandas frames) or
//! `__arrow_c_array__` (arrays, record batches), read in place. Out: [`ArrowTable`] and [`ArrowArray`], small
//! objects that export `__arrow_c_stream__` / `__arrow_c_array__`, which `pyarrow`, `polars` and others import
//! without a copy. Types are taken as the producer gives them: the readers handle views and dictionaries themselves.
//! Attribute names are plain strings, not `intern!`ed: an interned name is a pyo3 once-cell, which a fork during its
//! first use would leave locked in the child (docs/counting.md, "Threads and fork").

use std::ffi::CStr;
use std::sync::Arc;

use arrow_array::ffi::{from_ffi, from_ffi_and_data_type, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{make_array, Array, ArrayRef, RecordBatch, RecordBatchIterator, RecordBatchOptions, StructArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

use crate::py::args::{type_name, Arg};
use crate::py::errors::{invalid_argument, invalid_type};

const SCHEMA: &CStr = c"arrow_schema";
const ARRAY: &CStr = c"arrow_array";
const STREAM: &CStr = c"arrow_array_stream";

/// What an Arrow-speaking object gave: its schema (a field for a column) and its chunks.
struct Chunks {
    field: Field,
    chunks: Vec<ArrayRef>,
}

/// Reads `obj` through its stream export, or else its array export; `what` names the argument in errors.
fn import(obj: &Arg<'_>, what: &str) -> PyResult<Chunks> {
    let py = obj.py();
    let bad = |e: &dyn std::fmt::Display| invalid_argument(py, format!("{what}: reading its Arrow data: {e}"));
    // A capsule of another kind than the export promises (CPython's ValueError), as a type error naming `what`.
    let wrong =
        |e: PyErr| invalid_type(py, format!("{what}: its Arrow export gave the wrong capsule: {}", e.value(py)));
    if obj.hasattr("__arrow_c_stream__")? {
        let capsule = obj.call_method0("__arrow_c_stream__")?;
        let capsule = capsule.cast::<PyCapsule>().map_err(|_| {
            invalid_type(py, format!("{what}: __arrow_c_stream__ returned {}, not a capsule", type_name(&capsule)))
        })?;
        let pointer = capsule.pointer_checked(Some(STREAM)).map_err(wrong)?.cast::<FFI_ArrowArrayStream>();
        // SAFETY: a capsule named "arrow_array_stream" holds an FFI_ArrowArrayStream (the interface's contract);
        // `from_raw` moves it out and leaves a released one behind, so the capsule's destructor does nothing.
        let stream = unsafe { FFI_ArrowArrayStream::from_raw(pointer.as_ptr()) };
        let (field, chunks) = read_stream(stream).map_err(|e| bad(&e))?;
        return Ok(Chunks { field, chunks });
    }
    if obj.hasattr("__arrow_c_array__")? {
        let pair = obj.call_method0("__arrow_c_array__")?;
        let pair = pair.cast::<PyTuple>().map_err(|_| {
            invalid_type(py, format!("{what}: __arrow_c_array__ returned {}, not a tuple", type_name(&pair)))
        })?;
        if pair.len() != 2 {
            return Err(invalid_type(py, format!("{what}: __arrow_c_array__ returned {} items, not 2", pair.len())));
        }
        let (schema, array) = (pair.get_item(0)?, pair.get_item(1)?);
        let schema = schema.cast::<PyCapsule>().map_err(|_| invalid_type(py, format!("{what}: no schema capsule")))?;
        let array = array.cast::<PyCapsule>().map_err(|_| invalid_type(py, format!("{what}: no array capsule")))?;
        // SAFETY: capsules named "arrow_schema" / "arrow_array" hold an FFI_ArrowSchema / FFI_ArrowArray. The schema
        // is borrowed (its capsule releases it); the array is moved out, leaving a released one for the capsule.
        let schema = unsafe { schema.pointer_checked(Some(SCHEMA)).map_err(wrong)?.cast::<FFI_ArrowSchema>().as_ref() };
        let array =
            unsafe { FFI_ArrowArray::from_raw(array.pointer_checked(Some(ARRAY)).map_err(wrong)?.cast().as_ptr()) };
        let field = Field::try_from(schema).map_err(|e| bad(&e))?;
        // SAFETY: the array was produced against this schema.
        let data = unsafe { from_ffi(array, schema) }.map_err(|e| bad(&e))?;
        return Ok(Chunks { field, chunks: vec![make_array(data)] });
    }
    Err(invalid_type(
        py,
        format!(
            "{what} must be an Arrow-compatible object (pyarrow, polars, pandas >= 2.2, ...: one with \
             __arrow_c_stream__ or __arrow_c_array__); got {}",
            type_name(obj)
        ),
    ))
}

/// Every chunk of a C stream. arrow-rs's own stream reader takes only streams of record batches (a struct type);
/// a column (a chunked array, a series) comes as a stream of its own type, so the stream is read here.
fn read_stream(mut stream: FFI_ArrowArrayStream) -> Result<(Field, Vec<ArrayRef>), String> {
    fn failed(stream: &mut FFI_ArrowArrayStream, code: i32) -> String {
        let message = stream.get_last_error.map(|last| {
            // SAFETY: the stream is live; the text it returns stays valid until its next call.
            let text = unsafe { last(stream) };
            if text.is_null() {
                String::new()
            } else {
                unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
            }
        });
        format!("the producer's stream failed (error {code}){}", message.map(|m| format!(": {m}")).unwrap_or_default())
    }
    let (Some(get_schema), Some(get_next), Some(_)) = (stream.get_schema, stream.get_next, stream.release) else {
        return Err("the stream was already released".into());
    };
    let mut schema = FFI_ArrowSchema::empty();
    // SAFETY: a live stream's callbacks, called as the C stream interface specifies.
    let code = unsafe { get_schema(&mut stream, &mut schema) };
    if code != 0 {
        return Err(failed(&mut stream, code));
    }
    let field = Field::try_from(&schema).map_err(|e| e.to_string())?;
    let mut chunks = Vec::new();
    loop {
        let mut array = FFI_ArrowArray::empty();
        let code = unsafe { get_next(&mut stream, &mut array) };
        if code != 0 {
            return Err(failed(&mut stream, code));
        }
        if array.is_released() {
            return Ok((field, chunks)); // the end of the stream
        }
        // SAFETY: every array of the stream has the stream's type.
        let data = unsafe { from_ffi_and_data_type(array, field.data_type().clone()) }.map_err(|e| e.to_string())?;
        chunks.push(make_array(data));
    }
}

/// Whether `obj` exports Arrow data (a stream or an array).
pub fn speaks_arrow(obj: &Arg<'_>) -> PyResult<bool> {
    Ok(obj.hasattr("__arrow_c_stream__")? || obj.hasattr("__arrow_c_array__")?)
}

/// The chunks of a column (an array, a chunked array, a series).
pub fn column(obj: &Arg<'_>, what: &str) -> PyResult<Vec<ArrayRef>> {
    Ok(import(obj, what)?.chunks)
}

/// The record batches of a table (a table, a record batch, a reader, a data frame), with its schema.
pub fn table(obj: &Arg<'_>, what: &str) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    let py = obj.py();
    let Chunks { field, chunks } = import(obj, what)?;
    let DataType::Struct(fields) = field.data_type() else {
        return Err(invalid_type(
            py,
            format!("{what} must be a table; its Arrow data is a column of {}", field.data_type()),
        ));
    };
    let schema = Arc::new(Schema::new_with_metadata(fields.clone(), field.metadata().clone()));
    let batches = chunks
        .into_iter()
        .map(|chunk| {
            let rows = chunk.as_any().downcast_ref::<StructArray>();
            let rows = rows.ok_or_else(|| invalid_type(py, format!("{what}: a chunk is not a struct array")))?;
            // A table's rows are never null as a whole; a struct column that has such rows is not a table.
            if rows.null_count() > 0 {
                return Err(invalid_argument(py, format!("{what}: {} rows are null as a whole", rows.null_count())));
            }
            // The row count is given: a table without columns still has rows.
            let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
            RecordBatch::try_new_with_options(schema.clone(), rows.columns().to_vec(), &options)
                .map_err(|e| invalid_argument(py, format!("{what}: {e}")))
        })
        .collect::<PyResult<_>>()?;
    Ok((schema, batches))
}

fn capsule<'py, T: Send + 'static>(py: Python<'py>, value: T, name: &'static CStr) -> PyResult<Bound<'py, PyCapsule>> {
    // Dropping the value (when the consumer did not move it out) releases it: arrow-rs's FFI types release on drop.
    PyCapsule::new_with_value(py, value, name)
}

/// A schema (a table's, or a column's field) as its capsule.
fn schema_capsule<'py>(
    py: Python<'py>,
    schema: Result<FFI_ArrowSchema, arrow_schema::ArrowError>,
) -> PyResult<Bound<'py, PyCapsule>> {
    capsule(py, schema.map_err(|e| invalid_argument(py, e.to_string()))?, SCHEMA)
}

/// A table the extension made, handed to Python through `__arrow_c_stream__` (read it with
/// `pyarrow.RecordBatchReader.from_stream`, `pyarrow.table` or `polars.DataFrame`); exporting it does not copy.
#[pyclass(frozen, name = "ArrowTable", module = "tokenprice._core")]
pub struct ArrowTable {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl ArrowTable {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        ArrowTable { schema, batches }
    }
}

#[pymethods]
impl ArrowTable {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Arg<'py>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema; // the interface lets a producer keep its own types
        let reader = RecordBatchIterator::new(self.batches.clone().into_iter().map(Ok), self.schema.clone());
        capsule(py, FFI_ArrowArrayStream::new(Box::new(reader)), STREAM)
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, FFI_ArrowSchema::try_from(self.schema.as_ref()))
    }

    #[getter]
    fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    fn __len__(&self) -> usize {
        self.num_rows()
    }

    fn __repr__(&self) -> String {
        let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        format!("ArrowTable(rows={}, columns={names:?})", self.num_rows())
    }
}

/// A column the extension made, handed to Python through `__arrow_c_array__`; exporting it does not copy.
#[pyclass(frozen, name = "ArrowArray", module = "tokenprice._core")]
pub struct ArrowArray {
    array: ArrayRef,
}

impl ArrowArray {
    pub fn new(array: ArrayRef) -> Self {
        ArrowArray { array }
    }

    fn field(&self) -> Field {
        Field::new("", self.array.data_type().clone(), true)
    }
}

#[pymethods]
impl ArrowArray {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Arg<'py>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema; // the interface lets a producer keep its own types
        let array = FFI_ArrowArray::new(&self.array.to_data());
        PyTuple::new(py, [self.__arrow_c_schema__(py)?, capsule(py, array, ARRAY)?])
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, FFI_ArrowSchema::try_from(&self.field()))
    }

    fn __len__(&self) -> usize {
        self.array.len()
    }

    fn __repr__(&self) -> String {
        format!("ArrowArray(type={}, length={})", self.array.data_type(), self.array.len())
    }
}
