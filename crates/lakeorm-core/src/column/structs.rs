//! Binding the child columns of a struct column (or of a batch) to a struct's fields, for the
//! readers the derive generates.

use arrow::array::{Array, ArrayRef, StructArray};

use crate::convert::DecodeError;

/// Finds the child column `name` of a struct (or batch) array: the exact name first, then a
/// unique case-insensitive match.
pub fn bind_child<'a>(
    parent: &'a StructArray,
    name: &str,
) -> std::result::Result<&'a ArrayRef, DecodeError> {
    if let Some(column) = parent.column_by_name(name) {
        return Ok(column);
    }
    let fields = parent.fields();
    let mut found = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name().eq_ignore_ascii_case(name));
    match (found.next(), found.next()) {
        (Some((index, _)), None) => Ok(parent.column(index)),
        _ => Err(
            DecodeError::missing_column(fields.iter().map(|f| f.name().clone()).collect())
                .in_column(name),
        ),
    }
}

/// Downcasts a struct column (a helper for generated readers).
pub fn as_struct<'a>(
    array: &'a ArrayRef,
    expected: &str,
) -> std::result::Result<&'a StructArray, DecodeError> {
    array
        .as_any()
        .downcast_ref::<StructArray>()
        .ok_or_else(|| DecodeError::type_mismatch(expected, array.data_type()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::DataType;
    use arrow::datatypes::{Field, Schema};

    #[test]
    fn binds_case_insensitively_and_reports_missing() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "TotalOrders",
            DataType::Int64,
            false,
        )]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
        let parent = StructArray::from(batch);
        assert!(bind_child(&parent, "totalorders").is_ok());
        let err = bind_child(&parent, "email").unwrap_err();
        assert_eq!(err.column(), "email");
        assert!(err.to_string().contains("it has: TotalOrders"));
    }
}
