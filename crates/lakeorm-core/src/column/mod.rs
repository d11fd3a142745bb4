//! How one Rust type becomes an Arrow column and back.
//!
//! [`ColumnValue`] is implemented for every supported field type; the derive composes them, so
//! which types a model may hold, and how nullable each column is, is decided by the type system
//! rather than by reading type names. A field of an unsupported type fails to compile with a
//! message listing the supported ones.
//!
//! Builders and readers are concrete per type, so the generated projection and decoder compile
//! to the same loops one would write by hand against arrow's builders.

use std::ops::Range;

use arrow::array::{Array, ArrayRef};
use arrow::buffer::NullBuffer;
use serde_json::Value;

use crate::convert::{DecodeError, EncodeError, JsonError, json_expected};
use crate::schema::{ColumnType, LakeType};

mod binary;
mod decimal;
mod ids;
mod list;
mod option;
mod primitive;
mod structs;
mod temporal;

pub(crate) use binary::{BinaryReader, StringReader};
pub(crate) use decimal::DecimalBuilder;
pub(crate) use primitive::PrimitiveReader;
pub use structs::{as_struct, bind_child};

/// Field-level facts that refine a type's column (from attributes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeHint {
    /// `#[lake(decimal(P, S))]`.
    pub decimal: Option<(u8, i8)>,
    /// `#[lake(nullable)]`, or an `Option` field stored as JSON.
    pub nullable: bool,
}

impl TypeHint {
    /// No refinements.
    pub const NONE: TypeHint = TypeHint {
        decimal: None,
        nullable: false,
    };
}

/// Accumulates one column of values.
pub trait ColumnBuilder: Send {
    /// Appends a NULL.
    fn append_null(&mut self);
    /// Takes the values appended so far as an array and resets the builder.
    fn finish(&mut self) -> Result<ArrayRef, EncodeError>;
}

/// Reads values of one column by row index.
pub trait ColumnReader {
    /// Whether the value at `row` is NULL.
    fn is_null(&self, row: usize) -> bool;
}

/// A Rust type that can be stored in a lake column.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a supported lakeorm column type",
    label = "unsupported column type",
    note = "supported: bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, String, Vec<u8>, \
            chrono::DateTime<Utc>, chrono::NaiveDateTime, chrono::NaiveDate, uuid::Uuid, \
            rust_decimal::Decimal (with #[lake(decimal(P, S))]), lakeorm::SortableId, Option<T> and \
            Vec<T> of these, and structs that derive Lake or Row",
    note = "any serde type can be stored as JSON text with #[lake(json)]"
)]
pub trait ColumnValue: Sized {
    /// The builder that accumulates a column of `Self`.
    type Builder: ColumnBuilder;
    /// The reader that extracts `Self` from a column.
    type Reader: ColumnReader;

    /// Whether the column needs a precision and scale from `#[lake(decimal(P, S))]`. The derive
    /// turns a field of such a type without the attribute into a compile error, however the
    /// type is spelled (an alias, an `Option` or a `Vec` of it).
    const NEEDS_PRECISION: bool = false;

    /// The column's logical type and nullability.
    fn column_type(hint: &TypeHint) -> ColumnType;

    /// A builder for a column of `ty` (the non-null type from [`column_type`](Self::column_type)).
    fn builder(ty: &LakeType, capacity: usize) -> Self::Builder;

    /// Appends `self` to the column.
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError>;

    /// Binds a reader to `array`, converting compatible types once for the whole column.
    fn reader(array: &ArrayRef, ty: &LakeType) -> Result<Self::Reader, DecodeError>;

    /// Reads the value at `row`; NULL is an error unless `Self` is an `Option`.
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError>;

    /// Appends the values of `rows` to `out`, stopping at the first error.
    ///
    /// The decoder's loop. Derived structs override it to read each field into a local and
    /// write the row straight into `out`.
    #[inline]
    fn read_into(
        reader: &Self::Reader,
        rows: Range<usize>,
        out: &mut Vec<Self>,
    ) -> Result<(), DecodeError> {
        out.reserve(rows.len());
        for row in rows {
            push_reserved(out, Self::read(reader, row)?);
        }
        Ok(())
    }

    /// Converts a JSON value strictly (no coercion between strings and numbers).
    fn from_json(value: &Value) -> Result<Self, JsonError>;
}

/// Pushes `value` onto `out`, whose capacity the caller has reserved (decoder loops reserve every
/// row up front).
///
/// A plain `push` keeps a call that may unwind (growing the vector) between building a row and
/// storing it, so the compiler assembles the row on the stack and copies it: measured at 10–15 %
/// of the decode time of a six-field row. Pushing only while `len < capacity`, with the growth
/// out of line on the other branch, lets it store each field straight into the vector.
#[inline(always)]
pub fn push_reserved<T>(out: &mut Vec<T>, value: T) {
    if out.len() < out.capacity() {
        out.push(value);
    } else {
        push_cold(out, value);
    }
}

#[cold]
#[inline(never)]
fn push_cold<T>(out: &mut Vec<T>, value: T) {
    out.push(value);
}

/// Types that may be elements of a list column: every [`ColumnValue`] except `u8`, since
/// `Vec<u8>` is a binary column.
pub trait ListElement: ColumnValue {}

