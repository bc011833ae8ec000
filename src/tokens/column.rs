//! Token counts of Arrow string columns (pyarrow, polars and pandas columns reach here as chunks): nulls stay
//! null, and a dictionary-encoded chunk (pandas categoricals, polars Categorical) counts each distinct value once.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, DictionaryArray, Int64Array};
use arrow_schema::DataType;

use crate::error::{Error, Result};
use crate::tokens::{Allowed, Tokenizer};

/// The strings of one chunk, borrowed from its Arrow buffers; a `Null` chunk is all nulls.
pub fn strings(array: &ArrayRef) -> Result<Vec<Option<&str>>> {
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

/// The counts of a column's chunks, in order, as one Int64 array (nulls stay null).
///
/// Plain chunks are counted as one batch, so that many small chunks still keep every core busy; when any chunk
/// is dictionary-encoded, each chunk is counted alone, its distinct values once.
pub fn count_chunks(
    tok: &Tokenizer,
    chunks: &[ArrayRef],
    allowed: Allowed<'_>,
    threads: Option<usize>,
) -> Result<Int64Array> {
    let rows = chunks.iter().map(|c| c.len()).sum();
    if chunks.iter().any(|c| matches!(c.data_type(), DataType::Dictionary(..))) {
        let mut all = Vec::with_capacity(rows);
        for chunk in chunks {
            all.extend(count_chunk(tok, chunk, allowed, threads)?);
        }
        return Ok(Int64Array::from(all));
    }
    let mut texts = Vec::with_capacity(rows);
    for chunk in chunks {
        texts.extend(strings(chunk)?);
    }
    Ok(Int64Array::from(as_i64(tok.count_batch(&texts, allowed, threads)?)))
}

fn as_i64(counts: Vec<Option<usize>>) -> Vec<Option<i64>> {
    counts.into_iter().map(|c| c.map(|n| n as i64)).collect()
}

fn count_chunk(
    tok: &Tokenizer,
    array: &ArrayRef,
    allowed: Allowed<'_>,
    threads: Option<usize>,
) -> Result<Vec<Option<i64>>> {
    let DataType::Dictionary(key, _) = array.data_type() else {
        return Ok(as_i64(tok.count_batch(&strings(array)?, allowed, threads)?));
    };
    match key.as_ref() {
        DataType::Int8 => count_dictionary::<Int8Type>(tok, array, allowed, threads),
        DataType::Int16 => count_dictionary::<Int16Type>(tok, array, allowed, threads),
        DataType::Int32 => count_dictionary::<Int32Type>(tok, array, allowed, threads),
        DataType::Int64 => count_dictionary::<Int64Type>(tok, array, allowed, threads),
        DataType::UInt8 => count_dictionary::<UInt8Type>(tok, array, allowed, threads),
        DataType::UInt16 => count_dictionary::<UInt16Type>(tok, array, allowed, threads),
        DataType::UInt32 => count_dictionary::<UInt32Type>(tok, array, allowed, threads),
        DataType::UInt64 => count_dictionary::<UInt64Type>(tok, array, allowed, threads),
        other => Err(Error::InvalidArgument(format!("dictionary keys of type {other} are not supported"))),
    }
}

/// Each distinct value counted once, then mapped through the keys.
fn count_dictionary<K: ArrowDictionaryKeyType>(
    tok: &Tokenizer,
    array: &ArrayRef,
    allowed: Allowed<'_>,
    threads: Option<usize>,
) -> Result<Vec<Option<i64>>> {
    let dict: &DictionaryArray<K> = array.as_dictionary::<K>();
    let value_counts = tok.count_batch(&strings(dict.values())?, allowed, threads)?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{DictionaryArray, Int64Array, LargeStringArray, NullArray, StringArray, UInt8Array};

    use super::*;
    use crate::tokens::get_encoding;

    fn tokenizer() -> Tokenizer {
        Tokenizer::Bpe(get_encoding("o200k_base").unwrap())
    }

    fn count(tok: &Tokenizer, text: &str) -> i64 {
        tok.count(text, Allowed::None, Some(1)).unwrap() as i64
    }

    #[test]
    fn plain_chunks_count_in_order_and_nulls_stay_null() {
        let tok = tokenizer();
        let chunks: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some("hello world"), None])),
            Arc::new(LargeStringArray::from(vec!["a longer sentence, with punctuation."])),
            Arc::new(NullArray::new(2)),
        ];
        let got = count_chunks(&tok, &chunks, Allowed::None, None).unwrap();
        let want = Int64Array::from(vec![
            Some(count(&tok, "hello world")),
            None,
            Some(count(&tok, "a longer sentence, with punctuation.")),
            None,
            None,
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn dictionary_chunks_map_each_key_to_its_value_count() {
        let tok = tokenizer();
        let values: ArrayRef = Arc::new(StringArray::from(vec!["one two", "three"]));
        let keys = UInt8Array::from(vec![Some(1), None, Some(0), Some(1)]);
        let dict: ArrayRef = Arc::new(DictionaryArray::try_new(keys, values).unwrap());
        // A dictionary chunk next to a plain one: each counted alone, still in order.
        let chunks = vec![dict, Arc::new(StringArray::from(vec!["three"])) as ArrayRef];
        let got = count_chunks(&tok, &chunks, Allowed::None, Some(2)).unwrap();
        let (two, three) = (count(&tok, "one two"), count(&tok, "three"));
        assert_eq!(got, Int64Array::from(vec![Some(three), None, Some(two), Some(three), Some(three)]));
    }

    #[test]
    fn a_column_of_numbers_is_refused_by_its_type() {
        let chunks: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![1]))];
        let err = count_chunks(&tokenizer(), &chunks, Allowed::None, None).unwrap_err();
        assert!(err.to_string().contains("holds Int64"), "{err}");
    }
}
