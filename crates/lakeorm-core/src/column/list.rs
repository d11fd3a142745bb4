//! `Vec<T>`: list columns of any element type.

use std::sync::Arc;

use arrow::array::NullBufferBuilder;
use arrow::array::{Array, ArrayRef, AsArray, GenericListArray};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, FieldRef};
use serde_json::Value;

use super::{
    ColumnBuilder, ColumnReader, ColumnValue, ListElement, TypeHint, is_null_at, nulls_of,
};
use crate::convert::{DecodeError, EncodeError, JsonError, json_expected};
use crate::schema::{ColumnType, LIST_ELEMENT_NAME, LakeType};

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

    const NEEDS_PRECISION: bool = T::NEEDS_PRECISION;

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
