//! A driver that forwards to a real engine and fails at an exact point of a write: the only
//! way to make a failure land between a commit and its reply, or between staging and commit.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lakeorm::{
    Driver, DriverCapabilities, Error, ExecContext, ExecMetrics, ExecutionPlan, IDEMPOTENCY_TABLE,
    IngestId, Location, QueryResult, Result, Statement, TableSpec, TableStats, WriteSource,
};

/// Where a write to a model table fails (the idempotency table is never failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The connection drops before the engine sees the write. `retryable` as a transport
    /// error is (the Spark driver's `UNAVAILABLE`), or not.
    BeforeCommit { retryable: bool },
    /// The write commits, then the reply is lost.
    AfterCommit { retryable: bool },
    /// The engine lost a commit race after `attempts` attempts of its own.
    Conflict { attempts: u32 },
    /// A staged write's parts vanish before the engine reads them (a lifecycle rule, an
    /// operator's `rm`).
    StagingLost,
    /// A forced janitor run with a zero cutoff, just before the engine reads the parts.
    JanitorDuringCommit,
}

/// The engine with faults armed for its next writes.
#[derive(Debug)]
pub(crate) struct Faulty {
    inner: Arc<dyn Driver>,
    armed: Mutex<Option<(Fault, u32)>>,
    executions: AtomicU32,
    lookups_fail: AtomicBool,
}

fn lost(when: &str, retryable: bool) -> Error {
    Error::engine(
        "faulty",
        "commit",
        retryable,
        std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            format!("connection reset {when}"),
        ),
    )
}

/// The staged prefix a plan reads, if it reads one.
fn staged_location(plan: &ExecutionPlan) -> Option<Location> {
    match plan {
        ExecutionPlan::Append { source, .. }
        | ExecutionPlan::Merge { source, .. }
        | ExecutionPlan::Update { source, .. } => match source {
            WriteSource::Staged { location, .. } => Some(location.clone()),
            WriteSource::Batches(_) => None,
        },
        _ => None,
    }
}

impl Faulty {
    pub(crate) fn wrap(inner: Arc<dyn Driver>) -> Arc<Self> {
        Arc::new(Faulty {
            inner,
            armed: Mutex::new(None),
            executions: AtomicU32::new(0),
            lookups_fail: AtomicBool::new(false),
        })
    }

    /// Fails the next write.
    pub(crate) fn arm(&self, fault: Fault) {
        self.arm_times(fault, 1);
    }

    /// Fails the next `times` writes.
    pub(crate) fn arm_times(&self, fault: Fault, times: u32) {
        *self.armed.lock().unwrap() = Some((fault, times));
    }

    /// Makes commit-log lookups fail, as when the engine is unreachable.
    pub(crate) fn fail_lookups(&self) {
        self.lookups_fail.store(true, Ordering::Release);
    }

    /// How many writes failed by a fault.
    pub(crate) fn faults_fired(&self) -> u32 {
        self.executions.load(Ordering::Acquire)
    }

    fn take(&self, plan: &ExecutionPlan) -> Option<Fault> {
        let model_write = plan.ingest_id().is_some()
            && plan
                .table()
                .is_some_and(|t| t.table.name != IDEMPOTENCY_TABLE);
        if !model_write {
            return None;
        }
        let mut armed = self.armed.lock().unwrap();
        let (fault, left) = armed.as_mut()?;
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            *armed = None;
        }
        self.executions.fetch_add(1, Ordering::AcqRel);
        Some(fault)
    }
}

#[async_trait]
impl Driver for Faulty {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn capabilities(&self) -> DriverCapabilities {
        self.inner.capabilities()
    }
    async fn execute(&self, plan: ExecutionPlan, ctx: ExecContext<'_>) -> Result<ExecMetrics> {
        let Some(fault) = self.take(&plan) else {
            return self.inner.execute(plan, ctx).await;
        };
        match fault {
            Fault::BeforeCommit { retryable } => Err(lost("before the commit", retryable)),
            Fault::AfterCommit { retryable } => {
                self.inner.execute(plan, ctx).await?;
                Err(lost("after the commit", retryable))
            }
            Fault::Conflict { attempts } => Err(Error::CommitConflict {
                table: plan
                    .table()
                    .map(|t| t.table.to_string())
                    .unwrap_or_default(),
                attempts,
                message: "a concurrent writer committed first".into(),
            }),
            Fault::StagingLost => {
                let prefix = staged_location(&plan).expect("a staged write");
                ctx.backend.delete_prefix(&prefix).await?;
                self.inner.execute(plan, ctx).await
            }
            Fault::JanitorDuringCommit => {
                let report = lakeorm::backends::cleanup_staging_with(
                    ctx.backend,
                    std::time::Duration::ZERO,
                    true,
                    |_| {},
                )
                .await?;
                assert_eq!(report.in_use.len(), 1, "{report:?}");
                self.inner.execute(plan, ctx).await
            }
        }
    }
    async fn query(&self, statement: Statement, ctx: ExecContext<'_>) -> Result<QueryResult> {
        self.inner.query(statement, ctx).await
    }
    async fn stats(&self, table: &TableSpec, ctx: ExecContext<'_>) -> Result<TableStats> {
        self.inner.stats(table, ctx).await
    }
    async fn read_parquet(
        &self,
        location: &Location,
        ctx: ExecContext<'_>,
    ) -> Result<Option<QueryResult>> {
        self.inner.read_parquet(location, ctx).await
    }
    async fn is_committed(
        &self,
        table: &TableSpec,
        ingest_id: &IngestId,
        ctx: ExecContext<'_>,
    ) -> Result<bool> {
        if self.lookups_fail.load(Ordering::Acquire) {
            return Err(Error::unsupported(
                "looking up commits",
                "faulty",
                "the engine is unreachable",
            ));
        }
        self.inner.is_committed(table, ingest_id, ctx).await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
