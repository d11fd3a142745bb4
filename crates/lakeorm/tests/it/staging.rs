//! The staging lifecycle on the embedded engine: staged writes, the janitor, `verify`,
//! idempotent retries and raw-then-merge, on file, memory and S3 (moto on loopback, started by
//! `cargo xtask ci` or `cargo xtask with-s3 -- …`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lakeorm::backends::{ObjectStoreBackend, S3Options};
use lakeorm::delta::DeltaDialect;
use lakeorm::embedded::EmbeddedDriver;
use lakeorm::{
    Backend, Client, ClientOptions, ConflictStrategy, Driver, Error, IDEMPOTENCY_TABLE, IngestId,
    Lake, Location, Query, Row, StagingOp, Statement, WritePath,
};
use object_store::{ObjectStoreExt as _, PutPayload};

use crate::client::count;
use crate::faults::{Fault, Faulty};

#[derive(Lake, Debug, Clone, PartialEq)]
struct Event {
    #[lake(pk)]
    id: i64,
    #[lake(validate = "email")]
    email: String,
    kind: String,
}

fn events(from: i64, n: i64) -> Vec<Event> {
    (from..from + n)
        .map(|id| Event {
            id,
            email: format!("e{id}@example.com"),
            kind: ["click", "view"][(id % 2) as usize].into(),
        })
        .collect()
}

/// Upserted on its merge key.
#[derive(Lake, Debug, Clone, PartialEq)]
struct Balance {
    #[lake(merge_key)]
    account: i64,
    amount: i64,
}

/// A client on the embedded engine whose engine sees `engine_backend` and whose client side
/// writes through `backend` (the same one unless a test wants them to disagree).
async fn client_on(
    backend: Arc<dyn Backend>,
    engine_backend: Arc<dyn Backend>,
    options: ClientOptions,
) -> Client {
    let driver = EmbeddedDriver::open(engine_backend).await.unwrap();
    Client::with_options(
        Arc::new(driver),
        Arc::new(DeltaDialect::new()),
        backend,
        options,
    )
}

struct TestLake {
    backend: Arc<dyn Backend>,
    _dir: Option<tempfile::TempDir>,
    /// The table format the lake's clients write (Delta unless the matrix says otherwise).
    iceberg: bool,
}

impl TestLake {
    fn dialect(&self) -> Arc<dyn lakeorm::Dialect> {
        if self.iceberg {
            Arc::new(lakeorm::iceberg::IcebergDialect::new())
        } else {
            Arc::new(DeltaDialect::new())
        }
    }

    fn name(&self) -> String {
        format!(
            "{} ({})",
            self.backend.name(),
            if self.iceberg { "iceberg" } else { "delta" }
        )
    }
}

/// A client of `lake` in its format.
async fn client_for(lake: &TestLake, options: ClientOptions) -> Client {
    let driver = EmbeddedDriver::open(Arc::clone(&lake.backend))
        .await
        .unwrap();
    Client::with_options(
        Arc::new(driver),
        lake.dialect(),
        Arc::clone(&lake.backend),
        options,
    )
}

fn file_lake() -> TestLake {
    let dir = tempfile::tempdir().unwrap();
    TestLake {
        backend: Arc::new(ObjectStoreBackend::file(dir.path()).unwrap()),
        _dir: Some(dir),
        iceberg: false,
    }
}

fn memory_lake() -> TestLake {
    TestLake {
        backend: Arc::new(ObjectStoreBackend::memory()),
        _dir: None,
        iceberg: false,
    }
}

fn s3_endpoint(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(endpoint) => Some(endpoint),
        Err(_) => {
            assert!(
                std::env::var_os("LAKEORM_TEST_S3_REQUIRED").is_none(),
                "LAKEORM_TEST_S3_REQUIRED is set but {var} is not"
            );
            eprintln!("no S3 server: run through `cargo xtask ci` or `cargo xtask with-s3 -- …`");
            None
        }
    }
}

fn s3_options(endpoint: &str, prefix: &str) -> S3Options {
    let bucket = std::env::var("LAKEORM_TEST_S3_BUCKET").unwrap_or_else(|_| "lakeorm".into());
    S3Options::new(bucket)
        .prefix(prefix)
        .endpoint(endpoint)
        .region("us-east-1")
        .credentials("test", "test")
        .allow_http(true)
        .max_retries(1)
        .retry_timeout(Duration::from_secs(5))
}

