//! Load on the embedded engine: many tasks upserting into one table, and many small inserts.
//! What is checked is the outcome (every row once, with its last value; conflicts retried
//! within the configured bound; no deadlock), never how long it took: speed is the
//! benchmarks' business.

use std::time::Duration;

use lakeorm::{Client, ClientOptions, Error, Lake, Query, RetryPolicy, Row};

use crate::client::{Format, count};
use crate::reliability::{factor, lost_and_duplicated, record};

#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "stock")]
struct Stock {
    #[lake(merge_key)]
    warehouse: i64,
    #[lake(merge_key)]
    item: i64,
    quantity: i64,
}

/// The bound on attempts under contention: 16 writers on one table.
fn contended() -> ClientOptions {
    ClientOptions::default().retry(RetryPolicy {
        max_retries: 64,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(200),
    })
}

pub(crate) const TASKS: i64 = 16;

/// `TASKS` tasks, each upserting `rounds` times the rows of its own warehouse (`KEYS` items,
/// so most upserts update): the table ends with one row per key holding the last round's
/// value, and no call failed.
async fn upserts_under_load(db: Client, rounds: i64) -> (u64, u64) {
    const KEYS: i64 = 10;
    db.migrate::<Stock>().await.unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|warehouse| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut retries = 0u64;
                for round in 0..rounds {
                    let rows: Vec<Stock> = (0..KEYS)
                        .map(|item| Stock {
                            warehouse,
                            item,
                            quantity: round,
                        })
                        .collect();
                    let report = db.insert(&rows).await?;
                    retries += u64::from(report.metrics.retries);
                }
                Ok::<_, Error>(retries)
            })
        })
        .collect();
    let mut retries = 0;
    for task in tasks {
        retries += tokio::time::timeout(Duration::from_secs(1800), task)
            .await
            .expect("no deadlock")
            .unwrap()
            .unwrap();
    }
    #[derive(Row)]
    struct Wrong {
        n: i64,
    }
    let wrong = Query::<Wrong>::sql(format!(
        "SELECT COUNT(*) AS n FROM stock WHERE quantity <> {}",
        rounds - 1
    ))
    .fetch_one(&db)
    .await
    .unwrap()
    .n;
    let rows = count(&db, "stock").await;
    let [lost, duplicated] = lost_and_duplicated(TASKS * KEYS, rows);
    assert_eq!((lost.1, duplicated.1, wrong), (0, 0, 0));
    (retries, wrong as u64)
}

async fn upsert_load(format: Format) {
    // 16 × 4 in `ci` (debug builds on two cores, where a contended copy-on-write upsert takes
    // a second); `cargo xtask soak --factor 50` runs the 16 × 200 of the issue.
    let rounds = 4 * factor() as i64;
    let db = format
        .builder()
        .in_memory()
        .options(contended())
        .open()
        .await
        .unwrap();
    let (retries, stale) = upserts_under_load(db, rounds).await;
    record(
        "load",
        &format!("{TASKS} tasks × {rounds} upserts into one table, embedded {format:?}"),
        (TASKS * rounds) as u64,
        &[
            ("rows lost", 0),
            ("rows duplicated", 0),
            ("rows with a stale value", stale),
            ("conflicts retried", retries),
            ("calls failed", 0),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_tasks_upserting_into_one_delta_table() {
    upsert_load(Format::Delta).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_tasks_upserting_into_one_iceberg_table() {
    upsert_load(Format::Iceberg).await;
}

/// The resident set of this process, in bytes.
pub(crate) fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// Many small inserts: every row once; the memory after the first tenth and at the end is
/// recorded (not asserted: a benchmark's business), to show it does not grow with the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_inserts() {
    // 200 in `ci`; `cargo xtask soak --factor 50` runs 10,000.
    let inserts = 200 * factor() as i64;
    let dir = tempfile::tempdir().unwrap();
    let db = Format::Delta
        .builder()
        .path(dir.path())
        .open()
        .await
        .unwrap();
    db.migrate::<Stock>().await.unwrap();
    let mut early = 0;
    for i in 0..inserts {
        db.insert(&[Stock {
            warehouse: i,
            item: 0,
            quantity: 1,
        }])
        .await
        .unwrap();
        if i == inserts / 10 {
            early = rss();
        }
    }
    let late = rss();
    let rows = count(&db, "stock").await;
    let [lost, duplicated] = lost_and_duplicated(inserts, rows);
    record(
        "load",
        "small inserts (one row each) into one Delta table, embedded",
        inserts as u64,
        &[
            lost,
            duplicated,
            ("resident MiB after the first tenth", early >> 20),
            ("resident MiB at the end", late >> 20),
        ],
    );
    assert_eq!((lost.1, duplicated.1), (0, 0));
}
