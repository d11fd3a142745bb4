//! Decimals of a declared precision and scale, refusing to round or overflow.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Decimal128Builder};
use arrow::datatypes::{DataType, Decimal128Type};
use serde_json::Value;

use super::{ColumnBuilder, ColumnReader, ColumnValue, ListElement, PrimitiveReader, TypeHint};
use crate::convert::{DecodeError, EncodeError, JsonError, json_expected};
use crate::schema::{ColumnType, LakeType};

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

pub(super) fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// Converts `value` to the mantissa of a `decimal(precision, scale)`, refusing to round or
/// overflow.
pub(super) fn decimal_mantissa(
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
    pub(super) inner: Decimal128Builder,
    pub(super) precision: u8,
    pub(super) scale: i8,
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

    const NEEDS_PRECISION: bool = true;

    fn column_type(hint: &TypeHint) -> ColumnType {
        // Only a hand-written call can lack the hint: the derive rejects a Decimal field without
        // `decimal(P, S)` at compile time (NEEDS_PRECISION).
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