/// A fresh lake (its own prefix) on the primary S3 server, if one runs.
fn s3_lake() -> Option<TestLake> {
    let endpoint = s3_endpoint("LAKEORM_TEST_S3_ENDPOINT")?;
    let prefix = format!("it/{}", IngestId::new());
    Some(TestLake {
        backend: Arc::new(ObjectStoreBackend::s3(s3_options(&endpoint, &prefix)).unwrap()),
        _dir: None,
        iceberg: false,
    })
}

/// Every backend (S3 when a server runs), each in both table formats.
fn lakes() -> Vec<TestLake> {
    let mut lakes = Vec::new();
    for iceberg in [false, true] {
        let mut backends = vec![file_lake(), memory_lake()];
        backends.extend(s3_lake());
        lakes.extend(
            backends
                .into_iter()
                .map(|lake| TestLake { iceberg, ..lake }),
        );
    }
    lakes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_writes_commit_and_leave_no_staging() {
    for lake in lakes() {
        let name = lake.name();
        // Even a tiny threshold leaves the embedded engine's default writes direct: staging
        // in-process is only a Parquet round trip. `.staged()` forces the path.
        let db = client_for(&lake, ClientOptions::new().staged_threshold(1)).await;
        assert!(!db.driver().capabilities().staging_helps);
        db.migrate::<Event>().await.unwrap();
        let auto = db.insert(&events(0, 10)).await.unwrap();
        assert_eq!(auto.write_path, Some(WritePath::Direct), "{name}");
        let report = db.insert(&events(10, 4990)).staged().await.unwrap();
        assert_eq!(report.write_path, Some(WritePath::Staged), "{name}");
        assert_eq!(report.metrics.rows_inserted, 4990, "{name}");
        let forced = db.insert(&events(5000, 10)).staged().await.unwrap();
        assert_eq!(forced.write_path, Some(WritePath::Staged));
        let direct = db.insert(&events(5010, 10)).direct().await.unwrap();
        assert_eq!(direct.write_path, Some(WritePath::Direct));
        let empty = db.insert(&events(0, 0)).staged().await.unwrap();
        assert_eq!((empty.rows, empty.write_path), (0, Some(WritePath::Direct)));
        assert_eq!(count(&db, "events").await, 5020, "{name}");

        // Merges read staged parts too.
        db.migrate::<Balance>().await.unwrap();
        let balances = |amount| {
            (0..100)
                .map(|account| Balance { account, amount })
                .collect::<Vec<_>>()
        };
        db.insert(&balances(1)).await.unwrap();
        let upsert = db
            .insert(&balances(2))
            .on_conflict(ConflictStrategy::Update)
            .staged()
            .await
            .unwrap();
        assert_eq!(upsert.write_path, Some(WritePath::Staged));
        assert_eq!(upsert.metrics.rows_updated, 100, "{name}");
        assert_eq!(count(&db, "balances WHERE amount = 2").await, 100);

        assert!(
            lake.backend.list_staging().await.unwrap().is_empty(),
            "{name}: staging left behind"
        );
    }
}

async fn faulty_client_for(lake: &TestLake, options: ClientOptions) -> (Client, Arc<Faulty>) {
    faulty_client_with(Arc::clone(&lake.backend), lake.dialect(), options).await
}

async fn faulty_client_with(
    backend: Arc<dyn Backend>,
    dialect: Arc<dyn lakeorm::Dialect>,
    options: ClientOptions,
) -> (Client, Arc<Faulty>) {
    let inner = EmbeddedDriver::open(Arc::clone(&backend)).await.unwrap();
    let faulty = Faulty::wrap(Arc::new(inner));
    let db = Client::with_options(
        Arc::clone(&faulty) as Arc<dyn Driver>,
        dialect,
        backend,
        options,
    );
    (db, faulty)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_insert_whose_commit_fails_leaves_no_staging() {
    for lake in [file_lake(), memory_lake()] {
        let (db, faulty) = faulty_client_for(&lake, ClientOptions::new()).await;
        db.migrate::<Event>().await.unwrap();
        faulty.arm(Fault::BeforeCommit { retryable: false });
        let err = db.insert(&events(0, 100)).staged().await.unwrap_err();
        assert!(err.to_string().contains("before the commit"), "{err}");
        assert!(lake.backend.list_staging().await.unwrap().is_empty());
        assert_eq!(count(&db, "events").await, 0);

        // A commit the engine itself refuses (no such table) cleans up too.
        #[derive(Lake, Debug, Clone)]
        struct NeverMigrated {
            id: i64,
        }
        let err = db
            .insert(&[NeverMigrated { id: 1 }])
            .staged()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::TableNotFound { table, location: Some(_) } if table == "never_migrateds"),
            "{err}"
        );
        assert!(lake.backend.list_staging().await.unwrap().is_empty());
    }
}

