//! How a field is stored: natively ([`Native`], through its [`ColumnValue`]) or as JSON text
//! ([`Json`], for any serde type under `#[lake(json)]`).
//!
//! Generated code always goes through `<Codec as FieldCodec<FieldType>>`, so both kinds of field
//! share one code path.

use arrow::array::{ArrayRef, StringBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::column::{ColumnBuilder, ColumnReader, ColumnValue, StringReader, TypeHint};
use crate::convert::{DecodeError, EncodeError, JsonError};
use crate::schema::{ColumnType, LakeType};

/// Stores a field of type `T` in one column.
#[diagnostic::on_unimplemented(
    message = "`{T}` is not a supported lakeorm column type",
    label = "unsupported column type",
    note = "supported: bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, String, Vec<u8>, \
            chrono::DateTime<Utc>, chrono::NaiveDateTime, chrono::NaiveDate, uuid::Uuid, \
            rust_decimal::Decimal (with #[lake(decimal(P, S))]), lakeorm::SortableId, Option<T> and \
            Vec<T> of these, and structs that derive Lake or Row",
    note = "any serde type can be stored as JSON text with #[lake(json)]"
)]
pub trait FieldCodec<T> {
    /// The column builder.
    type Builder: ColumnBuilder;
    /// The column reader.
    type Reader: ColumnReader;
    /// The column's type and nullability.
    fn column_type(hint: &TypeHint) -> ColumnType;
    /// A builder for `ty`.
    fn builder(ty: &LakeType, capacity: usize) -> Self::Builder;
    /// Appends one value.
    fn append(value: &T, builder: &mut Self::Builder) -> Result<(), EncodeError>;
    /// Binds a reader.
    fn reader(array: &ArrayRef, ty: &LakeType) -> Result<Self::Reader, DecodeError>;
    /// Reads one value.
    fn read(reader: &Self::Reader, row: usize) -> Result<T, DecodeError>;
    /// Converts a JSON value.
    fn from_json(value: &Value) -> Result<T, JsonError>;
}

/// The codec of ordinary fields: the type's own [`ColumnValue`].
#[derive(Debug, Clone, Copy)]
pub struct Native;

impl<T: ColumnValue> FieldCodec<T> for Native {
    type Builder = T::Builder;
    type Reader = T::Reader;

    fn column_type(hint: &TypeHint) -> ColumnType {
        let mut ty = T::column_type(hint);
        ty.nullable |= hint.nullable;
        ty
    }
    #[inline]
    fn builder(ty: &LakeType, capacity: usize) -> Self::Builder {
        T::builder(ty, capacity)
    }
    #[inline]
    fn append(value: &T, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        value.append(builder)
    }
    #[inline]
    fn reader(array: &ArrayRef, ty: &LakeType) -> Result<Self::Reader, DecodeError> {
        T::reader(array, ty)
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<T, DecodeError> {
        T::read(reader, row)
    }
    fn from_json(value: &Value) -> Result<T, JsonError> {
        T::from_json(value)
    }
}

/// The codec of `#[lake(json)]` fields: serde JSON text in a string column. A value that
/// serializes to `null` is stored as SQL NULL.
#[derive(Debug, Clone, Copy)]
pub struct Json;

impl<T: Serialize + DeserializeOwned> FieldCodec<T> for Json {
    type Builder = StringBuilder;
    type Reader = StringReader;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::Json,
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        StringBuilder::with_capacity(capacity, capacity * 32)
    }
    fn append(value: &T, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        let text = serde_json::to_string(value)
            .map_err(|e| EncodeError::new(format!("cannot serialize to JSON: {e}")))?;
        if text == "null" {
            builder.append_null();
        } else {
            builder.append_value(text);
        }
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        StringReader::bind(array, "JSON text")
    }
    fn read(reader: &Self::Reader, row: usize) -> Result<T, DecodeError> {
        if reader.is_null(row) {
            return serde_json::from_value(Value::Null).map_err(|_| DecodeError::null(row));
        }
        let text = reader.str(row)?;
        serde_json::from_str(text)
            .map_err(|e| DecodeError::invalid(row, format!("invalid JSON: {e}")))
    }
    fn from_json(value: &Value) -> Result<T, JsonError> {
        T::deserialize(value).map_err(|e| JsonError::new(e.to_string()))
    }
}
