//! Bulk ingest along both write paths, with their throughput.
//!
//! Writes the same rows once directly (Arrow in the request) and once staged (zstd Parquet
//! parts under `_staging/<ingest_id>/`, then one `INSERT … SELECT`), and
//! prints rows per second for each. Without `LAKEORM_SPARK_URL` it runs on the embedded
//! engine; with it, on that Spark Connect server (`LAKEORM_SPARK_SERVER=sail|spark|…`; the
//! server must see `LAKEORM_PATH`).
//!
//! ```text
//! cargo run -p lakeorm-examples --features spark --release --example bulk -- 2000000
//! ```

use std::time::Instant;

use chrono::{DateTime, Utc};
use lakeorm::spark::{SparkDriver, SparkServer};
use lakeorm::{Client, Lake, Query, Row};

#[derive(Lake, Debug, Clone)]
struct Event {
    #[lake(pk)]
    id: i64,
    #[lake(partition = "identity")]
    kind: String,
    user_id: i64,
    amount: f64,
    payload: Option<String>,
    at: DateTime<Utc>,
}

#[derive(Row)]
struct Count {
    n: i64,
}

fn events(range: std::ops::Range<i64>) -> Vec<Event> {
    let at = Utc::now();
    range
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

async fn client(lake: &str) -> lakeorm::Result<Client> {
    match std::env::var("LAKEORM_SPARK_URL") {
        Ok(url) => {
            let server = match std::env::var("LAKEORM_SPARK_SERVER").as_deref() {
                Ok("sail") => SparkServer::Sail,
                Ok("databricks") => SparkServer::Databricks,
                _ => SparkServer::Spark,
            };
            let driver = SparkDriver::builder(&url)?.server(server).build();
            let backend = lakeorm::backends::from_uri(lake)?;
            Ok(lakeorm::open(
                driver,
                lakeorm::delta::DeltaDialect::new(),
                backend,
            ))
        }
        Err(_) => lakeorm::LocalBuilder::new().path(lake).open().await,
    }
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let rows: i64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let lake = std::env::var("LAKEORM_PATH").unwrap_or_else(|_| "./lake-bulk".into());
    let client = client(&lake).await?;
    println!("engine: {}; lake: {lake}", client.driver().name());
    client.migrate::<Event>().await?;
    let before = Query::<Count>::sql("SELECT COUNT(*) AS n FROM events")
        .fetch_one(&client)
        .await?
        .n;

    for (label, staged, range) in [("direct", false, 0..rows), ("staged", true, rows..2 * rows)] {
        let batch = events(range.start + before..range.end + before);
        let started = Instant::now();
        let insert = client.insert(&batch);
        let report = if staged {
            insert.staged()
        } else {
            insert.direct()
        }
        .await?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{label:>9}: {} rows in {secs:.2} s = {:.0} rows/s ({:?})",
            report.rows,
            report.rows as f64 / secs,
            report.write_path
        );
    }
    let after = Query::<Count>::sql("SELECT COUNT(*) AS n FROM events")
        .fetch_one(&client)
        .await?
        .n;
    println!("table holds {after} rows ({} new)", after - before);
    client.close().await
}
