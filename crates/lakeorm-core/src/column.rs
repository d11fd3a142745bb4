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
use std::sync::Arc;

use arrow::array::NullBufferBuilder;
use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, BooleanBuilder, Decimal128Builder,
    GenericListArray, PrimitiveArray, PrimitiveBuilder, StringBuilder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Field, FieldRef, Float32Type,
    Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

use crate::decode::{DecodeError, coerce};
use crate::encode::EncodeError;
use crate::json::JsonError;
use crate::schema::{ColumnType, LIST_ELEMENT_NAME, LakeType, UTC};

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
fn is_null_at(nulls: &Option<NullBuffer>, row: usize) -> bool {
    nulls.as_ref().is_some_and(|n| n.is_null(row))
}

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
pub fn json_expected(expected: &str, found: &Value) -> JsonError {
    JsonError::new(format!("expected {expected}, found {}", json_kind(found)))
}

// ---------------------------------------------------------------------------------------------
// Builders and readers shared by several types.

impl<T: ArrowPrimitiveType> ColumnBuilder for PrimitiveBuilder<T> {
    fn append_null(&mut self) {
        PrimitiveBuilder::append_null(self);
    }
    fn finish(&mut self) -> Result<ArrayRef, EncodeError> {
        Ok(Arc::new(PrimitiveBuilder::finish(self)))
    }
}

impl ColumnBuilder for BooleanBuilder {
    fn append_null(&mut self) {
        BooleanBuilder::append_null(self);
    }
    fn finish(&mut self) -> Result<ArrayRef, EncodeError> {
        Ok(Arc::new(BooleanBuilder::finish(self)))
    }
}

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

/// Reads a primitive column as its native values.
#[derive(Debug)]
pub struct PrimitiveReader<T: ArrowPrimitiveType> {
    values: ScalarBuffer<T::Native>,
    nulls: Option<NullBuffer>,
}

impl<T: ArrowPrimitiveType> PrimitiveReader<T> {
    fn bind(array: &ArrayRef, expected: &str) -> Result<Self, DecodeError> {
        Self::bind_as(array, &T::DATA_TYPE, expected)
    }

    /// Binds after converting to `target`, a parameterised variant of `T` (a decimal's
    /// precision and scale, a timestamp's zone).
    fn bind_as(array: &ArrayRef, target: &DataType, expected: &str) -> Result<Self, DecodeError> {
        let array = coerce(array, target, expected)?;
        let array: &PrimitiveArray<T> = array
            .as_primitive_opt()
            .ok_or_else(|| DecodeError::type_mismatch(expected, array.data_type()))?;
        Ok(PrimitiveReader {
            values: array.values().clone(),
            nulls: nulls_of(array),
        })
    }

    #[inline]
    fn value(&self, row: usize) -> Result<T::Native, DecodeError> {
        if is_null_at(&self.nulls, row) {
            return Err(DecodeError::null(row));
        }
        Ok(self.values[row])
    }
}

impl<T: ArrowPrimitiveType> ColumnReader for PrimitiveReader<T> {
    #[inline]
    fn is_null(&self, row: usize) -> bool {
        is_null_at(&self.nulls, row)
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
    fn bind(array: &ArrayRef, expected: &str) -> Result<Self, DecodeError> {
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
    fn bytes(&self, row: usize) -> Result<&[u8], DecodeError> {
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

/// Reads a boolean column.
#[derive(Debug)]
pub struct BoolReader(BooleanArray);

impl ColumnReader for BoolReader {
    #[inline]
    fn is_null(&self, row: usize) -> bool {
        self.0.is_null(row)
    }
}

// ---------------------------------------------------------------------------------------------
// Scalars.

impl ColumnValue for bool {
    type Builder = BooleanBuilder;
    type Reader = BoolReader;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::Boolean,
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        BooleanBuilder::with_capacity(capacity)
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        builder.append_value(*self);
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        let array = coerce(array, &DataType::Boolean, "boolean")?;
        Ok(BoolReader(array.as_boolean().clone()))
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        if reader.0.is_null(row) {
            return Err(DecodeError::null(row));
        }
        Ok(reader.0.value(row))
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        value
            .as_bool()
            .ok_or_else(|| json_expected("a boolean", value))
    }
}

/// Signed integers and floats map one to one onto an Arrow primitive type.
macro_rules! primitive_column {
    ($rust:ty, $arrow:ty, $lake:expr, $name:literal, $json:expr) => {
        impl ColumnValue for $rust {
            type Builder = PrimitiveBuilder<$arrow>;
            type Reader = PrimitiveReader<$arrow>;

            fn column_type(hint: &TypeHint) -> ColumnType {
                ColumnType {
                    ty: $lake,
                    nullable: hint.nullable,
                }
            }
            fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
                PrimitiveBuilder::with_capacity(capacity)
            }
            #[inline]
            fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
                builder.append_value(*self);
                Ok(())
            }
            fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
                PrimitiveReader::bind(array, $name)
            }
            #[inline]
            fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
                reader.value(row)
            }
            fn from_json(value: &Value) -> Result<Self, JsonError> {
                let convert: fn(&Value) -> Option<$rust> = $json;
                convert(value).ok_or_else(|| json_expected($name, value))
            }
        }
        impl ListElement for $rust {}
    };
}

