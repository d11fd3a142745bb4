//! The `Client`: one Driver, one Dialect, one Backend, and the plumbing every operation shares —
//! table specs, capability checks, the retry loop, spans and metrics.
//!
//! What an application does with a lake is spread over modules named after it, each an
//! `impl Client` block: writes in `write`, reads in `query`, `query_builder` and `dataframe`,
//! staged writes in `staging`, raw landing in `raw`, maintenance in `maintain`, verification in
//! `verify`, migrations in `migrate`. None of them is imported here, so the module graph has no
//! circle. The Client never branches on which engine it has.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use lakeorm_core::{
    Backend, Dialect, Driver, Error, ExecContext, ExecMetrics, ExecutionPlan, IngestId, Lake,
    LakeSchema, QueryResult, Result, Row, Statement, TableSpec,
};
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::options::ClientOptions;

/// A lake client: cheap to clone, safe to share across tasks.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    driver: Arc<dyn Driver>,
    dialect: Arc<dyn Dialect>,
    backend: Arc<dyn Backend>,
    options: ClientOptions,
    metrics: Metrics,
    closed: AtomicBool,
    /// Slots of staged writes in flight.
    staging_slots: Semaphore,
    /// Set once the idempotency table exists.
    idempotency_ready: OnceCell<()>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("driver", &self.inner.driver.name())
            .field("dialect", &self.inner.dialect.name())
            .field("backend", &self.inner.backend.name())
            .field("root", &self.inner.backend.root().as_str())
            .finish()
    }
}

/// Composes a client from a driver, a dialect and a backend, with default options.
///
/// Performs no I/O; call [`Client::ping`] to check the engine.
pub fn open(driver: impl Driver, dialect: impl Dialect, backend: impl Backend) -> Client {
    Client::with_options(
        Arc::new(driver),
        Arc::new(dialect),
        Arc::new(backend),
        ClientOptions::default(),
    )
}

impl Client {
    /// Composes a client from shared parts and options.
    pub fn with_options(
        driver: Arc<dyn Driver>,
        dialect: Arc<dyn Dialect>,
        backend: Arc<dyn Backend>,
        options: ClientOptions,
    ) -> Client {
        Client {
            inner: Arc::new(Inner {
                driver,
                dialect,
                backend,
                staging_slots: Semaphore::new(options.max_inflight_staged.max(1)),
                options,
                metrics: Metrics::new(),
                closed: AtomicBool::new(false),
                idempotency_ready: OnceCell::new(),
            }),
        }
    }

