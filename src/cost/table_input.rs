//! A table's columns by role, as `price_table` is told them, and the pricing of a whole table (its record
//! batches) with them: which column is the model's, the timestamp rule (no silent pricing of old rows at today's
//! rate), the count columns and their convention (`cost::columns`), and the result's schema metadata.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};

use super::columns::{check_no_clash, count_columns, CountColumns};
use super::table::{kept_name, price_table, result_names, TableInput, TableOptions};
use crate::error::{Error, Result};
use crate::prices::book::PriceBook;

/// The columns a caller names for a table's roles (the keywords of the Python `price_table`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnNames {
    /// The model column; required.
    pub model: String,
    /// `None`: no timestamp column. Its default name, `timestamp`, is read only when the table has it (otherwise
    /// `default_at` is needed); another name must be a column of the table.
    pub timestamp: Option<String>,
    /// `None`: the column named like the role when the table has one. A name given must be a column.
    pub provider: Option<String>,
    pub service_tier: Option<String>,
    pub region: Option<String>,
    pub cache_hit: Option<String>,
    /// (usage field, column) for count columns under names no convention knows.
    pub counts: Vec<(String, String)>,
    /// The caller's cache rule, or `None` to detect it from the count columns' names.
    pub input_excludes_cache: Option<bool>,
}

impl Default for ColumnNames {
    fn default() -> Self {
        ColumnNames {
            model: "model".into(),
            timestamp: Some(DEFAULT_TIMESTAMP.into()),
            provider: None,
            service_tier: None,
            region: None,
            cache_hit: None,
            counts: Vec::new(),
            input_excludes_cache: None,
        }
    }
}

const DEFAULT_TIMESTAMP: &str = "timestamp";

/// Why a table without its timestamp column cannot be priced. The usual cause is a column of another name (`ts`,
/// `created_at`), so `timestamp=` comes first, naming a likely column; `default_at=` is only for pricing history at
/// one date (old rows are never priced at today's rate silently).
fn no_timestamp_message(names: &[&str], none_asked: bool) -> String {
    let at_one_date = "or, to price every row at one date, default_at=\"2025-01-01\"";
    if none_asked {
        return format!("timestamp=None: the rows have no time to be priced at; name a timestamp column with timestamp=, {at_one_date}");
    }
    let looks_like_time = |n: &&&str| {
        let n = n.to_ascii_lowercase();
        n == "ts" || n.ends_with("_ts") || n.ends_with("_at") || n.contains("time") || n.contains("date")
    };
    let hint = match names.iter().find(looks_like_time) {
        Some(guess) => format!("name it with timestamp={guess:?}"),
        None => "name it with timestamp=\"<column>\"".to_string(),
    };
    format!(
        "no column \"timestamp\" (the time each row ran, which picks its price); the table has: {}; {hint}, {at_one_date}",
        names.join(", ")
    )
}

/// Where each role's column is in a table (indexes into its columns), and how its counts are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableColumns {
    pub model: usize,
    pub provider: Option<usize>,
    pub timestamp: Option<usize>,
    pub service_tier: Option<usize>,
    pub region: Option<usize>,
    pub cache_hit: Option<usize>,
    /// (unit, column index, column name), in the order of `read.counts`.
    pub counts: Vec<(usize, usize, String)>,
    pub read: CountColumns,
}

