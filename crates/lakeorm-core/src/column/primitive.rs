//! Booleans, integers and floats: one Arrow primitive column each (unsigned integers in the
//! next wider signed type, since lake formats have none).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Decimal128Builder, PrimitiveArray,
    PrimitiveBuilder,
};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type,
};
use serde_json::Value;

use super::{
    ColumnBuilder, ColumnReader, ColumnValue, DecimalBuilder, ListElement, TypeHint, is_null_at,
    nulls_of,
};
use crate::convert::{DecodeError, EncodeError, JsonError, coerce, json_expected};
use crate::schema::{ColumnType, LakeType};

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

/// Reads a primitive column as its native values.
#[derive(Debug)]
pub struct PrimitiveReader<T: ArrowPrimitiveType> {
    values: ScalarBuffer<T::Native>,
    nulls: Option<NullBuffer>,
}

impl<T: ArrowPrimitiveType> PrimitiveReader<T> {
    pub(super) fn bind(array: &ArrayRef, expected: &str) -> Result<Self, DecodeError> {
        Self::bind_as(array, &T::DATA_TYPE, expected)
    }

    /// Binds after converting to `target`, a parameterised variant of `T` (a decimal's
    /// precision and scale, a timestamp's zone).
    pub(super) fn bind_as(
        array: &ArrayRef,
        target: &DataType,
        expected: &str,
    ) -> Result<Self, DecodeError> {
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
    pub(super) fn value(&self, row: usize) -> Result<T::Native, DecodeError> {
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
pub(super) fn json_f32(v: &Value) -> Option<f32> {
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
