//! `SparkDriver`: lakeorm's `Driver` over Spark Connect.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, Schema};
use async_trait::async_trait;
use lakeorm_core::dialect::SOURCE_VIEW;
use lakeorm_core::{
    Driver, DriverCapabilities, EngineFlavor, Error, ExecContext, ExecMetrics, ExecutionPlan,
    Location, Predicate, QueryResult, Result, Statement, WriteSource,
};
use spark_connect_proto as proto;

use crate::commits::CommitQueue;
use crate::errors::{ENGINE, refused_existing_table};
use crate::ingest::{self};
use crate::pool::{Lease, Pool, decode_arrow};
use crate::server::SparkServer;
use crate::session::SessionLease;
use crate::stream::stream_query;

/// lakeorm's driver for Spark Connect servers: Apache Spark 4, Databricks Connect, Sail.
///
/// Plans run as the Dialect's Spark SQL; `?` parameters travel as typed positional
/// arguments; results stream back one Arrow batch per response. In-memory rows are sent in
/// the plan, chunked under [`DEFAULT_MAX_REQUEST_BYTES`] per request; large writes
/// go through staged Parquet, which the Client chooses by size.
///
/// Cheap to clone; clones share the session pool.
#[derive(Clone)]
pub struct SparkDriver {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: Arc<Pool>,
    pub(crate) commits: CommitQueue,
    pub(crate) capabilities: DriverCapabilities,
    pub(crate) flavor: EngineFlavor,
    pub(crate) server: SparkServer,
    pub(crate) max_request_bytes: usize,
}

impl fmt::Debug for SparkDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SparkDriver")
            .field("url", &self.inner.pool.url().to_string())
            .field("server", &self.inner.server)
            .finish_non_exhaustive()
    }
}

impl SparkDriver {
    /// Lends a pooled session for native Spark work (returned to the pool on drop).
    pub async fn session(&self) -> Result<SessionLease> {
        SessionLease::new(self.inner.pool.get().await?).await
    }

    async fn lease(&self) -> Result<Lease> {
        self.inner.pool.get().await
    }

    /// Runs statements on one session; a failure that may have broken the session (the
    /// connection, the server) takes it out of the pool.
    async fn run_all(&self, lease: &mut Lease, statements: &[Statement]) -> Result<ExecMetrics> {
        let mut metrics = ExecMetrics::default();
        for statement in statements {
            match lease.session().command_sql(statement).await {
                Ok(responses) => add_reported(&mut metrics, &responses),
                Err(error) => {
                    if error.is_retryable() {
                        lease.discard();
                    }
                    return Err(error);
                }
            }
        }
        Ok(metrics)
    }

    /// Sends in-memory rows as the source view, runs `statements`, drops the views.
    async fn with_source(
        &self,
        lease: &mut Lease,
        batches: &[RecordBatch],
        statements: &[Statement],
    ) -> Result<ExecMetrics> {
        let chunks = ingest::chunks(batches, self.inner.max_request_bytes)?;
        let mut views = Vec::new();
        let result = async {
            match chunks.len() {
                0 => {
                    // Nothing to send but the shape: an empty view with the batches' schema.
                    let schema = batches
                        .first()
                        .map(|b| b.schema())
                        .unwrap_or_else(|| Arc::new(Schema::empty()));
                    let bytes = empty_stream(&RecordBatch::new_empty(schema))?;
                    lease.session().register_view(SOURCE_VIEW, bytes).await?;
                    views.push(SOURCE_VIEW.to_owned());
                }
                1 => {
                    let bytes = chunks.into_iter().next().expect("one chunk");
                    lease.session().register_view(SOURCE_VIEW, bytes).await?;
                    views.push(SOURCE_VIEW.to_owned());
                }
                n => {
                    tracing::debug!(chunks = n, "direct write split into several requests");
                    for (i, bytes) in chunks.into_iter().enumerate() {
                        let name = format!("{SOURCE_VIEW}_{i}");
                        lease.session().register_view(&name, bytes).await?;
                        views.push(name);
                    }
                    let union = views
                        .iter()
                        .map(|v| format!("SELECT * FROM `{v}`"))
                        .collect::<Vec<_>>()
                        .join(" UNION ALL ");
                    lease
                        .session()
                        .command_sql(&Statement::new(format!(
                            "CREATE OR REPLACE TEMPORARY VIEW `{SOURCE_VIEW}` AS {union}"
                        )))
                        .await?;
                    views.push(SOURCE_VIEW.to_owned());
                }
            }
            self.run_all(lease, statements).await
        }
        .await;
        // The views hold the rows in server memory: free them whatever happened.
        for view in views.iter().rev() {
            let drop_view = Statement::new(format!("DROP VIEW IF EXISTS `{view}`"));
            if let Err(error) = lease.session().command_sql(&drop_view).await {
                tracing::debug!(%error, view, "could not drop a source view; discarding the session");
                lease.discard();
                break;
            }
        }
        if let Err(error) = &result
            && error.is_retryable()
        {
            lease.discard();
        }
        result
    }
}