primitive_column!(i8, Int8Type, LakeType::Int8, "an i8", |v| v
    .as_i64()
    .and_then(|n| i8::try_from(n).ok()));
primitive_column!(i16, Int16Type, LakeType::Int16, "an i16", |v| v
    .as_i64()
    .and_then(|n| i16::try_from(n).ok()));
primitive_column!(i32, Int32Type, LakeType::Int32, "an i32", |v| v
    .as_i64()
    .and_then(|n| i32::try_from(n).ok()));
primitive_column!(i64, Int64Type, LakeType::Int64, "an i64", |v| v.as_i64());
#[allow(clippy::cast_possible_truncation)]
fn json_f32(v: &Value) -> Option<f32> {
    v.as_f64().map(|n| n as f32)
}
primitive_column!(f32, Float32Type, LakeType::Float32, "an f32", json_f32);
primitive_column!(f64, Float64Type, LakeType::Float64, "an f64", |v| v
    .as_f64());

/// Unsigned integers are stored in the next wider signed type, since lake formats have no
/// unsigned types; reading back checks the range.
macro_rules! unsigned_column {
    ($rust:ty, $wide:ty, $arrow:ty, $lake:expr, $name:literal) => {
        impl ColumnValue for $rust {
            type Builder = PrimitiveBuilder<$arrow>;
            type Reader = PrimitiveReader<$arrow>;

            fn column_type(hint: &TypeHint) -> ColumnType {
                ColumnType {
                    ty: $lake,
                    nullable: hint.nullable,
                }
            }
            fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
                PrimitiveBuilder::with_capacity(capacity)
            }
            #[inline]
            fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
                builder.append_value(<$wide>::from(*self));
                Ok(())
            }
            fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
                PrimitiveReader::bind(array, $name)
            }
            #[inline]
            fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
                let wide = reader.value(row)?;
                <$rust>::try_from(wide).map_err(|_| {
                    DecodeError::invalid(row, format!("{wide} does not fit in {}", $name))
                })
            }
            fn from_json(value: &Value) -> Result<Self, JsonError> {
                value
                    .as_u64()
                    .and_then(|n| <$rust>::try_from(n).ok())
                    .ok_or_else(|| json_expected($name, value))
            }
        }
    };
}

unsigned_column!(u8, i16, Int16Type, LakeType::Int16, "a u8");
unsigned_column!(u16, i32, Int32Type, LakeType::Int32, "a u16");
unsigned_column!(u32, i64, Int64Type, LakeType::Int64, "a u32");

// `u8` is a column but deliberately not a list element: `Vec<u8>` is binary.
impl ListElement for u16 {}
impl ListElement for u32 {}

impl ColumnValue for u64 {
    type Builder = DecimalBuilder;
    type Reader = PrimitiveReader<Decimal128Type>;

    fn column_type(hint: &TypeHint) -> ColumnType {
        ColumnType {
            ty: LakeType::Decimal {
                precision: 20,
                scale: 0,
            },
            nullable: hint.nullable,
        }
    }
    fn builder(_: &LakeType, capacity: usize) -> Self::Builder {
        DecimalBuilder {
            inner: Decimal128Builder::with_capacity(capacity),
            precision: 20,
            scale: 0,
        }
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        builder.inner.append_value(i128::from(*self));
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        let target = match array.data_type() {
            DataType::Decimal128(p, 0) => DataType::Decimal128(*p, 0),
            _ => DataType::Decimal128(38, 0),
        };
        PrimitiveReader::bind_as(array, &target, "a u64 (decimal(20,0))")
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        let wide = reader.value(row)?;
        u64::try_from(wide)
            .map_err(|_| DecodeError::invalid(row, format!("{wide} does not fit in a u64")))
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        value.as_u64().ok_or_else(|| json_expected("a u64", value))
    }
}
impl ListElement for u64 {}

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

// ---------------------------------------------------------------------------------------------
// Time.

fn timestamp_builder(capacity: usize, tz: bool) -> PrimitiveBuilder<TimestampMicrosecondType> {
    let builder = PrimitiveBuilder::<TimestampMicrosecondType>::with_capacity(capacity);
    if tz {
        builder.with_timezone(UTC)
    } else {
        builder
    }
}

