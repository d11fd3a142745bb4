//! The hero path on a Spark Connect server: Apache Spark 4, Sail or Databricks.
//!
//! Creates the model's table at the lake's location, inserts and upserts validated records
//! (in-memory rows travel inside the plan), queries them back typed with a bound parameter and
//! streamed, and aggregates into a projection struct.
//!
//! ```text
//! LAKEORM_SPARK_URL=sc://127.0.0.1:15002/ \
//! LAKEORM_SPARK_SERVER=sail            # spark (default) | spark-parquet | sail | databricks
//! LAKEORM_DIALECT=delta                # delta (default) | iceberg | parquet
//! LAKEORM_PATH=/tmp/lake               # where tables live; the server must see the same storage
//! cargo run -p lakeorm-examples --features spark --example spark
//! ```
//!
//! `cargo xtask e2e` starts Sail and Apache Spark on loopback; to try this example against a
//! Sail of your own: `pip install pysail==0.7.2 && sail spark server --port 15002`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lakeorm::spark::{ParquetDialect, SparkDriver, SparkServer};
use lakeorm::{Dialect, Lake, Query, Row};

/// One row of the `readings` table: the primary key makes a second write of an id an update.
#[derive(Lake, Debug, Clone)]
struct Reading {
    #[lake(pk)]
    id: i64,
    #[lake(validate = "length(min = 1, max = 32)")]
    sensor: String,
    #[lake(validate = "range(min = -90, max = 60)")]
    celsius: f64,
    taken_at: DateTime<Utc>,
}

#[derive(Row, Debug)]
struct SensorStats {
    sensor: String,
    readings: i64,
    mean: f64,
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let url = env("LAKEORM_SPARK_URL", "sc://127.0.0.1:15002/");
    let server = match env("LAKEORM_SPARK_SERVER", "spark").as_str() {
        "sail" => SparkServer::Sail,
        "spark-parquet" => SparkServer::SparkParquet,
        "databricks" => SparkServer::Databricks,
        _ => SparkServer::Spark,
    };
    let dialect: Arc<dyn Dialect> = match env("LAKEORM_DIALECT", "delta").as_str() {
        "iceberg" => Arc::new(lakeorm::iceberg::IcebergDialect::new()),
        "parquet" => Arc::new(ParquetDialect::new()),
        _ => Arc::new(lakeorm::delta::DeltaDialect::new()),
    };
    let lake = env("LAKEORM_PATH", "./lake-spark");
    let backend = Arc::new(lakeorm::backends::from_uri(&lake)?);
    let driver = Arc::new(SparkDriver::builder(&url)?.server(server).build());
    let client = lakeorm::Client::with_options(driver, dialect, backend, Default::default());

    client.ping().await?;
    println!("connected to {url} ({server:?}); lake at {lake}");
    client.migrate::<Reading>().await?;

    let now = Utc::now();
    let readings: Vec<Reading> = (0..1_000)
        .map(|id| Reading {
            id,
            sensor: format!("sensor-{}", id % 4),
            celsius: 15.0 + (id % 10) as f64,
            taken_at: now,
        })
        .collect();
    let report = client.insert(&readings).await?;
    println!(
        "inserted {} rows ({:?}) as ingest {}",
        report.rows, report.write_path, report.ingest_id
    );

    // Invalid records are refused at the boundary, all failures at once; nothing is written.
    let bad = Reading {
        id: 5_000,
        sensor: String::new(),
        celsius: 99.0,
        taken_at: now,
    };
    if let Err(error) = client.insert(&[bad]).await {
        println!("refused: {error}");
    }

    let hot: Vec<Reading> =
        Query::sql("SELECT * FROM readings WHERE celsius > ? ORDER BY id LIMIT 3")
            .bind(23.5)
            .fetch_all(&client)
            .await?;
    println!(
        "first hot readings: {:?}",
        hot.iter().map(|r| r.id).collect::<Vec<_>>()
    );

    let streamed = Query::<Reading>::sql("SELECT * FROM readings")
        .fetch(&client)
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await?;
    println!("streamed {streamed} readings");

    let stats: Vec<SensorStats> = Query::sql(
        "SELECT sensor, COUNT(*) AS readings, AVG(celsius) AS mean \
         FROM readings GROUP BY sensor ORDER BY sensor",
    )
    .fetch_all(&client)
    .await?;
    for s in &stats {
        println!(
            "{:<10} {:>5} readings, mean {:.2} °C",
            s.sensor, s.readings, s.mean
        );
    }
    client.close().await
}