impl SparkDriver {
    /// Creates the model's table. When its location already holds a table written elsewhere
    /// (another engine, another server), some servers (Sail) refuse the declared schema even
    /// where it matches; the table is then attached as it is, schema from its own log, with
    /// `CREATE TABLE IF NOT EXISTS … USING … LOCATION …`. Returns that statement if it ran.
    async fn create_table(
        &self,
        lease: &mut Lease,
        table: &lakeorm_core::TableSpec,
        statements: &[Statement],
        ctx: ExecContext<'_>,
    ) -> Result<Option<Statement>> {
        let Some(attach) = attach_statement(table, ctx) else {
            return Ok(None);
        };
        let error = match self.run_all(lease, statements).await {
            Ok(_) => return Ok(None),
            Err(error) => error,
        };
        if !refused_existing_table(&error) {
            return Err(error);
        }
        tracing::info!(table = %table.table, "attaching an existing table");
        self.run_all(lease, std::slice::from_ref(&attach)).await?;
        Ok(Some(attach))
    }
}

/// `CREATE TABLE IF NOT EXISTS … USING … LOCATION …` without columns: attaches the table stored
/// at the spec's location as it is, schema from its own log. `None` for tables without a
/// location (the catalog places them).
fn attach_statement(table: &lakeorm_core::TableSpec, ctx: ExecContext<'_>) -> Option<Statement> {
    let location = table.location.as_ref()?;
    Some(Statement::new(format!(
        "CREATE TABLE IF NOT EXISTS {} USING {} LOCATION {}",
        lakeorm_core::sql::qualified_ref(ctx.dialect, &table.table),
        table.format,
        lakeorm_core::quote::string_literal(location.as_str())
    )))
}

fn empty_stream(batch: &RecordBatch) -> Result<Vec<u8>> {
    let fail = |e| Error::engine(ENGINE, "encoding an empty Arrow stream", false, e);
    let mut writer =
        arrow::ipc::writer::StreamWriter::try_new(Vec::new(), batch.schema_ref()).map_err(fail)?;
    writer.write(batch).map_err(fail)?;
    writer.into_inner().map_err(fail)
}

/// Adds the row counts a DML statement reported (`num_inserted_rows`, …) to `metrics`.
fn add_reported(metrics: &mut ExecMetrics, responses: &[proto::ExecutePlanResponse]) {
    for response in responses {
        let Some(proto::execute_plan_response::ResponseType::SqlCommandResult(result)) =
            &response.response_type
        else {
            continue;
        };
        let Some(proto::relation::RelType::LocalRelation(local)) =
            result.relation.as_ref().and_then(|r| r.rel_type.as_ref())
        else {
            continue;
        };
        let Some(data) = &local.data else { continue };
        let Ok(batches) = decode_arrow(data) else {
            continue;
        };
        for batch in batches {
            let count = |name: &str| -> u64 {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_primitive_opt::<Int64Type>())
                    .filter(|c| !c.is_empty() && !c.is_null(0))
                    .map(|c| c.value(0).max(0) as u64)
                    .unwrap_or(0)
            };
            metrics.rows_inserted += count("num_inserted_rows");
            metrics.rows_updated += count("num_updated_rows");
            metrics.rows_deleted += count("num_deleted_rows");
        }
    }
}

/// The table a `DROP TABLE [IF EXISTS] name` statement drops, as written.
fn dropped_table(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let upper: Vec<String> = words
        .iter()
        .take(5)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let name = match upper.as_slice() {
        [d, t, i, e, ..] if d == "DROP" && t == "TABLE" && i == "IF" && e == "EXISTS" => {
            words.get(4)
        }
        [d, t, ..] if d == "DROP" && t == "TABLE" => words.get(2),
        _ => None,
    }?;
    Some(name.trim_end_matches(';').to_owned())
}

