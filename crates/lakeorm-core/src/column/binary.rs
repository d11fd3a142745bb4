//! Strings and bytes, read from any of Arrow's string and binary layouts.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, StringBuilder};
use arrow::datatypes::DataType;
use serde_json::Value;

use super::{ColumnBuilder, ColumnReader, ColumnValue, ListElement, TypeHint};
use crate::convert::{DecodeError, EncodeError, JsonError, coerce, json_expected};
use crate::schema::{ColumnType, LakeType};

impl ColumnBuilder for StringBuilder {
    fn append_null(&mut self) {
        StringBuilder::append_null(self);
    }
    fn finish(&mut self) -> Result<ArrayRef, EncodeError> {
        Ok(Arc::new(StringBuilder::finish(self)))
    }
}

impl ColumnBuilder for BinaryBuilder {
    fn append_null(&mut self) {
        BinaryBuilder::append_null(self);
    }
    fn finish(&mut self) -> Result<ArrayRef, EncodeError> {
        Ok(Arc::new(BinaryBuilder::finish(self)))
    }
}

/// Reads any Arrow string layout (`Utf8`, `LargeUtf8`, `Utf8View`) without converting it.
#[derive(Debug)]
pub enum StringReader {
    /// `Utf8`.
    Utf8(arrow::array::StringArray),
    /// `LargeUtf8`.
    Large(arrow::array::LargeStringArray),
    /// `Utf8View`.
    View(arrow::array::StringViewArray),
}

impl StringReader {
    /// Binds a string column.
    pub fn bind(array: &ArrayRef, expected: &str) -> Result<Self, DecodeError> {
        Ok(match array.data_type() {
            DataType::Utf8 => StringReader::Utf8(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 => StringReader::Large(array.as_string::<i64>().clone()),
            DataType::Utf8View => StringReader::View(array.as_string_view().clone()),
            // All-NULL columns, and dictionary-encoded strings (how engines return string
            // partition columns); a dictionary of anything else is a type mismatch.
            DataType::Null | DataType::Dictionary(..) => {
                let array = coerce(array, &DataType::Utf8, expected)?;
                StringReader::Utf8(array.as_string::<i32>().clone())
            }
            other => return Err(DecodeError::type_mismatch(expected, other)),
        })
    }

    /// The text at `row`, or a NULL error.
    // `always`: left to itself the compiler outlines it in some decoder loops, at 10 % of the
    // decode time of a row with two strings.
    #[inline(always)]
    pub fn str(&self, row: usize) -> Result<&str, DecodeError> {
        fn value<A: Array>(
            a: &A,
            row: usize,
            get: impl Fn(&A, usize) -> &str,
        ) -> Result<&str, DecodeError> {
            if a.is_null(row) {
                Err(DecodeError::null(row))
            } else {
                Ok(get(a, row))
            }
        }
        match self {
            StringReader::Utf8(a) => value(a, row, |a, i| a.value(i)),
            StringReader::Large(a) => value(a, row, |a, i| a.value(i)),
            StringReader::View(a) => value(a, row, |a, i| a.value(i)),
        }
    }
}

impl ColumnReader for StringReader {
    #[inline]
    fn is_null(&self, row: usize) -> bool {
        match self {
            StringReader::Utf8(a) => a.is_null(row),
            StringReader::Large(a) => a.is_null(row),
            StringReader::View(a) => a.is_null(row),
        }
    }
}

/// Reads any Arrow binary layout.
#[derive(Debug)]
pub enum BinaryReader {
    /// `Binary`.
    Binary(arrow::array::BinaryArray),
    /// `LargeBinary`.
    Large(arrow::array::LargeBinaryArray),
    /// `BinaryView`.
    View(arrow::array::BinaryViewArray),
    /// `FixedSizeBinary`.
    Fixed(arrow::array::FixedSizeBinaryArray),
}

impl BinaryReader {
    pub(super) fn bind(array: &ArrayRef, expected: &str) -> Result<Self, DecodeError> {
        Ok(match array.data_type() {
            DataType::Binary => BinaryReader::Binary(array.as_binary::<i32>().clone()),
            DataType::LargeBinary => BinaryReader::Large(array.as_binary::<i64>().clone()),
            DataType::BinaryView => BinaryReader::View(array.as_binary_view().clone()),
            DataType::FixedSizeBinary(_) => {
                BinaryReader::Fixed(array.as_fixed_size_binary().clone())
            }
            DataType::Null => {
                BinaryReader::Binary(arrow::array::BinaryArray::new_null(array.len()))
            }
            other => return Err(DecodeError::type_mismatch(expected, other)),
        })
    }

    #[inline]
    pub(super) fn bytes(&self, row: usize) -> Result<&[u8], DecodeError> {
        if self.is_null(row) {
            return Err(DecodeError::null(row));
        }
        Ok(match self {
            BinaryReader::Binary(a) => a.value(row),
            BinaryReader::Large(a) => a.value(row),
            BinaryReader::View(a) => a.value(row),
            BinaryReader::Fixed(a) => a.value(row),
        })
    }
}

impl ColumnReader for BinaryReader {
    #[inline]
    fn is_null(&self, row: usize) -> bool {
        match self {
            BinaryReader::Binary(a) => a.is_null(row),
            BinaryReader::Large(a) => a.is_null(row),
            BinaryReader::View(a) => a.is_null(row),
            BinaryReader::Fixed(a) => a.is_null(row),
        }
    }
}

impl ColumnValue for String {
    type Builder = StringBuilder;
    type Reader = StringReader;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::String,
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        StringBuilder::with_capacity(capacity, capacity * 16)
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        builder.append_value(self);
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        StringReader::bind(array, "a string")
    }
    #[inline(always)]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        reader.str(row).map(str::to_owned)
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| json_expected("a string", value))
    }
}
impl ListElement for String {}

impl ColumnValue for Vec<u8> {
    type Builder = BinaryBuilder;
    type Reader = BinaryReader;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::Binary,
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        BinaryBuilder::with_capacity(capacity, capacity * 16)
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        builder.append_value(self);
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        BinaryReader::bind(array, "bytes")
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        reader.bytes(row).map(<[u8]>::to_vec)
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let items = value
            .as_array()
            .ok_or_else(|| json_expected("an array of bytes", value))?;
        items
            .iter()
            .map(|item| {
                item.as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| json_expected("a byte (0..=255)", item))
            })
            .collect()
    }
}
impl ListElement for Vec<u8> {}
