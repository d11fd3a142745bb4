//! What the embedded engine does with a model's layout: rows sorted before they are written,
//! and Parquet bloom filters on the indexed columns.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{SortColumn, SortOptions, concat_batches, lexsort_to_indices};
use datafusion::parquet::file::properties::WriterPropertiesBuilder;
use datafusion::parquet::schema::types::ColumnPath;
use lakeorm_core::{Error, Result};

use crate::ROW_GROUP_ROWS;

/// The false-positive rate of the bloom filters lakeorm writes.
const BLOOM_FILTER_FPP: f64 = 0.01;

/// The order lakeorm sorts by: Iceberg's default sort order, Spark's `ORDER BY`.
const ASCENDING_NULLS_FIRST: SortOptions = SortOptions {
    descending: false,
    nulls_first: true,
};

/// `batches` as one batch sorted by `columns` ([`ASCENDING_NULLS_FIRST`]), or unchanged when there is nothing to sort by.
/// Columns the batches lack are skipped (a merge source of key columns only).
pub(crate) fn sorted(batches: Vec<RecordBatch>, columns: &[String]) -> Result<Vec<RecordBatch>> {
    let fail = |e| Error::engine(crate::errors::ENGINE, "sorting rows for writing", false, e);
    let Some((batch, present)) = concatenated(&batches, columns).map_err(fail)? else {
        return Ok(batches);
    };
    let keys: Vec<SortColumn> = present
        .iter()
        .map(|&i| SortColumn {
            values: batch.column(i).clone(),
            options: Some(ASCENDING_NULLS_FIRST),
        })
        .collect();
    let order = lexsort_to_indices(&keys, None).map_err(fail)?;
    let sorted = datafusion::arrow::compute::take_record_batch(&batch, &order).map_err(fail)?;
    Ok(chunks(&sorted))
}

/// `batches` as one batch, with the indexes of those of `columns` it has; `None` when it has
/// none of them (or no rows), so there is nothing to order by.
fn concatenated(
    batches: &[RecordBatch],
    columns: &[String],
) -> std::result::Result<Option<(RecordBatch, Vec<usize>)>, datafusion::arrow::error::ArrowError> {
    let Some(first) = batches.first() else {
        return Ok(None);
    };
    let schema = first.schema();
    let present: Vec<usize> = columns
        .iter()
        .filter_map(|c| schema.index_of(c).ok())
        .collect();
    if present.is_empty() {
        return Ok(None);
    }
    Ok(Some((concat_batches(&schema, batches)?, present)))
}

/// Rows per batch handed to a writer after sorting: writers roll files between batches, so
/// one sorted batch of a whole write would make one file whatever the target size.
const WRITE_BATCH_ROWS: usize = 8192;

/// `batch` cut (without copying) into [`WRITE_BATCH_ROWS`]-row batches.
fn chunks(batch: &RecordBatch) -> Vec<RecordBatch> {
    (0..batch.num_rows())
        .step_by(WRITE_BATCH_ROWS)
        .map(|offset| batch.slice(offset, WRITE_BATCH_ROWS.min(batch.num_rows() - offset)))
        .collect()
}

/// Bytes of each column's order-preserving encoding that a Z-order key interleaves.
const ZORDER_KEY_BYTES: usize = 16;

