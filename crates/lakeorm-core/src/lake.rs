//! The traits `#[derive(Lake)]` and `#[derive(Row)]` implement, and the functions over slices
//! of records and whole batches built on them: encoding, stamping, decoding and validation.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray, StructArray};
use arrow::buffer::{Buffer, OffsetBuffer};
use arrow::error::ArrowError;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::column::ColumnValue;
use crate::convert::EncodeError;
use crate::ingest::IngestId;
use crate::schema::LakeSchema;
use crate::validate::ValidationError;

/// A struct that can be decoded from Arrow: a query shape.
///
/// `#[derive(Row)]` implements it for projection structs (the result of a join or an aggregate);
/// `#[derive(Lake)]` implements it for models too. Columns bind by name, extra columns are
/// ignored.
pub trait Row: ColumnValue + Send + 'static {
    /// The struct's columns (for a `Row`, the table name is unused).
    fn schema() -> &'static LakeSchema;

    /// Splits a finished struct builder into its columns (used by
    /// [`Lake::to_record_batch`]).
    #[doc(hidden)]
    fn finish_columns(builder: &mut Self::Builder) -> Result<Vec<ArrayRef>, EncodeError>;

    /// Decodes every row of `batch`.
    ///
    /// A missing column, a column of an incompatible type, or a NULL in a field that is not an
    /// `Option` is an error naming the column (and the row, for NULLs).
    fn from_record_batch(batch: &RecordBatch) -> Result<Vec<Self>> {
        decode_batch(batch)
    }
}

/// A model: a struct that is the schema contract of one table.
///
/// Implemented by `#[derive(Lake)]`; see the derive's documentation for the attributes.
pub trait Lake: Row + Sync {
    /// Checks every rule of every field and returns all failures at once.
    fn validate(&self) -> Result<(), ValidationError>;

    /// Appends `self` as a write at `now` stores it: `create_time` fields that are unset and
    /// every `update_time` field take `now`; the record itself is not changed. Generated for
    /// models with `auto` fields; see [`encode_stamped`].
    #[doc(hidden)]
    fn append_stamped(
        &self,
        builder: &mut Self::Builder,
        now: DateTime<Utc>,
    ) -> Result<(), EncodeError> {
        let _ = now;
        self.append(builder)
    }

    /// The Arrow projection of `rows`: one column per field, in declaration order.
    fn to_record_batch(rows: &[Self]) -> Result<RecordBatch> {
        encode_rows(rows)
    }

    /// The projection of `rows` as the table stores them: [`to_record_batch`](Self::to_record_batch)
    /// plus the `_ingest_id` column stamped with `ingest_id`.
    fn to_table_batch(rows: &[Self], ingest_id: &IngestId) -> Result<RecordBatch> {
        with_ingest_id::<Self>(Self::to_record_batch(rows)?, ingest_id)
    }

    /// What a write of `rows` at `now` under `ingest_id` sends to the table:
    /// [`to_table_batch`](Self::to_table_batch) with the `auto` fields stamped (`create_time`
    /// fields that are unset, every `update_time` field). The records themselves are not
    /// changed.
    fn to_write_batch(
        rows: &[Self],
        ingest_id: &IngestId,
        now: DateTime<Utc>,
    ) -> Result<RecordBatch> {
        with_ingest_id::<Self>(encode_stamped(rows, now)?, ingest_id)
    }
}

/// Decodes every row of `batch` into `T` (the implementation behind
/// [`Row::from_record_batch`]).
pub fn decode_batch<T: Row>(batch: &RecordBatch) -> Result<Vec<T>> {
    let array: ArrayRef = Arc::new(StructArray::from(batch.clone()));
    let reader = T::reader(&array, T::schema().row_type())?;
    let mut rows = Vec::new();
    T::read_into(&reader, 0..batch.num_rows(), &mut rows)?;
    Ok(rows)
}

/// Encodes `rows` into a batch of the model's own columns (the implementation behind
/// [`Lake::to_record_batch`]).
pub fn encode_rows<T: Row>(rows: &[T]) -> Result<RecordBatch> {
    encode_with(rows, T::append)
}

/// Encodes `rows` as a write at `now` stores them, `auto` fields stamped, without copying or
/// changing the records (the stamped value goes straight into its column).
pub fn encode_stamped<T: Lake>(rows: &[T], now: DateTime<Utc>) -> Result<RecordBatch> {
    encode_with(rows, |row, builder| row.append_stamped(builder, now))
}

/// The batches a write of `rows` at `now` under `ingest_id` sends to the table: what
/// [`Lake::to_write_batch`] makes, in one batch per core for large slices (encoded in
/// parallel, in row order), so that no core waits while the others encode and nothing is
/// copied to join them.
pub fn encode_write_batches<T: Lake>(
    rows: &[T],
    ingest_id: &IngestId,
    now: DateTime<Utc>,
) -> Result<Vec<RecordBatch>> {
    in_shares(rows, |offset, share| {
        let batch = encode_at(share, offset, |row, builder| {
            row.append_stamped(builder, now)
        })?;
        with_ingest_id::<T>(batch, ingest_id)
    })
    .into_iter()
    .collect()
}

