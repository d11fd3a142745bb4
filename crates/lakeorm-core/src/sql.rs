//! Spark SQL rendering shared by the Delta and Iceberg dialects.
//!
//! Both formats are written through the same statement shapes (CREATE TABLE, INSERT … SELECT,
//! MERGE, DELETE); they differ in types, partition grammar, naming and table clauses, which each
//! dialect supplies through [`SparkSqlDialect`]. Identifiers are always quoted; values are never
//! spliced into SQL except ingest ids and locations, which lakeorm itself generates and which
//! are escaped as literals.

use crate::dialect::{Dialect, SOURCE_VIEW};
use crate::error::{Error, Result};
use crate::plan::{ExecutionPlan, MergeAction, Predicate, Statement, TableSpec, WriteSource};
use crate::schema::{INGEST_ID_COLUMN, LakeField, LakeType, Partition};

/// What a dialect contributes to Spark SQL rendering.
pub trait SparkSqlDialect: Dialect {
    /// The SQL type of a column type.
    fn type_sql(&self, ty: &LakeType) -> String;

    /// The partition expression of `field` (e.g. `` bucket(16, `id`) ``).
    fn partition_sql(&self, field: &LakeField, partition: Partition) -> Result<String>;

    /// Whether CREATE TABLE carries the backend's `LOCATION`.
    fn with_location(&self) -> bool;
}

/// Escapes `text` as a single-quoted SQL string literal.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
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
    spec.table
        .parts()
        .map(|p| dialect.quote_ident(p))
        .collect::<Vec<_>>()
        .join(".")
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
    all_columns(dialect, spec)
        .into_iter()
        .zip(
            spec.schema
                .fields()
                .iter()
                .map(|f| f.column.as_str())
                .chain(std::iter::once(INGEST_ID_COLUMN)),
        )
        .filter(|(_, raw)| !keys.iter().any(|k| k == raw))
        .map(|(c, _)| format!("target.{c} = source.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// CREATE TABLE IF NOT EXISTS for `spec`.
pub fn create_table<D: SparkSqlDialect + ?Sized>(dialect: &D, spec: &TableSpec) -> Result<String> {
    dialect.check_schema(&spec.schema)?;
    let mut columns: Vec<String> = spec
        .schema
        .fields()
        .iter()
        .map(|f| {
            format!(
                "{} {}{}",
                dialect.quote_ident(&f.column),
                dialect.type_sql(&f.ty.ty),
                if f.ty.nullable { "" } else { " NOT NULL" }
            )
        })
        .collect();
    columns.push(format!("{} STRING", dialect.quote_ident(INGEST_ID_COLUMN)));
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({}) USING {}",
        qualified(dialect, spec),
        columns.join(", "),
        spec.format
    );
    let partitions = spec
        .schema
        .partitions()
        .map(|(f, p)| dialect.partition_sql(f, p))
        .collect::<Result<Vec<_>>>()?;
    if !partitions.is_empty() {
        sql.push_str(&format!(" PARTITIONED BY ({})", partitions.join(", ")));
    }
    if dialect.with_location()
        && let Some(location) = &spec.location
    {
        sql.push_str(&format!(" LOCATION {}", string_literal(location.as_str())));
    }
    if !spec.properties.is_empty() {
        let props: Vec<String> = spec
            .properties
            .iter()
            .map(|(k, v)| format!("{} = {}", string_literal(k), string_literal(v)))
            .collect();
        sql.push_str(&format!(" TBLPROPERTIES ({})", props.join(", ")));
    }
    Ok(sql)
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
            format!(
                "INSERT INTO {} SELECT {} FROM {}",
                qualified(dialect, table),
                all_columns(dialect, table).join(", "),
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
                return Ok(vec![Statement::with_params(
                    format!(
                        "DELETE FROM {} WHERE {}",
                        qualified(dialect, table),
                        statement.sql
                    ),
                    statement.params.clone(),
                )]);
            }
        },
        ExecutionPlan::Optimize { table, .. } => format!("OPTIMIZE {}", qualified(dialect, table)),
        ExecutionPlan::Vacuum { table, retention } => format!(
            "VACUUM {} RETAIN {} HOURS",
            qualified(dialect, table),
            retention.as_secs().div_ceil(3600)
        ),
        ExecutionPlan::Exec(statement) => return Ok(vec![statement.clone()]),
    };
    Ok(vec![Statement::new(sql)])
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
