//! What can go wrong converting values between Rust, Arrow and JSON — [`EncodeError`],
//! [`DecodeError`], [`JsonError`] — and [`coerce`], the one conversion between Arrow types the
//! decoder allows.
//!
//! A leaf: the column codecs, the batch functions beside the `Lake` trait and the crate's
//! [`Error`](crate::Error) all build on it, and it builds on none of them.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;
use serde_json::Value;

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
            DecodeErrorKind::MissingColumn { available } => {
                // A wide result would make the message as long as its schema.
                const SHOWN: usize = 32;
                let mut names = available
                    .iter()
                    .take(SHOWN)
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                if available.len() > SHOWN {
                    names.push_str(&format!(", … and {} more", available.len() - SHOWN));
                }
                write!(
                    f,
                    ": the result has no such column (it has: {names}); select it or alias it in SQL"
                )
            }
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

/// A JSON document that does not fit the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    model: Option<&'static str>,
    path: Vec<String>,
    message: String,
}

impl JsonError {
    /// An error about the value at the current position.
    pub fn new(message: impl Into<String>) -> Self {
        JsonError {
            model: None,
            path: Vec::new(),
            message: message.into(),
        }
    }

    /// Prefixes the field path (called by the enclosing object or array).
    pub fn in_field(mut self, field: &str) -> Self {
        self.path.insert(0, field.to_owned());
        self
    }

    /// Names the model the document was decoded into.
    pub fn for_model(mut self, model: &'static str) -> Self {
        self.model = Some(model);
        self
    }

    /// The dotted path of the offending field (`address.city`, `tags.[2]`); empty for the
    /// document itself.
    pub fn path(&self) -> String {
        self.path.join(".")
    }

    /// What was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("lakeorm: invalid JSON")?;
        if let Some(model) = self.model {
            write!(f, " for `{model}`")?;
        }
        if !self.path.is_empty() {
            write!(f, " at field `{}`", self.path())?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for JsonError {}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The error for a JSON value of the wrong kind.
pub(crate) fn json_expected(expected: &str, found: &Value) -> JsonError {
    JsonError::new(format!("expected {expected}, found {}", json_kind(found)))
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
pub(crate) fn coerce(
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
