//! `SparkDriver`: lakeorm's `Driver` over Spark Connect.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use lakeorm_core::{
    Driver, DriverCapabilities, EngineFlavor, Error, ExecContext, ExecMetrics, ExecutionPlan,
    Location, Predicate, QueryResult, Result, Statement, WriteSource,
};

use crate::commands::run_all;
use crate::commits::CommitQueue;
use crate::errors::{ENGINE, refused_existing_table};
use crate::ingest::with_source;
use crate::pool::{Lease, Pool};
use crate::server::SparkServer;
use crate::session::SessionLease;
use crate::stream::stream_query;

/// lakeorm's driver for Spark Connect servers: Apache Spark 4, Databricks Connect, Sail.
///
/// Plans run as the Dialect's Spark SQL; `?` parameters travel as typed positional
/// arguments; results stream back one Arrow batch per response. In-memory rows are sent in
/// the plan, chunked under [`DEFAULT_MAX_REQUEST_BYTES`](crate::DEFAULT_MAX_REQUEST_BYTES) per
/// request; large writes go through staged Parquet, which the Client chooses by size.
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
        let error = match run_all(lease, statements).await {
            Ok(_) => return Ok(None),
            Err(error) => error,
        };
        if !refused_existing_table(&error) {
            return Err(error);
        }
        tracing::info!(table = %table.table, "attaching an existing table");
        run_all(lease, std::slice::from_ref(&attach)).await?;
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
            } => {
                with_source(
                    &mut lease,
                    batches,
                    &statements,
                    self.inner.max_request_bytes,
                )
                .await?
            }
            ExecutionPlan::Delete {
                predicate: Predicate::Keys { values, .. },
                ..
            } => {
                with_source(
                    &mut lease,
                    std::slice::from_ref(values),
                    &statements,
                    self.inner.max_request_bytes,
                )
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
            _ => run_all(&mut lease, &statements).await?,
        };
        match &plan {
            ExecutionPlan::CreateTable { table } => {
                // The table's own statement is the last (the Iceberg dialect creates the
                // namespace first).
                if let Some(create) = statements.last() {
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
