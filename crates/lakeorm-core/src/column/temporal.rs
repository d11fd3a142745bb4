//! Dates and timestamps, stored at microsecond precision.

use arrow::array::{Array, ArrayRef, PrimitiveBuilder};
use arrow::datatypes::{DataType, Date32Type, TimestampMicrosecondType};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

use super::{ColumnValue, ListElement, PrimitiveReader, TypeHint, parse_json_text};
use crate::convert::{DecodeError, EncodeError, JsonError};
use crate::schema::{ColumnType, LakeType, UTC};

pub(super) fn timestamp_builder(
    capacity: usize,
    tz: bool,
) -> PrimitiveBuilder<TimestampMicrosecondType> {
    let builder = PrimitiveBuilder::<TimestampMicrosecondType>::with_capacity(capacity);
    if tz {
        builder.with_timezone(UTC)
    } else {
        builder
    }
}

pub(super) fn timestamp_reader(
    array: &ArrayRef,
    tz: bool,
    expected: &str,
) -> Result<PrimitiveReader<TimestampMicrosecondType>, DecodeError> {
    // Any unit and any zone: the stored instant is the same, only the unit is normalised.
    let target = match array.data_type() {
        DataType::Timestamp(_, zone) => {
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, zone.clone())
        }
        _ => DataType::Timestamp(
            arrow::datatypes::TimeUnit::Microsecond,
            tz.then(|| UTC.into()),
        ),
    };
    PrimitiveReader::bind_as(array, &target, expected)
}

impl ColumnValue for DateTime<Utc> {
    type Builder = PrimitiveBuilder<TimestampMicrosecondType>;
    type Reader = PrimitiveReader<TimestampMicrosecondType>;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::Timestamp,
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        timestamp_builder(capacity, true)
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        builder.append_value(self.timestamp_micros());
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        timestamp_reader(array, true, "a timestamp")
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        let micros = reader.value(row)?;
        DateTime::from_timestamp_micros(micros).ok_or_else(|| {
            DecodeError::invalid(row, format!("timestamp {micros}µs is out of range"))
        })
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        parse_json_text(value, "an RFC 3339 timestamp", |s| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
    }
}
impl ListElement for DateTime<Utc> {}

impl ColumnValue for NaiveDateTime {
    type Builder = PrimitiveBuilder<TimestampMicrosecondType>;
    type Reader = PrimitiveReader<TimestampMicrosecondType>;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::TimestampNtz,
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        timestamp_builder(capacity, false)
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        builder.append_value(self.and_utc().timestamp_micros());
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        timestamp_reader(array, false, "a timestamp without time zone")
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        let micros = reader.value(row)?;
        DateTime::from_timestamp_micros(micros)
            .map(|t| t.naive_utc())
            .ok_or_else(|| {
                DecodeError::invalid(row, format!("timestamp {micros}µs is out of range"))
            })
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        parse_json_text(value, "a date-time like 2024-05-01T12:30:00", |s| {
            s.parse::<NaiveDateTime>().ok()
        })
    }
}
impl ListElement for NaiveDateTime {}

/// Days between 0001-01-01 (chrono's day 1) and 1970-01-01 (Arrow's day 0).
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

impl ColumnValue for NaiveDate {
    type Builder = PrimitiveBuilder<Date32Type>;
    type Reader = PrimitiveReader<Date32Type>;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::Date,
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        PrimitiveBuilder::with_capacity(capacity)
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        use chrono::Datelike;
        builder.append_value(self.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE);
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        PrimitiveReader::bind(array, "a date")
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        let days = reader.value(row)?;
        days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| DecodeError::invalid(row, format!("date {days} is out of range")))
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        parse_json_text(value, "a date like 2024-05-01", |s| {
            s.parse::<NaiveDate>().ok()
        })
    }
}
impl ListElement for NaiveDate {}
