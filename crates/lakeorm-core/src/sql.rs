//! Spark SQL rendering shared by the Delta and Iceberg dialects.
//!
//! Both formats are written through the same statement shapes (CREATE TABLE, INSERT … SELECT,
//! MERGE, DELETE); they differ in types, partition grammar, naming and table clauses, which each
//! dialect supplies through [`SparkSqlDialect`]. Identifiers are always quoted; values are never
//! spliced into SQL except ingest ids and locations, which lakeorm itself generates, and the
//! values of maintenance filters (`OPTIMIZE … WHERE`), since maintenance commands take no
//! parameter markers; all are escaped as literals.

use std::collections::BTreeMap;

use crate::dialect::{Dialect, SOURCE_VIEW};
use crate::error::{Error, Result};
use crate::location::Location;
use crate::migration::{ColumnState, PartitionField, Safety, SchemaChange, TableState};
use crate::plan::{
    ExecutionPlan, MergeAction, Predicate, Statement, TableFormat, TableRef, TableSpec, WriteSource,
};
use crate::quote::string_literal;
use crate::schema::{INGEST_ID_COLUMN, LakeSchema, LakeType, Partition};

/// What a dialect contributes to Spark SQL rendering.
pub trait SparkSqlDialect: Dialect {
    /// The SQL type of a column type.
    fn type_sql(&self, ty: &LakeType) -> String;

    /// The partition expression of `column` (e.g. `` bucket(16, `id`) ``).
    fn partition_sql(&self, column: &str, partition: Partition) -> Result<String>;

    /// Whether CREATE TABLE carries the backend's `LOCATION`.
    fn with_location(&self) -> bool;
}

/// The partition expression of formats that partition by plain column values only (Parquet
/// tables): the quoted column for identity, a typed refusal naming `by` otherwise.
pub fn identity_partition_sql<D: Dialect + ?Sized>(
    dialect: &D,
    by: &str,
    column: &str,
    partition: Partition,
) -> Result<String> {
    match partition {
        Partition::Identity => Ok(dialect.quote_ident(column)),
        other => Err(Error::unsupported(
            format!("partition = \"{other}\""),
            by,
            "use partition = \"identity\"",
        )),
    }
}

/// Checks that every partition of `schema` is a plain (identity) column of a primitive type,
/// for formats that partition by column values only; `alternative` says what to do instead.
pub fn check_identity_partitions(schema: &LakeSchema, by: &str, alternative: &str) -> Result<()> {
    for (field, partition) in schema.partitions() {
        if partition != Partition::Identity {
            return Err(Error::unsupported(
                format!(
                    "partition = \"{partition}\" on column `{}` of `{}`",
                    field.column,
                    schema.table()
                ),
                by,
                alternative,
            ));
        }
    }
    check_partition_types(schema, by)
}

/// Checks that every column partitioned by identity holds primitive values.
pub fn check_partition_types(schema: &LakeSchema, by: &str) -> Result<()> {
    for (field, partition) in schema.partitions() {
        if partition == Partition::Identity
            && matches!(
                field.ty.ty,
                LakeType::List(_) | LakeType::Struct(_) | LakeType::Json | LakeType::Binary
            )
        {
            return Err(Error::unsupported(
                format!("partitioning by `{}`", field.column),
                by,
                "partition columns must be primitive values",
            ));
        }
    }
    Ok(())
}

/// The Spark SQL type of `ty`, with the given names for its leaf types.
pub fn spark_type(ty: &LakeType, small_ints: bool) -> String {
    match ty {
        LakeType::Boolean => "BOOLEAN".into(),
        LakeType::Int8 if small_ints => "TINYINT".into(),
        LakeType::Int16 if small_ints => "SMALLINT".into(),
        LakeType::Int8 | LakeType::Int16 | LakeType::Int32 => "INT".into(),
        LakeType::Int64 => "BIGINT".into(),
        LakeType::Float32 => "FLOAT".into(),
        LakeType::Float64 => "DOUBLE".into(),
        LakeType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
        LakeType::String | LakeType::Uuid | LakeType::Json => "STRING".into(),
        LakeType::Binary => "BINARY".into(),
        LakeType::Date => "DATE".into(),
        LakeType::Timestamp => "TIMESTAMP".into(),
        LakeType::TimestampNtz => "TIMESTAMP_NTZ".into(),
        LakeType::List(element) => format!("ARRAY<{}>", spark_type(&element.ty, small_ints)),
        LakeType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| {
                    format!(
                        "`{}`: {}{}",
                        f.name.replace('`', "``"),
                        spark_type(&f.ty.ty, small_ints),
                        if f.ty.nullable { "" } else { " NOT NULL" }
                    )
                })
                .collect();
            format!("STRUCT<{}>", inner.join(", "))
        }
    }
}