fn encode_with<T: Row>(
    rows: &[T],
    append: impl Fn(&T, &mut T::Builder) -> Result<(), EncodeError>,
) -> Result<RecordBatch> {
    encode_at(rows, 0, append)
}

/// Encodes `rows`, the first of which is row `offset` of the write (for error messages).
fn encode_at<T: Row>(
    rows: &[T],
    offset: usize,
    append: impl Fn(&T, &mut T::Builder) -> Result<(), EncodeError>,
) -> Result<RecordBatch> {
    let schema = T::schema();
    let mut builder = T::builder(schema.row_type(), rows.len());
    for (index, row) in rows.iter().enumerate() {
        append(row, &mut builder).map_err(|e| e.at_row(offset + index))?;
    }
    let columns = T::finish_columns(&mut builder)?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(
        schema.arrow_schema().clone(),
        columns,
        &options,
    )?)
}

/// Appends the [`INGEST_ID_COLUMN`](crate::schema::INGEST_ID_COLUMN), every row stamped with
/// `ingest_id`, to a batch of the model's columns.
pub fn with_ingest_id<T: Row>(batch: RecordBatch, ingest_id: &IngestId) -> Result<RecordBatch> {
    let ids: ArrayRef = Arc::new(repeated(&ingest_id.to_string(), batch.num_rows())?);
    let mut columns = batch.columns().to_vec();
    columns.push(ids);
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        T::schema().table_arrow_schema().clone(),
        columns,
        &options,
    )?)
}

/// `value` in each of `rows` rows, its buffers allocated once at their final size (a
/// builder would grow the values by doubling, copying a 1M-row column's 36 MB several times).
fn repeated(value: &str, rows: usize) -> Result<StringArray, ArrowError> {
    // A `Utf8` column's offsets are `i32`: past that, a typed error rather than a panic.
    if value
        .len()
        .checked_mul(rows)
        .is_none_or(|bytes| bytes > i32::MAX as usize)
    {
        return Err(ArrowError::InvalidArgumentError(format!(
            "{rows} rows of a {}-byte string exceed a Utf8 column's 2 GiB; write them in smaller batches",
            value.len()
        )));
    }
    let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(value.len(), rows));
    let values = Buffer::from(value.repeat(rows).into_bytes());
    Ok(StringArray::new(offsets, values, None))
}

/// Validates every record and reports the failures of all of them, each tagged with its index.
///
/// Large slices are checked on every core, a contiguous share each; the failures come back in
/// row order whatever the split.
pub fn validate<T: Lake>(records: &[T]) -> Result<(), ValidationError> {
    let all = in_shares(records, |offset, share| {
        let mut failures = Vec::new();
        for (row, record) in share.iter().enumerate() {
            if let Err(e) = record.validate() {
                failures.extend(e.into_errors().into_iter().map(|mut fe| {
                    fe.row = Some(offset + row);
                    fe
                }));
            }
        }
        failures
    })
    .into_iter()
    .flatten()
    .collect();
    ValidationError::new(T::schema().type_name(), all).into_result()
}

/// Rows below which a slice is worked on by the calling thread alone: a thread costs tens of
/// microseconds to start, which a few thousand rows do not repay.
const ROWS_PER_SHARE: usize = 32 * 1024;

/// `work` on contiguous shares of `rows` (given each share's offset), one per core on
/// scoped threads, results in row order. A Client's write is CPU-bound here (validation,
/// encoding) and its records are borrowed, hence scoped threads rather than the async
/// runtime's blocking pool, which needs `'static` work.
pub(crate) fn in_shares<T: Sync, R: Send>(
    rows: &[T],
    work: impl Fn(usize, &[T]) -> R + Sync,
) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shares = (rows.len() / ROWS_PER_SHARE).clamp(1, cores);
    if shares == 1 {
        return vec![work(0, rows)];
    }
    let size = rows.len().div_ceil(shares);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(size)
            .enumerate()
            .map(|(i, share)| scope.spawn(move || work(i * size, share)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The fingerprint of a model's schema; see [`LakeSchema::fingerprint`].
pub fn schema_fingerprint<T: Lake>() -> String {
    T::schema().fingerprint()
}

#[cfg(test)]
mod tests {
    use super::{in_shares, repeated};

    #[test]
    fn shares_cover_every_row_once_in_order() {
        let rows: Vec<usize> = (0..100_003).collect();
        let shares = in_shares(&rows, |offset, share| {
            assert!(share.iter().enumerate().all(|(i, r)| *r == offset + i));
            share.to_vec()
        });
        assert_eq!(shares.concat(), rows);
        assert_eq!(in_shares(&rows[..10], |_, s| s.len()), vec![10]);
        assert_eq!(in_shares(&[] as &[usize], |_, s| s.len()), vec![0]);
    }

    #[test]
    fn a_repeated_string_column_holds_the_value_in_every_row() {
        let column = repeated("0193-ab", 3).unwrap();
        assert_eq!(column.iter().collect::<Vec<_>>(), vec![Some("0193-ab"); 3]);
        assert_eq!(repeated("x", 0).unwrap().iter().count(), 0);
    }

    #[test]
    fn a_repeated_string_past_the_offset_range_is_an_error_not_a_panic() {
        let error = repeated(&"x".repeat(36), 60_000_000).unwrap_err();
        assert!(error.to_string().contains("smaller batches"), "{error}");
    }
}
