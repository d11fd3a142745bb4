//! Key uniqueness inside one write.
//!
//! A MERGE whose source holds two rows with one key is ambiguous: Spark refuses it when the key
//! exists in the target, and inserts both when it does not, which leaves a duplicate key that
//! every later upsert carries along. lakeorm refuses such a write before any I/O, on every
//! engine, naming the key.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::row::{RowConverter, SortField};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use lakeorm_core::{Error, Result};

/// Checks that no two rows of `batches` (one write, in row order) share a value of the `keys`
/// columns.
pub(crate) fn check(table: &str, keys: &[String], batches: &[RecordBatch]) -> Result<()> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if total < 2 || keys.is_empty() {
        return Ok(());
    }
    let key_columns = |batch: &RecordBatch| {
        keys.iter()
            .map(|k| {
                batch.column_by_name(k).cloned().ok_or_else(|| {
                    Error::data_invalid(
                        format!("the rows written to `{table}`"),
                        format!("the key column `{k}` is missing"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()
    };
    let columns = batches
        .iter()
        .map(key_columns)
        .collect::<Result<Vec<_>>>()?;
    // One converter for every batch: rows it encodes compare equal across batches.
    let converter = RowConverter::new(
        columns[0]
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let rows = columns
        .iter()
        .map(|c| converter.convert_columns(c))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut seen = HashMap::with_capacity(total);
    let mut offset = 0;
    for (part, part_rows) in rows.iter().enumerate() {
        for (local, row) in part_rows.iter().enumerate() {
            let index = offset + local;
            if let Some(first) = seen.insert(row, index) {
                let options = FormatOptions::default().with_null("NULL");
                let value = columns[part]
                    .iter()
                    .zip(keys)
                    .map(|(column, name)| {
                        let shown = ArrayFormatter::try_new(column.as_ref(), &options)
                            .map(|f| f.value(local).to_string())
                            .unwrap_or_else(|_| "?".into());
                        format!("{name} = {shown}")
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Error::DuplicateKeyInWrite {
                    table: table.to_owned(),
                    keys: keys.to_vec(),
                    value,
                    rows: (first as u64, index as u64),
                });
            }
        }
        offset += part_rows.num_rows();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(ids: &[i64], regions: &[Option<&str>]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("region", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(StringArray::from(regions.to_vec())),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_repeated_compound_key_is_named_with_both_rows() {
        let keys = ["id".to_owned(), "region".to_owned()];
        let ok = batch(&[1, 1, 2], &[Some("eu"), Some("us"), None]);
        check("t", &keys, std::slice::from_ref(&ok)).unwrap();
        let bad = batch(&[1, 2, 1], &[Some("eu"), None, Some("eu")]);
        let e = check("t", &keys, std::slice::from_ref(&bad)).unwrap_err();
        match &e {
            Error::DuplicateKeyInWrite { value, rows, .. } => {
                assert_eq!(value, "id = 1, region = eu");
                assert_eq!(*rows, (0, 2));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.kind(), lakeorm_core::ErrorKind::DataInvalid);
        // Two NULL keys are one key, as MERGE's null-safe match treats them.
        let nulls = batch(&[5, 5], &[None, None]);
        assert!(check("t", &keys, &[nulls]).is_err());
    }

    #[test]
    fn a_key_repeated_across_the_batches_of_one_write_is_named_with_its_rows() {
        let keys = ["id".to_owned()];
        let parts = [batch(&[1, 2], &[None, None]), batch(&[3, 2], &[None, None])];
        match check("t", &keys, &parts).unwrap_err() {
            Error::DuplicateKeyInWrite { value, rows, .. } => {
                assert_eq!(value, "id = 2");
                assert_eq!(rows, (1, 3));
            }
            other => panic!("{other:?}"),
        }
        check("t", &keys, &[batch(&[1], &[None]), batch(&[2], &[None])]).unwrap();
    }
}