fn qualified<D: SparkSqlDialect + ?Sized>(dialect: &D, spec: &TableSpec) -> String {
    qualified_ref(dialect, &spec.table)
}

/// Every column of the table, system column last, quoted.
fn all_columns<D: SparkSqlDialect + ?Sized>(dialect: &D, spec: &TableSpec) -> Vec<String> {
    spec.schema
        .fields()
        .iter()
        .map(|f| dialect.quote_ident(&f.column))
        .chain(std::iter::once(dialect.quote_ident(INGEST_ID_COLUMN)))
        .collect()
}

fn source_relation<D: SparkSqlDialect + ?Sized>(
    dialect: &D,
    source: &WriteSource,
    ingest_id: Option<&str>,
) -> String {
    let from = match source {
        WriteSource::Batches(_) => dialect.quote_ident(SOURCE_VIEW),
        WriteSource::Staged { location, .. } => {
            format!("parquet.{}", dialect.quote_ident(location.as_str()))
        }
    };
    match ingest_id {
        Some(id) => format!(
            "(SELECT * FROM {from} WHERE {} = {})",
            dialect.quote_ident(INGEST_ID_COLUMN),
            string_literal(id)
        ),
        None => from,
    }
}

fn key_condition<D: SparkSqlDialect + ?Sized>(dialect: &D, keys: &[String]) -> Result<String> {
    if keys.is_empty() {
        return Err(Error::InvalidModel {
            model: String::new(),
            reason: "a merge, update or delete by key needs at least one key column; mark fields with #[lake(pk)] or #[lake(merge_key)]".into(),
        });
    }
    Ok(keys
        .iter()
        .map(|k| {
            let k = dialect.quote_ident(k);
            format!("target.{k} = source.{k}")
        })
        .collect::<Vec<_>>()
        .join(" AND "))
}

