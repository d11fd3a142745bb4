//! `SparkDriver`: lakeorm's `Driver` over Spark Connect.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use lakeorm_core::{
    Driver, DriverCapabilities, EngineFlavor, Error, ExecContext, ExecMetrics, ExecutionPlan,
    IngestId, Location, Predicate, QueryResult, Result, Statement, TableSpec, TableStats,
    WriteSource,
};

use crate::commands::run_all;
use crate::commits::CommitQueue;
use crate::errors::{ENGINE, refused_existing_table};
use crate::exec_sql;
use crate::ingest::with_source;
use crate::pool::{Lease, Pool};
use crate::server::SparkServer;
use crate::session::SessionLease;
use crate::stream::stream_query;
use crate::witness::{self, Logged};

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

    /// How the session pool stands now: sessions lent and idle, the most lent at once, and
    /// how many the server was asked to open.
    pub fn pool_stats(&self) -> crate::PoolStats {
        self.inner.pool.stats()
    }

    /// `statement` as the official client's `DataFrame`, on one of the pooled sessions (which
    /// stays open on the server while the driver does): a plan, sent when an action runs on it.
    /// Parameters are written into it as literals, since the client's `sql` takes none.
    pub async fn native_frame(&self, statement: &Statement) -> Result<spark_connect::DataFrame> {
        let mut lease = self.lease().await?;
        crate::session::native_frame(&mut lease, statement).await
    }

    async fn lease(&self) -> Result<Lease> {
        self.inner.pool.get().await
    }
}

impl SparkDriver {
    /// Runs the statements of `plan` on the lent session.
    async fn run_plan(
        &self,
        lease: &mut Lease,
        plan: &ExecutionPlan,
        statements: &mut Vec<Statement>,
        ctx: ExecContext<'_>,
    ) -> Result<ExecMetrics> {
        match plan {
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
            } => with_source(lease, batches, statements, self.inner.max_request_bytes).await,
            ExecutionPlan::Delete {
                predicate: Predicate::Keys { values, .. },
                ..
            } => {
                with_source(
                    lease,
                    std::slice::from_ref(values),
                    statements,
                    self.inner.max_request_bytes,
                )
                .await
            }
            ExecutionPlan::CreateTable { table } => {
                // The sort order is a layout hint recorded after the table exists (Iceberg's
                // `WRITE ORDERED BY`): a server whose SQL lacks it still gets the table.
                let order = statements
                    .iter()
                    .position(|s| lakeorm_core::statement_words::is_write_order(&s.sql))
                    .map(|i| statements.remove(i));
                if let Some(attach) = self.create_table(lease, table, statements, ctx).await? {
                    *statements = vec![attach];
                }
                if let Some(order) = order {
                    match run_all(lease, std::slice::from_ref(&order)).await {
                        Ok(_) => {}
                        Err(error) if crate::errors::unsupported_statement(&error) => {
                            tracing::warn!(
                                table = %table.table,
                                %error,
                                "the server does not record sort orders; the table has none"
                            );
                        }
                        Err(error) => return Err(error),
                    }
                }
                Ok(ExecMetrics::default())
            }
            _ => run_all(lease, statements).await,
        }
    }

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

/// An operation on a lent session, until the server has answered it. Dropped before that (the
/// caller's future was cancelled: a timeout, a dropped task), it interrupts the operation by
/// its tag, retires the session (its temporary views go with it) and keeps the table's place
/// in the commit queue until the server has answered the interrupt.
struct InFlight {
    lease: Option<Lease>,
    queued: Option<tokio::sync::OwnedMutexGuard<()>>,
    tag: String,
}

impl InFlight {
    fn new(mut lease: Lease, queued: Option<tokio::sync::OwnedMutexGuard<()>>) -> Self {
        let tag = lease.session_mut().tag();
        InFlight {
            lease: Some(lease),
            queued,
            tag,
        }
    }

    fn lease(&mut self) -> &mut Lease {
        self.lease.as_mut().expect("in flight until finished")
    }

    /// The operation failed in a way that leaves it possibly running: interrupt it and retire
    /// the session before returning the error.
    async fn abort(mut self) {
        if let Some(mut lease) = self.lease.take() {
            lease.discard();
            let client = Arc::clone(&lease.session().client);
            crate::pool::interrupt(&client, &self.tag).await;
        }
    }

