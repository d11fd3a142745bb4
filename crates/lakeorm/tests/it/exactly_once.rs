//! Exactly once: what lands when the engine fails around a commit, when keys repeat inside a
//! write, and when a vacuum is asked to reach too far. The engine is the real embedded one;
//! faults are injected around it by [`Faulty`](crate::faults::Faulty).

use std::sync::Arc;

use lakeorm::{Client, ClientOptions, ConflictStrategy, Error, ErrorKind, Lake, RetryPolicy};

use crate::client::{Format, count};
use crate::faults::{Fault, Faulty};
use crate::reliability::{lost_and_duplicated, record};

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

/// A client on a fresh in-memory lake of `format` whose driver fails its next `faults` writes.
pub(crate) async fn faulty(
    format: Format,
    fault: Fault,
    faults: u32,
    lookup_fails: bool,
) -> (Client, Arc<Faulty>) {
    let base = format.builder().in_memory().open().await.unwrap();
    let driver = Faulty::wrap(base.driver().clone());
    driver.arm_times(fault, faults);
    if lookup_fails {
        driver.fail_lookups();
    }
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

/// What a fault case found, over its runs, for the reliability report.
#[derive(Default)]
struct Tally {
    runs: u64,
    lost: u64,
    duplicated: u64,
}

impl Tally {
    /// Counts the ledger's rows against what it should hold, and asserts they agree.
    async fn check(&mut self, db: &Client, expected: i64, what: &str) {
        let rows = count(db, "ledger").await;
        let [lost, duplicated] = lost_and_duplicated(expected, rows);
        self.runs += 1;
        self.lost += lost.1;
        self.duplicated += duplicated.1;
        assert_eq!(rows, expected, "{what}");
    }

    fn record(&self, case: &str) {
        record(
            "fault",
            case,
            self.runs,
            &[
                ("rows lost", self.lost),
                ("rows duplicated", self.duplicated),
            ],
        );
    }
}

/// A reply lost after the commit is not a reason to write again: the commit log shows the
/// write landed, and the call succeeds with the rows in the table once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_lost_after_the_commit_does_not_write_twice() {
    let mut tally = Tally::default();
    for format in FORMATS {
        for staged in [false, true] {
            let (db, driver) =
                faulty(format, Fault::AfterCommit { retryable: true }, 1, false).await;
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
            assert_eq!(driver.faults_fired(), 1);
            tally
                .check(&db, 50, &format!("{format:?} staged={staged}"))
                .await;
            assert!(db.is_committed::<Entry>(&report.ingest_id).await.unwrap());
        }
    }
    tally.record(
        "a transport error after the commit (embedded; direct and staged; Delta and Iceberg)",
    );
}

/// A connection dropped before the engine saw the write: the log shows nothing committed,
/// so the write is re-run, and lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_did_not_commit_is_re_run_once() {
    let mut tally = Tally::default();
    for format in FORMATS {
        let (db, _) = faulty(format, Fault::BeforeCommit { retryable: true }, 2, false).await;
        db.migrate::<Entry>().await.unwrap();
        let report = db.insert(&entries(0..20)).await.unwrap();
        assert_eq!(report.metrics.retries, 2);
        tally.check(&db, 20, &format!("{format:?}")).await;
    }
    tally.record("the connection dropped before the commit, twice (embedded; Delta and Iceberg)");
}