/// `batches` as one batch in the Z-order of `columns`: rows close in every column end up
/// close together, so each file's min/max ranges on those columns stay narrow.
///
/// Written here because delta-rs keeps its Z-order kernel private to its optimize. The same
/// construction: each column in Arrow's order-preserving row encoding, the first
/// [`ZORDER_KEY_BYTES`] of each interleaved bit by bit, rows sorted by the interleaved key.
pub(crate) fn zorder_sorted(
    batches: Vec<RecordBatch>,
    columns: &[String],
) -> Result<Vec<RecordBatch>> {
    use datafusion::arrow::array::BinaryArray;
    use datafusion::arrow::row::{RowConverter, SortField};

    let fail = |e| Error::engine(crate::errors::ENGINE, "Z-ordering rows", false, e);
    let Some((batch, present)) = concatenated(&batches, columns).map_err(fail)? else {
        return Ok(batches);
    };
    let schema = batch.schema();
    let mut encoded = Vec::with_capacity(present.len());
    for &i in &present {
        let converter = RowConverter::new(vec![SortField::new_with_options(
            schema.field(i).data_type().clone(),
            ASCENDING_NULLS_FIRST,
        )])
        .map_err(fail)?;
        encoded.push(
            converter
                .convert_columns(std::slice::from_ref(batch.column(i)))
                .map_err(fail)?,
        );
    }
    let width = ZORDER_KEY_BYTES * present.len();
    let keys: Vec<Vec<u8>> = (0..batch.num_rows())
        .map(|row| {
            let mut key = vec![0u8; width];
            for bit in 0..ZORDER_KEY_BYTES * 8 {
                for (c, rows) in encoded.iter().enumerate() {
                    let bytes = rows.row(row);
                    let bytes = bytes.as_ref();
                    let set = bytes
                        .get(bit / 8)
                        .is_some_and(|byte| byte & (0x80 >> (bit % 8)) != 0);
                    if set {
                        let out = bit * present.len() + c;
                        key[out / 8] |= 0x80 >> (out % 8);
                    }
                }
            }
            key
        })
        .collect();
    let keys = BinaryArray::from_iter_values(keys.iter());
    let order = lexsort_to_indices(
        &[SortColumn {
            values: std::sync::Arc::new(keys),
            options: None,
        }],
        None,
    )
    .map_err(fail)?;
    let sorted = datafusion::arrow::compute::take_record_batch(&batch, &order).map_err(fail)?;
    Ok(chunks(&sorted))
}

/// `builder` with a bloom filter on each of `columns`, sized for one row group.
pub(crate) fn with_bloom_filters(
    builder: WriterPropertiesBuilder,
    columns: &[String],
) -> WriterPropertiesBuilder {
    columns.iter().fold(builder, |b, column| {
        let path = ColumnPath::from(column.as_str());
        b.set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path.clone(), BLOOM_FILTER_FPP)
            .set_column_bloom_filter_ndv(path, ROW_GROUP_ROWS as u64)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn rows_are_sorted_across_batches_nulls_first() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, true),
            Field::new("v", DataType::Utf8, false),
        ]));
        let batch = |k: Vec<Option<i32>>, v: Vec<&str>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int32Array::from(k)),
                    Arc::new(StringArray::from(v)),
                ],
            )
            .unwrap()
        };
        let out = sorted(
            vec![
                batch(vec![Some(3), None], vec!["c", "n"]),
                batch(vec![Some(1), Some(2)], vec!["a", "b"]),
            ],
            &["k".to_owned(), "missing".to_owned()],
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        let v = out[0]
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(v.iter().flatten().collect::<Vec<_>>(), ["n", "a", "b", "c"]);
        let untouched = sorted(vec![batch(vec![Some(2)], vec!["x"])], &[]).unwrap();
        assert_eq!(untouched[0].num_rows(), 1);
    }

    /// On a grid of (x, y) in 0..4 × 0..4, Z-order visits each 2×2 quadrant whole before the
    /// next: the first four rows are the quadrant x < 2, y < 2.
    #[test]
    fn zorder_keeps_quadrants_together() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Int32, false),
            Field::new("y", DataType::Int32, false),
        ]));
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for x in (0..4).rev() {
            for y in 0..4 {
                xs.push(x);
                ys.push(y);
            }
        }
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(xs)),
                Arc::new(Int32Array::from(ys)),
            ],
        )
        .unwrap();
        let out = zorder_sorted(vec![batch], &["x".to_owned(), "y".to_owned()]).unwrap();
        let column = |i: usize| {
            out[0]
                .column(i)
                .as_any()
                .downcast_ref::<Int32Array>()
                .unwrap()
                .values()
                .to_vec()
        };
        let (x, y) = (column(0), column(1));
        for quadrant in 0..4 {
            let rows = quadrant * 4..quadrant * 4 + 4;
            let qx: Vec<i32> = rows.clone().map(|r| x[r] / 2).collect();
            let qy: Vec<i32> = rows.map(|r| y[r] / 2).collect();
            assert!(qx.iter().all(|v| *v == qx[0]), "{x:?}");
            assert!(qy.iter().all(|v| *v == qy[0]), "{y:?}");
        }
        assert_eq!((x[0], y[0]), (0, 0));
    }
}
