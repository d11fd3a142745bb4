//! `DatabricksSqlDriver`: lakeorm's `Driver` over a Databricks SQL warehouse.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use arrow::array::RecordBatch;
use async_trait::async_trait;
use lakeorm_backends::{PartWriter, PartWriterOptions};
use lakeorm_core::dialect::SOURCE_VIEW;
use lakeorm_core::{
    Backend, Driver, DriverCapabilities, Error, ExecContext, ExecMetrics, ExecutionPlan,
    INGEST_ID_COLUMN, IngestId, Location, MergeAction, Predicate, QueryResult, Result, Statement,
    TableFormat, TableSpec, TableStats, WriteSource,
};

use crate::api::{Disposition, Format, Parameter};
use crate::errors::ENGINE;
use crate::params::{self, MAX_PARAMETERS};
use crate::results;
use crate::statement::{Finished, StatementOptions, Warehouse};
use crate::volume::volume_path;
use crate::workspace::Workspace;

/// The longest SQL text sent with rows inline; larger writes are staged. The API takes 16 MiB;
/// far below it, staged Parquet is cheaper than parsing SQL.
const MAX_INLINE_SQL: usize = 1 << 20;

/// How many past versions `is_committed` looks through for a write's ingest id.
const HISTORY_DEPTH: usize = 100;

/// Delta operations that add rows carrying an ingest id.
const WRITE_OPERATIONS: &[&str] = &[
    "WRITE",
    "MERGE",
    "COPY INTO",
    "UPDATE",
    "CREATE TABLE AS SELECT",
    "REPLACE TABLE AS SELECT",
    "STREAMING UPDATE",
];

/// lakeorm's driver for Databricks SQL warehouses, over the SQL Statement Execution API.
///
/// Plans run as the Delta dialect's SQL, one statement each, with `?` parameters sent as the
/// API's typed named parameters. Reads stream Arrow chunks from presigned links in the memory
/// of a few chunks. Writes whose rows fit the API's 256 parameters go inline as a `VALUES`
/// list; larger ones are staged as Parquet on the Client's Backend (a Unity Catalog volume,
/// [`VolumeBackend`](crate::VolumeBackend)) and committed by one `INSERT … SELECT` or `MERGE`
/// over `read_files(…)`, the staging removed after.
///
/// Cheap to clone; clones share the workspace's HTTP client and token cache.
#[derive(Clone)]
pub struct DatabricksSqlDriver {
    warehouse: Arc<Warehouse>,
    closed: Arc<AtomicBool>,
}

impl fmt::Debug for DatabricksSqlDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabricksSqlDriver")
            .field("host", &self.warehouse.workspace.host().as_str())
            .field("warehouse_id", &self.warehouse.warehouse_id)
            .field("catalog", &self.warehouse.catalog)
            .field("schema", &self.warehouse.schema)
            .finish_non_exhaustive()
    }
}

/// Configures a [`DatabricksSqlDriver`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DatabricksSqlDriverBuilder {
    workspace: Workspace,
    warehouse_id: String,
    catalog: Option<String>,
    schema: Option<String>,
    options: StatementOptions,
}

impl DatabricksSqlDriverBuilder {
    /// The catalog unqualified names resolve in (sent with every statement).
    pub fn catalog(mut self, catalog: impl Into<String>) -> Self {
        self.catalog = Some(catalog.into());
        self
    }

    /// The schema unqualified names resolve in (sent with every statement).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Deadlines and polling of statements.
    pub fn statement_options(mut self, options: StatementOptions) -> Self {
        self.options = options;
        self
    }