/// When the commit log cannot be read after a failure, the error says the outcome is
/// unknown and carries the ingest id; nothing is re-run blindly, and the staged parts an
/// engine may still read are left for the janitor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_a_typed_error_with_the_ingest_id() {
    let mut tally = Tally::default();
    for format in FORMATS {
        for staged in [false, true] {
            let (db, driver) =
                faulty(format, Fault::AfterCommit { retryable: true }, 1, true).await;
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
            assert_eq!(driver.faults_fired(), 1);
            tally
                .check(&db, 10, &format!("{format:?}: written once"))
                .await;
            let left = db.backend().list_staging().await.unwrap();
            assert_eq!(
                left.len(),
                usize::from(staged),
                "{format:?} staged={staged}: {left:?}"
            );
        }
    }
    tally.record("a transport error after the commit, the commit log unreadable: OutcomeUnknown, nothing re-run");
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
    assert_eq!(driver.faults_fired(), 4);
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
    let mut tally = Tally::default();
    for format in FORMATS {
        let (db, _) = faulty(format, Fault::StagingLost, 1, false).await;
        db.migrate::<Entry>().await.unwrap();
        let error = db.insert(&entries(0..40)).staged().await.unwrap_err();
        assert!(
            matches!(error, Error::DriverRead(_)),
            "{format:?}: {error:?}"
        );
        assert!(error.to_string().contains("missing"), "{error}");
        tally.check(&db, 0, &format!("{format:?}")).await;
    }
    tally.record("staged parts deleted between staging and commit: an error, nothing committed");
}

/// The janitor, even forced with a zero cutoff, leaves alone a prefix a write is using; the
/// write lands whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_janitor_never_deletes_a_live_write() {
    let mut tally = Tally::default();
    for format in FORMATS {
        let (db, _) = faulty(format, Fault::JanitorDuringCommit, 1, false).await;
        db.migrate::<Entry>().await.unwrap();
        db.insert(&entries(0..40)).staged().await.unwrap();
        tally.check(&db, 40, &format!("{format:?}")).await;
        assert!(db.backend().list_staging().await.unwrap().is_empty());
        // Unforced, a cutoff below the safe minimum is refused.
        let refused = db
            .cleanup_staging(std::time::Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Config, "{refused:?}");
    }
    tally.record("a forced zero-age janitor run during a staged commit");
}

/// Concurrent calls with one key in one process: exactly one writes, the others wait for it
/// and report its write, deduplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_with_one_key_write_once() {
    let mut tally = Tally::default();
    for format in FORMATS {
        let db = format.builder().in_memory().open().await.unwrap();
        db.migrate::<Entry>().await.unwrap();
        let rows = Arc::new(entries(0..25));
        let calls: Vec<_> = (0..6)
            .map(|i| {
                let db = db.clone();
                let rows = Arc::clone(&rows);
                tokio::spawn(async move {
                    let insert = db.insert(&rows).idempotency_key("order-77");
                    // Half of them staged: they must not share a prefix either.
                    if i % 2 == 0 {
                        insert.staged().await
                    } else {
                        insert.await
                    }
                })
            })
            .collect();
        let mut reports = Vec::new();
        for call in calls {
            reports.push(call.await.unwrap().unwrap());
        }
        let written = reports.iter().filter(|r| !r.deduplicated).count();
        assert_eq!(written, 1, "{format:?}: {reports:?}");
        assert!(reports.iter().all(|r| r.ingest_id == reports[0].ingest_id));
        tally.check(&db, 25, &format!("{format:?}")).await;
        assert!(db.backend().list_staging().await.unwrap().is_empty());
    }
    tally.record("six concurrent calls with one idempotency key in one process");
}

/// Two processes' clients (the same lake through two paths, so nothing in-process is
/// shared) racing with one key: the record that commits first wins, and the rows land once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_two_processes_racing_with_one_key_write_once() {
    let mut tally = Tally::default();
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        std::fs::create_dir(&lake).unwrap();
        let alias = dir.path().join("alias");
        std::os::unix::fs::symlink(&lake, &alias).unwrap();
        let a = format.builder().path(&lake).open().await.unwrap();
        let b = format.builder().path(&alias).open().await.unwrap();
        a.migrate::<Entry>().await.unwrap();
        b.migrate::<Entry>().await.unwrap();
        for round in 0..4i64 {
            let rows = entries(round * 10..round * 10 + 10);
            let key = format!("round-{round}");
            let (ra, rb) = tokio::join!(
                a.insert(&rows).idempotency_key(&key),
                b.insert(&rows).idempotency_key(&key)
            );
            let written = [&ra, &rb]
                .iter()
                .filter(|r| matches!(r, Ok(report) if !report.deduplicated))
                .count();
            for result in [&ra, &rb] {
                match result {
                    Ok(_) | Err(Error::IdempotencyKeyInUse { .. }) => {}
                    Err(other) => panic!("{format:?} round {round}: {other:?}"),
                }
            }
            assert_eq!(written, 1, "{format:?} round {round}: {ra:?} {rb:?}");
        }
        tally.check(&a, 40, &format!("{format:?}")).await;
    }
    tally.record("two processes' clients racing with one idempotency key, four rounds");
}