impl TableColumns {
    /// The columns of a table whose columns are `names`. Without a timestamp column, `has_default_at` must be true.
    pub fn resolve(names: &[&str], given: &ColumnNames, has_default_at: bool) -> Result<TableColumns> {
        let index = |role: &str, column: &str| {
            names.iter().position(|n| *n == column).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "no column {column:?} (for {role}); the table has: {}",
                    names.join(", ")
                ))
            })
        };
        // A role's own name is read when present; a name the caller gave must be there.
        let optional = |role: &str, column: &Option<String>| match column {
            Some(c) => index(role, c).map(Some),
            None => Ok(names.iter().position(|n| *n == role)),
        };
        let model = index("model", &given.model)?;
        let provider = optional("provider", &given.provider)?;
        let timestamp = match &given.timestamp {
            None => None,
            Some(c) if c == DEFAULT_TIMESTAMP => names.iter().position(|n| n == c),
            Some(c) => Some(index("timestamp", c)?),
        };
        if timestamp.is_none() && !has_default_at {
            return Err(Error::InvalidArgument(no_timestamp_message(names, given.timestamp.is_none())));
        }
        let service_tier = optional("service_tier", &given.service_tier)?;
        let region = optional("region", &given.region)?;
        let cache_hit = optional("cache_hit", &given.cache_hit)?;
        let taken: Vec<&str> = [Some(model), provider, timestamp, service_tier, region, cache_hit]
            .into_iter()
            .flatten()
            .map(|i| names[i])
            .collect();
        let read = count_columns(names, &given.counts, &taken, given.input_excludes_cache)?;
        let counts = read
            .counts
            .iter()
            .map(|(u, name)| Ok((*u, index(crate::prices::units::UNITS[*u].usage_field, name)?, name.clone())))
            .collect::<Result<_>>()?;
        Ok(TableColumns { model, provider, timestamp, service_tier, region, cache_hit, counts, read })
    }

    /// The result's column names must not clash with the input's when the two are put side by side (an input
    /// `status` is kept as `input_status`, see [`RENAMED_BESIDE`](super::table::RENAMED_BESIDE)).
    pub fn check_kept_beside(&self, names: &[&str], options: &TableOptions) -> Result<()> {
        let units: Vec<usize> = self.read.counts.iter().map(|(u, _)| *u).collect();
        let kept: Vec<&str> = names.iter().map(|n| kept_name(n)).collect();
        if let Some(twice) = kept.iter().enumerate().find(|(i, n)| kept[..*i].contains(n)).map(|(_, n)| n) {
            return Err(Error::InvalidArgument(format!(
                "the table has both {twice:?} and a column kept beside the result as {twice:?}; rename one"
            )));
        }
        check_no_clash(&kept, &result_names(&units, options))
    }

    /// One batch of the table, as the pricer reads it.
    pub fn input<'a>(&self, batch: &'a RecordBatch, default_at: Option<i64>) -> TableInput<'a> {
        let col = |i: Option<usize>| i.map(|i| batch.column(i));
        TableInput {
            rows: batch.num_rows(),
            model: batch.column(self.model),
            provider: col(self.provider),
            timestamp: col(self.timestamp),
            default_at,
            service_tier: col(self.service_tier),
            region: col(self.region),
            cache_hit: col(self.cache_hit),
            counts: self.counts.iter().map(|(u, i, n)| (*u, batch.column(*i), n.clone())).collect(),
            input_excludes_cache: self.read.input_excludes_cache,
            output_excludes_reasoning: self.read.output_excludes_reasoning,
        }
    }
}

/// How a whole table is priced: its columns, the time for rows without one, and the result's shape.
#[derive(Clone, Debug, Default)]
pub struct TableJob {
    pub columns: ColumnNames,
    /// The time of rows without a timestamp (µs since the epoch, UTC).
    pub default_at: Option<i64>,
    pub options: TableOptions,
    /// The result holds the input's own columns, then the priced ones (their names must not clash), so a
    /// one-shot stream is read once.
    pub keep_columns: bool,
}

