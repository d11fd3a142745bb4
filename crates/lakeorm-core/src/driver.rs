//! The `Driver` seam: how lakeorm connects to an engine and executes plans.

use std::any::Any;
use std::fmt;
use std::pin::Pin;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use futures::Stream;

use crate::backend::Backend;
use crate::backend::EngineFlavor;
use crate::dialect::Dialect;
use crate::error::Error;
use crate::error::Result;
use crate::ingest::IngestId;
use crate::location::Location;
use crate::plan::{ExecMetrics, ExecutionPlan, Statement, TableFormat, TableSpec, TableStats};

/// A stream of Arrow batches; engines yield results one batch at a time so that reads run in
/// constant memory.
pub type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch>> + Send>>;

/// The result of a query: its schema, known before the first batch, and the batches.
pub struct QueryResult {
    /// The result's schema.
    pub schema: SchemaRef,
    /// The batches.
    pub batches: BatchStream,
    /// The engine's own handle on the query (a `datafusion::dataframe::DataFrame` for the
    /// embedded engine), for users who need engine-native operations.
    pub native: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for QueryResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryResult")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// What an engine can do; the Client consults it before planning, so that a missing capability
/// is a typed [`Unsupported`](crate::Error::Unsupported) error up front rather than a failure
/// halfway through a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverCapabilities {
    /// Table formats the engine reads and writes.
    pub formats: Vec<TableFormat>,
    /// MERGE (upserts).
    pub merge: bool,
    /// UPDATE by key.
    pub update: bool,
    /// DELETE.
    pub delete: bool,
    /// Appending or merging Parquet staged on the Backend (a staged write).
    pub staged_writes: bool,
    /// Whether staging a large write *helps*: true where the engine is remote, so that staged
    /// Parquet spares the wire and the server reads the parts in parallel; false in-process,
    /// where staging only adds a Parquet round trip. The facade's `WritePath::Auto` stages a
    /// batch from the size threshold up only when this holds; `.staged()` still forces it.
    pub staging_helps: bool,
    /// Compaction and vacuum.
    pub maintenance: bool,
    /// Reading old table versions.
    pub time_travel: bool,
}

/// What a plan executes against: the Client's dialect and backend.
#[derive(Clone, Copy)]
pub struct ExecContext<'a> {
    /// The dialect that built the plan (SQL engines ask it to render the plan).
    pub dialect: &'a dyn Dialect,
    /// Where the bytes live.
    pub backend: &'a dyn Backend,
}

impl fmt::Debug for ExecContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecContext")
            .field("dialect", &self.dialect.name())
            .field("backend", &self.backend.name())
            .finish()
    }
}

/// An execution engine: the embedded one (DataFusion + delta-rs) or Spark Connect.
///
/// Object safe; a Client holds it as `Arc<dyn Driver>`. Implementations must be cheap to share
/// across tasks.
#[async_trait]
pub trait Driver: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs, metrics and errors (`"embedded"`, `"spark-connect"`).
    fn name(&self) -> &str;

    /// What this engine can do.
    fn capabilities(&self) -> DriverCapabilities;

    /// Executes a write, DDL or statement plan.
    async fn execute(&self, plan: ExecutionPlan, ctx: ExecContext<'_>) -> Result<ExecMetrics>;

    /// Runs a query and streams its result.
    async fn query(&self, statement: Statement, ctx: ExecContext<'_>) -> Result<QueryResult>;

    /// Reports the state of a table (version, files, rows, bytes).
    async fn stats(&self, table: &TableSpec, ctx: ExecContext<'_>) -> Result<TableStats> {
        let _ = ctx;
        Err(Error::unsupported(
            format!("stats of `{}`", table.table),
            self.name(),
            "the engine does not report table statistics",
        ))
    }

    /// Reads the Parquet file or prefix at `location` (as the engine addresses it), written by
    /// the client: the probe of `verify`. `Ok(None)` when the engine's storage holds nothing
    /// there, which means it sees other storage than the client.
    async fn read_parquet(
        &self,
        location: &Location,
        ctx: ExecContext<'_>,
    ) -> Result<Option<QueryResult>> {
        let _ = ctx;
        Err(Error::unsupported(
            format!("reading Parquet at {location}"),
            self.name(),
            "the engine cannot read files written by the client",
        ))
    }

    /// Whether a write stamped with `ingest_id` has committed to `table`: what makes a retried
    /// insert with an idempotency key exactly-once. Engines answer from the table's own commit
    /// log (each write records its ingest id there), so the answer holds even after later
    /// writes changed or removed the rows.
    async fn is_committed(
        &self,
        table: &TableSpec,
        ingest_id: &IngestId,
        ctx: ExecContext<'_>,
    ) -> Result<bool> {
        let _ = (ctx, ingest_id);
        Err(Error::unsupported(
            format!("looking up commits of `{}`", table.table),
            self.name(),
            "the engine does not record ingest ids in its commit log",
        ))
    }

    /// How this engine addresses storage (the Backend translates locations accordingly).
    fn flavor(&self) -> EngineFlavor {
        EngineFlavor::Native
    }

    /// Checks that the engine answers.
    async fn ping(&self) -> Result<()>;

    /// Releases sessions and connections. Calls after `close` fail.
    async fn close(&self) -> Result<()>;

    /// The concrete driver, for reaching engine-native handles.
    fn as_any(&self) -> &dyn Any;
}
