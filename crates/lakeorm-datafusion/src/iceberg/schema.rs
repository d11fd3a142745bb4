//! A model's schema as an Iceberg schema and partition spec, and batches in the table's shape.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::SchemaRef;
use iceberg::spec::{
    NullOrder, Schema, SortDirection, SortField, SortOrder, Transform, UnboundPartitionSpec,
};
use lakeorm_core::{Error, LakeSchema, Partition, Result, TableState};

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

/// The partition spec of a table in `state`, over the field ids of `iceberg`.
pub(crate) fn partition_spec(state: &TableState, iceberg: &Schema) -> Result<UnboundPartitionSpec> {
    let mut builder = UnboundPartitionSpec::builder();
    for field in state.partitioning() {
        let source = source_id(state, iceberg, &field.column, "partition")?;
        builder = builder
            .add_partition_field(
                source,
                partition_field_name(&field.column, field.transform),
                transform(field.transform),
            )
            .map_err(|e| iceberg_error(&state.table, "building the partition spec", e))?;
    }
    Ok(builder.build())
}

/// The sort order of a table in `state` (its `sorted_by` columns, ascending, nulls first, as
/// Spark's `WRITE ORDERED BY` records them), over the field ids of `iceberg`.
pub(crate) fn sort_order(state: &TableState, iceberg: &Schema) -> Result<SortOrder> {
    let mut builder = SortOrder::builder();
    for column in &state.sorted_by {
        builder.with_sort_field(
            SortField::builder()
                .source_id(source_id(state, iceberg, column, "sort")?)
                .transform(Transform::Identity)
                .direction(SortDirection::Ascending)
                .null_order(NullOrder::First)
                .build(),
        );
    }
    builder
        .build_unbound()
        .map_err(|e| iceberg_error(&state.table, "building the sort order", e))
}

fn source_id(state: &TableState, iceberg: &Schema, column: &str, what: &str) -> Result<i32> {
    iceberg.field_by_name(column).map(|f| f.id).ok_or_else(|| {
        Error::Config(format!(
            "{what} column `{column}` is not a column of `{}`",
            state.table
        ))
    })
}

/// The names of the columns `table`'s default sort order sorts by, when every field of it
/// is an identity transform the engine can sort by (else none: the rows keep their order).
pub(crate) fn sort_columns(table: &iceberg::table::Table) -> Vec<String> {
    let metadata = table.metadata();
    let schema = metadata.current_schema();
    let order = metadata.default_sort_order();
    let names: Option<Vec<String>> = order
        .fields
        .iter()
        .map(|f| {
            (f.transform == Transform::Identity && f.direction == SortDirection::Ascending)
                .then(|| schema.name_by_field_id(f.source_id).map(str::to_owned))
                .flatten()
        })
        .collect();
    names.unwrap_or_default()
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