fn timestamp_reader(
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

fn parse_json_text<T>(
    value: &Value,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, JsonError> {
    let text = value.as_str().ok_or_else(|| json_expected(what, value))?;
    parse(text).ok_or_else(|| JsonError::new(format!("expected {what}, found `{text}`")))
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

// ---------------------------------------------------------------------------------------------
// Identifiers and decimals.

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

/// Reads a decimal column of any scale.
#[derive(Debug)]
pub struct DecimalReader {
    values: PrimitiveReader<Decimal128Type>,
    scale: i8,
}

impl ColumnReader for DecimalReader {
    #[inline]
    fn is_null(&self, row: usize) -> bool {
        self.values.is_null(row)
    }
}

fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// Converts `value` to the mantissa of a `decimal(precision, scale)`, refusing to round or
/// overflow.
fn decimal_mantissa(
    value: &rust_decimal::Decimal,
    precision: u8,
    scale: i8,
) -> Result<i128, EncodeError> {
    let mantissa = value.mantissa();
    let own_scale = i64::from(value.scale());
    let target = i64::from(scale);
    let scaled = if target >= own_scale {
        u32::try_from(target - own_scale)
            .ok()
            .and_then(pow10)
            .and_then(|f| mantissa.checked_mul(f))
    } else {
        let f = u32::try_from(own_scale - target).ok().and_then(pow10);
        f.filter(|f| mantissa % f == 0).map(|f| mantissa / f)
    };
    let scaled = scaled.ok_or_else(|| {
        EncodeError::new(format!(
            "{value} cannot be stored as decimal({precision}, {scale}) without rounding"
        ))
    })?;
    let limit = pow10(u32::from(precision)).unwrap_or(i128::MAX);
    if scaled.abs() >= limit {
        return Err(EncodeError::new(format!(
            "{value} has more than {precision} digits for decimal({precision}, {scale})"
        )));
    }
    Ok(scaled)
}

/// Accumulates a decimal column of a fixed precision and scale.
#[derive(Debug)]
pub struct DecimalBuilder {
    inner: Decimal128Builder,
    precision: u8,
    scale: i8,
}

impl ColumnBuilder for DecimalBuilder {
    fn append_null(&mut self) {
        self.inner.append_null();
    }
    fn finish(&mut self) -> Result<ArrayRef, EncodeError> {
        let array = self
            .inner
            .finish()
            .with_precision_and_scale(self.precision, self.scale)
            .map_err(|e| EncodeError::new(e.to_string()))?;
        Ok(Arc::new(array))
    }
}

impl ColumnValue for rust_decimal::Decimal {
    type Builder = DecimalBuilder;
    type Reader = DecimalReader;

    fn column_type(hint: &TypeHint) -> ColumnType {
        let (precision, scale) = hint.decimal.unwrap_or((38, 10));
        ColumnType {
            ty: LakeType::Decimal { precision, scale },
            nullable: hint.nullable,
        }
    }
    fn builder(ty: &LakeType, capacity: usize) -> Self::Builder {
        let (precision, scale) = match ty {
            LakeType::Decimal { precision, scale } => (*precision, *scale),
            _ => (38, 10),
        };
        DecimalBuilder {
            inner: Decimal128Builder::with_capacity(capacity),
            precision,
            scale,
        }
    }
    #[inline]
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        let mantissa = decimal_mantissa(self, builder.precision, builder.scale)?;
        builder.inner.append_value(mantissa);
        Ok(())
    }
    fn reader(array: &ArrayRef, _: &LakeType) -> Result<Self::Reader, DecodeError> {
        let (precision, scale) = match array.data_type() {
            DataType::Decimal128(p, s) => (*p, *s),
            _ => (38, 0),
        };
        let target = DataType::Decimal128(precision, scale);
        Ok(DecimalReader {
            values: PrimitiveReader::bind_as(array, &target, "a decimal")?,
            scale,
        })
    }
    #[inline]
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        let raw = reader.values.value(row)?;
        let (mantissa, scale) = if reader.scale < 0 {
            let factor = pow10(u32::from(reader.scale.unsigned_abs()));
            (factor.and_then(|f| raw.checked_mul(f)), 0)
        } else {
            (Some(raw), u32::from(reader.scale.unsigned_abs()))
        };
        mantissa
            .and_then(|m| rust_decimal::Decimal::try_from_i128_with_scale(m, scale).ok())
            .ok_or_else(|| {
                DecodeError::invalid(
                    row,
                    format!(
                        "decimal {raw}e-{} does not fit rust_decimal::Decimal",
                        reader.scale
                    ),
                )
            })
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => return Err(json_expected("a decimal (number or string)", other)),
        };
        text.parse::<rust_decimal::Decimal>()
            .or_else(|_| rust_decimal::Decimal::from_scientific(&text))
            .map_err(|_| JsonError::new(format!("expected a decimal, found `{text}`")))
    }
}
impl ListElement for rust_decimal::Decimal {}

