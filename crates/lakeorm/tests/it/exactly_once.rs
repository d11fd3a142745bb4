//! Exactly once: what lands when the engine fails around a commit, when keys repeat inside a
//! write, and when a vacuum is asked to reach too far. The engine is the real embedded one;
//! faults are injected around it by a driver that forwards to it (a transport error after
//! the real commit, a refusal before it), which is the only way to fail at an exact point.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use lakeorm::{
    Client, ClientOptions, ConflictStrategy, Driver, DriverCapabilities, Error, ErrorKind,
    ExecContext, ExecMetrics, ExecutionPlan, IngestId, Lake, QueryResult, Result, RetryPolicy,
    Statement, TableSpec,
};

use crate::client::{Format, count};

#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "ledger")]
struct Entry {
    #[lake(pk)]
    id: i64,
    amount: i64,
}

/// A position upserted on its merge key.
#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "holdings")]
struct Holding {
    #[lake(merge_key)]
    account: i64,
    #[lake(merge_key)]
    symbol: String,
    quantity: i64,
}

fn entries(ids: std::ops::Range<i64>) -> Vec<Entry> {
    ids.map(|id| Entry { id, amount: id * 3 }).collect()
}

/// Where a write fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The write commits, then the reply is lost (a retryable transport error).
    AfterCommit,
    /// The connection drops before the engine sees the write (a retryable transport error).
    BeforeCommit,
    /// The engine lost a commit race after `attempts` attempts of its own.
    Conflict { attempts: u32 },
    /// A staged write's parts vanish before the engine reads them (a lifecycle rule, an
    /// operator's `rm`).
    StagingLost,
    /// A forced janitor run with a zero cutoff, just before the engine reads the parts.
    JanitorDuringCommit,
}

/// The staged prefix a plan reads, if it reads one.
fn staged_location(plan: &ExecutionPlan) -> Option<lakeorm::Location> {
    match plan {
        ExecutionPlan::Append { source, .. }
        | ExecutionPlan::Merge { source, .. }
        | ExecutionPlan::Update { source, .. } => match source {
            lakeorm::WriteSource::Staged { location, .. } => Some(location.clone()),
            lakeorm::WriteSource::Batches(_) => None,
        },
        _ => None,
    }
}

/// The embedded driver with faults injected into its next `faults` writes; its commit log
/// lookup can be made to fail too.
#[derive(Debug)]
pub(crate) struct Faulty {
    inner: Arc<dyn Driver>,
    fault: Fault,
    faults: AtomicU32,
    pub(crate) executions: AtomicU32,
    lookup_fails: bool,
}

fn transport_error() -> Error {
    Error::engine(
        "faulty",
        "append",
        true,
        std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        ),
    )
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
        let writes = plan.ingest_id().is_some()
            && plan
                .table()
                .is_some_and(|t| t.table.name != lakeorm::IDEMPOTENCY_TABLE);
        if !writes
            || self
                .faults
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_err()
        {
            return self.inner.execute(plan, ctx).await;
        }
        self.executions.fetch_add(1, Ordering::AcqRel);
        match self.fault {
            Fault::AfterCommit => {
                self.inner.execute(plan, ctx).await?;
                Err(transport_error())
            }
            Fault::BeforeCommit => Err(transport_error()),
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
    async fn is_committed(
        &self,
        table: &TableSpec,
        ingest_id: &IngestId,
        ctx: ExecContext<'_>,
    ) -> Result<bool> {
        if self.lookup_fails {
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

/// A client on a fresh in-memory lake of `format` whose driver fails its next `faults` writes.
pub(crate) async fn faulty(
    format: Format,
    fault: Fault,
    faults: u32,
    lookup_fails: bool,
) -> (Client, Arc<Faulty>) {
    let base = format.builder().in_memory().open().await.unwrap();
    let driver = Arc::new(Faulty {
        inner: base.driver().clone(),
        fault,
        faults: AtomicU32::new(faults),
        executions: AtomicU32::new(0),
        lookup_fails,
    });
    let options = ClientOptions::default().retry(RetryPolicy {
        max_retries: 10,
        base_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(5),
    });
    let db = Client::with_options(
        driver.clone(),
        base.dialect().clone(),
        base.backend().clone(),
        options,
    );
    (db, driver)
}

const FORMATS: [Format; 2] = [Format::Delta, Format::Iceberg];

/// A reply lost after the commit is not a reason to write again: the commit log shows the
/// write landed, and the call succeeds with the rows in the table once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_lost_after_the_commit_does_not_write_twice() {
    for format in FORMATS {
        for staged in [false, true] {
            let (db, driver) = faulty(format, Fault::AfterCommit, 1, false).await;
            db.migrate::<Entry>().await.unwrap();
            let rows = entries(0..50);
            let insert = db.insert(&rows);
            let report = if staged {
                insert.staged().await
            } else {
                insert.await
            }
            .unwrap_or_else(|e| panic!("{format:?} staged={staged}: {e}"));
            assert_eq!(report.rows, 50);
            assert_eq!(driver.executions.load(Ordering::Acquire), 1);
            assert_eq!(count(&db, "ledger").await, 50, "{format:?} staged={staged}");
            assert!(db.is_committed::<Entry>(&report.ingest_id).await.unwrap());
        }
    }
}

/// A connection dropped before the engine saw the write: the log shows nothing committed,
/// so the write is re-run, and lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_did_not_commit_is_re_run_once() {
    for format in FORMATS {
        let (db, _) = faulty(format, Fault::BeforeCommit, 2, false).await;
        db.migrate::<Entry>().await.unwrap();
        let report = db.insert(&entries(0..20)).await.unwrap();
        assert_eq!(report.metrics.retries, 2);
        assert_eq!(count(&db, "ledger").await, 20, "{format:?}");
    }
}

/// When the commit log cannot be read after a failure, the error says the outcome is
/// unknown and carries the ingest id; nothing is re-run blindly, and the staged parts an
/// engine may still read are left for the janitor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_a_typed_error_with_the_ingest_id() {
    for format in FORMATS {
        for staged in [false, true] {
            let (db, driver) = faulty(format, Fault::AfterCommit, 1, true).await;
            db.migrate::<Entry>().await.unwrap();
            let rows = entries(0..10);
            let insert = db.insert(&rows);
            let error = if staged {
                insert.staged().await
            } else {
                insert.await
            }
            .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::OutcomeUnknown, "{error:?}");
            let Error::OutcomeUnknown { ingest_id, .. } = &error else {
                panic!("{error:?}")
            };
            assert!(ingest_id.is_some());
            assert!(!error.is_retryable());
            assert!(error.to_string().contains("idempotency key"), "{error}");
            assert_eq!(driver.executions.load(Ordering::Acquire), 1);
            assert_eq!(count(&db, "ledger").await, 10, "{format:?}: written once");
            let left = db.backend().list_staging().await.unwrap();
            assert_eq!(
                left.len(),
                usize::from(staged),
                "{format:?} staged={staged}: {left:?}"
            );
        }
    }
}

