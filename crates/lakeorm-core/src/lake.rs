//! The traits `#[derive(Lake)]` and `#[derive(Row)]` implement.

use arrow::array::{ArrayRef, RecordBatch};
use chrono::{DateTime, Utc};

use crate::Result;
use crate::column::ColumnValue;
use crate::encode::EncodeError;
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
        crate::decode::decode_batch(batch)
    }
}

/// A model: a struct that is the schema contract of one table.
///
/// Implemented by `#[derive(Lake)]`; see the derive's documentation for the attributes.
pub trait Lake: Row + Sync {
    /// Checks every rule of every field and returns all failures at once.
    fn validate(&self) -> Result<(), ValidationError>;

    /// Fills `auto` timestamp fields for a write happening at `now`: `create_time` fields that
    /// are unset, and every `update_time` field.
    fn stamp_auto(&mut self, now: DateTime<Utc>) {
        let _ = now;
    }

    /// The Arrow projection of `rows`: one column per field, in declaration order.
    fn to_record_batch(rows: &[Self]) -> Result<RecordBatch> {
        crate::encode::encode_rows(rows)
    }

    /// The projection of `rows` as the table stores them: [`to_record_batch`](Self::to_record_batch)
    /// plus the `_ingest_id` column stamped with `ingest_id`.
    fn to_table_batch(rows: &[Self], ingest_id: &IngestId) -> Result<RecordBatch> {
        crate::encode::with_ingest_id::<Self>(Self::to_record_batch(rows)?, ingest_id)
    }
}

/// The fingerprint of a model's schema; see [`LakeSchema::fingerprint`].
pub fn schema_fingerprint<T: Lake>() -> String {
    T::schema().fingerprint()
}