/// A key whose first call did not end in this process is in use for its lease: a retry from
/// another process is refused (retryable) rather than racing a write that may be running; the
/// process whose call ended retries at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_claimed_elsewhere_is_leased() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir(&lake).unwrap();
    let alias = dir.path().join("alias");
    std::os::unix::fs::symlink(&lake, &alias).unwrap();
    let base = lakeorm::LocalBuilder::new()
        .path(&lake)
        .open()
        .await
        .unwrap();
    let driver = Faulty::wrap(base.driver().clone());
    let a = Client::with_options(
        driver.clone(),
        base.dialect().clone(),
        base.backend().clone(),
        ClientOptions::default(),
    );
    let b = lakeorm::LocalBuilder::new()
        .path(&alias)
        .open()
        .await
        .unwrap();
    a.migrate::<Entry>().await.unwrap();
    driver.arm(Fault::BeforeCommit { retryable: false });
    let rows = entries(0..5);
    a.insert(&rows).idempotency_key("k").await.unwrap_err();
    let refused = b.insert(&rows).idempotency_key("k").await.unwrap_err();
    assert!(
        matches!(refused, Error::IdempotencyKeyInUse { .. }) && refused.is_retryable(),
        "{refused:?}"
    );
    assert_eq!(count(&b, "ledger").await, 0);
    let retried = a.insert(&rows).idempotency_key("k").await.unwrap();
    assert!(!retried.deduplicated);
    let after = b.insert(&rows).idempotency_key("k").await.unwrap();
    assert!(after.deduplicated);
    assert_eq!(count(&b, "ledger").await, 5);
}

/// An insert whose future is dropped at some point of its run (a timeout): the table holds all
/// of it or none, what staging it leaves the janitor removes, and a retry with its key writes
/// it exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_dropped_mid_flight_lands_once() {
    let mut tally = Tally::default();
    let rows = entries(0..50_000);
    for format in FORMATS {
        for (i, after) in [0u64, 2, 10, 50, 200].into_iter().enumerate() {
            let db = format
                .builder()
                .in_memory()
                .options(ClientOptions::default().idempotency_lease(std::time::Duration::ZERO))
                .open()
                .await
                .unwrap();
            db.migrate::<Entry>().await.unwrap();
            let key = format!("drop-{i}");
            let insert = db.insert(&rows).idempotency_key(&key);
            let insert = if i % 2 == 0 { insert.staged() } else { insert };
            let first = tokio::time::timeout(
                std::time::Duration::from_millis(after),
                std::future::IntoFuture::into_future(insert),
            )
            .await;
            let landed = count(&db, "ledger").await;
            assert!(
                landed == 0 || landed == 50_000,
                "{format:?} after {after} ms: {landed}"
            );
            if let Ok(result) = first {
                result.unwrap();
            }
            db.insert(&rows).idempotency_key(&key).await.unwrap();
            tally
                .check(&db, 50_000, &format!("{format:?} dropped after {after} ms"))
                .await;
            db.cleanup_staging(std::time::Duration::ZERO)
                .force()
                .await
                .unwrap();
            assert!(db.backend().list_staging().await.unwrap().is_empty());
        }
    }
    tally.record("an insert's future dropped after 0-200 ms, then retried with its key (embedded; direct and staged)");
}