/// The null buffer of `array`, or `None` when it has no nulls (so readers skip the check).
pub fn nulls_of(array: &dyn Array) -> Option<NullBuffer> {
    array.logical_nulls().filter(|n| n.null_count() > 0)
}

#[inline]
pub(super) fn is_null_at(nulls: &Option<NullBuffer>, row: usize) -> bool {
    nulls.as_ref().is_some_and(|n| n.is_null(row))
}

/// Parses a JSON string with `parse`, naming `what` was expected when it fails.
fn parse_json_text<T>(
    value: &Value,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, JsonError> {
    let text = value.as_str().ok_or_else(|| json_expected(what, value))?;
    parse(text).ok_or_else(|| JsonError::new(format!("expected {what}, found `{text}`")))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, NaiveDate};

    use super::decimal::decimal_mantissa;
    use super::*;

    fn round_trip<T: ColumnValue + PartialEq + std::fmt::Debug + Clone>(values: Vec<T>) {
        let ty = T::column_type(&TypeHint {
            decimal: Some((20, 4)),
            nullable: false,
        });
        let mut builder = T::builder(&ty.ty, values.len());
        for v in &values {
            v.append(&mut builder).unwrap();
        }
        let array = ColumnBuilder::finish(&mut builder).unwrap();
        assert_eq!(array.data_type(), &ty.ty.to_arrow());
        let reader = T::reader(&array, &ty.ty).unwrap();
        let back: Vec<T> = (0..values.len())
            .map(|i| T::read(&reader, i).unwrap())
            .collect();
        assert_eq!(back, values);
    }

    #[test]
    fn scalars_round_trip() {
        round_trip(vec![true, false]);
        round_trip(vec![i8::MIN, 0, i8::MAX]);
        round_trip(vec![u8::MAX, 0]);
        round_trip(vec![u16::MAX]);
        round_trip(vec![u32::MAX]);
        round_trip(vec![u64::MAX, 0]);
        round_trip(vec![i64::MIN, i64::MAX]);
        round_trip(vec![1.5f32, -0.0]);
        round_trip(vec!["héllo".to_string(), String::new()]);
        round_trip(vec![vec![0u8, 255], vec![]]);
        round_trip(vec![
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
        ]);
        round_trip(vec![
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
        ]);
        round_trip(vec![uuid::Uuid::now_v7()]);
        round_trip(vec![
            "12.3400".parse::<rust_decimal::Decimal>().unwrap(),
            rust_decimal::Decimal::ZERO,
        ]);
        round_trip(vec![Some(3i32), None]);
        round_trip(vec![vec![Some(1i64), None], vec![], vec![Some(3)]]);
        round_trip(vec![Some(vec!["a".to_string()]), None]);
        round_trip(vec![vec![vec![1u8, 2]], vec![]]);
    }

    #[test]
    fn dictionary_strings_decode_and_dictionaries_of_numbers_do_not() {
        use arrow::array::{DictionaryArray, Int32Array};
        use arrow::datatypes::UInt16Type;
        let strings: DictionaryArray<UInt16Type> =
            vec![Some("GB"), None, Some("GB")].into_iter().collect();
        let array: ArrayRef = Arc::new(strings);
        let reader = <Option<String>>::reader(&array, &LakeType::String).unwrap();
        let values: Vec<_> = (0..3)
            .map(|i| <Option<String>>::read(&reader, i).unwrap())
            .collect();
        assert_eq!(
            values,
            [Some("GB".to_string()), None, Some("GB".to_string())]
        );

        let numbers = DictionaryArray::<UInt16Type>::try_new(
            vec![0u16].into(),
            Arc::new(Int32Array::from(vec![7])),
        )
        .unwrap();
        let array: ArrayRef = Arc::new(numbers);
        assert!(String::reader(&array, &LakeType::String).is_err());
    }

    #[test]
    fn decimals_never_round() {
        let v: rust_decimal::Decimal = "1.23456".parse().unwrap();
        assert!(
            decimal_mantissa(&v, 10, 2)
                .unwrap_err()
                .message()
                .contains("rounding")
        );
        let big: rust_decimal::Decimal = "123456".parse().unwrap();
        assert!(
            decimal_mantissa(&big, 5, 0)
                .unwrap_err()
                .message()
                .contains("digits")
        );
        assert_eq!(
            decimal_mantissa(&"1.5".parse().unwrap(), 10, 3).unwrap(),
            1500
        );
    }

    #[test]
    fn null_into_required_is_an_error_naming_the_row() {
        let mut builder = <Option<i32>>::builder(&LakeType::Int32, 2);
        Some(1).append(&mut builder).unwrap();
        None::<i32>.append(&mut builder).unwrap();
        let array = ColumnBuilder::finish(&mut builder).unwrap();
        let reader = i32::reader(&array, &LakeType::Int32).unwrap();
        assert_eq!(i32::read(&reader, 0).unwrap(), 1);
        let err = i32::read(&reader, 1).unwrap_err();
        assert_eq!(err.row(), Some(1));
    }

    #[test]
    fn json_is_strict() {
        assert!(i32::from_json(&Value::String("1".into())).is_err());
        assert!(u8::from_json(&serde_json::json!(256)).is_err());
        assert_eq!(<Option<i32>>::from_json(&Value::Null).unwrap(), None);
        let err = <Vec<i32>>::from_json(&serde_json::json!([1, "x"])).unwrap_err();
        assert_eq!(err.path(), "[1]");
    }
}
