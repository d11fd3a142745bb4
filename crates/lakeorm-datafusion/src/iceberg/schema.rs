//! A model's schema as an Iceberg schema and partition spec, and batches in the table's shape.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::SchemaRef;
use iceberg::spec::{Schema, Transform, UnboundPartitionSpec};
use lakeorm_core::{Error, LakeSchema, Partition, Result};

use super::errors::iceberg as iceberg_error;

/// The Iceberg schema of a model's table (its columns and the `_ingest_id` system column).
/// Field ids are assigned in column order; a new table's metadata renumbers them anyway.
pub(crate) fn table_schema(schema: &LakeSchema) -> Result<Schema> {
    iceberg::arrow::arrow_schema_to_schema_auto_assign_ids(schema.table_arrow_schema())
        .map_err(|e| iceberg_error(schema.table(), "mapping the schema", e))
}

/// The Iceberg transform of a lakeorm partition.
pub(crate) fn transform(partition: Partition) -> Transform {
    match partition {
        Partition::Identity => Transform::Identity,
        Partition::Bucket(n) => Transform::Bucket(n),
        Partition::Truncate(w) => Transform::Truncate(w),
        Partition::Year => Transform::Year,
        Partition::Month => Transform::Month,
        Partition::Day => Transform::Day,
        Partition::Hour => Transform::Hour,
    }
}

/// The partition field name Spark and Sail give a transform of `column` (so specs written here
/// and there look alike).
pub(crate) fn partition_field_name(column: &str, partition: Partition) -> String {
    match partition {
        Partition::Identity => column.to_owned(),
        Partition::Bucket(_) => format!("{column}_bucket"),
        Partition::Truncate(_) => format!("{column}_trunc"),
        Partition::Year => format!("{column}_year"),
        Partition::Month => format!("{column}_month"),
        Partition::Day => format!("{column}_day"),
        Partition::Hour => format!("{column}_hour"),
    }
}

/// The partition spec of a model's table, over the field ids of `iceberg`.
pub(crate) fn partition_spec(
    schema: &LakeSchema,
    iceberg: &Schema,
) -> Result<UnboundPartitionSpec> {
    let mut builder = UnboundPartitionSpec::builder();
    for (field, partition) in schema.partitions() {
        let source = iceberg.field_by_name(&field.column).ok_or_else(|| {
            Error::Config(format!(
                "partition column `{}` is not a column of `{}`",
                field.column,
                schema.table()
            ))
        })?;
        builder = builder
            .add_partition_field(
                source.id,
                partition_field_name(&field.column, partition),
                transform(partition),
            )
            .map_err(|e| iceberg_error(schema.table(), "building the partition spec", e))?;
    }
    Ok(builder.build())
}

/// `batch`'s columns with the types `target` gives them (those `target` lacks are dropped):
/// a merge source, which may carry only key columns, in the table's types.
pub(crate) fn conform_present(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    let present: Vec<usize> = target
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| batch.column_by_name(f.name()).is_some())
        .map(|(i, _)| i)
        .collect();
    let projected = Arc::new(
        target
            .project(&present)
            .map_err(|e| Error::data_invalid("a merge source", e.to_string()))?,
    );
    conform(batch, &projected)
}

/// `batch` with the columns and types of `target` (the table's current Arrow schema), matched by
/// name: integers widen (Iceberg has no 8- or 16-bit ints), timestamp zones are relabelled,
/// columns the batch lacks are NULL. A value that does not fit, or a NULL in a required column,
/// is an error.
pub(crate) fn conform(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let columns = target
        .fields()
        .iter()
        .map(|field| -> Result<ArrayRef> {
            match batch.column_by_name(field.name()) {
                Some(column) if column.data_type() == field.data_type() => Ok(Arc::clone(column)),
                Some(column) => {
                    cast_with_options(column, field.data_type(), &options).map_err(|e| {
                        Error::data_invalid(format!("column `{}`", field.name()), e.to_string())
                    })
                }
                None => Ok(new_null_array(field.data_type(), batch.num_rows())),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(Arc::clone(target), columns)
        .map_err(|e| Error::data_invalid("a batch written to an Iceberg table", e.to_string()))
}