    /// Builds the driver. Nothing is requested until the first call.
    pub fn build(self) -> DatabricksSqlDriver {
        DatabricksSqlDriver {
            warehouse: Arc::new(Warehouse {
                workspace: self.workspace,
                warehouse_id: self.warehouse_id,
                catalog: self.catalog,
                schema: self.schema,
                options: self.options,
            }),
            closed: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl DatabricksSqlDriver {
    /// A builder for the warehouse `warehouse_id` of `workspace`.
    pub fn builder(
        workspace: Workspace,
        warehouse_id: impl Into<String>,
    ) -> DatabricksSqlDriverBuilder {
        DatabricksSqlDriverBuilder {
            workspace,
            warehouse_id: warehouse_id.into(),
            catalog: None,
            schema: None,
            options: StatementOptions::default(),
        }
    }

    /// The driver the standard variables describe: `DATABRICKS_HOST`, the credentials of
    /// [`Credentials::from_env`](crate::Credentials::from_env), `DATABRICKS_WAREHOUSE_ID`, and
    /// optionally `DATABRICKS_CATALOG` and `DATABRICKS_SCHEMA`.
    pub fn from_env() -> Result<Self> {
        let workspace = Workspace::from_env()?;
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let warehouse = var("DATABRICKS_WAREHOUSE_ID").ok_or_else(|| {
            Error::Config("environment variable DATABRICKS_WAREHOUSE_ID is not set".into())
        })?;
        let mut builder = Self::builder(workspace, warehouse);
        if let Some(catalog) = var("DATABRICKS_CATALOG") {
            builder = builder.catalog(catalog);
        }
        if let Some(schema) = var("DATABRICKS_SCHEMA") {
            builder = builder.schema(schema);
        }
        Ok(builder.build())
    }

    /// The workspace.
    pub fn workspace(&self) -> &Workspace {
        &self.warehouse.workspace
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed("the Databricks SQL driver"));
        }
        Ok(())
    }

    /// Runs a statement for its effect and returns its inline result rows by column name.
    async fn exec_sql(
        &self,
        operation: &str,
        sql: &str,
        parameters: Vec<Parameter>,
    ) -> Result<DmlResult> {
        let finished = self
            .warehouse
            .run(
                operation,
                sql,
                parameters,
                Disposition::Inline,
                Format::JsonArray,
            )
            .await?;
        DmlResult::read(&self.warehouse, &finished).await
    }

    async fn query_statement(&self, operation: &str, statement: &Statement) -> Result<QueryResult> {
        let (sql, parameters) = params::bind(statement)?;
        let finished = self
            .warehouse
            .run(
                operation,
                &sql,
                parameters,
                Disposition::ExternalLinks,
                Format::ArrowStream,
            )
            .await?;
        results::query_result(&self.warehouse, finished).await
    }

    /// The rows of a small query, as text by column name.
    async fn rows(&self, operation: &str, statement: &Statement) -> Result<DmlResult> {
        let (sql, parameters) = params::bind(statement)?;
        self.exec_sql(operation, &sql, parameters).await
    }
}

/// The inline result of a statement: its columns and rows as text.
struct DmlResult {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

impl DmlResult {
    async fn read(warehouse: &Warehouse, finished: &Finished) -> Result<Self> {
        Ok(DmlResult {
            columns: results::column_names(finished.manifest.as_ref()),
            rows: results::inline_rows(warehouse, finished).await?,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }

    /// `name` of row `row` as a number.
    fn number(&self, row: usize, name: &str) -> Option<i64> {
        let at = self.column(name)?;
        self.rows.get(row)?.get(at)?.as_deref()?.parse().ok()
    }

    fn text(&self, row: usize, name: &str) -> Option<&str> {
        let at = self.column(name)?;
        self.rows.get(row)?.get(at)?.as_deref()
    }

    /// The row counts a DML statement answered. `DELETE` and `UPDATE` answer only
    /// `num_affected_rows`, which counts what `plan` does.
    fn metrics(&self, plan: &ExecutionPlan) -> ExecMetrics {
        let n = |name| self.number(0, name).map(|v| v.max(0) as u64);
        let mut metrics = ExecMetrics {
            rows_inserted: n("num_inserted_rows").unwrap_or(0),
            rows_updated: n("num_updated_rows").unwrap_or(0),
            rows_deleted: n("num_deleted_rows").unwrap_or(0),
            ..ExecMetrics::default()
        };
        let detailed = ["num_inserted_rows", "num_updated_rows", "num_deleted_rows"]
            .iter()
            .any(|c| self.column(c).is_some());
        if let (false, Some(affected)) = (detailed, n("num_affected_rows")) {
            match plan {
                ExecutionPlan::Delete { .. } => metrics.rows_deleted = affected,
                ExecutionPlan::Update { .. } => metrics.rows_updated = affected,
                ExecutionPlan::Append { .. } => metrics.rows_inserted = affected,
                _ => {}
            }
        }
        metrics
    }
}

/// The rows of a write, as the statement reads them.
struct Source {
    /// The relation that replaces the source view in the dialect's SQL.
    relation: String,
    parameters: Vec<Parameter>,
    /// The prefix staged for this write, removed after it.
    staged: Option<Location>,
}

/// `read_files(…)` of a Parquet prefix or file the warehouse can read.
fn read_files(location: &Location) -> String {
    let path = volume_path(location).unwrap_or_else(|| location.as_str().to_owned());
    format!(
        "read_files({}, format => 'parquet')",
        lakeorm_core::quote::string_literal(&path)
    )
}

/// The source relation of in-memory rows: inline `VALUES` with one parameter per value when
/// they fit the API's limits, else Parquet staged on the Backend.
async fn batch_source(
    batches: &[RecordBatch],
    ingest_id: Option<&IngestId>,
    ctx: ExecContext<'_>,
) -> Result<Source> {
    let schema = match batches.first() {
        Some(batch) => batch.schema(),
        None => {
            return Err(Error::data_invalid("a write", "it has no rows"));
        }
    };
    // The ingest id is one value for the whole write: sent once.
    let constant = ingest_id
        .filter(|_| schema.field_with_name(INGEST_ID_COLUMN).is_ok())
        .map(|_| INGEST_ID_COLUMN);
    let fits = params::inline_cost(batches, constant)
        .is_some_and(|cost| cost + usize::from(constant.is_some()) <= MAX_PARAMETERS);
    if fits {
        let (rows, mut parameters) =
            params::inline_values(batches, constant, 1 + usize::from(constant.is_some()))?;
        let q = |c: &str| lakeorm_core::quote::quote_ident(c);
        let columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .filter(|name| Some(*name) != constant)
            .map(q)
            .collect();
        let select = match (constant, ingest_id) {
            (Some(column), Some(id)) => {
                parameters.insert(
                    0,
                    Parameter {
                        name: params::name(1),
                        value: Some(id.to_string()),
                        ty: "STRING".into(),
                    },
                );
                format!("*, :{} AS {}", params::name(1), q(column))
            }
            _ => "*".to_owned(),
        };
        let relation = format!(
            "(SELECT {select} FROM (VALUES {}) AS v({}))",
            rows.join(", "),
            columns.join(", ")
        );
        if relation.len() <= MAX_INLINE_SQL {
            return Ok(Source {
                relation,
                parameters,
                staged: None,
            });
        }
    }
    // Staged: Parquet parts under a fresh prefix of the Backend.
    let id = ingest_id.cloned().unwrap_or_else(IngestId::new);
    let prefix = ctx.backend.staging_location(&id);
    let mut writer = PartWriter::new(
        ctx.backend,
        prefix.clone(),
        schema,
        PartWriterOptions::default(),
    );
    for batch in batches {
        if let Err(e) = writer.write(batch).await {
            writer.abort().await;
            let _ = ctx.backend.delete_prefix(&prefix).await;
            return Err(e);
        }
    }
    let staged = writer.finish().await;
    if let Err(e) = staged {
        let _ = ctx.backend.delete_prefix(&prefix).await;
        return Err(e);
    }
    Ok(Source {
        relation: read_files(&engine_prefix(ctx.backend, &prefix)?),
        parameters: Vec::new(),
        staged: Some(prefix),
    })
}

fn engine_prefix(backend: &dyn Backend, location: &Location) -> Result<Location> {
    backend.engine_location(location, lakeorm_core::EngineFlavor::Native)
}

/// Puts `source` where the dialect's SQL reads the write's rows: the source view of in-memory
/// rows, or `parquet.`<location>`` of staged ones.
fn place_source(sql: &str, from: &str, relation: &str) -> Result<String> {
    if !sql.contains(from) {
        return Err(Error::engine(
            ENGINE,
            "rendering a write",
            false,
            format!("the dialect's statement does not read its rows from {from}"),
        ));
    }
    Ok(sql.replacen(from, relation, 1))
}

#[async_trait]
impl Driver for DatabricksSqlDriver {
    fn name(&self) -> &str {
        ENGINE
    }

    fn capabilities(&self) -> DriverCapabilities {
        DriverCapabilities {
            formats: vec![TableFormat::Delta],
            merge: true,
            update: true,
            delete: true,
            staged_writes: true,
            // Remote: staged Parquet spares the API's parameter and text limits.
            staging_helps: true,
            maintenance: true,
            time_travel: true,
        }
    }

    async fn execute(&self, plan: ExecutionPlan, ctx: ExecContext<'_>) -> Result<ExecMetrics> {
        self.check_open()?;
        let started = Instant::now();
        if let Some(table) = plan.table()
            && table.format != TableFormat::Delta
        {
            return Err(Error::unsupported(
                format!("{} tables", table.format),
                ENGINE,
                "Databricks SQL warehouses write Delta tables through lakeorm; use the Delta dialect",
            ));
        }
        let statements = ctx.dialect.render(&plan)?;
        let source_view = lakeorm_core::quote::quote_ident(SOURCE_VIEW);
        let (source, from) = match &plan {
            ExecutionPlan::Append {
                source, ingest_id, ..
            }
            | ExecutionPlan::Merge {
                source, ingest_id, ..
            }
            | ExecutionPlan::Update {
                source, ingest_id, ..
            } => match source {
                WriteSource::Batches(batches) => (
                    Some(batch_source(batches, Some(ingest_id), ctx).await?),
                    source_view,
                ),
                WriteSource::Staged { location, .. } => (
                    Some(Source {
                        relation: read_files(location),
                        parameters: Vec::new(),
                        staged: None,
                    }),
                    format!(
                        "parquet.{}",
                        lakeorm_core::quote::quote_ident(location.as_str())
                    ),
                ),
            },
            ExecutionPlan::Delete {
                predicate: Predicate::Keys { values, .. },
                ..
            } => (
                Some(batch_source(std::slice::from_ref(values), None, ctx).await?),
                source_view,
            ),
            _ => (None, String::new()),
        };
        let outcome = match self
            .run_statements(&plan, statements, source.as_ref(), &from)
            .await
        {
            Ok(metrics) => Ok(metrics),
            // Explained while the staged rows are still there to count.
            Err(error) => Err(self.explain(&plan, error, source.as_ref(), ctx).await),
        };
        if let Some(prefix) = source.as_ref().and_then(|s| s.staged.as_ref()) {
            // The write's staging goes whatever happened; the janitor catches a failure here.
            if let Err(error) = ctx.backend.delete_prefix(prefix).await {
                tracing::warn!(%prefix, %error, "could not remove a write's staging");
            }
        }
        let mut metrics = outcome?;
        if let ExecutionPlan::Append { source, .. } = &plan
            && metrics.rows_inserted == 0
        {
            metrics.rows_inserted = source.num_rows();
        }
        metrics.duration = started.elapsed();
        Ok(metrics)
    }

    async fn query(&self, statement: Statement, _ctx: ExecContext<'_>) -> Result<QueryResult> {
        self.check_open()?;
        self.query_statement("query", &statement).await
    }

    async fn stats(&self, table: &TableSpec, ctx: ExecContext<'_>) -> Result<TableStats> {
        self.check_open()?;
        let name = lakeorm_core::sql::qualified_ref(ctx.dialect, &table.table);
        let detail = self
            .rows(
                &format!("stats of {}", table.table),
                &Statement::new(format!("DESCRIBE DETAIL {name}")),
            )
            .await?;
        let history = self
            .rows(
                &format!("stats of {}", table.table),
                &Statement::new(format!("DESCRIBE HISTORY {name} LIMIT 1")),
            )
            .await?;
        let count = self
            .rows(
                &format!("stats of {}", table.table),
                &Statement::new(format!("SELECT COUNT(*) AS n FROM {name}")),
            )
            .await?;
        let positive = |v: Option<i64>| v.map_or(0, |v| v.max(0) as u64);
        Ok(TableStats {
            version: history.number(0, "version").unwrap_or(0),
            files: positive(detail.number(0, "numFiles")),
            rows: positive(count.number(0, "n")),
            bytes: positive(detail.number(0, "sizeInBytes")),
        })
    }

    async fn read_parquet(
        &self,
        location: &Location,
        _ctx: ExecContext<'_>,
    ) -> Result<Option<QueryResult>> {
        self.check_open()?;
        let statement = Statement::new(format!("SELECT * FROM {}", read_files(location)));
        match self
            .query_statement("reading the verify probe", &statement)
            .await
        {
            Ok(result) => Ok(Some(result)),
            Err(error) if nothing_there(&error) => Ok(None),
            Err(error) => Err(Error::DriverRead(lakeorm_core::DriverRead {
                staging_uri: location.to_string(),
                driver: ENGINE.to_owned(),
                source: Box::new(error),
            })),
        }
    }

    async fn is_committed(
        &self,
        table: &TableSpec,
        ingest_id: &IngestId,
        ctx: ExecContext<'_>,
    ) -> Result<bool> {
        self.check_open()?;
        let name = lakeorm_core::sql::qualified_ref(ctx.dialect, &table.table);
        let column = lakeorm_core::quote::quote_ident(INGEST_ID_COLUMN);
        let operation = format!("looking up commits of {}", table.table);
        let now = self
            .rows(
                &operation,
                &Statement::new(format!(
                    "SELECT 1 AS found FROM {name} WHERE {column} = ? LIMIT 1"
                ))
                .bind(ingest_id.to_string()),
            )
            .await?;
        if !now.rows.is_empty() {
            return Ok(true);
        }
        // Not in the table now: later writes may have replaced or removed its rows. Each
        // version a write made holds them.
        let history = self
            .rows(
                &operation,
                &Statement::new(format!("DESCRIBE HISTORY {name} LIMIT {HISTORY_DEPTH}")),
            )
            .await?;
        let versions: Vec<i64> = (0..history.rows.len())
            .filter(|&row| {
                history
                    .text(row, "operation")
                    .is_some_and(|op| WRITE_OPERATIONS.iter().any(|w| op.eq_ignore_ascii_case(w)))
            })
            .filter_map(|row| history.number(row, "version"))
            .collect();
        if versions.is_empty() {
            return Ok(false);
        }
        let union = versions
            .iter()
            .map(|v| format!("SELECT 1 AS found FROM {name} VERSION AS OF {v} WHERE {column} = ?"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut statement = Statement::new(format!("SELECT * FROM ({union}) LIMIT 1"));
        for _ in &versions {
            statement = statement.bind(ingest_id.to_string());
        }
        let found = self.rows(&operation, &statement).await?;
        Ok(!found.rows.is_empty())
    }

    async fn ping(&self) -> Result<()> {
        self.check_open()?;
        self.exec_sql("ping", "SELECT 1", Vec::new())
            .await
            .map(|_| ())
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl DatabricksSqlDriver {
    async fn run_statements(
        &self,
        plan: &ExecutionPlan,
        statements: Vec<Statement>,
        source: Option<&Source>,
        from: &str,
    ) -> Result<ExecMetrics> {
        let operation = match plan.table() {
            Some(table) => format!("{} {}", plan.operation(), table.table),
            None => plan.operation().to_owned(),
        };
        let mut metrics = ExecMetrics::default();
        for statement in statements {
            let (sql, parameters) = match source {
                Some(source) => {
                    let first = source.parameters.len() + 1;
                    let (sql, own) = params::bind_from(&statement, first)?;
                    let sql = place_source(&sql, from, &source.relation)?;
                    let mut parameters = source.parameters.clone();
                    parameters.extend(own);
                    (sql, parameters)
                }
                None => params::bind(&statement)?,
            };
            let result = self.exec_sql(&operation, &sql, parameters).await?;
            let step = result.metrics(plan);
            metrics.rows_inserted += step.rows_inserted;
            metrics.rows_updated += step.rows_updated;
            metrics.rows_deleted += step.rows_deleted;
        }
        Ok(metrics)
    }

    /// A failed write, explained: an insert-only merge that met existing keys is a
    /// [`DuplicateKey`](Error::DuplicateKey), with the count of the keys it met.
    async fn explain(
        &self,
        plan: &ExecutionPlan,
        error: Error,
        source: Option<&Source>,
        ctx: ExecContext<'_>,
    ) -> Error {
        let ExecutionPlan::Merge {
            table,
            keys,
            on_match: MergeAction::Error,
            ..
        } = plan
        else {
            return error;
        };
        if !error
            .to_string()
            .contains("a row with the same key already exists")
        {
            return error;
        }
        let rows = match source {
            Some(source) => match self.colliding(table, keys, source, ctx).await {
                Ok(rows) => rows,
                Err(count) => {
                    tracing::debug!(%count, "could not count the existing keys of a refused insert");
                    0
                }
            },
            None => 0,
        };
        Error::DuplicateKey {
            table: table.table.to_string(),
            keys: keys.clone(),
            rows,
        }
    }

    async fn colliding(
        &self,
        table: &TableSpec,
        keys: &[String],
        source: &Source,
        ctx: ExecContext<'_>,
    ) -> Result<u64> {
        let q = lakeorm_core::quote::quote_ident;
        let on = keys
            .iter()
            .map(|k| format!("target.{} = source.{}", q(k), q(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {} AS target JOIN {} AS source ON {on}",
            lakeorm_core::sql::qualified_ref(ctx.dialect, &table.table),
            source.relation
        );
        let result = self
            .exec_sql("counting existing keys", &sql, source.parameters.clone())
            .await?;
        Ok(result.number(0, "n").map_or(0, |n| n.max(0) as u64))
    }
}

/// Whether reading a path failed because nothing is there (the warehouse's storage is not the
/// client's).
fn nothing_there(error: &Error) -> bool {
    let text = error.to_string();
    ["PATH_NOT_FOUND", "does not exist", "FileNotFoundException"]
        .iter()
        .any(|needle| text.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_replace_the_view() {
        let sql = "INSERT INTO `t` (`a`) SELECT `a` FROM `__lakeorm_source`";
        assert_eq!(
            place_source(sql, "`__lakeorm_source`", "(SELECT 1)").unwrap(),
            "INSERT INTO `t` (`a`) SELECT `a` FROM (SELECT 1)"
        );
        assert!(place_source("SELECT 1", "`__lakeorm_source`", "x").is_err());
        let staged = Location::parse("dbfs:/Volumes/main/default/v/_staging/01").unwrap();
        assert_eq!(
            read_files(&staged),
            "read_files('/Volumes/main/default/v/_staging/01', format => 'parquet')"
        );
    }
}