    /// The driver.
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.inner.driver
    }

    /// The dialect.
    pub fn dialect(&self) -> &Arc<dyn Dialect> {
        &self.inner.dialect
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// The options the client was opened with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// The Prometheus registry holding this client's metrics (rows and bytes written,
    /// operations, errors and latency per operation).
    pub fn metrics_registry(&self) -> &prometheus::Registry {
        self.inner.metrics.registry()
    }

    pub(crate) fn idempotency_ready(&self) -> &OnceCell<()> {
        &self.inner.idempotency_ready
    }

    /// A slot for a staged write; waits while `max_inflight_staged` of them run. The slots
    /// bound the memory and upload bandwidth of a burst of large inserts.
    pub(crate) async fn staging_slot(&self) -> Result<SemaphorePermit<'_>> {
        self.inner
            .staging_slots
            .acquire()
            .await
            .map_err(|_| Error::closed("the client"))
    }

    /// What the driver needs of the client to execute a plan: its dialect and backend.
    pub(crate) fn exec_context(&self) -> ExecContext<'_> {
        ExecContext {
            dialect: self.inner.dialect.as_ref(),
            backend: self.inner.backend.as_ref(),
        }
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::closed("the client"));
        }
        Ok(())
    }

    /// The table spec of model `T` as this client's dialect and backend see it.
    pub fn table_spec<T: Row>(&self) -> Result<TableSpec> {
        let schema = T::schema();
        self.spec_named(schema.table(), schema)
    }

    /// The spec of a table named `name` with `schema`'s columns.
    pub(crate) fn spec_named(&self, name: &str, schema: &LakeSchema) -> Result<TableSpec> {
        let dialect = &self.inner.dialect;
        let backend = &self.inner.backend;
        let location =
            backend.engine_location(&backend.table_location(name), self.inner.driver.flavor())?;
        Ok(TableSpec {
            table: dialect.table_ref(name),
            format: dialect.format(),
            location: Some(location),
            schema: schema.clone(),
            properties: dialect.table_properties(),
        })
    }

    /// A migration file's statement as this client runs it: a `CREATE TABLE` without a
    /// `LOCATION` gets the Backend's table location when the dialect places tables there, so a
    /// file creates the table where `migrate::<T>()` does (files are written without one, so
    /// that one file serves every lake).
    pub(crate) fn placed(&self, sql: &str) -> Result<String> {
        let dialect = &self.inner.dialect;
        let Some(created) = lakeorm_core::statement_words::create_table(sql) else {
            return Ok(sql.to_owned());
        };
        if !dialect.locates_tables() || created.location.is_some() || created.from_query {
            return Ok(sql.to_owned());
        }
        let unquoted = created.unquoted_name();
        let table = unquoted.rsplit('.').next().unwrap_or(&unquoted);
        let backend = &self.inner.backend;
        let location =
            backend.engine_location(&backend.table_location(table), self.inner.driver.flavor())?;
        Ok(format!(
            "{} LOCATION {}",
            sql.trim_end().trim_end_matches(';'),
            lakeorm_core::quote::string_literal(location.as_str())
        ))
    }

    /// `name` as SQL of this client's dialect: qualified as the dialect qualifies tables, each
    /// part quoted.
    pub fn sql_table_name(&self, name: &str) -> String {
        let dialect = &self.inner.dialect;
        dialect
            .table_ref(name)
            .parts()
            .map(|p| dialect.quote_ident(p))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Checks, before any work, that the engine can run `operation` on `table`'s format.
    pub(crate) fn require(
        &self,
        operation: &str,
        table: Option<&TableSpec>,
        capable: bool,
    ) -> Result<()> {
        let driver = &self.inner.driver;
        if let Some(table) = table
            && !driver.capabilities().formats.contains(&table.format)
        {
            return Err(Error::unsupported(
                format!("{operation} on {} table `{}`", table.format, table.table),
                driver.name(),
                format!("this engine does not handle {} tables", table.format),
            ));
        }
        if !capable {
            return Err(Error::unsupported(
                operation,
                driver.name(),
                "the engine lacks this capability",
            ));
        }
        Ok(())
    }

    /// Runs a plan with the retry policy, inside a span carrying the table and ingest id,
    /// recording metrics. `bytes` is the Arrow size of the rows the plan writes.
    ///
    /// This is the one place lakeorm re-runs work, and it re-runs only what cannot land
    /// twice:
    /// - a commit the engine lost against a concurrent writer, or work a cluster refused
    ///   while starting ([`Error::is_unapplied`]); the retry budget counts the attempts the
    ///   engine made itself (delta-rs and the Iceberg commit loop rebase their own commits),
    ///   so `max_retries + 1` is the most attempts a write makes in all;
    /// - after any other retryable failure (the connection dropped once the request was
    ///   out, which the Spark Connect client has already retried), a write only when the
    ///   table's commit log shows that its ingest id did not commit; when the log shows it
    ///   did, the write succeeded. When the log cannot be read, the error is
    ///   [`Error::OutcomeUnknown`] carrying the ingest id. Plans that are idempotent by
    ///   nature (create-if-absent, deletes, maintenance) are re-run; a statement
    ///   ([`Client::exec`]) is not.
    pub(crate) async fn run(
        &self,
        plan: ExecutionPlan,
        rows: u64,
        bytes: u64,
    ) -> Result<ExecMetrics> {
        self.check_open()?;
        let operation = plan.operation();
        self.require(operation, plan.table(), true)?;
        let table = plan
            .table()
            .map(|t| t.table.to_string())
            .unwrap_or_default();
        let ingest_id = plan
            .ingest_id()
            .map(ToString::to_string)
            .unwrap_or_default();
        let span =
            tracing::info_span!("lakeorm", operation, table = %table, ingest_id = %ingest_id, rows);
        let started = Instant::now();
        let result = self.run_with_retries(&plan).instrument(span).await;
        let elapsed = started.elapsed();
        let metrics = &self.inner.metrics;
        metrics.operation(operation, elapsed, result.is_ok());
        if result.is_ok() && rows > 0 {
            metrics.written(&table, rows, bytes);
        }
        result.map(|mut m| {
            m.duration = elapsed;
            m
        })
    }

    async fn run_with_retries(&self, plan: &ExecutionPlan) -> Result<ExecMetrics> {
        let retry = &self.inner.options.retry;
        let budget = retry.max_retries.saturating_add(1);
        // Attempts made so far, the engine's own included.
        let mut attempts = 0u32;
        let mut reruns = 0u32;
        loop {
            let error = match self
                .inner
                .driver
                .execute(plan.clone(), self.exec_context())
                .await
            {
                Ok(mut metrics) => {
                    metrics.retries = metrics.retries.saturating_add(reruns);
                    return Ok(metrics);
                }
                Err(e) => e,
            };
            attempts = attempts.saturating_add(match &error {
                Error::CommitConflict { attempts, .. } => (*attempts).max(1),
                _ => 1,
            });
            if !error.is_retryable() {
                return Err(error);
            }
            if !error.is_unapplied() {
                match self.applied(plan, error).await? {
                    Applied::Yes => {
                        return Ok(ExecMetrics {
                            retries: reruns,
                            ..ExecMetrics::default()
                        });
                    }
                    Applied::No(e) if attempts >= budget => return Err(e),
                    Applied::No(e) => {
                        tracing::warn!(attempt = attempts, error = %e, "re-running: the engine failed and its commit log shows the write did not commit");
                    }
                }
            } else if attempts >= budget {
                return Err(match error {
                    Error::CommitConflict { table, message, .. } => Error::CommitConflict {
                        table,
                        attempts,
                        message,
                    },
                    other => other,
                });
            } else {
                tracing::warn!(attempt = attempts, error = %error, "re-running: the engine did not apply the operation");
            }
            tokio::time::sleep(retry.delay(reruns)).await;
            reruns += 1;
        }
    }

    /// After a failure that leaves the outcome open: whether `plan` took effect, or the
    /// error to report when that cannot be known.
    async fn applied(&self, plan: &ExecutionPlan, error: Error) -> Result<Applied> {
        let unknown = |ingest_id, error| Error::OutcomeUnknown {
            operation: plan.operation().to_owned(),
            table: plan
                .table()
                .map(|t| t.table.to_string())
                .unwrap_or_default(),
            ingest_id,
            source: Box::new(error),
        };
        // Writes stamp their rows with the ingest id: the commit log says whether they landed.
        if let (Some(table), Some(ingest_id)) = (plan.table(), plan.ingest_id()) {
            return match self
                .inner
                .driver
                .is_committed(table, ingest_id, self.exec_context())
                .await
            {
                Ok(true) => {
                    tracing::warn!(%ingest_id, %error, "the engine failed after committing; the write stands");
                    Ok(Applied::Yes)
                }
                Ok(false) => Ok(Applied::No(error)),
                Err(lookup) => {
                    tracing::warn!(%ingest_id, %lookup, "could not read the commit log after a failure");
                    Err(unknown(Some(*ingest_id), error))
                }
            };
        }
        match plan {
            // Running these twice leaves what running them once does.
            ExecutionPlan::CreateTable { .. }
            | ExecutionPlan::Delete { .. }
            | ExecutionPlan::Optimize { .. }
            | ExecutionPlan::Vacuum { .. } => Ok(Applied::No(error)),
            _ => Err(unknown(None, error)),
        }
    }

    /// Whether a write stamped with `ingest_id` has committed to `T`'s table, read from the
    /// table's commit log: what to ask after an [`Error::OutcomeUnknown`].
    pub async fn is_committed<T: Lake>(&self, ingest_id: &IngestId) -> Result<bool> {
        self.check_open()?;
        let table = self.table_spec::<T>()?;
        self.inner
            .driver
            .is_committed(&table, ingest_id, self.exec_context())
            .await
    }

    /// Creates the table of model `T` if it does not exist, with its partitioning and the
    /// `_ingest_id` system column.
    pub async fn migrate<T: Lake>(&self) -> Result<ExecMetrics> {
        let table = self.table_spec::<T>()?;
        self.inner.dialect.check_schema(&table.schema)?;
        self.run(ExecutionPlan::CreateTable { table }, 0, 0).await
    }

    /// Runs a statement for its effect: DDL, or DML the typed writes do not cover.
    ///
    /// ```no_run
    /// # async fn demo(db: &lakeorm::Client) -> lakeorm::Result<()> {
    /// use lakeorm::Statement;
    /// db.exec(Statement::new("UPDATE users SET nickname = ? WHERE id = ?").bind("ada").bind(1))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn exec(&self, statement: impl Into<Statement>) -> Result<ExecMetrics> {
        self.run(ExecutionPlan::Exec(statement.into()), 0, 0).await
    }

    /// Runs a query, recording it in a span and the metrics; the typed and untyped reads all
    /// come through here.
    pub(crate) async fn query_statement(&self, statement: Statement) -> Result<QueryResult> {
        self.check_open()?;
        let span = tracing::info_span!("lakeorm", operation = "query", sql = %statement.sql);
        let started = Instant::now();
        let result = self
            .inner
            .driver
            .query(statement, self.exec_context())
            .instrument(span)
            .await;
        self.inner
            .metrics
            .operation("query", started.elapsed(), result.is_ok());
        result
    }

    /// Checks that the engine answers.
    pub async fn ping(&self) -> Result<()> {
        self.check_open()?;
        self.inner.driver.ping().await
    }

    /// Closes the driver's sessions; later calls fail. Closing twice is harmless.
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.driver.close().await
    }
}

/// Whether an operation whose call failed took effect.
enum Applied {
    Yes,
    No(Error),
}
