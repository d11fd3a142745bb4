//! The traits `#[derive(Lake)]` and `#[derive(Row)]` implement, and the functions over slices
//! of records and whole batches built on them: encoding, stamping, decoding and validation.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray, StructArray};
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

fn encode_with<T: Row>(
    rows: &[T],
    append: impl Fn(&T, &mut T::Builder) -> Result<(), EncodeError>,
) -> Result<RecordBatch> {
    let schema = T::schema();
    let mut builder = T::builder(schema.row_type(), rows.len());
    for (index, row) in rows.iter().enumerate() {
        append(row, &mut builder).map_err(|e| e.at_row(index))?;
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
    let id = ingest_id.to_string();
    let ids: ArrayRef = Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
        id.as_str(),
        batch.num_rows(),
    )));
    let mut columns = batch.columns().to_vec();
    columns.push(ids);
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        T::schema().table_arrow_schema().clone(),
        columns,
        &options,
    )?)
}

/// Validates every record and reports the failures of all of them, each tagged with its index.
pub fn validate<T: Lake>(records: &[T]) -> Result<(), ValidationError> {
    let mut all = Vec::new();
    for (row, record) in records.iter().enumerate() {
        if let Err(e) = record.validate() {
            all.extend(e.into_errors().into_iter().map(|mut fe| {
                fe.row = Some(row);
                fe
            }));
        }
    }
    ValidationError::new(T::schema().type_name(), all).into_result()
}

/// The fingerprint of a model's schema; see [`LakeSchema::fingerprint`].
pub fn schema_fingerprint<T: Lake>() -> String {
    T::schema().fingerprint()
}