/// One retry budget across layers: an engine that retried its commit three times counts
/// three attempts, and the conflict finally reported says how many were made in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_conflicts_count_the_engines_own_attempts() {
    let (db, driver) = faulty(
        Format::Delta,
        Fault::Conflict { attempts: 3 },
        u32::MAX,
        false,
    )
    .await;
    db.migrate::<Entry>().await.unwrap();
    let error = db.insert(&entries(0..3)).await.unwrap_err();
    let Error::CommitConflict { attempts, .. } = error else {
        panic!("{error:?}")
    };
    // A budget of 11 attempts (max_retries 10): four calls of three attempts each.
    assert_eq!(driver.executions.load(Ordering::Acquire), 4);
    assert_eq!(attempts, 12);
    assert_eq!(count(&db, "ledger").await, 0);
}

/// Two rows of one upsert with the same key are refused before anything is written, naming
/// the key; a MERGE would otherwise insert both when the key is new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_that_repeats_a_key_is_refused() {
    for format in FORMATS {
        let db = format.builder().in_memory().open().await.unwrap();
        db.migrate::<Holding>().await.unwrap();
        let holding = |account, symbol: &str, quantity| Holding {
            account,
            symbol: symbol.into(),
            quantity,
        };
        let rows = [
            holding(1, "ACME", 5),
            holding(1, "INIT", 1),
            holding(1, "ACME", 7),
        ];
        let error = db.insert(&rows).await.unwrap_err();
        match &error {
            Error::DuplicateKeyInWrite { value, rows, .. } => {
                assert_eq!(value, "account = 1, symbol = ACME");
                assert_eq!(*rows, (0, 2));
            }
            other => panic!("{format:?}: {other:?}"),
        }
        assert_eq!(
            count(&db, "holdings").await,
            0,
            "{format:?}: nothing written"
        );
        // The same for an explicit conflict strategy on a primary key, and for updates.
        db.migrate::<Entry>().await.unwrap();
        let twice = [Entry { id: 1, amount: 1 }, Entry { id: 1, amount: 2 }];
        for result in [
            db.insert(&twice)
                .on_conflict(ConflictStrategy::Update)
                .await,
            db.update(&twice).await,
        ] {
            assert!(
                matches!(result, Err(Error::DuplicateKeyInWrite { .. })),
                "{format:?}: {result:?}"
            );
        }
        // And the key is not claimed by a refused write.
        let claimed = db.insert(&rows).idempotency_key("k").await.unwrap_err();
        assert!(matches!(claimed, Error::DuplicateKeyInWrite { .. }));
        let ok = db.insert(&rows[..2]).idempotency_key("k").await.unwrap();
        assert!(!ok.deduplicated);
        assert_eq!(count(&db, "holdings").await, 2, "{format:?}");
    }
}

/// Parts that vanished between staging and commit are an error, not a commit of fewer rows
/// (or none) reported as a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_commit_that_cannot_read_every_row_fails() {
    for format in FORMATS {
        let (db, _) = faulty(format, Fault::StagingLost, 1, false).await;
        db.migrate::<Entry>().await.unwrap();
        let error = db.insert(&entries(0..40)).staged().await.unwrap_err();
        assert!(
            matches!(error, Error::DriverRead(_)),
            "{format:?}: {error:?}"
        );
        assert!(error.to_string().contains("missing"), "{error}");
        assert_eq!(count(&db, "ledger").await, 0, "{format:?}");
    }
}

/// The janitor, even forced with a zero cutoff, leaves alone a prefix a write is using; the
/// write lands whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_janitor_never_deletes_a_live_write() {
    for format in FORMATS {
        let (db, _) = faulty(format, Fault::JanitorDuringCommit, 1, false).await;
        db.migrate::<Entry>().await.unwrap();
        db.insert(&entries(0..40)).staged().await.unwrap();
        assert_eq!(count(&db, "ledger").await, 40, "{format:?}");
        assert!(db.backend().list_staging().await.unwrap().is_empty());
        // Unforced, a cutoff below the safe minimum is refused.
        let refused = db
            .cleanup_staging(std::time::Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Config, "{refused:?}");
    }
}
