//! The `Client`: one Driver, one Dialect, one Backend, and everything an application does with a
//! lake — migrate, write, read, maintain.
//!
//! The Client is a service, not a thin wrapper: it validates records before any I/O, stamps
//! `auto` fields and the ingest id, decides between append and merge from the model's keys,
//! checks the engine's capabilities up front, retries optimistic-commit conflicts with backoff,
//! and records every operation in tracing spans and Prometheus metrics. It never branches on
//! which engine it has.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use arrow::array::RecordBatch;
use lakeorm_core::{
    Backend, Dialect, Driver, Error, ExecContext, ExecMetrics, ExecutionPlan, IngestId, Lake,
    LakeField, LakeSchema, MergeAction, Param, Predicate, QueryResult, Result, Row, Statement,
    TableSpec, WriteSource,
};
use tokio::sync::{OnceCell, Semaphore};
use tracing::Instrument;

use crate::dataframe::DataFrame;
use crate::idempotency::{self, Claim};
use crate::maintain::Maintenance;
use crate::metrics::Metrics;
use crate::options::{ClientOptions, ConflictStrategy, InsertOptions, WritePath};
use crate::query_builder::QueryBuilder;
use crate::staging::Finalizer;

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteReport {
    /// The write's id, stamped on every row it wrote.
    pub ingest_id: IngestId,
    /// Rows handed to the write.
    pub rows: u64,
    /// What the engine reports.
    pub metrics: ExecMetrics,
    /// The path the rows took: [`WritePath::Direct`] or [`WritePath::ObjectStorage`]; `None`
    /// when nothing was written (a deduplicated retry).
    pub write_path: Option<WritePath>,
    /// The write's idempotency key had already committed: nothing was written this time, and
    /// `ingest_id` is the first call's.
    pub deduplicated: bool,
}

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
    ingest_slots: Semaphore,
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
                ingest_slots: Semaphore::new(options.max_inflight_ingests.max(1)),
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

    pub(crate) fn ctx(&self) -> ExecContext<'_> {
        ExecContext {
            dialect: self.inner.dialect.as_ref(),
            backend: self.inner.backend.as_ref(),
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Config("the client is closed".into()));
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
        let retry = &self.inner.options.retry;
        let mut attempt = 0u32;
        let result = async {
            loop {
                match self.inner.driver.execute(plan.clone(), self.ctx()).await {
                    Ok(mut metrics) => {
                        metrics.retries = attempt;
                        break Ok(metrics);
                    }
                    Err(e) if e.is_retryable() && attempt < retry.max_retries => {
                        let delay = retry.delay(attempt);
                        tracing::warn!(attempt, ?delay, error = %e, "retrying after a retryable error");
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                    }
                    Err(e) => break Err(e),
                }
            }
        }
        .instrument(span)
        .await;
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

    /// Creates the table of model `T` if it does not exist, with its partitioning and the
    /// `_ingest_id` system column.
    pub async fn migrate<T: Lake>(&self) -> Result<ExecMetrics> {
        let table = self.table_spec::<T>()?;
        self.inner.dialect.check_schema(&table.schema)?;
        self.run(ExecutionPlan::CreateTable { table }, 0, 0).await
    }

    /// Validates and writes `records` with default options.
    ///
    /// A model with `merge_key` fields upserts on them; otherwise rows are appended. Nothing is
    /// written if any record is invalid: the error lists every failure of every record.
    pub async fn insert<T: Lake + Clone>(&self, records: &[T]) -> Result<WriteReport> {
        self.insert_with(records, InsertOptions::default()).await
    }

    /// Validates and writes `records` with `options`.
    pub async fn insert_with<T: Lake + Clone>(
        &self,
        records: &[T],
        options: InsertOptions,
    ) -> Result<WriteReport> {
        let shape = insert_shape::<T>(options.on_conflict)?;
        self.write(records, shape, &options).await
    }

    /// Inserts `records`, or updates the rows whose key (merge key, else primary key) exists.
    pub async fn upsert<T: Lake + Clone>(&self, records: &[T]) -> Result<WriteReport> {
        let keys = keys::<T>("upsert", T::schema().row_key().into_iter())?;
        self.write(
            records,
            WriteShape::Merge(keys, MergeAction::Update),
            &InsertOptions::default(),
        )
        .await
    }

    /// Overwrites the rows whose primary key matches one of `records`; records whose key does
    /// not exist are not inserted.
    pub async fn update<T: Lake + Clone>(&self, records: &[T]) -> Result<WriteReport> {
        let keys = keys::<T>("update", T::schema().primary_key())?;
        self.write(records, WriteShape::Update(keys), &InsertOptions::default())
            .await
    }

    /// Deletes the rows whose primary key matches one of `records`.
    pub async fn delete<T: Lake>(&self, records: &[T]) -> Result<ExecMetrics> {
        let keys = keys::<T>("delete", T::schema().primary_key())?;
        let table = self.table_spec::<T>()?;
        self.require(
            "delete",
            Some(&table),
            self.inner.driver.capabilities().delete,
        )?;
        let batch = T::to_record_batch(records)?;
        let indices = keys
            .iter()
            .map(|k| batch.schema().index_of(k))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let values = batch.project(&indices)?;
        self.run(
            ExecutionPlan::Delete {
                table,
                predicate: Predicate::Keys {
                    columns: keys,
                    values,
                },
            },
            0,
            0,
        )
        .await
    }

    /// Deletes the rows of `T`'s table matching a SQL predicate with `?` parameters, e.g.
    /// `client.delete_where::<User>("country = ? AND age < ?", vec!["GB".into(), 18.into()])`.
    pub async fn delete_where<T: Lake>(
        &self,
        predicate: &str,
        params: Vec<Param>,
    ) -> Result<ExecMetrics> {
        let table = self.table_spec::<T>()?;
        self.run(
            ExecutionPlan::Delete {
                table,
                predicate: Predicate::Sql(Statement::with_params(predicate, params)),
            },
            0,
            0,
        )
        .await
    }

    async fn write<T: Lake + Clone>(
        &self,
        records: &[T],
        shape: WriteShape,
        options: &InsertOptions,
    ) -> Result<WriteReport> {
        self.check_open()?;
        let table = self.table_spec::<T>()?;
        self.check_write(&table, &shape, options.write_path)?;
        lakeorm_core::validate(records)?;
        let rows = records.len() as u64;
        let ingest_id = match &options.idempotency_key {
            None => IngestId::new(),
            Some(key) => {
                let ttl = options
                    .idempotency_ttl
                    .unwrap_or(self.inner.options.idempotency_ttl);
                match idempotency::claim(self, &table, key, ttl, rows).await? {
                    Claim::Fresh(id) | Claim::Retry(id) => id,
                    Claim::Committed(id) => {
                        tracing::info!(%id, key, "idempotency key already committed; nothing written");
                        return Ok(WriteReport {
                            ingest_id: id,
                            rows,
                            metrics: ExecMetrics::default(),
                            write_path: None,
                            deduplicated: true,
                        });
                    }
                }
            }
        };
        let batch = stamped_batch(records, &ingest_id)?;
        self.write_batch(table, shape, batch, ingest_id, options.write_path)
            .await
    }

    /// Checks, before validation or I/O, that the engine can write `shape` along `path`.
    pub(crate) fn check_write(
        &self,
        table: &TableSpec,
        shape: &WriteShape,
        path: WritePath,
    ) -> Result<()> {
        let capabilities = self.inner.driver.capabilities();
        if path == WritePath::ObjectStorage && !capabilities.staged_writes {
            return Err(Error::unsupported(
                "writing through staged Parquet (via_object_storage)",
                self.inner.driver.name(),
                "this engine takes batches directly; use the default write path",
            ));
        }
        let capable = match shape {
            WriteShape::Append => true,
            WriteShape::Merge(..) => capabilities.merge,
            WriteShape::Update(_) => capabilities.update,
        };
        self.require(shape.operation(), Some(table), capable)
    }

    /// Writes a table batch (system column included) along the direct or the staged path.
    pub(crate) async fn write_batch(
        &self,
        table: TableSpec,
        shape: WriteShape,
        batch: RecordBatch,
        ingest_id: IngestId,
        path: WritePath,
    ) -> Result<WriteReport> {
        let rows = batch.num_rows() as u64;
        let bytes = batch.get_array_memory_size() as u64;
        // Nothing to stage for an empty write; the engine treats it as a no-op.
        let staged = rows > 0
            && match path {
                WritePath::ObjectStorage => true,
                WritePath::Direct => false,
                _ => {
                    self.inner.driver.capabilities().staged_writes
                        && bytes >= self.inner.options.fast_path_threshold
                }
            };
        let metrics = if staged {
            // The slot bounds staged writes in flight: their parts and uploads are the big
            // allocations of a burst of large inserts.
            let _slot = self
                .inner
                .ingest_slots
                .acquire()
                .await
                .map_err(|_| Error::Config("the client is closed".into()))?;
            let prefix = self.inner.backend.staging_location(&ingest_id);
            let mut finalizer = Finalizer::stage(self, prefix, &batch, |staged| {
                let source = WriteSource::Staged {
                    location: self
                        .inner
                        .backend
                        .engine_location(&staged.prefix, self.inner.driver.flavor())?,
                    rows: staged.rows,
                };
                Ok(shape.plan(table, source, ingest_id))
            })
            .await?;
            // Committed or not, the staged parts are removed.
            finalizer.commit().await?
        } else {
            let source = WriteSource::Batches(vec![batch]);
            self.run(shape.plan(table, source, ingest_id), rows, bytes)
                .await?
        };
        tracing::info!(%ingest_id, rows, staged, "write committed");
        Ok(WriteReport {
            ingest_id,
            rows,
            metrics,
            write_path: Some(if staged {
                WritePath::ObjectStorage
            } else {
                WritePath::Direct
            }),
            deduplicated: false,
        })
    }

    /// Runs a statement for its effect, with `?` parameters bound (never spliced).
    pub async fn exec(&self, sql: &str, params: Vec<Param>) -> Result<ExecMetrics> {
        self.run(
            ExecutionPlan::Exec(Statement::with_params(sql, params)),
            0,
            0,
        )
        .await
    }

    /// Runs a query and returns its result as a stream of Arrow batches.
    pub async fn query_batches(&self, statement: Statement) -> Result<QueryResult> {
        self.check_open()?;
        let span = tracing::info_span!("lakeorm", operation = "query", sql = %statement.sql);
        let started = Instant::now();
        let result = self
            .inner
            .driver
            .query(statement, self.ctx())
            .instrument(span)
            .await;
        self.inner
            .metrics
            .operation("query", started.elapsed(), result.is_ok());
        result
    }

    /// An untyped, lazily consumed result of `sql` with `?` parameters.
    pub async fn dataframe(&self, sql: &str, params: Vec<Param>) -> Result<DataFrame> {
        let statement = Statement::with_params(sql, params);
        let result = self.query_batches(statement.clone()).await?;
        Ok(DataFrame::new(self.clone(), statement, result))
    }

    /// A builder for queries whose shape is only known at run time.
    pub fn query(&self) -> QueryBuilder {
        QueryBuilder::new(self.clone())
    }

    /// Maintenance of model tables: compaction, vacuum and statistics.
    pub fn maintain(&self) -> Maintenance<'_> {
        Maintenance::new(self)
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

