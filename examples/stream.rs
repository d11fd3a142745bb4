//! Constant-memory reads: a typed stream over a million rows holds one Arrow batch at a time.
//!
//! Run with `cargo run --release --example stream`.

use futures::TryStreamExt;
use lakeorm::{Lake, LocalBuilder, Query};

#[derive(Lake, Debug, Clone)]
struct Reading {
    #[lake(pk)]
    seq: i64,
    sensor: String,
    value: f64,
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let dir = std::env::temp_dir().join(format!("lakeorm-stream-{}", std::process::id()));
    let db = LocalBuilder::new().path(&dir).open().await?;
    db.migrate::<Reading>().await?;
    for chunk in 0..10i64 {
        let rows: Vec<Reading> = (0..100_000)
            .map(|i| Reading {
                seq: chunk * 100_000 + i,
                sensor: format!("s{}", i % 16),
                value: (i % 1000) as f64 / 10.0,
            })
            .collect();
        db.insert(&rows).await?;
    }
    println!("wrote 1,000,000 readings to {}", dir.display());

    let mut readings = std::pin::pin!(
        Query::<Reading>::sql("SELECT * FROM readings WHERE value > ?")
            .bind(50.0)
            .fetch(&db)
    );
    let (mut n, mut max) = (0u64, f64::MIN);
    while let Some(r) = readings.try_next().await? {
        n += 1;
        max = max.max(r.value);
        if n == 100 {
            // Stopping early is fine: dropping the stream cancels the query.
        }
    }
    println!("streamed {n} readings above 50.0 (max {max})");
    db.close().await?;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