fn assignments<D: SparkSqlDialect + ?Sized>(
    dialect: &D,
    spec: &TableSpec,
    keys: &[String],
) -> String {
    spec.schema
        .update_columns(keys)
        .map(|c| {
            let c = dialect.quote_ident(c);
            format!("target.{c} = source.{c}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// CREATE TABLE IF NOT EXISTS for `spec`.
pub fn create_table<D: SparkSqlDialect + ?Sized>(dialect: &D, spec: &TableSpec) -> Result<String> {
    dialect.check_schema(&spec.schema)?;
    let location = if dialect.with_location() {
        spec.location.as_ref()
    } else {
        None
    };
    create_table_sql(
        dialect,
        &spec.table,
        &spec.table_state(dialect)?,
        spec.format,
        location,
        &spec.properties,
    )
}

/// CREATE TABLE IF NOT EXISTS for a table in `state`: its columns, the system column, then the
/// dialect's generated columns.
pub fn create_table_sql<D: SparkSqlDialect + ?Sized>(
    dialect: &D,
    table: &TableRef,
    state: &TableState,
    format: TableFormat,
    location: Option<&Location>,
    properties: &BTreeMap<String, String>,
) -> Result<String> {
    let mut columns: Vec<String> = state
        .columns
        .iter()
        .map(|c| column_def(dialect, c))
        .collect();
    columns.push(format!("{} STRING", dialect.quote_ident(INGEST_ID_COLUMN)));
    // Generated partition columns come after the system column, where the embedded engine
    // places them too, so tables created either way have one column order.
    columns.extend(dialect.generated_columns(state)?.iter().map(|g| {
        format!(
            "{} {} GENERATED ALWAYS AS ({})",
            dialect.quote_ident(&g.name),
            dialect.type_sql(&g.ty),
            g.expression
        )
    }));
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({}) USING {format}",
        qualified_ref(dialect, table),
        columns.join(", "),
    );
    let partitions = partition_list(dialect, &state.partitioning())?;
    if !partitions.is_empty() {
        sql.push_str(&format!(" PARTITIONED BY ({partitions})"));
    }
    if !state.clustering.is_empty() {
        sql.push_str(&format!(
            " CLUSTER BY ({})",
            column_list(dialect, &state.clustering)
        ));
    }
    if let Some(location) = location {
        sql.push_str(&format!(" LOCATION {}", string_literal(location.as_str())));
    }
    let mut properties = properties.clone();
    properties.extend(state.properties.clone());
    if !properties.is_empty() {
        sql.push_str(&format!(" TBLPROPERTIES ({})", properties_sql(&properties)));
    }
    Ok(sql)
}

fn column_def<D: SparkSqlDialect + ?Sized>(dialect: &D, column: &ColumnState) -> String {
    format!(
        "{} {}{}",
        dialect.quote_ident(&column.name),
        dialect.type_sql(&column.ty),
        if column.nullable { "" } else { " NOT NULL" }
    )
}

fn partition_list<D: SparkSqlDialect + ?Sized>(
    dialect: &D,
    fields: &[PartitionField],
) -> Result<String> {
    Ok(fields
        .iter()
        .map(|p| dialect.partition_sql(&p.column, p.transform))
        .collect::<Result<Vec<_>>>()?
        .join(", "))
}

/// `` `a`, `b` ``: quoted column names.
pub fn column_list<D: Dialect + ?Sized>(dialect: &D, columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| dialect.quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `'key' = 'value', …` for TBLPROPERTIES.
pub fn properties_sql(properties: &BTreeMap<String, String>) -> String {
    properties
        .iter()
        .map(|(k, v)| format!("{} = {}", string_literal(k), string_literal(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The quoted, qualified name of `table`.
pub fn qualified_ref<D: Dialect + ?Sized>(dialect: &D, table: &TableRef) -> String {
    table
        .parts()
        .map(|p| dialect.quote_ident(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// The Spark SQL statements of a schema change, as every Spark-SQL dialect spells them; dialects
/// add their own prerequisites and partition grammar around them. Refuses changes the dialect
/// classifies as unsupported.
pub fn change_sql<D: SparkSqlDialect + ?Sized>(
    dialect: &D,
    table: &TableRef,
    change: &SchemaChange,
) -> Result<Vec<String>> {
    if let Safety::Unsupported(reason) = dialect.classify(change) {
        return Err(Error::unsupported(
            format!("{change} on `{table}`"),
            format!("the {} dialect", dialect.name()),
            reason,
        ));
    }
    let name = qualified_ref(dialect, table);
    let q = |c: &str| dialect.quote_ident(c);
    Ok(match change {
        SchemaChange::CreateTable(state) => vec![create_table_sql(
            dialect,
            table,
            state,
            dialect.format(),
            None,
            &dialect.table_properties(),
        )?],
        SchemaChange::DropTable(_) => vec![format!("DROP TABLE IF EXISTS {name}")],
        SchemaChange::AddColumn(column) => {
            // Spark adds columns as nullable; NOT NULL is a second, checked step.
            let mut steps = vec![format!(
                "ALTER TABLE {name} ADD COLUMN {} {}",
                q(&column.name),
                dialect.type_sql(&column.ty)
            )];
            if !column.nullable {
                steps.push(format!(
                    "ALTER TABLE {name} ALTER COLUMN {} SET NOT NULL",
                    q(&column.name)
                ));
            }
            steps
        }
        SchemaChange::DropColumn(column) => {
            vec![format!(
                "ALTER TABLE {name} DROP COLUMN {}",
                q(&column.name)
            )]
        }
        SchemaChange::RenameColumn { from, to } => vec![format!(
            "ALTER TABLE {name} RENAME COLUMN {} TO {}",
            q(from),
            q(to)
        )],
        SchemaChange::ChangeType { column, to, .. } => vec![format!(
            "ALTER TABLE {name} ALTER COLUMN {} TYPE {}",
            q(column),
            dialect.type_sql(to)
        )],
        SchemaChange::DropNotNull { column } => vec![format!(
            "ALTER TABLE {name} ALTER COLUMN {} DROP NOT NULL",
            q(column)
        )],
        SchemaChange::SetNotNull { column } => vec![format!(
            "ALTER TABLE {name} ALTER COLUMN {} SET NOT NULL",
            q(column)
        )],
        SchemaChange::Repartition { to, .. } => {
            // A full rewrite under the new layout; formats with partition evolution override.
            let partitions = partition_list(dialect, to)?;
            let by = if partitions.is_empty() {
                String::new()
            } else {
                format!(" PARTITIONED BY ({partitions})")
            };
            vec![format!(
                "CREATE OR REPLACE TABLE {name} USING {}{by} AS SELECT * FROM {name}",
                dialect.format()
            )]
        }
    })
}

/// The statements of any plan, in Spark SQL.
pub fn render<D: SparkSqlDialect + ?Sized>(
    dialect: &D,
    plan: &ExecutionPlan,
) -> Result<Vec<Statement>> {
    let sql = match plan {
        ExecutionPlan::CreateTable { table } => create_table(dialect, table)?,
        ExecutionPlan::Append {
            table,
            source,
            ingest_id,
        } => {
            let id = ingest_id.to_string();
            let staged = matches!(source, WriteSource::Staged { .. }).then_some(id.as_str());
            // The column list matters: without it INSERT is positional, and engines that move
            // partition columns to the end of the table (Hive-style Parquet tables) would
            // shift every value after the first partition column.
            let columns = all_columns(dialect, table).join(", ");
            format!(
                "INSERT INTO {} ({columns}) SELECT {columns} FROM {}",
                qualified(dialect, table),
                source_relation(dialect, source, staged)
            )
        }
        ExecutionPlan::Merge {
            table,
            source,
            keys,
            on_match,
            ingest_id,
        } => {
            let id = ingest_id.to_string();
            let columns = all_columns(dialect, table);
            let on_matched = match on_match {
                MergeAction::Update => format!(
                    " WHEN MATCHED THEN UPDATE SET {}",
                    assignments(dialect, table, keys)
                ),
                MergeAction::Ignore => String::new(),
                // raise_error fails the whole MERGE atomically when any key already exists.
                MergeAction::Error => format!(
                    " WHEN MATCHED THEN UPDATE SET target.{} = raise_error({})",
                    dialect.quote_ident(INGEST_ID_COLUMN),
                    string_literal(&format!(
                        "lakeorm: a row with the same key already exists in {}",
                        table.table
                    ))
                ),
            };
            format!(
                "MERGE INTO {} AS target USING {} AS source ON {}{} WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
                qualified(dialect, table),
                source_relation(dialect, source, Some(&id)),
                key_condition(dialect, keys)?,
                on_matched,
                columns.join(", "),
                columns
                    .iter()
                    .map(|c| format!("source.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        ExecutionPlan::Update {
            table,
            source,
            keys,
            ingest_id,
        } => format!(
            "MERGE INTO {} AS target USING {} AS source ON {} WHEN MATCHED THEN UPDATE SET {}",
            qualified(dialect, table),
            source_relation(dialect, source, Some(&ingest_id.to_string())),
            key_condition(dialect, keys)?,
            assignments(dialect, table, keys)
        ),
        ExecutionPlan::Delete { table, predicate } => match predicate {
            Predicate::Keys { columns, .. } => format!(
                "MERGE INTO {} AS target USING {} AS source ON {} WHEN MATCHED THEN DELETE",
                qualified(dialect, table),
                dialect.quote_ident(SOURCE_VIEW),
                key_condition(dialect, columns)?
            ),
            Predicate::Sql(statement) => {
                return Ok(vec![Statement {
                    sql: format!(
                        "DELETE FROM {} WHERE {}",
                        qualified(dialect, table),
                        statement.sql
                    ),
                    params: statement.params.clone(),
                }]);
            }
        },
        ExecutionPlan::Optimize {
            table,
            target_size,
            zorder,
            filter,
        } => return optimize_delta(dialect, table, *target_size, zorder, filter.as_ref()),
        ExecutionPlan::Vacuum {
            table, retention, ..
        } => format!(
            "VACUUM {} RETAIN {} HOURS",
            qualified(dialect, table),
            retention.as_secs().div_ceil(3600)
        ),
        ExecutionPlan::Exec(statement) => return Ok(vec![statement.clone()]),
    };
    Ok(vec![Statement::new(sql)])
}

/// Delta's `OPTIMIZE … [WHERE …] [ZORDER BY (…)]`.
fn optimize_delta<D: SparkSqlDialect + ?Sized>(
    dialect: &D,
    table: &TableSpec,
    target_size: Option<u64>,
    zorder: &[String],
    filter: Option<&Statement>,
) -> Result<Vec<Statement>> {
    if target_size.is_some() {
        // Spark sizes OPTIMIZE's files from a session conf, not from the statement.
        return Err(Error::unsupported(
            "optimize with a target file size",
            "Delta's OPTIMIZE statement",
            "set `spark.databricks.delta.optimize.maxFileSize` for every session \
             (SparkDriverBuilder::session_conf) instead",
        ));
    }
    let mut statement = Statement::new(format!("OPTIMIZE {}", qualified(dialect, table)));
    if let Some(filter) = filter {
        // Maintenance commands take no parameter markers (Databricks refuses them), so the
        // filter's values are written as escaped literals, as for Iceberg's procedures.
        statement
            .sql
            .push_str(&format!(" WHERE {}", filter.inline()?));
    }
    if !zorder.is_empty() {
        statement
            .sql
            .push_str(&format!(" ZORDER BY ({})", column_list(dialect, zorder)));
    }
    Ok(vec![statement])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_escaped() {
        assert_eq!(string_literal("it's"), "'it\\'s'");
        assert_eq!(string_literal("a\\b"), "'a\\\\b'");
    }

    #[test]
    fn nested_types() {
        use crate::schema::{ColumnType, StructField};
        let ty = LakeType::List(Box::new(ColumnType::required(LakeType::Struct(vec![
            StructField {
                name: "city".into(),
                ty: ColumnType::nullable(LakeType::String),
            },
        ]))));
        assert_eq!(spark_type(&ty, true), "ARRAY<STRUCT<`city`: STRING>>");
        assert_eq!(spark_type(&LakeType::Int8, false), "INT");
    }
}
