//! The read side of the Arrow projection: `RecordBatch` → typed structs.
//!
//! Columns are bound by name once per batch (exact match first, then a unique case-insensitive
//! one, since engines fold unquoted aliases), extra columns are ignored, and leaf arrays of a
//! compatible type (an `Int32` for an `i64` field, a string view for a `String`) are accepted.
//! Everything else is a [`DecodeError`] that names the column, and the row for values.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;

use crate::Result;
use crate::lake::Row;

/// What went wrong while decoding.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The batch has no column of that name.
    MissingColumn {
        /// The columns the batch does have.
        available: Vec<String>,
    },
    /// The column's Arrow type cannot become the field's type.
    TypeMismatch {
        /// The type the field needs.
        expected: String,
        /// The type the batch holds.
        found: DataType,
    },
    /// A NULL for a field that is not an `Option`.
    Null,
    /// A value that does not fit the field (out of range, malformed UUID, bad JSON…).
    InvalidValue(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    path: Vec<String>,
    row: Option<usize>,
    kind: DecodeErrorKind,
}

/// A batch could not be decoded into the requested type.
///
/// Boxed, so that the `Result` of the per-value hot path stays one pointer wide.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError(Box<Inner>);

impl DecodeError {
    fn new(kind: DecodeErrorKind) -> Self {
        DecodeError(Box::new(Inner {
            path: Vec::new(),
            row: None,
            kind,
        }))
    }

    /// The column is absent from the batch.
    pub fn missing_column(available: Vec<String>) -> Self {
        Self::new(DecodeErrorKind::MissingColumn { available })
    }

    /// The column's type does not fit.
    pub fn type_mismatch(expected: impl Into<String>, found: &DataType) -> Self {
        Self::new(DecodeErrorKind::TypeMismatch {
            expected: expected.into(),
            found: found.clone(),
        })
    }

    /// A NULL at `row` for a non-`Option` field.
    pub fn null(row: usize) -> Self {
        Self::new(DecodeErrorKind::Null).at_row(row)
    }

    /// A value at `row` that does not fit the field.
    pub fn invalid(row: usize, message: impl Into<String>) -> Self {
        Self::new(DecodeErrorKind::InvalidValue(message.into())).at_row(row)
    }

    /// Prefixes the column path (called by the enclosing struct).
    pub fn in_column(mut self, column: &str) -> Self {
        self.0.path.insert(0, column.to_owned());
        self
    }

    /// Re-anchors an error raised inside a list's values at the list's own row.
    pub fn in_list(mut self, row: usize) -> Self {
        self.0.path.insert(0, "[]".to_owned());
        self.0.row = Some(row);
        self
    }

    fn at_row(mut self, row: usize) -> Self {
        self.0.row = Some(row);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.0.kind
    }

    /// The dotted column path, e.g. `address.city`; list values show as `tags.[]`.
    pub fn column(&self) -> String {
        self.0.path.join(".")
    }

    /// The row within the batch, for value errors.
    pub fn row(&self) -> Option<usize> {
        self.0.row
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lakeorm: cannot decode column `{}`", self.column())?;
        if let Some(row) = self.0.row {
            write!(f, " at row {row}")?;
        }
        match &self.0.kind {
            DecodeErrorKind::MissingColumn { available } => write!(
                f,
                ": the result has no such column (it has: {}); select it or alias it in SQL",
                available.join(", ")
            ),
            DecodeErrorKind::TypeMismatch { expected, found } => {
                write!(f, ": expected {expected}, found Arrow type {found}")
            }
            DecodeErrorKind::Null => f.write_str(
                ": NULL in a field that is not an Option; make the field Option<_> or filter NULLs in SQL",
            ),
            DecodeErrorKind::InvalidValue(message) => write!(f, ": {message}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes every row of `batch` into `T` (the implementation behind
/// [`Row::from_record_batch`]).
pub fn decode_batch<T: Row>(batch: &RecordBatch) -> Result<Vec<T>> {
    let array: ArrayRef = Arc::new(StructArray::from(batch.clone()));
    let reader = T::reader(&array, T::schema().row_type())?;
    let mut rows = Vec::new();
    T::read_into(&reader, 0..batch.num_rows(), &mut rows)?;
    Ok(rows)
}

/// Finds the child column `name` of a struct (or batch) array: the exact name first, then a
/// unique case-insensitive match.
pub fn bind_child<'a>(
    parent: &'a StructArray,
    name: &str,
) -> std::result::Result<&'a ArrayRef, DecodeError> {
    if let Some(column) = parent.column_by_name(name) {
        return Ok(column);
    }
    let fields = parent.fields();
    let mut found = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name().eq_ignore_ascii_case(name));
    match (found.next(), found.next()) {
        (Some((index, _)), None) => Ok(parent.column(index)),
        _ => Err(
            DecodeError::missing_column(fields.iter().map(|f| f.name().clone()).collect())
                .in_column(name),
        ),
    }
}

/// Downcasts a struct column (a helper for generated readers).
pub fn as_struct<'a>(
    array: &'a ArrayRef,
    expected: &str,
) -> std::result::Result<&'a StructArray, DecodeError> {
    array
        .as_any()
        .downcast_ref::<StructArray>()
        .ok_or_else(|| DecodeError::type_mismatch(expected, array.data_type()))
}

/// Which leaf types may be converted into which: the same family only, so that a string never
/// silently becomes a number.
fn compatible(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let int = |t: &DataType| t.is_integer();
    let float = |t: &DataType| t.is_floating();
    let decimal = |t: &DataType| {
        matches!(
            t,
            Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..)
        )
    };
    match (from, to) {
        (Null, _) => true,
        (a, b) if int(a) && int(b) => true,
        (a, b) if (int(a) || float(a) || decimal(a)) && float(b) => true,
        (a, b) if (int(a) || decimal(a)) && decimal(b) => true,
        (Timestamp(..), Timestamp(..)) => true,
        (Date32 | Date64 | Timestamp(..), Date32) => true,
        (Dictionary(_, value), to) => compatible(value, to) || value.as_ref() == to,
        _ => false,
    }
}

/// Returns `array` as `target`, converting within a type family; out-of-range values are an
/// error, never a silent wrap or NULL.
pub fn coerce(
    array: &ArrayRef,
    target: &DataType,
    expected: &str,
) -> std::result::Result<ArrayRef, DecodeError> {
    if array.data_type() == target {
        return Ok(Arc::clone(array));
    }
    if !compatible(array.data_type(), target) {
        return Err(DecodeError::type_mismatch(expected, array.data_type()));
    }
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(array, target, &options).map_err(|e| {
        DecodeError::new(DecodeErrorKind::InvalidValue(format!(
            "cannot convert {} to {expected}: {e}",
            array.data_type()
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    #[test]
    fn binds_case_insensitively_and_reports_missing() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "TotalOrders",
            DataType::Int64,
            false,
        )]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
        let parent = StructArray::from(batch);
        assert!(bind_child(&parent, "totalorders").is_ok());
        let err = bind_child(&parent, "email").unwrap_err();
        assert_eq!(err.column(), "email");
        assert!(err.to_string().contains("it has: TotalOrders"));
    }

    #[test]
    fn coerces_within_families_only() {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let wide = coerce(&ints, &DataType::Int64, "i64").unwrap();
        assert_eq!(wide.data_type(), &DataType::Int64);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["1"]));
        let err = coerce(&text, &DataType::Int64, "i64").unwrap_err();
        assert!(matches!(err.kind(), DecodeErrorKind::TypeMismatch { .. }));
        let big: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX]));
        assert!(coerce(&big, &DataType::Int32, "i32").is_err());
    }
}