#[async_trait]
impl Driver for SparkDriver {
    fn name(&self) -> &str {
        ENGINE
    }

    fn capabilities(&self) -> DriverCapabilities {
        self.inner.capabilities.clone()
    }

    async fn execute(&self, plan: ExecutionPlan, ctx: ExecContext<'_>) -> Result<ExecMetrics> {
        let started = Instant::now();
        if matches!(
            plan,
            ExecutionPlan::Optimize { .. } | ExecutionPlan::Vacuum { .. }
        ) && !self.inner.capabilities.maintenance
        {
            return Err(Error::unsupported(
                "table maintenance (OPTIMIZE, VACUUM)",
                format!("{ENGINE} ({:?})", self.inner.server),
                "the server has no compaction or vacuum; run them from an engine that does \
                 (the embedded engine, Spark with Delta, Databricks)",
            ));
        }
        let mut statements = ctx.dialect.render(&plan)?;
        let _queued = self.inner.commits.enter(self.inner.server, &plan).await;
        let mut lease = self.lease().await?;
        let mut metrics = match &plan {
            ExecutionPlan::Append {
                source: WriteSource::Batches(batches),
                ..
            }
            | ExecutionPlan::Merge {
                source: WriteSource::Batches(batches),
                ..
            }
            | ExecutionPlan::Update {
                source: WriteSource::Batches(batches),
                ..
            } => self.with_source(&mut lease, batches, &statements).await?,
            ExecutionPlan::Delete {
                predicate: Predicate::Keys { values, .. },
                ..
            } => {
                self.with_source(&mut lease, std::slice::from_ref(values), &statements)
                    .await?
            }
            ExecutionPlan::CreateTable { table } => {
                if let Some(attach) = self
                    .create_table(&mut lease, table, &statements, ctx)
                    .await?
                {
                    statements = vec![attach];
                }
                ExecMetrics::default()
            }
            _ => self.run_all(&mut lease, &statements).await?,
        };
        match &plan {
            ExecutionPlan::CreateTable { table } => {
                if let Some(create) = statements.first() {
                    let key = table.table.to_string();
                    let attach = attach_statement(table, ctx).map(|s| s.sql);
                    let pool = Arc::clone(lease.pool());
                    pool.remember(&key, &create.sql, attach, lease.session_mut());
                }
            }
            ExecutionPlan::Exec(statement) => {
                if let Some(table) = dropped_table(&statement.sql) {
                    lease.pool().forget(&table.replace('`', ""));
                }
            }
            ExecutionPlan::Append { source, .. } if metrics.rows_inserted == 0 => {
                // Plain INSERTs report no counts: every source row was appended.
                metrics.rows_inserted = source.num_rows();
            }
            _ => {}
        }
        metrics.duration = started.elapsed();
        Ok(metrics)
    }

    async fn query(&self, statement: Statement, _ctx: ExecContext<'_>) -> Result<QueryResult> {
        let lease = self.lease().await?;
        stream_query(lease, &statement).await
    }

    async fn read_parquet(
        &self,
        location: &Location,
        _ctx: ExecContext<'_>,
    ) -> Result<Option<QueryResult>> {
        let sql = format!(
            "SELECT * FROM parquet.`{}`",
            location.as_str().replace('`', "``")
        );
        let lease = self.lease().await?;
        match stream_query(lease, &Statement::new(sql)).await {
            Ok(result) => Ok(Some(result)),
            Err(error) if is_missing_path(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn flavor(&self) -> EngineFlavor {
        self.inner.flavor
    }

    async fn ping(&self) -> Result<()> {
        let lease = self.lease().await?;
        let result = stream_query(lease, &Statement::new("SELECT 1 AS ok")).await?;
        futures::TryStreamExt::try_collect::<Vec<_>>(result.batches).await?;
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        self.inner.pool.close().await;
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn is_missing_path(error: &Error) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    text.contains("path_not_found")
        || text.contains("path does not exist")
        || text.contains("no such file")
        || text.contains("not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_statements_name_their_table() {
        assert_eq!(dropped_table("DROP TABLE users").as_deref(), Some("users"));
        assert_eq!(
            dropped_table("drop table if exists `db`.`users`;").as_deref(),
            Some("`db`.`users`")
        );
        assert_eq!(dropped_table("DROP VIEW v"), None);
        assert_eq!(dropped_table("SELECT 1"), None);
    }
}
