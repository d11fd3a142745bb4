//! Volume and failure on Sail: a million rows through each write path, upserts with overlap
//! in both formats, and a server killed in the middle of a write.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lakeorm::{Client, ClientOptions, ConflictStrategy, Query, Row};

use crate::engines::{self, Format, Order, TestLake, orders};

#[derive(Row, Debug, PartialEq)]
struct Totals {
    n: i64,
    ids: i64,
    quantity: i64,
}

async fn totals(client: &Client) -> Totals {
    Query::<Totals>::sql(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids, \
         CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS quantity FROM orders",
    )
    .fetch_one(client)
    .await
    .unwrap()
}

fn expected(rows: &[Order]) -> Totals {
    let ids: std::collections::HashSet<i64> = rows.iter().map(|o| o.id).collect();
    Totals {
        n: rows.len() as i64,
        ids: ids.len() as i64,
        quantity: rows.iter().map(|o| o.quantity).sum(),
    }
}

#[tokio::test]
async fn a_million_rows_land_exactly_once_on_each_path() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();

    let direct = orders(0..1_000_000, 0);
    let report = client.insert(&direct).direct().await.unwrap();
    assert_eq!(report.rows, 1_000_000);
    assert_eq!(totals(&client).await, expected(&direct));
    drop(direct);

    let staged = orders(1_000_000..2_000_000, 0);
    let report = client.insert(&staged).staged().await.unwrap();
    assert_eq!(report.rows, 1_000_000);
    let all = orders(0..2_000_000, 0);
    assert_eq!(totals(&client).await, expected(&all));
    assert!(client.backend().list_staging().await.unwrap().is_empty());
}