    /// The server answered: the lease goes back to the caller, the queue moves on.
    fn finish(mut self) -> Lease {
        self.queued = None;
        self.lease.take().expect("in flight until finished")
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let Some(mut lease) = self.lease.take() else {
            return;
        };
        lease.discard();
        let client = Arc::clone(&lease.session().client);
        crate::pool::cancel(
            client,
            std::mem::take(&mut self.tag),
            (lease, self.queued.take()),
        );
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
        if let ExecutionPlan::Exec(statement) = &plan {
            exec_sql::refuse_session_state(&statement.sql)?;
        }
        let mut statements = ctx.dialect.render(&plan)?;
        let queued = self.inner.commits.enter(self.inner.server, &plan).await;
        // No part of the plan has reached the server while no session is lent.
        let lease = self.lease().await.map_err(Error::not_applied)?;
        let mut in_flight = InFlight::new(lease, queued);
        let result = self
            .run_plan(in_flight.lease(), &plan, &mut statements, ctx)
            .await;
        let mut metrics = match result {
            Ok(metrics) => metrics,
            // A sort order the server's SQL cannot record (a migration file's, on Sail): typed,
            // so that the migrator can carry on as `migrate::<T>()` does.
            Err(error)
                if matches!(&plan, ExecutionPlan::Exec(s) if lakeorm_core::statement_words::is_write_order(&s.sql))
                    && crate::errors::unsupported_statement(&error) =>
            {
                drop(in_flight.finish());
                return Err(Error::unsupported(
                    "`WRITE ORDERED BY`",
                    format!("{ENGINE} ({:?})", self.inner.server),
                    format!("the server does not record sort orders: {error}"),
                ));
            }
            Err(error) => {
                if !crate::errors::session_in_doubt(&error) {
                    // The server answered: the session is as good as it was.
                    drop(in_flight.finish());
                } else if !error.is_unapplied() {
                    // The server may still be running it: stop it before anyone asks whether
                    // it committed.
                    in_flight.abort().await;
                }
                return Err(error);
            }
        };
        let mut lease = in_flight.finish();
        match &plan {
            ExecutionPlan::CreateTable { table } => {
                // The table's own statement is the last (the Iceberg dialect creates the
                // namespace first; its sort order was taken out above).
                if let Some(create) = statements.last() {
                    let key = table.table.to_string();
                    let attach = attach_statement(table, ctx).map(|s| s.sql);
                    let pool = Arc::clone(lease.pool());
                    pool.remember(&key, &create.sql, attach, lease.session_mut());
                }
            }
            ExecutionPlan::Exec(statement) => {
                if let Some(table) = exec_sql::dropped_table(&statement.sql) {
                    lease.pool().forget(&table);
                } else if let Some(created) = exec_sql::created_table(&statement.sql) {
                    // Other sessions of a per-session catalog (Sail) attach it as stored,
                    // as they do the tables `migrate::<T>()` creates.
                    let pool = Arc::clone(lease.pool());
                    pool.remember(&created.name, &created.attach, None, lease.session_mut());
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
        exec_sql::refuse_session_state(&statement.sql)?;
        let lease = self.lease().await?;
        stream_query(lease, &statement).await
    }

    async fn stats(&self, table: &TableSpec, ctx: ExecContext<'_>) -> Result<TableStats> {
        self.table_stats(table, ctx).await
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

    /// Whether a write committed: its rows in the current version, a commit carrying its id,
    /// or its rows in a version made since it began (the `witness` module says why).
    async fn is_committed(
        &self,
        table: &TableSpec,
        ingest_id: &IngestId,
        ctx: ExecContext<'_>,
    ) -> Result<bool> {
        let qualified = lakeorm_core::sql::qualified_ref(ctx.dialect, &table.table);
        let delta = table.format == lakeorm_core::TableFormat::Delta;
        match self
            .has_rows(&witness::probe(&qualified, None, ingest_id))
            .await
        {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(Error::TableNotFound { .. }) => return Ok(false),
            // The server answered but could not read its own log (Sail, while others commit):
            // the Delta log answers without it. A server that cannot be reached is another
            // matter: it may still be committing the write, so its outcome stays unknown.
            Err(e) if delta && e.is_retryable() && !crate::errors::session_in_doubt(&e) => {
                tracing::debug!(error = %e, "the server could not read the log; reading it here");
            }
            Err(e) => return Err(e),
        }
        let location = ctx.backend.table_location(&table.table.name);
        match witness::logged(ctx.backend, table, &location, ingest_id).await? {
            Logged::Committed => Ok(true),
            Logged::Candidates(versions) => {
                for version in versions {
                    let holds = if delta {
                        witness::delta_version_holds(ctx.backend, &location, version, ingest_id)
                            .await?
                    } else {
                        let probe = witness::probe(&qualified, Some(version), ingest_id);
                        self.has_rows(&probe).await?
                    };
                    if holds {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
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

impl SparkDriver {
    /// Whether a witness query returns rows. It only reads, so a retryable failure (a
    /// transport error, Sail reading a log another writer is extending) is tried again a few
    /// times: the answer decides between re-running a write and reporting its outcome unknown.
    async fn has_rows(&self, statement: &Statement) -> Result<bool> {
        const ATTEMPTS: u32 = 5;
        let mut attempt = 1;
        loop {
            let outcome = async {
                let lease = self.lease().await?;
                let result = stream_query(lease, statement).await?;
                let batches: Vec<_> = futures::TryStreamExt::try_collect(result.batches).await?;
                Ok::<_, Error>(batches.iter().any(|b| b.num_rows() > 0))
            }
            .await;
            match outcome {
                Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "retrying a commit-log probe");
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

fn is_missing_path(error: &Error) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    text.contains("path_not_found")
        || text.contains("path does not exist")
        || text.contains("no such file")
        || text.contains("not found")
}
