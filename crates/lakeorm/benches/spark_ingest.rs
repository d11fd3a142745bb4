//! Write throughput on a Spark Connect server, both write paths: rows/s of `insert` sent
//! directly (Arrow in the plan) and staged (Parquet parts, one INSERT); and the
//! memory of a typed stream over 5,000,000 rows (resident set size sampled while it runs,
//! against the bytes that went through it).
//!
//! Not a criterion benchmark: each measurement moves a million rows through a server, so it
//! runs a few timed rounds and prints one line per path for `cargo xtask bench spark`, which
//! starts Sail, runs this and pyspark's `createDataFrame(...).write` on the same rows
//! (`xtask/py/pyspark_peer.py`), and prints the ratios. Run alone it needs
//! `LAKEORM_BENCH_SPARK_URL` (and skips without it).

use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use lakeorm::spark::{SparkDriver, SparkServer};
use lakeorm::{Lake, Query, Row};

/// The benchmark row; `xtask/py/pyspark_peer.py` builds the same rows.
#[derive(Lake, Debug, Clone)]
#[lake(table = "bench_events")]
struct Event {
    id: i64,
    kind: String,
    user_id: i64,
    amount: f64,
    payload: Option<String>,
    at: DateTime<Utc>,
}

/// What the streaming measurement reads.
#[derive(Row)]
struct Wide {
    id: i64,
    label: String,
    amount: f64,
}

/// This process's resident set size, in bytes (Linux).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn events(rows: i64) -> Vec<Event> {
    let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    (0..rows)
        .map(|id| Event {
            id,
            kind: ["click", "view", "buy"][(id % 3) as usize].into(),
            user_id: id % 10_007,
            amount: (id % 1000) as f64 / 10.0,
            payload: (id % 4 == 0).then(|| format!("{{\"n\":{id}}}")),
            at,
        })
        .collect()
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    // `cargo bench` passes `--bench`; this harness takes its settings from the environment.
    let Ok(url) = std::env::var("LAKEORM_BENCH_SPARK_URL") else {
        eprintln!(
            "spark_ingest: LAKEORM_BENCH_SPARK_URL is not set; run `cargo xtask bench spark`"
        );
        return Ok(());
    };
    let rows: i64 = std::env::var("LAKEORM_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = std::env::var("LAKEORM_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let lake = tempfile::tempdir().map_err(|e| lakeorm::Error::storage("tempdir", e))?;
    let backend = lakeorm::backends::ObjectStoreBackend::file(lake.path())?;
    let driver = SparkDriver::builder(&url)?
        .server(SparkServer::Sail)
        .build();
    let client = lakeorm::open(driver, lakeorm::delta::DeltaDialect::new(), backend);
    client.migrate::<Event>().await?;
    let batch = events(rows);
    for (label, staged) in [("direct", false), ("staged", true)] {
        let insert = || {
            let insert = client.insert(&batch);
            if staged {
                insert.staged()
            } else {
                insert.direct()
            }
        };
        // One warm-up write, then the timed rounds; the best round is reported, as the peer's.
        insert().await?;
        let mut best = f64::MAX;
        for _ in 0..rounds {
            let started = Instant::now();
            insert().await?;
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!("lakeorm-bench {label} rows={rows} secs={best:.4}");
    }
    drop(batch);

    // A typed stream over 5M server-generated rows: memory must not grow with the result.
    let streamed_rows = 5_000_000_i64;
    let before = rss();
    let mut peak = before;
    let mut bytes = 0u64;
    let mut seen = 0i64;
    let started = Instant::now();
    let mut stream = std::pin::pin!(Query::<Wide>::sql(format!(
        "SELECT id, concat('label-', CAST(id AS STRING)) AS label, CAST(id AS DOUBLE) * 0.5 AS amount \
         FROM range({streamed_rows})"
    ))
    .fetch(&client));
    while let Some(row) = stream.next().await {
        let row = row?;
        bytes += 16 + row.label.len() as u64;
        std::hint::black_box((row.id, row.amount));
        seen += 1;
        if seen % 100_000 == 0 {
            peak = peak.max(rss());
        }
    }
    assert_eq!(seen, streamed_rows, "the stream lost rows");
    println!(
        "lakeorm-bench stream rows={seen} secs={:.4} data_mb={:.1} rss_before_mb={:.1} rss_peak_mb={:.1}",
        started.elapsed().as_secs_f64(),
        bytes as f64 / 1e6,
        before as f64 / 1e6,
        peak as f64 / 1e6
    );
    client.close().await
}