/// The S3 server `cargo xtask` starts for this test alone (`LAKEORM_TEST_S3_FAULT_*`), which
/// the test stops and resumes with `SIGSTOP` and `SIGCONT`: a server that stops answering
/// mid-request, as one behind a partitioned network does, then comes back with what it had.
struct StoppableS3 {
    endpoint: String,
    pid: String,
}

impl StoppableS3 {
    fn from_env() -> Option<Self> {
        match (
            std::env::var("LAKEORM_TEST_S3_FAULT_ENDPOINT"),
            std::env::var("LAKEORM_TEST_S3_FAULT_PID"),
        ) {
            (Ok(endpoint), Ok(pid)) => Some(StoppableS3 { endpoint, pid }),
            _ => {
                assert!(
                    std::env::var_os("LAKEORM_TEST_S3_REQUIRED").is_none(),
                    "LAKEORM_TEST_S3_REQUIRED is set but LAKEORM_TEST_S3_FAULT_* are not"
                );
                eprintln!("no S3 server to stop: run through `cargo xtask ci`; skipping");
                None
            }
        }
    }

    /// A lake under a fresh prefix, whose requests give up two seconds into a silence.
    fn backend(&self) -> Arc<dyn lakeorm::Backend> {
        let bucket = std::env::var("LAKEORM_TEST_S3_BUCKET").unwrap_or_else(|_| "lakeorm".into());
        let options = lakeorm::backends::S3Options::new(bucket)
            .prefix(format!("stopped/{}", lakeorm::IngestId::new()))
            .endpoint(&self.endpoint)
            .region("us-east-1")
            .credentials("test", "test")
            .allow_http(true)
            .request_timeout(std::time::Duration::from_secs(2))
            .max_retries(1)
            .retry_timeout(std::time::Duration::from_secs(3));
        Arc::new(lakeorm::backends::ObjectStoreBackend::s3(options).unwrap())
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {}", self.pid);
    }

    fn stop(&self) {
        self.signal("-STOP");
    }

    fn resume(&self) {
        self.signal("-CONT");
    }
}

/// Resumes the server however the test ends, so that a failure leaves no stopped server
/// behind for the rest of the run.
struct Resume<'a>(&'a StoppableS3);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        self.0.resume();
    }
}

/// A client of `format` on a fresh lake of the stoppable server, staging in small parts.
async fn stoppable_client(
    server: &StoppableS3,
    format: Format,
) -> (Client, Arc<dyn lakeorm::Backend>) {
    let backend = server.backend();
    let driver = lakeorm::embedded::EmbeddedDriver::open(Arc::clone(&backend))
        .await
        .unwrap();
    let dialect: Arc<dyn lakeorm::Dialect> = match format {
        Format::Delta => Arc::new(lakeorm::delta::DeltaDialect::new()),
        Format::Iceberg => Arc::new(lakeorm::iceberg::IcebergDialect::new()),
    };
    let options = ClientOptions::default()
        // The retry below runs in this process, right after the call gave up.
        .idempotency_lease(std::time::Duration::ZERO)
        .staging(lakeorm::PartWriterOptions {
            target_part_bytes: 64 << 10,
            row_group_bytes: 16 << 10,
            ..Default::default()
        });
    let db = Client::with_options(Arc::new(driver), dialect, Arc::clone(&backend), options);
    db.migrate::<Entry>().await.unwrap();
    (db, backend)
}

/// Spawns `insert(rows)` with `key`, staged or direct.
fn spawn_insert(
    db: &Client,
    rows: &[Entry],
    key: &str,
    staged: bool,
) -> tokio::task::JoinHandle<lakeorm::Result<lakeorm::WriteReport>> {
    let (db, rows, key) = (db.clone(), rows.to_vec(), key.to_owned());
    tokio::spawn(async move {
        let insert = db.insert(&rows).idempotency_key(&key);
        if staged {
            insert.staged().await
        } else {
            insert.direct().await
        }
    })
}

