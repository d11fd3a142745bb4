//! The write side of the Arrow projection: records → `RecordBatch`.
//!
//! The per-column work is done by each field's [`FieldCodec`](crate::codec::FieldCodec) through code the
//! derive generates; this module assembles batches and stamps the system column.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray};

use crate::Result;
use crate::ingest::IngestId;
use crate::lake::Row;

/// A value that cannot be represented in its column (a decimal with too many digits, a JSON
/// field that fails to serialize, a list too long for 32-bit offsets).
///
/// Boxed, so that the `Result` every appended value returns stays one pointer wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(Box<EncodeInner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct EncodeInner {
    path: Vec<String>,
    row: Option<usize>,
    message: String,
}

impl EncodeError {
    /// A new error about the value being encoded.
    pub fn new(message: impl Into<String>) -> Self {
        EncodeError(Box::new(EncodeInner {
            path: Vec::new(),
            row: None,
            message: message.into(),
        }))
    }

    /// Prefixes the column path (called by the enclosing struct, outermost last).
    pub fn in_column(mut self, column: &str) -> Self {
        self.0.path.insert(0, column.to_owned());
        self
    }

    /// Records the row index, unless a deeper level already did.
    pub fn at_row(mut self, row: usize) -> Self {
        self.0.row.get_or_insert(row);
        self
    }

    /// The dotted column path (`address.city`).
    pub fn column(&self) -> String {
        self.0.path.join(".")
    }

    /// The row index within the encoded slice.
    pub fn row(&self) -> Option<usize> {
        self.0.row
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lakeorm: cannot encode column `{}`", self.column())?;
        if let Some(row) = self.0.row {
            write!(f, " (row {row})")?;
        }
        write!(f, ": {}", self.0.message)
    }
}

impl std::error::Error for EncodeError {}

/// Encodes `rows` into a batch of the model's own columns (the implementation behind
/// [`Lake::to_record_batch`](crate::Lake::to_record_batch)).
pub fn encode_rows<T: Row>(rows: &[T]) -> Result<RecordBatch> {
    let schema = T::schema();
    let mut builder = T::builder(schema.row_type(), rows.len());
    for (index, row) in rows.iter().enumerate() {
        row.append(&mut builder).map_err(|e| e.at_row(index))?;
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
