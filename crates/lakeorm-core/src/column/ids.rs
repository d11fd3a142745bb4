//! UUIDs, stored as text and read from text or 16 raw bytes.

use arrow::array::{Array, ArrayRef, StringBuilder};
use arrow::datatypes::DataType;
use serde_json::Value;

use super::{
    BinaryReader, ColumnReader, ColumnValue, ListElement, StringReader, TypeHint, parse_json_text,
};
use crate::convert::{DecodeError, EncodeError, JsonError};
use crate::schema::{ColumnType, LakeType};

impl ColumnValue for uuid::Uuid {
    type Builder = StringBuilder;
    type Reader = UuidReader;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::Uuid,
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        StringBuilder::with_capacity(capacity, capacity * uuid::fmt::Hyphenated::LENGTH)
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
        builder.append_value(self.hyphenated().encode_lower(&mut buffer));
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        match array.data_type() {
            DataType::FixedSizeBinary(16) => {
                Ok(UuidReader::Bytes(BinaryReader::bind(array, "a uuid")?))
            }
            _ => Ok(UuidReader::Text(StringReader::bind(array, "a uuid")?)),
        }
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        match reader {
            UuidReader::Text(r) => {
                let text = r.str(row)?;
                uuid::Uuid::try_parse(text)
                    .map_err(|e| DecodeError::invalid(row, format!("`{text}` is not a UUID: {e}")))
            }
            UuidReader::Bytes(r) => uuid::Uuid::from_slice(r.bytes(row)?)
                .map_err(|e| DecodeError::invalid(row, e.to_string())),
        }
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        parse_json_text(value, "a UUID", |s| uuid::Uuid::try_parse(s).ok())
    }
}
impl ListElement for uuid::Uuid {}

/// Reads UUIDs stored as text or as 16 raw bytes.
#[derive(Debug)]
pub enum UuidReader {
    /// Hyphenated text (what lakeorm writes).
    Text(StringReader),
    /// `FixedSizeBinary(16)` (what some engines write).
    Bytes(BinaryReader),
}

impl ColumnReader for UuidReader {
    #[inline]
    fn is_null(&self, row: usize) -> bool {
        match self {
            UuidReader::Text(r) => r.is_null(row),
            UuidReader::Bytes(r) => r.is_null(row),
        }
    }
}

/// The system column's value, read by query shapes through `#[lake(ingest_id)]`: stored as
/// the id's hyphenated text. A value that is not a version-7 UUID is a decode error, since
/// lakeorm stamps nothing else there.
impl ColumnValue for crate::ingest::IngestId {
    type Builder = StringBuilder;
    type Reader = UuidReader;

    fn column_type(hint: &TypeHint) -> ColumnType {
        <uuid::Uuid as ColumnValue>::column_type(hint)
    }
    fn builder(ty: &LakeType, capacity: usize) -> Self::Builder {
        <uuid::Uuid as ColumnValue>::builder(ty, capacity)
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        self.as_uuid().append(builder)
    }
    fn reader(array: &ArrayRef, ty: &LakeType) -> Result<Self::Reader, DecodeError> {
        <uuid::Uuid as ColumnValue>::reader(array, ty)
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        let uuid = <uuid::Uuid as ColumnValue>::read(reader, row)?;
        crate::ingest::IngestId::from_uuid(uuid).ok_or_else(|| {
            DecodeError::invalid(
                row,
                format!("`{uuid}` is not an ingest id (a version-7 UUID)"),
            )
        })
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let uuid = <uuid::Uuid as ColumnValue>::from_json(value)?;
        crate::ingest::IngestId::from_uuid(uuid).ok_or_else(|| {
            JsonError::new(format!("`{uuid}` is not an ingest id (a version-7 UUID)"))
        })
    }
}
