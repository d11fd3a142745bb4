//! Table DDL on Delta tables: what migration files do on the embedded engine.
//!
//! Creating and dropping tables and setting properties are metadata operations. Every change to
//! existing columns (add, drop, rename, retype, nullability, partitioning) rewrites the table in
//! one overwrite commit with the new schema: delta-rs has no column mapping or type widening to
//! do them in place, and a rewrite is also what checks the new schema against every existing row
//! (a value that does not convert, or a NULL in a column made NOT NULL, fails the statement and
//! leaves the table as it was). Older versions stay readable until vacuumed.
//!
//! A rewrite streams: the old version is scanned, each batch conformed to the new schema and
//! handed to delta-rs's writer as it comes, so a table of any size is rewritten in bounded
//! memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayRef, RecordBatch, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::{DataFrame, SessionContext};
use deltalake::DeltaTable;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt as _;
use lakeorm_core::{Error, ExecMetrics, INGEST_ID_COLUMN, Partition, Result};

use crate::ddl::{AlterOp, ColumnDef, Ddl, PartitionDef};
use crate::delta::{DeltaOps, GENERATION_EXPRESSION_KEY};
use crate::errors::{self, ENGINE};

/// Properties that ask Spark's Delta for in-place renames, drops and type changes; the
/// embedded engine does those by rewriting, so it needs neither.
const REWRITE_FEATURES: [&str; 4] = [
    "delta.columnMapping.mode",
    "delta.enableTypeWidening",
    "delta.minReaderVersion",
    "delta.minWriterVersion",
];

fn sql_error(message: impl Into<String>) -> Error {
    Error::sql(message)
}

/// Arrow types as a Delta table stores them: DataFusion may scan strings and binaries as views.
fn stored_type(ty: &DataType) -> DataType {
    match ty {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        other => other.clone(),
    }
}

fn stored_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                f.as_ref()
                    .clone()
                    .with_data_type(stored_type(f.data_type()))
            })
            .collect::<Vec<_>>(),
    ))
}

/// `batch` with the columns of `schema`, cast where needed; fails on a value that does not
/// convert or a NULL in a NOT NULL column.
fn conform(
    batch: &RecordBatch,
    schema: &SchemaRef,
    sources: &[Option<String>],
) -> Result<RecordBatch> {
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let columns = schema
        .fields()
        .iter()
        .zip(sources)
        .map(|(field, source)| {
            let Some(source) = source else {
                return Ok(new_null_array(field.data_type(), batch.num_rows()));
            };
            let column = batch
                .column_by_name(source)
                .ok_or_else(|| sql_error(format!("column `{source}` is missing")))?;
            if column.data_type() == field.data_type() {
                return Ok(Arc::clone(column));
            }
            cast_with_options(column, field.data_type(), &strict).map_err(|e| {
                sql_error(format!(
                    "column `{}`: an existing value does not convert to {}: {e}",
                    field.name(),
                    field.data_type()
                ))
            })
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| sql_error(format!("the existing rows do not fit the new schema: {e}")))
}

/// The rows of a query, conformed batch by batch to the new schema: the input of a streamed
/// rewrite. It runs the query in the session that planned it (where the table's store is
/// registered), whatever context delta-rs executes it in.
struct Conformed {
    source: DataFrame,
    schema: SchemaRef,
    sources: Arc<[Option<String>]>,
    rows: Arc<AtomicU64>,
    /// The first row that did not fit, kept as lakeorm's error: delta-rs would wrap it.
    refused: Arc<Mutex<Option<Error>>>,
}

impl std::fmt::Debug for Conformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conformed")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PartitionStream for Conformed {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let source = self.source.clone();
        let (schema, sources) = (Arc::clone(&self.schema), Arc::clone(&self.sources));
        let (rows, refused) = (Arc::clone(&self.rows), Arc::clone(&self.refused));
        let batches = futures::stream::once(async move { source.execute_stream().await })
            .try_flatten()
            .try_filter(|batch| futures::future::ready(batch.num_rows() > 0))
            .and_then(move |batch| {
                let conformed = conform(&batch, &schema, &sources).map_err(|e| {
                    let message = e.to_string();
                    refused.lock().expect("refusal lock").get_or_insert(e);
                    DataFusionError::Execution(message)
                });
                if let Ok(batch) = &conformed {
                    rows.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                }
                futures::future::ready(conformed)
            });
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches,
        ))
    }
}

