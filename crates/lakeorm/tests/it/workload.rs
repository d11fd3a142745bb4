//! The load workloads, on whatever engine a client runs: many tasks upserting into one table,
//! and many small inserts. Shared by the integration tests (the embedded engine) and the
//! end-to-end suite (Sail). What is checked is the outcome (every row once, with its last
//! value; conflicts retried within the configured bound; no deadlock), never how long it
//! took: speed is the benchmarks' business.

use std::time::Duration;

use lakeorm::{Client, ClientOptions, Error, Lake, Query, RetryPolicy, Row};

use crate::reliability::lost_and_duplicated;

#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "stock")]
pub(crate) struct Stock {
    #[lake(merge_key)]
    pub(crate) warehouse: i64,
    #[lake(merge_key)]
    pub(crate) item: i64,
    pub(crate) quantity: i64,
}

/// The bound on attempts under contention: 16 writers on one table.
pub(crate) fn contended() -> ClientOptions {
    ClientOptions::default().retry(RetryPolicy {
        max_retries: 64,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(200),
    })
}

/// How many writers share the table.
pub(crate) const TASKS: i64 = 16;
/// Items per warehouse: the rows of one upsert.
const KEYS: i64 = 10;
/// How long the whole load may take before it counts as a deadlock.
const DEADLOCK: Duration = Duration::from_secs(1800);

/// What [`upserts_under_load`] counted.
pub(crate) struct UpsertLoad {
    /// Commit conflicts retried, over every call.
    pub(crate) retries: u64,
    /// Rows not holding the last round's value.
    pub(crate) stale: u64,
}

impl UpsertLoad {
    /// What every upsert-load case reports (the asserts above make the first, second and
    /// last 0 whenever a report is written).
    pub(crate) fn counts(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("rows lost", 0),
            ("rows duplicated", 0),
            ("rows with a stale value", self.stale),
            ("conflicts retried", self.retries),
            ("calls failed", 0),
        ]
    }
}

/// `TASKS` tasks, each upserting `rounds` times the rows of its own warehouse (`KEYS` items,
/// so most upserts update): the table ends with one row per key holding the last round's
/// value, and no call failed.
pub(crate) async fn upserts_under_load(db: &Client, rounds: i64) -> UpsertLoad {
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
        retries += tokio::time::timeout(DEADLOCK, task)
            .await
            .expect("no deadlock")
            .unwrap()
            .unwrap();
    }
    let stale = scalar(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM stock WHERE quantity <> {}",
            rounds - 1
        ),
    )
    .await;
    let rows = scalar(db, "SELECT COUNT(*) AS n FROM stock").await;
    let [lost, duplicated] = lost_and_duplicated(TASKS * KEYS, rows);
    assert_eq!((lost.1, duplicated.1, stale), (0, 0, 0));
    UpsertLoad {
        retries,
        stale: stale as u64,
    }
}

/// What [`small_inserts`] counted.
pub(crate) struct SmallInserts {
    /// Rows the table holds at the end.
    pub(crate) rows: i64,
    /// This process's resident set after the first tenth of the inserts, and at the end.
    pub(crate) early_rss: u64,
    pub(crate) late_rss: u64,
}

/// `inserts` one-row inserts into a fresh `stock` table from `concurrency` tasks. The memory
/// after the first tenth and at the end is returned (not asserted: a benchmark's business),
/// to show it does not grow with the count.
pub(crate) async fn small_inserts(db: &Client, inserts: i64, concurrency: i64) -> SmallInserts {
    db.migrate::<Stock>().await.unwrap();
    let tenth = inserts / 10;
    let early = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let db = db.clone();
            let early = std::sync::Arc::clone(&early);
            tokio::spawn(async move {
                for warehouse in (task..inserts).step_by(concurrency as usize) {
                    db.insert(&[Stock {
                        warehouse,
                        item: 0,
                        quantity: 1,
                    }])
                    .await?;
                    if warehouse == tenth {
                        early.store(rss(), std::sync::atomic::Ordering::Release);
                    }
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(DEADLOCK, task)
            .await
            .expect("no deadlock")
            .unwrap()
            .unwrap();
    }
    SmallInserts {
        rows: scalar(db, "SELECT COUNT(*) AS n FROM stock").await,
        early_rss: early.load(std::sync::atomic::Ordering::Acquire),
        late_rss: rss(),
    }
}

async fn scalar(db: &Client, sql: &str) -> i64 {
    #[derive(Row)]
    struct N {
        n: i64,
    }
    Query::<N>::sql(sql).fetch_one(db).await.unwrap().n
}

/// The resident set of this process, in bytes.
pub(crate) fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}