// ---------------------------------------------------------------------------------------------
// Option and Vec.

impl<T: ColumnValue> ColumnValue for Option<T> {
    type Builder = T::Builder;
    type Reader = T::Reader;

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

/// Accumulates a list column.
pub struct ListBuilder<B> {
    field: FieldRef,
    values: B,
    offsets: Vec<i32>,
    len: usize,
    nulls: NullBufferBuilder,
}

impl<B: ColumnBuilder> ColumnBuilder for ListBuilder<B> {
    fn append_null(&mut self) {
        self.offsets.push(*self.offsets.last().unwrap_or(&0));
        self.nulls.append_null();
    }
    fn finish(&mut self) -> Result<ArrayRef, EncodeError> {
        let values = self.values.finish()?;
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        self.len = 0;
        let nulls = self.nulls.finish();
        let list = GenericListArray::<i32>::try_new(
            Arc::clone(&self.field),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            nulls,
        )
        .map_err(|e| EncodeError::new(e.to_string()))?;
        Ok(Arc::new(list))
    }
}

/// Reads a list column through a reader of its values.
pub struct ListReader<R> {
    offsets: OffsetBuffer<i64>,
    nulls: Option<NullBuffer>,
    values: R,
}

impl<R> ColumnReader for ListReader<R> {
    #[inline]
    fn is_null(&self, row: usize) -> bool {
        is_null_at(&self.nulls, row)
    }
}

impl<T: ListElement> ColumnValue for Vec<T> {
    type Builder = ListBuilder<T::Builder>;
    type Reader = ListReader<T::Reader>;

    fn column_type(hint: &TypeHint) -> ColumnType {
        let element = T::column_type(&TypeHint {
            nullable: false,
            ..*hint
        });
        ColumnType {
            ty: LakeType::List(Box::new(element)),
            nullable: hint.nullable,
        }
    }
    fn builder(ty: &LakeType, capacity: usize) -> Self::Builder {
        let element = match ty {
            LakeType::List(element) => element.as_ref().clone(),
            _ => T::column_type(&TypeHint::NONE),
        };
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        ListBuilder {
            field: Arc::new(Field::new(
                LIST_ELEMENT_NAME,
                element.ty.to_arrow(),
                element.nullable,
            )),
            values: T::builder(&element.ty, capacity),
            offsets,
            len: 0,
            nulls: NullBufferBuilder::new(capacity),
        }
    }
    fn append(&self, builder: &mut Self::Builder) -> Result<(), EncodeError> {
        for value in self {
            value
                .append(&mut builder.values)
                .map_err(|e| e.in_column("[]"))?;
        }
        builder.len += self.len();
        let end = i32::try_from(builder.len).map_err(|_| {
            EncodeError::new("list values exceed 2^31 in one batch; write smaller batches")
        })?;
        builder.offsets.push(end);
        builder.nulls.append_non_null();
        Ok(())
    }
    fn reader(array: &ArrayRef, ty: &LakeType) -> Result<Self::Reader, DecodeError> {
        let element_ty = match ty {
            LakeType::List(element) => element.ty.clone(),
            _ => T::column_type(&TypeHint::NONE).ty,
        };
        let (offsets, values) = match array.data_type() {
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                let offsets: Vec<i64> = list.offsets().iter().map(|&o| i64::from(o)).collect();
                (
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    list.values().clone(),
                )
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                (list.offsets().clone(), list.values().clone())
            }
            other => return Err(DecodeError::type_mismatch("a list", other)),
        };
        Ok(ListReader {
            offsets,
            nulls: nulls_of(array.as_ref()),
            values: T::reader(&values, &element_ty).map_err(|e| e.in_column("[]"))?,
        })
    }
    fn read(reader: &Self::Reader, row: usize) -> Result<Self, DecodeError> {
        if reader.is_null(row) {
            return Err(DecodeError::null(row));
        }
        // Offsets come from a valid Arrow array, so they are non-negative and in bounds.
        let start = usize::try_from(reader.offsets[row]).unwrap_or(0);
        let end = usize::try_from(reader.offsets[row + 1]).unwrap_or(start);
        let mut values = Vec::new();
        T::read_into(&reader.values, start..end, &mut values).map_err(|e| e.in_list(row))?;
        Ok(values)
    }
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let items = value
            .as_array()
            .ok_or_else(|| json_expected("an array", value))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_json(item).map_err(|e| e.in_field(&format!("[{i}]"))))
            .collect()
    }
}
impl<T: ListElement> ListElement for Vec<T> where Vec<T>: ColumnValue {}

#[cfg(test)]
mod tests {
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
