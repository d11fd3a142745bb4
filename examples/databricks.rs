//! lakeorm on a Databricks SQL warehouse, over the SQL Statement Execution API.
//!
//! Needs, in the environment:
//!
//! - `DATABRICKS_HOST`: the workspace, e.g. `adb-1234567890123456.7.azuredatabricks.net`;
//! - credentials: `DATABRICKS_CLIENT_ID` and `DATABRICKS_CLIENT_SECRET` (a service principal,
//!   OAuth machine-to-machine), or `DATABRICKS_TOKEN` (a personal access token);
//! - `DATABRICKS_WAREHOUSE_ID`: the SQL warehouse to run on;
//! - optionally `DATABRICKS_CATALOG` (default `main`), `DATABRICKS_SCHEMA` (default `default`)
//!   and `DATABRICKS_VOLUME` (`catalog.schema.volume`, default `lakeorm` in that schema): the
//!   Unity Catalog volume large writes are staged in (it must exist).
//!
//! Without them it says which are missing and exits. To try it without a workspace, start the
//! project's local stand-in (`cargo run -p lakeorm-databricks-server`) and export the
//! variables it prints.
//!
//! ```text
//! cargo run -p lakeorm-examples --features databricks --example databricks
//! ```

use std::time::Duration;

use futures::TryStreamExt;
use lakeorm::{Lake, Query, Row};

#[derive(Lake, Debug, Clone, PartialEq)]
struct Reading {
    #[lake(pk)]
    id: i64,
    #[lake(validate = "length(min = 1)")]
    sensor: String,
    celsius: f64,
    taken_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Row, Debug)]
struct PerSensor {
    sensor: String,
    readings: i64,
    mean: f64,
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let missing =
        lakeorm_examples::missing_databricks_vars(&["DATABRICKS_HOST", "DATABRICKS_WAREHOUSE_ID"]);
    if !missing.is_empty() {
        println!(
            "This example runs against a Databricks SQL warehouse. Set {} (see the top of \
             examples/databricks.rs) and run it again.",
            missing.join(", ")
        );
        return Ok(());
    }
    let db = lakeorm::databricks_sql_from_env()?;

    // A stopped warehouse starts on the first statement; that can take minutes.
    lakeorm_examples::wait_until_ready(&db, "warehouse", Duration::from_secs(10)).await?;

    db.migrate::<Reading>().await?;
    let at = chrono::Utc::now();
    let readings: Vec<Reading> = (0..1_000)
        .map(|i| Reading {
            id: i,
            sensor: format!("sensor-{}", i % 7),
            celsius: 18.0 + (i % 50) as f64 / 10.0,
            taken_at: at,
        })
        .collect();
    // A thousand rows exceed the API's 256 parameters: they are staged in the volume as
    // Parquet and committed by one statement.
    let report = db.insert(&readings).await?;
    println!("inserted {} readings", report.rows);

    // Small writes go inline, as typed parameters.
    let corrected = Reading {
        celsius: 21.5,
        ..readings[3].clone()
    };
    db.insert(std::slice::from_ref(&corrected))
        .on_conflict(lakeorm::ConflictStrategy::Update)
        .await?;
    let back: Reading = Query::sql("SELECT * FROM readings WHERE id = ?")
        .bind(3_i64)
        .fetch_one(&db)
        .await?;
    assert_eq!(back.celsius, 21.5);

    // Read as a stream: the warehouse's result arrives in Arrow chunks, a few at a time.
    let per_sensor = Query::<PerSensor>::sql(
        "SELECT sensor, COUNT(*) AS readings, AVG(celsius) AS mean FROM readings GROUP BY sensor ORDER BY sensor",
    )
    .fetch(&db);
    futures::pin_mut!(per_sensor);
    while let Some(row) = per_sensor.try_next().await? {
        println!(
            "{:<10} {:>4} readings, mean {:.2} °C",
            row.sensor, row.readings, row.mean
        );
    }

    let deleted = db
        .delete_where::<Reading>(lakeorm::Statement::new("celsius > ?").bind(22.5))
        .await?;
    println!("deleted {} warm readings", deleted.rows_deleted);
    let report = db.verify().await?;
    println!(
        "the warehouse reads what this client stages ({:?})",
        report.elapsed
    );
    db.close().await
}
