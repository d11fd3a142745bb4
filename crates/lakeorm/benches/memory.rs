//! Peak memory of the embedded engine's writes and typed reads, one case per process (the
//! peak resident set is per process; `cargo xtask bench` runs each case in its own):
//! - `insert:N`: the growth of the resident set's peak while `client.insert` writes N rows,
//!   against the Arrow size of the batch those rows encode to;
//! - `stream:N`: the growth of the peak while a typed stream (`Query::fetch`) reads N rows.
//!
//! Set `LAKEORM_BENCH_MEMORY_CASE` to the case; prints one line,
//! `lakeorm-memory case=… rows=… arrow_bytes=… growth_bytes=…`.

use futures::TryStreamExt as _;
use lakeorm::{Lake, LocalBuilder, Query};

mod common;
use common::{Event, events};

/// A field of `/proc/self/status`, in bytes.
fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
        .expect("a /proc/self/status field")
        * 1024
}

/// Resets the peak resident set to the current one (Linux's `clear_refs` 5), so that what
/// follows is measured from here.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak resident set");
}

#[tokio::main]
async fn main() {
    let Ok(case) = std::env::var("LAKEORM_BENCH_MEMORY_CASE") else {
        eprintln!(
            "LAKEORM_BENCH_MEMORY_CASE is not set (insert:N or stream:N); run through `cargo xtask bench`"
        );
        return;
    };
    let (kind, rows) = case.split_once(':').expect("case is KIND:ROWS");
    let rows: usize = rows.parse().expect("a row count");
    let dir = tempfile::tempdir().unwrap();
    let db = LocalBuilder::new().path(dir.path()).open().await.unwrap();
    db.migrate::<Event>().await.unwrap();
    let records = events(0..rows);
    let arrow_bytes = Event::to_table_batch(&records, &lakeorm::IngestId::new())
        .unwrap()
        .get_array_memory_size() as u64;
    let growth = match kind {
        "insert" => {
            reset_peak();
            let before = status("VmRSS");
            db.insert(&records).await.unwrap();
            status("VmHWM").saturating_sub(before)
        }
        "stream" => {
            db.insert(&records).await.unwrap();
            drop(records);
            reset_peak();
            let before = status("VmRSS");
            let n = Query::<Event>::sql("SELECT * FROM events")
                .fetch(&db)
                .try_fold(0usize, |n, row| {
                    std::hint::black_box(row);
                    futures::future::ready(Ok(n + 1))
                })
                .await
                .unwrap();
            assert_eq!(n, rows);
            status("VmHWM").saturating_sub(before)
        }
        other => panic!("unknown case kind `{other}`"),
    };
    println!(
        "lakeorm-memory case={kind} rows={rows} arrow_bytes={arrow_bytes} growth_bytes={growth}"
    );
}