/// How a write lands: appended, merged on keys, or updating existing keys only.
pub(crate) enum WriteShape {
    Append,
    Merge(Vec<String>, MergeAction),
    Update(Vec<String>),
}

impl WriteShape {
    fn plan(self, table: TableSpec, source: WriteSource, ingest_id: IngestId) -> ExecutionPlan {
        match self {
            WriteShape::Append => ExecutionPlan::Append {
                table,
                source,
                ingest_id,
            },
            WriteShape::Merge(keys, on_match) => ExecutionPlan::Merge {
                table,
                source,
                keys,
                on_match,
                ingest_id,
            },
            WriteShape::Update(keys) => ExecutionPlan::Update {
                table,
                source,
                keys,
                ingest_id,
            },
        }
    }

    fn operation(&self) -> &'static str {
        match self {
            WriteShape::Append => "append",
            WriteShape::Merge(..) => "merge (upsert)",
            WriteShape::Update(_) => "update",
        }
    }
}

/// How `insert` writes `T`: upsert on the merge key, else append, unless a conflict strategy
/// makes it a merge on the primary key (else the merge key).
pub(crate) fn insert_shape<T: Lake>(on_conflict: Option<ConflictStrategy>) -> Result<WriteShape> {
    let schema = T::schema();
    Ok(match on_conflict {
        None if schema.merge_key().next().is_none() => WriteShape::Append,
        None => WriteShape::Merge(columns(schema.merge_key()), MergeAction::Update),
        Some(strategy) => {
            let keys = if schema.primary_key().next().is_some() {
                columns(schema.primary_key())
            } else {
                keys::<T>("an on-conflict strategy", schema.merge_key())?
            };
            WriteShape::Merge(keys, strategy.into())
        }
    })
}