async fn put(backend: &dyn Backend, location: &Location) {
    backend
        .object_store()
        .put(&backend.store_path(location), PutPayload::from_static(b"x"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_staging_deletes_old_orphans_and_keeps_fresh_ones() {
    for lake in lakes() {
        let db = client_for(&lake, ClientOptions::new()).await;
        let backend = lake.backend.as_ref();
        let orphan = IngestId::at(SystemTime::now() - Duration::from_secs(80 * 3600));
        let fresh = IngestId::new();
        for id in [orphan, fresh] {
            put(
                backend,
                &backend.staging_location(&id).join("part-00000.parquet"),
            )
            .await;
        }
        let report = db
            .cleanup_staging(Duration::from_secs(72 * 3600))
            .await
            .unwrap();
        assert_eq!(report.scanned, 2);
        assert_eq!(report.deleted, vec![backend.staging_location(&orphan)]);
        assert_eq!(report.kept, vec![backend.staging_location(&fresh)]);
        let left: Vec<_> = backend
            .list_staging()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.ingest_id)
            .collect();
        assert_eq!(left, vec![Some(fresh)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_when_client_and_engine_agree() {
    for lake in lakes() {
        let db = client_for(&lake, ClientOptions::new()).await;
        let report = db.verify().await.unwrap();
        assert_eq!(report.rows, 3);
        assert_eq!(report.client_uri, report.driver_uri);
        assert!(
            lake.backend.list_staging().await.unwrap().is_empty(),
            "the probe is removed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_each_failing_leg() {
    // The client cannot write: its lake directory was replaced by a file.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let broken: Arc<dyn Backend> = Arc::new(ObjectStoreBackend::file(&root).unwrap());
    let engine: Arc<dyn Backend> = Arc::new(ObjectStoreBackend::memory());
    std::fs::remove_dir(&root).unwrap();
    std::fs::write(&root, b"not a directory").unwrap();
    let db = client_on(broken, Arc::clone(&engine), ClientOptions::new()).await;
    match db.verify().await {
        Err(Error::ClientStaging(e)) => assert_eq!(e.op, StagingOp::ProbeWrite),
        other => panic!("expected ClientStaging, got {other:?}"),
    }

    // The engine cannot read: it has no store for the client's `memory://` lake.
    let file = file_lake();
    let db = client_on(
        Arc::new(ObjectStoreBackend::memory()),
        Arc::clone(&file.backend),
        ClientOptions::new(),
    )
    .await;
    match db.verify().await {
        Err(Error::DriverRead(e)) => {
            assert!(e.staging_uri.starts_with("memory:///lake/_staging/"), "{e}")
        }
        other => panic!("expected DriverRead, got {other:?}"),
    }

    // Both work, but see different storage: two separate in-memory stores.
    let db = client_on(
        Arc::new(ObjectStoreBackend::memory()),
        engine,
        ClientOptions::new(),
    )
    .await;
    match db.verify().await {
        Err(Error::UriMismatch(e)) => assert_eq!(e.client_uri, e.driver_uri),
        other => panic!("expected UriMismatch, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_catches_a_mismatched_s3_endpoint() {
    let (Some(primary), Some(alternate)) = (
        s3_endpoint("LAKEORM_TEST_S3_ENDPOINT"),
        s3_endpoint("LAKEORM_TEST_S3_ALT_ENDPOINT"),
    ) else {
        return;
    };
    let prefix = format!("verify/{}", IngestId::new());
    let client_side: Arc<dyn Backend> =
        Arc::new(ObjectStoreBackend::s3(s3_options(&primary, &prefix)).unwrap());

    // Same bucket and prefix, another server: the probe is not there.
    let other: Arc<dyn Backend> =
        Arc::new(ObjectStoreBackend::s3(s3_options(&alternate, &prefix)).unwrap());
    let db = client_on(Arc::clone(&client_side), other, ClientOptions::new()).await;
    match db.verify().await {
        Err(Error::UriMismatch(e)) => assert!(e.detail.contains("different storage"), "{e}"),
        other => panic!("expected UriMismatch, got {other:?}"),
    }

    // The engine was set up without S3 (a local lake): it cannot read the client's object.
    let local = file_lake();
    let db = client_on(
        Arc::clone(&client_side),
        Arc::clone(&local.backend),
        ClientOptions::new(),
    )
    .await;
    match db.verify().await {
        Err(Error::DriverRead(e)) => assert!(e.staging_uri.starts_with("s3://"), "{e}"),
        other => panic!("expected DriverRead, got {other:?}"),
    }

    // The client's bucket does not exist: it cannot write.
    let missing: Arc<dyn Backend> = Arc::new(
        ObjectStoreBackend::s3(
            S3Options::new("no-such-bucket")
                .endpoint(&primary)
                .credentials("test", "test")
                .allow_http(true)
                .max_retries(0),
        )
        .unwrap(),
    );
    let db = client_on(missing, client_side, ClientOptions::new()).await;
    match db.verify().await {
        Err(Error::ClientStaging(e)) => {
            assert_eq!(e.op, StagingOp::ProbeWrite);
            assert_eq!(e.backend, "s3");
        }
        other => panic!("expected ClientStaging, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_lake_works_like_a_local_one() {
    for iceberg in [false, true] {
        let Some(lake) = s3_lake() else { return };
        an_s3_lake_works_like_a_local_one_in(TestLake { iceberg, ..lake }).await;
    }
}

async fn an_s3_lake_works_like_a_local_one_in(lake: TestLake) {
    let db = client_for(&lake, ClientOptions::new()).await;
    db.migrate::<Event>().await.unwrap();
    db.insert(&events(0, 1000)).await.unwrap();
    db.migrate::<Balance>().await.unwrap();
    db.insert(
        &(0..10)
            .map(|account| Balance { account, amount: 1 })
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    db.insert(
        &(5..15)
            .map(|account| Balance { account, amount: 2 })
            .collect::<Vec<_>>(),
    )
    .on_conflict(ConflictStrategy::Update)
    .await
    .unwrap();
    assert_eq!(count(&db, "balances").await, 15);
    assert_eq!(count(&db, "balances WHERE amount = 2").await, 10);
    db.delete_where::<Event>(Statement::new("kind = ?").bind("click"))
        .await
        .unwrap();
    assert_eq!(count(&db, "events").await, 500);
    let stats = db.maintain().stats::<Event>().await.unwrap();
    assert_eq!(stats.rows, 500);

    // Another client on the same lake sees the tables by name.
    let second = client_for(&lake, ClientOptions::new()).await;
    assert_eq!(count(&second, "events").await, 500);

    // Concurrent writers commit through conditional puts and retry their conflicts.
    let mut tasks = Vec::new();
    for writer in 0..4i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.insert(
                &(0..50)
                    .map(|i| Balance {
                        account: 1000 + writer * 50 + i,
                        amount: writer,
                    })
                    .collect::<Vec<_>>(),
            )
            .on_conflict(ConflictStrategy::Update)
            .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(count(&db, "balances").await, 215);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_after_a_lost_reply_writes_nothing() {
    for lake in lakes() {
        let (db, faulty) = faulty_client_for(&lake, ClientOptions::new()).await;
        db.migrate::<Event>().await.unwrap();
        faulty.arm(Fault::AfterCommit { retryable: false });
        assert!(
            db.insert(&events(0, 1000))
                .idempotency_key("batch-2026-11-26-001")
                .await
                .is_err()
        );
        assert_eq!(
            count(&db, "events").await,
            1000,
            "the first attempt did commit"
        );

        let retry = db
            .insert(&events(0, 1000))
            .idempotency_key("batch-2026-11-26-001")
            .await
            .unwrap();
        assert!(retry.deduplicated);
        assert_eq!(retry.write_path, None);
        assert_eq!(count(&db, "events").await, 1000, "each row once");
        let again = db
            .insert(&events(0, 1000))
            .idempotency_key("batch-2026-11-26-001")
            .await
            .unwrap();
        assert!(again.deduplicated);
        assert_eq!(again.ingest_id, retry.ingest_id);

        // Another key is another write.
        let other = db
            .insert(&events(1000, 10))
            .idempotency_key("batch-002")
            .await
            .unwrap();
        assert!(!other.deduplicated);
        assert_eq!(count(&db, "events").await, 1010);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_after_a_failed_commit_writes_once() {
    for lake in lakes() {
        let (db, faulty) = faulty_client_for(&lake, ClientOptions::new()).await;
        db.migrate::<Event>().await.unwrap();
        // Staged, so that the failed attempt also proves its parts are gone.
        faulty.arm(Fault::BeforeCommit { retryable: false });
        assert!(
            db.insert(&events(0, 500))
                .idempotency_key("feed-42")
                .staged()
                .await
                .is_err()
        );
        assert_eq!(count(&db, "events").await, 0);
        assert!(lake.backend.list_staging().await.unwrap().is_empty());

        let retry = db
            .insert(&events(0, 500))
            .idempotency_key("feed-42")
            .staged()
            .await
            .unwrap();
        assert!(!retry.deduplicated);
        assert_eq!(retry.metrics.rows_inserted, 500);
        assert_eq!(count(&db, "events").await, 500);
        #[derive(Row)]
        struct Ids {
            ids: i64,
        }
        let distinct = Query::<Ids>::sql("SELECT COUNT(DISTINCT _ingest_id) AS ids FROM events")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(
            distinct.ids, 1,
            "the retry wrote under the first attempt's ingest id"
        );
        assert!(
            db.insert(&events(0, 500))
                .idempotency_key("feed-42")
                .staged()
                .await
                .unwrap()
                .deduplicated
        );
        assert_eq!(count(&db, "events").await, 500);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commit_log_not_the_rows_witnesses_an_idempotent_write() {
    let lake = memory_lake();
    let db = client_for(&lake, ClientOptions::new()).await;
    db.migrate::<Balance>().await.unwrap();
    let first = db
        .insert(&[Balance {
            account: 1,
            amount: 100,
        }])
        .idempotency_key("settlement-7")
        .await
        .unwrap();
    // A later write replaces the row, and with it the first write's ingest id.
    db.insert(&[Balance {
        account: 1,
        amount: 5,
    }])
    .on_conflict(ConflictStrategy::Update)
    .await
    .unwrap();
    let retry = db
        .insert(&[Balance {
            account: 1,
            amount: 100,
        }])
        .idempotency_key("settlement-7")
        .await
        .unwrap();
    assert!(retry.deduplicated);
    assert_eq!(retry.ingest_id, first.ingest_id);
    assert_eq!(
        count(&db, "balances WHERE amount = 5").await,
        1,
        "the stale retry did not revert it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_expire() {
    let lake = memory_lake();
    let db = client_for(&lake, ClientOptions::new()).await;
    db.migrate::<Event>().await.unwrap();
    db.insert(&events(0, 10))
        .idempotency_key("k")
        .idempotency_ttl(Duration::ZERO)
        .await
        .unwrap();
    let second = db
        .insert(&events(0, 10))
        .idempotency_key("k")
        .idempotency_ttl(Duration::ZERO)
        .await
        .unwrap();
    assert!(!second.deduplicated, "an expired key is forgotten");
    assert_eq!(count(&db, "events").await, 20);
    assert_eq!(count(&db, IDEMPOTENCY_TABLE).await, 2);
    let expired = db.maintain().expire_idempotency_keys().await.unwrap();
    assert_eq!(expired.rows_deleted, 2);
    assert_eq!(count(&db, IDEMPOTENCY_TABLE).await, 0);
    assert!(matches!(
        db.insert(&events(0, 1)).idempotency_key("").await,
        Err(Error::Config(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_rows_merge_only_when_valid() {
    for lake in lakes() {
        let db = client_for(&lake, ClientOptions::new()).await;
        db.migrate::<Event>().await.unwrap();

        // An untrusted feed with one bad record lands whole, and stays raw.
        let mut feed = events(0, 100);
        feed[42].email = "not-an-email".into();
        let landed = db.insert_raw(&feed).await.unwrap();
        assert_eq!(landed.raw_table(), "events_raw");
        assert_eq!(landed.rows(), 100);
        match landed.then_merge().await {
            Err(Error::Validation(e)) => assert_eq!(e.errors().len(), 1, "{e}"),
            other => panic!("expected a validation error, got {other:?}"),
        }
        assert_eq!(count(&db, "events").await, 0);
        assert_eq!(count(&db, "events_raw").await, 100);

        // A clean feed merges, keeps its ingest id, and leaves the raw table.
        let clean = db.insert_raw(&events(100, 50)).await.unwrap();
        let id = clean.ingest_id();
        let merged = clean.then_merge().await.unwrap();
        assert_eq!(merged.ingest_id, id);
        assert_eq!(count(&db, "events").await, 50);
        assert_eq!(count(&db, "events_raw").await, 100);

        // Spawned, with a conflict strategy: existing keys are ignored.
        let overlapping = db.insert_raw(&events(140, 20)).await.unwrap();
        let handle = overlapping
            .then_merge()
            .on_conflict(ConflictStrategy::Ignore)
            .spawn();
        let report = handle.wait().await.unwrap();
        assert_eq!(report.metrics.rows_inserted, 10);
        assert_eq!(count(&db, "events").await, 60);

        // Kept raw on purpose.
        let kept = db.insert_raw(&events(500, 5)).await.unwrap().commit();
        assert_eq!(kept.rows, 5);
        assert_eq!(count(&db, "events_raw").await, 105);
        assert_eq!(count(&db, "events").await, 60);
    }
}