/// Eight tasks share one client whose pool has four Spark sessions: each writes its own rows
/// (direct and staged paths alternating) and reads while the others write. Every row lands once,
/// every read succeeds on whichever session it is lent, and no staging is left behind.
///
/// This found two faults: sessions opened after the table was created could not attach it on
/// Sail, and Sail lost one of eight concurrent Iceberg commits (the driver now queues them).
async fn concurrent_calls(format: Format) {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&url, &lake, format, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();

    const TASKS: i64 = 8;
    const ROWS: i64 = 5_000;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = client.clone();
            tokio::spawn(async move {
                let rows = orders(task * ROWS..(task + 1) * ROWS, 0);
                let insert = client.insert(&rows);
                let insert = if task % 2 == 0 {
                    insert.direct()
                } else {
                    insert.staged()
                };
                let seen = totals(&client).await;
                assert!(seen.n <= TASKS * ROWS, "{seen:?}");
                let report = insert.await?;
                assert_eq!(report.rows, ROWS as u64);
                let after = totals(&client).await;
                assert!(
                    after.n >= ROWS,
                    "a task's own rows are visible after its insert"
                );
                Ok::<_, lakeorm::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let all = orders(0..TASKS * ROWS, 0);
    assert_eq!(totals(&client).await, expected(&all));
    assert!(client.backend().list_staging().await.unwrap().is_empty());
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_share_the_session_pool_on_delta() {
    concurrent_calls(Format::Delta).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_share_the_session_pool_on_iceberg() {
    concurrent_calls(Format::Iceberg).await;
}

/// 100,000 rows, then an upsert of 100,000 of which half exist: the exact expected table.
async fn upsert_half_overlap(format: Format) {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&url, &lake, format, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();
    client.insert(&orders(0..100_000, 0)).await.unwrap();
    // Half of the direct path, half staged: both MERGE shapes.
    client
        .insert(&orders(50_000..100_000, 1))
        .on_conflict(ConflictStrategy::Update)
        .await
        .unwrap();
    client
        .insert(&orders(100_000..150_000, 1))
        .on_conflict(ConflictStrategy::Update)
        .staged()
        .await
        .unwrap();
    let mut want = orders(0..50_000, 0);
    want.extend(orders(50_000..150_000, 1));
    assert_eq!(totals(&client).await, expected(&want));
    let mut sample: Vec<Order> = Query::sql("SELECT * FROM orders WHERE id IN (?, ?, ?)")
        .bind(49_999_i64)
        .bind(50_000_i64)
        .bind(149_999_i64)
        .fetch_all(&client)
        .await
        .unwrap();
    sample.sort_by_key(|o| o.id);
    assert_eq!(
        sample,
        vec![
            engines::order(49_999, 0),
            engines::order(50_000, 1),
            engines::order(149_999, 1)
        ]
    );
}

#[tokio::test]
async fn upsert_with_half_overlap_is_exact_on_delta() {
    upsert_half_overlap(Format::Delta).await;
}

#[tokio::test]
async fn upsert_with_half_overlap_is_exact_on_iceberg() {
    upsert_half_overlap(Format::Iceberg).await;
}

/// A private Sail, killed on drop.
struct PrivateSail {
    child: Child,
    url: String,
}

impl PrivateSail {
    fn start() -> Option<Self> {
        let bin = match std::env::var("LAKEORM_TEST_SAIL_BIN") {
            Ok(bin) => bin,
            Err(_) => {
                engines::sail_url()?;
                panic!("LAKEORM_TEST_SAIL_BIN is not set");
            }
        };
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args([
                "spark",
                "server",
                "--ip",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(Instant::now() < deadline, "the private Sail did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(PrivateSail {
            child,
            url: format!("sc://127.0.0.1:{port}/"),
        })
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateSail {
    fn drop(&mut self) {
        self.kill();
    }
}

fn delta_commits(lake: &TestLake) -> usize {
    std::fs::read_dir(lake.dir.path().join("tables/orders/_delta_log"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count()
}

/// The server dies while a staged insert runs: the call fails (its outcome unknown, since
/// the server cannot be asked), the table holds none of the batch, the parts the dead server
/// may have been reading are left to the janitor, and a retry with the same key on a new
/// server writes the batch exactly once.
#[tokio::test]
async fn a_killed_server_mid_insert_loses_and_duplicates_nothing() {
    let Some(mut sail) = PrivateSail::start() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&sail.url, &lake, Format::Delta, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();
    let commits = delta_commits(&lake);
    let rows = orders(0..1_000_000, 0);

    let writer = {
        let client = client.clone();
        let rows = rows.clone();
        tokio::spawn(async move {
            client
                .insert(&rows)
                .staged()
                .idempotency_key("nightly")
                .await
        })
    };
    // Kill the server once the parts are staged, while the engine runs the INSERT.
    let staging = lake.dir.path().join("_staging");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none() {
        assert!(Instant::now() < deadline, "the write never staged anything");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    sail.kill();

    let error = writer.await.unwrap().unwrap_err();
    eprintln!("the write failed as expected: {error}");
    assert!(
        matches!(error, lakeorm::Error::OutcomeUnknown { .. }) || !error.is_retryable(),
        "{error:?}"
    );
    assert_eq!(delta_commits(&lake), commits, "a commit landed");

    // A new server; the janitor (forced: no server reads the parts any more) and the retry.
    let sail = PrivateSail::start().unwrap();
    let client = engines::sail(&sail.url, &lake, Format::Delta, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();
    client
        .cleanup_staging(Duration::ZERO)
        .force()
        .await
        .unwrap();
    assert!(client.backend().list_staging().await.unwrap().is_empty());
    let retry = client
        .insert(&rows)
        .staged()
        .idempotency_key("nightly")
        .await
        .unwrap();
    assert!(!retry.deduplicated);
    let landed = totals(&client).await;
    let [lost, duplicated] = crate::reliability::lost_and_duplicated(1_000_000, landed.n);
    crate::reliability::record(
        "fault",
        "Sail Delta: the server killed between staging and commit of 1,000,000 rows, then a retry with the key on a new server",
        1,
        &[
            lost,
            duplicated,
            (
                "staging prefixes left after the janitor",
                client.backend().list_staging().await.unwrap().len() as u64,
            ),
        ],
    );
    assert_eq!(landed, expected(&rows));
    assert!(client.backend().list_staging().await.unwrap().is_empty());
}

/// When the server dies in the middle of a write.
#[derive(Debug, Clone, Copy)]
enum KillDuring {
    /// A direct insert: while its rows travel as views or its INSERT runs.
    DirectInsert,
    /// A staged insert, while its parts are still being written.
    Staging,
}

/// The server killed during a direct insert, or during staging: the call fails, the table
/// holds all of the batch or none, no staging is left once the janitor ran, and a retry with
/// the key on a new server writes the batch exactly once.
async fn killed_during(when: KillDuring) {
    let Some(mut sail) = PrivateSail::start() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&sail.url, &lake, Format::Delta, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();
    let rows = orders(0..600_000, 0);
    let writer = {
        let client = client.clone();
        let rows = rows.clone();
        tokio::spawn(async move {
            let insert = client.insert(&rows).idempotency_key("killed");
            match when {
                KillDuring::DirectInsert => insert.direct().await,
                KillDuring::Staging => insert.staged().await,
            }
        })
    };
    match when {
        KillDuring::DirectInsert => tokio::time::sleep(Duration::from_millis(400)).await,
        KillDuring::Staging => {
            // The first part is on its way: the upload has begun, the commit has not.
            let staging = lake.dir.path().join("_staging");
            let deadline = Instant::now() + Duration::from_secs(120);
            while !staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none() {
                assert!(Instant::now() < deadline, "the write never staged anything");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
    sail.kill();
    let first = writer.await.unwrap();
    eprintln!(
        "{when:?}: the first call returned {:?}",
        first.as_ref().map(|r| r.rows)
    );

    let sail = PrivateSail::start().unwrap();
    let client = engines::sail(&sail.url, &lake, Format::Delta, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();
    let before_retry = totals(&client).await.n;
    assert!(
        before_retry == 0 || before_retry == rows.len() as i64,
        "{when:?}: {before_retry} rows"
    );
    client
        .cleanup_staging(Duration::ZERO)
        .force()
        .await
        .unwrap();
    let retry = client
        .insert(&rows)
        .idempotency_key("killed")
        .await
        .unwrap();
    let landed = totals(&client).await;
    let left = client.backend().list_staging().await.unwrap().len() as u64;
    let [lost, duplicated] = crate::reliability::lost_and_duplicated(rows.len() as i64, landed.n);
    crate::reliability::record(
        "fault",
        &format!(
            "Sail Delta: the server killed during {when:?} of 600,000 rows, then a retry with the key on a new server"
        ),
        1,
        &[
            lost,
            duplicated,
            ("staging prefixes left after the janitor", left),
        ],
    );
    assert_eq!(landed, expected(&rows), "{when:?}: {retry:?}");
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_server_killed_during_a_direct_insert_loses_and_duplicates_nothing() {
    killed_during(KillDuring::DirectInsert).await;
}

#[tokio::test]
async fn a_server_killed_during_staging_loses_and_duplicates_nothing() {
    killed_during(KillDuring::Staging).await;
}
