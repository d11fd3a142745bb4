//! `Option<T>`: the nullable column of `T`.

use arrow::array::ArrayRef;
use serde_json::Value;

use super::{ColumnBuilder, ColumnReader, ColumnValue, ListElement, TypeHint};
use crate::convert::{DecodeError, EncodeError, JsonError};
use crate::schema::{ColumnType, LakeType};

impl<T: ColumnValue> ColumnValue for Option<T> {
    type Builder = T::Builder;
    type Reader = T::Reader;

    const NEEDS_PRECISION: bool = T::NEEDS_PRECISION;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            nullable: true,
            ..T::column_type(hint)
        }
    }
    fn builder(ty: &LakeType, capacity: usize) -> Self::Builder {
        T::builder(ty, capacity)
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        match self {
            Some(value) => value.append(builder),
            None => {
                builder.append_null();
                Ok(())
            }
        }
    }
    fn reader(array: &ArrayRef, ty: &LakeType) -> Result<Self::Reader, DecodeError> {
        T::reader(array, ty)
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        if reader.is_null(row) {
            Ok(None)
        } else {
            T::read(reader, row).map(Some)
        }
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_json(other).map(Some),
        }
    }
}
impl<T: ListElement> ListElement for Option<T> {}
