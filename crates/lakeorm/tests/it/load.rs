//! Load on the embedded engine: many tasks upserting into one table, and many small inserts
//! (the workloads are in `workload.rs`, shared with the end-to-end suite's Sail runs).

use crate::client::Format;
use crate::reliability::{factor, lost_and_duplicated, record};
use crate::workload::{TASKS, contended, small_inserts, upserts_under_load};

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
    let load = upserts_under_load(&db, rounds).await;
    record(
        "load",
        &format!("{TASKS} tasks × {rounds} upserts into one table, embedded {format:?}"),
        (TASKS * rounds) as u64,
        &load.counts(),
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

/// Many small inserts, one after another: every row once, memory recorded.
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
    let run = small_inserts(&db, inserts, 1).await;
    let [lost, duplicated] = lost_and_duplicated(inserts, run.rows);
    record(
        "load",
        "small inserts (one row each) into one Delta table, embedded",
        inserts as u64,
        &[
            lost,
            duplicated,
            ("resident MiB after the first tenth", run.early_rss >> 20),
            ("resident MiB at the end", run.late_rss >> 20),
        ],
    );
    assert_eq!((lost.1, duplicated.1), (0, 0));
}
