//! `SortableId`: a K-sortable, globally unique id (KSUID) for primary keys.
//!
//! 27 base62 characters whose lexical order is creation order (to the second), so new rows
//! cluster at the end of a sorted table and ids can be minted without coordination.

use std::fmt;
use std::str::FromStr;

use arrow::array::{ArrayRef, StringBuilder};
use chrono::{DateTime, Utc};
use serde_json::Value;
use svix_ksuid::{Ksuid, KsuidLike};

use crate::column::{ColumnValue, ListElement, StringReader, TypeHint};
use crate::convert::json_expected;
use crate::convert::{DecodeError, EncodeError, JsonError};
use crate::schema::{ColumnType, LakeType};

/// A KSUID: 4 bytes of seconds and 16 random bytes, printed as 27 base62 characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortableId(Ksuid);

impl SortableId {
    /// The length of the text form.
    pub const LENGTH: usize = 27;

    /// A new id for now.
    pub fn new() -> Self {
        SortableId(Ksuid::new(None::<DateTime<Utc>>, None))
    }

    /// A new id for the given time (second precision) with a random payload.
    pub fn at(time: DateTime<Utc>) -> Self {
        SortableId(Ksuid::new(Some(time), None))
    }

    /// An id from its 20 raw bytes.
    pub fn from_bytes(bytes: [u8; 20]) -> Self {
        SortableId(Ksuid::from_bytes(bytes))
    }

    /// The 20 raw bytes.
    pub fn bytes(&self) -> &[u8; 20] {
        self.0.bytes()
    }

    /// When the id was minted (second precision).
    pub fn timestamp(&self) -> DateTime<Utc> {
        self.0.timestamp()
    }
}

impl Default for SortableId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SortableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_base62())
    }
}

impl fmt::Debug for SortableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SortableId({self})")
    }
}

/// The text is not a KSUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lakeorm: `{0}` is not a sortable id (27 base62 characters)")]
pub struct ParseSortableIdError(String);

impl FromStr for SortableId {
    type Err = ParseSortableIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != Self::LENGTH {
            return Err(ParseSortableIdError(s.to_owned()));
        }
        Ksuid::from_base62(s)
            .map(SortableId)
            .map_err(|_| ParseSortableIdError(s.to_owned()))
    }
}

impl serde::Serialize for SortableId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SortableId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl ColumnValue for SortableId {
    type Builder = StringBuilder;
    type Reader = StringReader;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::String,
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        StringBuilder::with_capacity(capacity, capacity * Self::LENGTH)
    }
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        builder.append_value(self.0.to_base62());
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        StringReader::bind(array, "a sortable id")
    }
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        let text = reader.str(row)?;
        text.parse()
            .map_err(|e: ParseSortableIdError| DecodeError::invalid(row, e.to_string()))
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let text = value
            .as_str()
            .ok_or_else(|| json_expected("a sortable id string", value))?;
        text.parse()
            .map_err(|e: ParseSortableIdError| JsonError::new(e.to_string()))
    }
}
impl ListElement for SortableId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_ids_sort_by_time_and_round_trip() {
        let early = SortableId::at(DateTime::from_timestamp(1_600_000_000, 0).unwrap());
        let late = SortableId::new();
        assert!(early < late);
        assert!(early.to_string() < late.to_string());
        assert_eq!(early.to_string().len(), SortableId::LENGTH);
        assert_eq!(early.to_string().parse::<SortableId>().unwrap(), early);
        assert_eq!(early.timestamp().timestamp(), 1_600_000_000);
        assert!("short".parse::<SortableId>().is_err());
    }
}
