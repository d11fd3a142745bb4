//! Load on Sail: 16 tasks upserting into one table (Delta and Iceberg), and many small inserts
//! from more tasks than the driver has sessions, counting what the pool lent.

use crate::engines::{self, Format, TestLake};
use crate::reliability::{factor, lost_and_duplicated, record};
use crate::workload::{TASKS, contended, small_inserts, upserts_under_load};

async fn upsert_load(format: Format) {
    let Some(url) = engines::sail_url() else {
        return;
    };
    // 16 × 4 in `ci`; `cargo xtask soak --factor 50` runs the 16 × 200 of the issue.
    let rounds = 4 * factor() as i64;
    let lake = TestLake::new();
    let driver = engines::sail_driver(&url);
    let db = engines::sail_on(driver.clone(), &lake, format, contended());
    let load = upserts_under_load(&db, rounds).await;
    let pool = driver.pool_stats();
    let mut counts = load.counts();
    counts.push((
        "sessions lent above the pool size",
        pool.peak_in_use.saturating_sub(pool.size) as u64,
    ));
    record(
        "load",
        &format!(
            "{TASKS} tasks × {rounds} upserts into one table, Sail {format:?} ({} sessions)",
            pool.size
        ),
        (TASKS * rounds) as u64,
        &counts,
    );
    assert!(pool.peak_in_use <= pool.size, "{pool:?}");
    assert_eq!(pool.in_use, 0, "{pool:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_tasks_upserting_into_one_sail_delta_table() {
    upsert_load(Format::Delta).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_tasks_upserting_into_one_sail_iceberg_table() {
    upsert_load(Format::Iceberg).await;
}

/// Small inserts from twice as many tasks as the pool has sessions: every row once, the pool
/// never lends more than its size nor opens more sessions than that, and memory is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_inserts_on_sail() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    // 200 in `ci`; `cargo xtask soak --factor 50` runs 10,000.
    let inserts = 200 * factor() as i64;
    let lake = TestLake::new();
    let driver = engines::sail_driver(&url);
    let db = engines::sail_on(driver.clone(), &lake, Format::Delta, contended());
    let concurrency = 2 * driver.pool_stats().size as i64;
    let run = small_inserts(&db, inserts, concurrency).await;
    let pool = driver.pool_stats();
    let [lost, duplicated] = lost_and_duplicated(inserts, run.rows);
    record(
        "load",
        &format!(
            "small inserts (one row each) into one Delta table, Sail, {concurrency} tasks over {} sessions",
            pool.size
        ),
        inserts as u64,
        &[
            lost,
            duplicated,
            (
                "sessions lent above the pool size",
                pool.peak_in_use.saturating_sub(pool.size) as u64,
            ),
            (
                "sessions opened above the pool size",
                pool.opened.saturating_sub(pool.size as u64),
            ),
            ("resident MiB after the first tenth", run.early_rss >> 20),
            ("resident MiB at the end", run.late_rss >> 20),
        ],
    );
    assert_eq!((lost.1, duplicated.1), (0, 0));
    assert!(pool.peak_in_use <= pool.size, "{pool:?}");
    assert!(pool.opened <= pool.size as u64, "{pool:?}");
    assert_eq!(pool.in_use, 0, "{pool:?}");
}