fn column_field(column: &ColumnDef) -> Field {
    let field = Field::new(&column.name, column.ty.to_arrow(), column.nullable);
    match &column.generated {
        Some(expression) => {
            field.with_metadata([(GENERATION_EXPRESSION_KEY.to_owned(), expression.clone())].into())
        }
        None => field,
    }
}

/// Delta partitions by columns; a transform partitions by a generated column.
fn column_partitions(partitions: Vec<PartitionDef>) -> Result<Vec<String>> {
    partitions
        .into_iter()
        .map(|p| match p.transform {
            Partition::Identity => Ok(p.column),
            other => Err(Error::unsupported(
                format!(
                    "partitioning a Delta table by the transform `{other}` of `{}`",
                    p.column
                ),
                ENGINE,
                "Delta tables partition by columns; a transform partitions by a generated column \
                 (`… GENERATED ALWAYS AS (…)`), as the Delta dialect writes it",
            )),
        })
        .collect()
}

impl DeltaOps<'_> {
    /// Carries out a table DDL statement.
    pub(crate) async fn ddl(&self, ddl: Ddl) -> Result<ExecMetrics> {
        match ddl {
            Ddl::Create {
                name,
                replace,
                if_not_exists,
                columns,
                format,
                partitions,
                properties,
                query,
            } => {
                if let Some(format) = format.filter(|f| f != "delta") {
                    return Err(Error::unsupported(
                        format!("CREATE TABLE `{name}` USING {format}"),
                        ENGINE,
                        "the embedded engine writes Delta and Iceberg tables; use Spark Connect for other formats",
                    ));
                }
                let partitions = column_partitions(partitions)?;
                let location = self.catalog.location_of(&name);
                let existing = self.catalog.load(&location).await?;
                if existing.is_some() && !replace {
                    if if_not_exists {
                        return Ok(ExecMetrics::default());
                    }
                    return Err(sql_error(format!("table `{name}` already exists")));
                }
                match query {
                    Some(query) => self.create_as(&name, existing, &query, partitions).await,
                    None => {
                        if existing.is_some() {
                            self.catalog.drop_table(&name).await?;
                        }
                        let mut fields: Vec<Field> = columns.iter().map(column_field).collect();
                        // Every lakeorm table carries its rows' ingest ids.
                        if !columns.iter().any(|c| c.name == INGEST_ID_COLUMN) {
                            fields.push(Field::new(INGEST_ID_COLUMN, DataType::Utf8, true));
                        }
                        let schema = Arc::new(Schema::new(fields));
                        let table = self
                            .create_at(&name, &location, &schema, partitions, &properties)
                            .await?;
                        self.finish(&name, table, 0).await
                    }
                }
            }
            Ddl::Alter { name, op } => self.alter(&name, op).await,
            Ddl::CreateNamespace { .. } => Ok(ExecMetrics::default()),
            Ddl::Drop { name, if_exists } => {
                if !self.catalog.drop_table(&name).await? && !if_exists {
                    return Err(sql_error(format!("table `{name}` does not exist")));
                }
                Ok(ExecMetrics::default())
            }
        }
    }

    async fn finish(&self, name: &str, table: DeltaTable, rows: u64) -> Result<ExecMetrics> {
        let version = table.version().and_then(|v| i64::try_from(v).ok());
        self.catalog.register(name, table).await?;
        Ok(ExecMetrics {
            rows_inserted: rows,
            version,
            ..Default::default()
        })
    }

    async fn existing(&self, name: &str) -> Result<DeltaTable> {
        let location = self.catalog.location_of(name);
        self.catalog
            .latest(name, &location)
            .await?
            .ok_or_else(|| sql_error(format!("table `{name}` does not exist")))
    }

    /// `CREATE [OR REPLACE] TABLE … AS <query>`: the query runs first, so a table may be
    /// replaced from itself (how a Delta repartition is written).
    async fn create_as(
        &self,
        name: &str,
        existing: Option<DeltaTable>,
        query: &str,
        partitions: Vec<String>,
    ) -> Result<ExecMetrics> {
        let df = self
            .session
            .sql(query)
            .await
            .map_err(|e| sql_error(e.to_string()))?;
        let schema = stored_schema(df.schema().as_arrow());
        let sources: Vec<Option<String>> = schema
            .fields()
            .iter()
            .map(|f| Some(f.name().clone()))
            .collect();
        let location = self.catalog.location_of(name);
        let target = match existing {
            Some(table) => table,
            None => self.catalog.handle(&location)?,
        };
        self.overwrite(name, target, &schema, &sources, df, partitions)
            .await
    }

    /// Writes the rows of `source`, conformed to `schema`, as the whole new content of
    /// `table`, streaming them through.
    async fn overwrite(
        &self,
        name: &str,
        table: DeltaTable,
        schema: &SchemaRef,
        sources: &[Option<String>],
        source: DataFrame,
        partitions: Vec<String>,
    ) -> Result<ExecMetrics> {
        let rows = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(Mutex::new(None));
        let input = Conformed {
            source,
            schema: Arc::clone(schema),
            sources: sources.into(),
            rows: Arc::clone(&rows),
            refused: Arc::clone(&refused),
        };
        // The plan's schema is `schema` itself, nullability and field metadata included: it
        // becomes the table's new schema.
        let provider = StreamingTable::try_new(Arc::clone(schema), vec![Arc::new(input)])
            .map_err(|e| errors::datafusion("planning the rewrite", e))?;
        let plan =
            LogicalPlanBuilder::scan("rewrite", provider_as_source(Arc::new(provider)), None)
                .and_then(LogicalPlanBuilder::build)
                .map_err(|e| errors::datafusion("planning the rewrite", e))?;
        let written = table
            .write(Vec::new())
            .with_input_plan(plan)
            .with_writer_properties(crate::delta::writer_properties(&[]))
            .with_save_mode(SaveMode::Overwrite)
            .with_schema_mode(SchemaMode::Overwrite)
            .with_partition_columns(partitions)
            // The new content was read at the table's version: a commit that landed since
            // (an append) is not in it, and delta-rs would rebase an overwrite over it, which
            // keeps those rows under the old physical schema (a renamed column reads NULL).
            // Without retries the commit fails instead, and the statement is re-run from the
            // new version (the Client re-runs what did not commit).
            .with_commit_properties(CommitProperties::default().with_max_retries(0))
            .await;
        if let Some(refusal) = refused.lock().expect("refusal lock").take() {
            return Err(refusal);
        }
        let table = written.map_err(|e| errors::delta(name, "rewrite", e))?;
        self.finish(name, table, rows.load(Ordering::Relaxed)).await
    }

    async fn alter(&self, name: &str, op: AlterOp) -> Result<ExecMetrics> {
        let table = self.existing(name).await?;
        let state = table
            .snapshot()
            .map_err(|e| errors::delta(name, "alter", e))?;
        let current = state.snapshot().arrow_schema();
        let mut partitions = state.metadata().partition_columns().to_vec();
        // Each new column with the old column it is read from (`None`: all NULL).
        let mut fields: Vec<Field> = current
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut sources: Vec<Option<String>> =
            fields.iter().map(|f| Some(f.name().clone())).collect();
        let position = |fields: &[Field], column: &str| {
            fields
                .iter()
                .position(|f| f.name() == column)
                .ok_or_else(|| sql_error(format!("table `{name}` has no column `{column}`")))
        };
        let system = crate::ddl::alterable;
        match op {
            AlterOp::SetProperties(properties) => {
                let properties: std::collections::HashMap<String, String> = properties
                    .into_iter()
                    .filter(|(k, _)| !REWRITE_FEATURES.contains(&k.as_str()))
                    .collect();
                if properties.is_empty() {
                    return Ok(ExecMetrics::default());
                }
                let table = table
                    .set_tbl_properties()
                    .with_properties(properties)
                    .await
                    .map_err(|e| errors::delta(name, "set properties", e))?;
                return self.finish(name, table, 0).await;
            }
            AlterOp::AddColumns(columns) => {
                for column in columns {
                    if column.generated.is_some() {
                        return Err(Error::unsupported(
                            format!("adding the generated column `{}` to `{name}`", column.name),
                            ENGINE,
                            "Delta adds generated columns only when a table is created",
                        ));
                    }
                    if fields.iter().any(|f| f.name() == &column.name) {
                        return Err(sql_error(format!(
                            "table `{name}` already has a column `{}`",
                            column.name
                        )));
                    }
                    fields.push(column_field(&column));
                    sources.push(None);
                }
            }
            AlterOp::DropColumns { names, if_exists } => {
                for column in names {
                    system(&column)?;
                    match position(&fields, &column) {
                        Ok(i) => {
                            fields.remove(i);
                            sources.remove(i);
                            partitions.retain(|p| p != &column);
                        }
                        Err(_) if if_exists => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            AlterOp::RenameColumn { from, to } => {
                system(&from)?;
                let i = position(&fields, &from)?;
                if fields.iter().any(|f| f.name() == &to) {
                    return Err(sql_error(format!(
                        "table `{name}` already has a column `{to}`"
                    )));
                }
                fields[i] = fields[i].clone().with_name(&to);
                for p in partitions.iter_mut().filter(|p| **p == from) {
                    p.clone_from(&to);
                }
            }
            AlterOp::SetType { column, ty } => {
                system(&column)?;
                let i = position(&fields, &column)?;
                fields[i] = fields[i].clone().with_data_type(ty.to_arrow());
            }
            AlterOp::SetNotNull(column) => {
                let i = position(&fields, &column)?;
                fields[i] = fields[i].clone().with_nullable(false);
            }
            AlterOp::DropNotNull(column) => {
                let i = position(&fields, &column)?;
                fields[i] = fields[i].clone().with_nullable(true);
            }
            AlterOp::AddPartitionField(_) | AlterOp::DropPartitionField(_) => {
                return Err(Error::unsupported(
                    format!(
                        "partition evolution (`ADD/DROP PARTITION FIELD`) on the Delta table `{name}`"
                    ),
                    ENGINE,
                    "Delta has no partition evolution; the Delta dialect repartitions by rewriting the table",
                ));
            }
            AlterOp::WriteOrderedBy(_) => {
                return Err(Error::unsupported(
                    format!("`WRITE ORDERED BY` on the Delta table `{name}`"),
                    ENGINE,
                    "Delta tables record no sort order; the embedded engine sorts Delta writes by the model's sortable columns",
                ));
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let rows = self.scan(name, &table).await?;
        self.overwrite(name, table, &schema, &sources, rows, partitions)
            .await
    }

    /// The rows of the table's version `table`, to be streamed.
    async fn scan(&self, name: &str, table: &DeltaTable) -> Result<DataFrame> {
        let provider = table
            .table_provider()
            .await
            .map_err(|e| errors::datafusion(&format!("reading `{name}`"), e))?;
        SessionContext::new()
            .read_table(provider)
            .map_err(|e| errors::datafusion("reading the table to rewrite", e))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};

    use super::*;
    use crate::EmbeddedDriver;
    use crate::iceberg::test_support::memory_lake;

    fn rows(ids: &[i64]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new(INGEST_ID_COLUMN, DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("n{i}")),
                )),
                Arc::new(StringArray::from_iter_values(ids.iter().map(|_| "x"))),
            ],
        )
        .unwrap()
    }

    /// A rewrite read at version v, committed after an append landed at v + 1, is a commit
    /// conflict: rebased over the append, it would keep those rows under the old schema.
    #[tokio::test]
    async fn a_rewrite_that_missed_a_concurrent_append_conflicts() {
        let driver = EmbeddedDriver::open(memory_lake()).await.unwrap();
        let ops = driver.delta_ops();
        ops.ddl(
            crate::ddl::parse("CREATE TABLE t (id BIGINT, name STRING) USING delta")
                .unwrap()
                .unwrap(),
        )
        .await
        .unwrap();
        ops.existing("t")
            .await
            .unwrap()
            .write(vec![rows(&[1, 2])])
            .await
            .unwrap();
        let read = ops.existing("t").await.unwrap();
        let before = ops.scan("t", &read).await.unwrap();
        // The concurrent append.
        read.clone().write(vec![rows(&[3])]).await.unwrap();
        let renamed = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("label", DataType::Utf8, true),
            Field::new(INGEST_ID_COLUMN, DataType::Utf8, true),
        ]));
        let sources = ["id", "name", INGEST_ID_COLUMN].map(|c| Some(c.to_owned()));
        let lost = ops
            .overwrite("t", read, &renamed, &sources, before, Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(lost, Error::CommitConflict { .. }), "{lost:?}");
        assert!(lost.is_retryable() && lost.is_unapplied());

        // Re-run from the new version, the rename keeps every row.
        ops.ddl(
            crate::ddl::parse("ALTER TABLE t RENAME COLUMN name TO label")
                .unwrap()
                .unwrap(),
        )
        .await
        .unwrap();
        let table = ops.existing("t").await.unwrap();
        let after = ops
            .scan("t", &table)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let labels: usize = after
            .iter()
            .map(|b| b.num_rows() - b.column_by_name("label").unwrap().null_count())
            .sum();
        assert_eq!(labels, 3);
    }

    /// A streamed rewrite keeps every row of every file, and the new schema as declared:
    /// NOT NULL stays NOT NULL, field metadata (a generation expression) stays.
    #[tokio::test]
    async fn a_streamed_rewrite_keeps_rows_nullability_and_metadata() {
        let driver = EmbeddedDriver::open(memory_lake()).await.unwrap();
        let ops = driver.delta_ops();
        ops.ddl(
            crate::ddl::parse(
                "CREATE TABLE t (id BIGINT NOT NULL, name STRING, \
                 day BIGINT GENERATED ALWAYS AS (id + 1)) USING delta",
            )
            .unwrap()
            .unwrap(),
        )
        .await
        .unwrap();
        let schema = ops
            .existing("t")
            .await
            .unwrap()
            .snapshot()
            .unwrap()
            .snapshot()
            .arrow_schema();
        for chunk in 0..5i64 {
            let ids: Vec<i64> = (chunk * 10_000..(chunk + 1) * 10_000).collect();
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                schema
                    .fields()
                    .iter()
                    .map(|f| -> ArrayRef {
                        match f.name().as_str() {
                            "id" => Arc::new(Int64Array::from(ids.clone())),
                            "day" => {
                                Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i + 1)))
                            }
                            "name" => Arc::new(StringArray::from_iter_values(
                                ids.iter().map(|i| format!("n{i}")),
                            )),
                            _ => Arc::new(StringArray::from_iter_values(ids.iter().map(|_| "x"))),
                        }
                    })
                    .collect(),
            )
            .unwrap();
            ops.existing("t")
                .await
                .unwrap()
                .write(vec![batch])
                .await
                .unwrap();
        }
        let metrics = ops
            .ddl(
                crate::ddl::parse("ALTER TABLE t RENAME COLUMN name TO label")
                    .unwrap()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(metrics.rows_inserted, 50_000);
        let table = ops.existing("t").await.unwrap();
        let after = table.snapshot().unwrap().snapshot().arrow_schema();
        let id = after.field_with_name("id").unwrap();
        assert!(!id.is_nullable(), "{id:?}");
        let day = after.field_with_name("day").unwrap();
        assert!(
            day.metadata().contains_key(GENERATION_EXPRESSION_KEY)
                || table
                    .snapshot()
                    .unwrap()
                    .schema()
                    .field("day")
                    .is_some_and(|f| f.metadata().contains_key(GENERATION_EXPRESSION_KEY)),
            "{day:?}"
        );
        let rows: usize = ops
            .scan("t", &table)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
            .iter()
            .map(|b| b.num_rows() - b.column_by_name("label").unwrap().null_count())
            .sum();
        assert_eq!(rows, 50_000);
    }

    /// A rewrite of an empty table streams no rows, and still commits the new schema.
    #[tokio::test]
    async fn a_rewrite_of_an_empty_table_commits_the_new_schema() {
        let driver = EmbeddedDriver::open(memory_lake()).await.unwrap();
        let ops = driver.delta_ops();
        ops.ddl(
            crate::ddl::parse("CREATE TABLE t (id BIGINT, name STRING) USING delta")
                .unwrap()
                .unwrap(),
        )
        .await
        .unwrap();
        let metrics = ops
            .ddl(
                crate::ddl::parse("ALTER TABLE t RENAME COLUMN name TO label")
                    .unwrap()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(metrics.rows_inserted, 0);
        let table = ops.existing("t").await.unwrap();
        let schema = table.snapshot().unwrap().snapshot().arrow_schema();
        assert!(schema.field_with_name("label").is_ok(), "{schema:?}");
        assert!(schema.field_with_name("name").is_err(), "{schema:?}");
    }
}