/// Waits until the `ledger` table holds a Parquet file, and returns how long that took.
async fn until_a_data_file(backend: &dyn lakeorm::Backend) -> std::time::Duration {
    use futures::TryStreamExt as _;
    let start = std::time::Instant::now();
    let table = backend.store_path(&backend.table_location("ledger"));
    loop {
        // This poll talks to the server the test is loading with a short request timeout; a
        // list that times out says nothing yet, so it is asked again.
        let Ok(files) = backend
            .object_store()
            .list(Some(&table))
            .try_collect::<Vec<_>>()
            .await
        else {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        };
        if files
            .iter()
            .any(|f| f.location.as_ref().ends_with(".parquet"))
        {
            return start.elapsed();
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(300));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The S3 server holding the lake stops answering in the middle of an upload and comes back
/// once the call has given up: the table holds all of the batch or none, the janitor removes
/// what was staged, and a retry with the key writes the batch exactly once. A staged insert
/// is stopped once its first part has landed (with small parts, most are still to come). A
/// direct one is stopped three quarters of the way to its first data file, as timed by an
/// uninterrupted run of the same write just before: past its idempotency claim, while its
/// data is being encoded and sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_server_stopped_mid_upload_loses_and_duplicates_nothing() {
    use std::time::{Duration, Instant};
    let Some(server) = StoppableS3::from_env() else {
        return;
    };
    const ROWS: i64 = 1_000_000;
    let mut tally = Tally::default();
    let mut failed = 0;
    let mut staging_left = 0;
    let rows = entries(0..ROWS);
    for format in FORMATS {
        for staged in [true, false] {
            let stop_after = if staged {
                None
            } else {
                let (db, backend) = stoppable_client(&server, format).await;
                let calibration = spawn_insert(&db, &rows, "calibration", false);
                let data_file = until_a_data_file(backend.as_ref()).await;
                calibration.await.unwrap().unwrap();
                Some(data_file * 3 / 4)
            };
            let (db, backend) = stoppable_client(&server, format).await;
            let key = format!("stopped-{format:?}-{staged}");
            let writer = spawn_insert(&db, &rows, &key, staged);
            match stop_after {
                Some(after) => tokio::time::sleep(after).await,
                None => {
                    let deadline = Instant::now() + Duration::from_secs(120);
                    while backend.list_staging().await.unwrap().is_empty() {
                        assert!(Instant::now() < deadline, "the write never staged anything");
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            }
            let resume = Resume(&server);
            server.stop();
            let first = tokio::time::timeout(Duration::from_secs(300), writer)
                .await
                .expect("the call never gave up on a silent server")
                .unwrap();
            drop(resume);
            let what = format!("{format:?}, staged {staged}, stopped after {stop_after:?}");
            match &first {
                Ok(report) => eprintln!("{what}: the first call wrote {} rows", report.rows),
                Err(error) => eprintln!("{what}: the first call failed: {error}"),
            }
            failed += u64::from(first.is_err());
            let landed = count(&db, "ledger").await;
            assert!(landed == 0 || landed == ROWS, "{what}: {landed} rows");
            // Forced: the call is over, and nothing else writes to this lake.
            db.cleanup_staging(Duration::ZERO).force().await.unwrap();
            spawn_insert(&db, &rows, &key, staged)
                .await
                .unwrap()
                .unwrap();
            tally.check(&db, ROWS, &what).await;
            let left = db.backend().list_staging().await.unwrap().len();
            staging_left += left as u64;
            assert_eq!(left, 0, "{what}");
        }
    }
    record(
        "fault",
        "the S3 server stopped mid-upload of 1,000,000 rows (embedded, Delta and Iceberg; staged and direct), resumed once the call gave up, then a retry with the key",
        tally.runs,
        &[
            ("rows lost", tally.lost),
            ("rows duplicated", tally.duplicated),
            ("staging prefixes left after the janitor", staging_left),
            ("first calls that failed", failed),
        ],
    );
}
