//! The Python binding (`tokenprice._core`), compiled only with the `python` feature. Its files are named like the
//! core's modules (`tokens`, `prices`, `usage`, `cost`, `ledger`), plus the shared converters
//! (`convert`, `args`, `arrow`, `capsule`) and the exception tree (`errors`). Each function converts its arguments, releases
//! the GIL for the work, and converts the result; all decisions live in the core.

mod args;
mod arrow;
mod budget;
mod capsule;
mod convert;
mod cost;
mod errors;
mod ledger;
mod prices;
mod tokens;
mod usage;

/// The module, declared by what it exports; the exception classes and constants are added when it is made.
#[pyo3::pymodule(gil_used = false)]
mod _core {
    use pyo3::prelude::*;

    #[pymodule_export]
    use super::arrow::count_column;
    #[pymodule_export]
    use super::budget::{PyDecision, PyLimiter, PyMemoryStore, PyPending};
    #[pymodule_export]
    use super::capsule::{ArrowArray, ArrowTable};
    #[pymodule_export]
    use super::cost::{_cost_of_parts, _cost_of_sections, estimate, price_arrow_table, PyCost, PyEstimate};
    #[pymodule_export]
    use super::errors::_panic_for_tests;
    #[pymodule_export]
    use super::ledger::{
        log_columns, price_log_files, price_log_texts, reconcile_lines, reprice_lines, total_log_texts,
    };
    #[pymodule_export]
    use super::prices::PyPriceBook;
    #[pymodule_export]
    use super::tokens::{
        _encoding_from_ranks, _encoding_from_tokenizer_json_str, count_file, count_message_tokens, encoding_for_model,
        encoding_name_for_model, get_encoding, image_tokens, list_encoding_names, lookup_model, PyEncoding,
        PyStreamCounter,
    };
    #[pymodule_export]
    use super::usage::{
        extract_usage, extract_usages, format_names, usage_fields, usage_formats, PyUsage, PyUsageRecord,
    };

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        super::errors::register(m)?;
        m.add("price", super::cost::price_function(m)?)?;
        m.add("APPROXIMATION_ENCODING", crate::tokens::models::APPROXIMATION_ENCODING)?;
        // Names the Python layer and scripts would otherwise restate.
        let cost_columns: Vec<&str> = crate::ledger::COST_COLUMNS.iter().copied().chain(["total_cost"]).collect();
        m.add("COST_COLUMNS", pyo3::types::PyTuple::new(m.py(), cost_columns)?)?;
        m.add("SUMMARY_COLUMNS", pyo3::types::PyTuple::new(m.py(), crate::ledger::SUMMARY_COLUMNS)?)?;
        m.add("COMPARISON_COLUMNS", pyo3::types::PyTuple::new(m.py(), crate::ledger::COMPARISON_COLUMNS)?)?;
        m.add("MISMATCH_COLUMNS", pyo3::types::PyTuple::new(m.py(), crate::ledger::MISMATCH_COLUMNS)?)?;
        let price_keys = crate::prices::units::UNITS.iter().map(|u| u.price_key);
        m.add("PRICE_KEYS", pyo3::types::PyTuple::new(m.py(), price_keys)?)?;
        m.add("PROVIDER_KEYS", pyo3::types::PyTuple::new(m.py(), crate::prices::schema::PROVIDER_KEYS)?)?;
        m.add("RECONCILE_CAUSES", crate::ledger::reconcile::CAUSES.to_vec())?;
        m.add("RENAMED_BESIDE", crate::cost::table::RENAMED_BESIDE.to_vec())?;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}