/// The table batch of `records`: `auto` fields stamped with one instant, `_ingest_id` set.
pub(crate) fn stamped_batch<T: Lake + Clone>(
    records: &[T],
    ingest_id: &IngestId,
) -> Result<RecordBatch> {
    if T::schema().auto_fields().next().is_some() {
        let now = chrono::Utc::now();
        let mut stamped = records.to_vec();
        for record in &mut stamped {
            record.stamp_auto(now);
        }
        Ok(T::to_table_batch(&stamped, ingest_id)?)
    } else {
        Ok(T::to_table_batch(records, ingest_id)?)
    }
}

pub(crate) fn columns<'a>(fields: impl Iterator<Item = &'a LakeField>) -> Vec<String> {
    fields.map(|f| f.column.clone()).collect()
}

/// The key columns `fields` of model `T`, or an error saying that `operation` needs keys.
pub(crate) fn keys<'a, T: Row>(
    operation: &str,
    fields: impl Iterator<Item = &'a LakeField>,
) -> Result<Vec<String>> {
    let keys = columns(fields);
    if keys.is_empty() {
        return Err(Error::InvalidModel {
            model: T::schema().type_name().into(),
            reason: format!(
                "{operation} needs key columns: mark the field(s) that identify a row with #[lake(pk)] or #[lake(merge_key)]"
            ),
        });
    }
    Ok(keys)
}