/// Prices every batch of a table of schema `schema`; the result's batches share one schema whose metadata says
/// the count convention used (`usage_convention`), after the input's own columns and metadata with
/// `keep_columns`. A table of no batch is priced as one empty batch.
pub fn price_batches(
    book: &Arc<PriceBook>,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    job: &TableJob,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let columns = TableColumns::resolve(&names, &job.columns, job.default_at.is_some())?;
    if job.keep_columns {
        columns.check_kept_beside(&names, &job.options)?;
    }
    let empty;
    let batches = if batches.is_empty() {
        empty = [RecordBatch::new_empty(schema.clone())];
        &empty[..]
    } else {
        batches
    };
    let results = batches
        .iter()
        .map(|batch| price_table(book, &columns.input(batch, job.default_at), &job.options))
        .collect::<Result<Vec<_>>>()?;
    let convention = ("usage_convention".to_string(), columns.read.describe());
    let priced = results[0].schema();
    let (fields, metadata): (Vec<_>, HashMap<_, _>) = if job.keep_columns {
        // The input's own columns first, an input `status` kept as `input_status` (RENAMED_BESIDE).
        let kept = schema.fields().iter().map(|f| Arc::new(f.as_ref().clone().with_name(kept_name(f.name()))));
        let fields = kept.chain(priced.fields().iter().cloned()).collect();
        (fields, schema.metadata().clone().into_iter().chain([convention]).collect())
    } else {
        (priced.fields().iter().cloned().collect(), HashMap::from([convention]))
    };
    let out_schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    let results = batches
        .iter()
        .zip(results)
        .map(|(input, result)| {
            let kept = if job.keep_columns { input.columns() } else { &[] };
            let arrays = kept.iter().chain(result.columns()).cloned().collect();
            RecordBatch::try_new(out_schema.clone(), arrays).map_err(|e| Error::Internal(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((out_schema, results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::units::{INPUT, OUTPUT};

    fn err(names: &[&str], given: &ColumnNames, has_default_at: bool) -> String {
        TableColumns::resolve(names, given, has_default_at).unwrap_err().to_string()
    }

    #[test]
    fn roles_are_found_by_their_own_names_when_present() {
        let names = ["model", "timestamp", "provider", "region", "input_tokens", "output_tokens"];
        let c = TableColumns::resolve(&names, &ColumnNames::default(), false).unwrap();
        assert_eq!((c.model, c.timestamp, c.provider, c.region), (0, Some(1), Some(2), Some(3)));
        assert_eq!((c.service_tier, c.cache_hit), (None, None));
        assert_eq!(c.counts, vec![(INPUT, 4, "input_tokens".into()), (OUTPUT, 5, "output_tokens".into())]);
    }

    #[test]
    fn names_given_must_exist_and_are_not_read_as_counts() {
        let names = ["m", "when", "input_tokens", "output_tokens", "vendor"];
        let given = ColumnNames {
            model: "m".into(),
            timestamp: Some("when".into()),
            provider: Some("vendor".into()),
            ..ColumnNames::default()
        };
        let c = TableColumns::resolve(&names, &given, false).unwrap();
        assert_eq!((c.model, c.timestamp, c.provider), (0, Some(1), Some(4)));
        let missing = ColumnNames { region: Some("zone".into()), ..given.clone() };
        assert_eq!(
            err(&names, &missing, false),
            "no column \"zone\" (for region); the table has: m, when, input_tokens, output_tokens, vendor"
        );
        assert!(err(&names, &ColumnNames::default(), true).contains("no column \"model\" (for model)"));
    }

    #[test]
    fn no_timestamp_column_needs_default_at() {
        let names = ["model", "input_tokens"];
        // The default name, absent: allowed only with default_at.
        assert!(err(&names, &ColumnNames::default(), false)
            .contains("timestamp=\"<column>\", or, to price every row at one date, default_at="));
        assert_eq!(TableColumns::resolve(&names, &ColumnNames::default(), true).unwrap().timestamp, None);
        // A column that looks like a time is named in the hint, before default_at=.
        let message = err(&["model", "ts", "input_tokens"], &ColumnNames::default(), false);
        assert!(
            message.contains("the table has: model, ts, input_tokens; name it with timestamp=\"ts\", or"),
            "{message}"
        );
        // No timestamp column asked for: the same rule, even when the table has one.
        let none = ColumnNames { timestamp: None, ..ColumnNames::default() };
        assert!(err(&["model", "timestamp", "input_tokens"], &none, false).starts_with("timestamp=None:"));
        // Another name must exist.
        let other = ColumnNames { timestamp: Some("ts".into()), ..ColumnNames::default() };
        assert!(err(&names, &other, true).contains("no column \"ts\" (for timestamp)"));
    }
}
