//! lakeorm on a Databricks cluster through Databricks Connect.
//!
//! Needs, in the environment:
//!
//! - `DATABRICKS_HOST`: the workspace host, e.g. `adb-1234567890123456.7.azuredatabricks.net`;
//! - credentials: `DATABRICKS_CLIENT_ID` and `DATABRICKS_CLIENT_SECRET` (a service principal,
//!   OAuth machine-to-machine: tokens are requested, cached and refreshed before they expire,
//!   and sessions opened after a refresh carry the new one), or `DATABRICKS_TOKEN` (a personal
//!   access token); sent as a bearer token, over TLS only;
//! - `DATABRICKS_CLUSTER_ID`: the cluster to run on (sent as `x-databricks-cluster-id`);
//! - `LAKEORM_PATH`: where the tables live, as the cluster reads it (e.g. `s3://bucket/lake`);
//! - optionally `DATABRICKS_CATALOG` and `DATABRICKS_SCHEMA` to qualify table names.
//!
//! A cluster that is still starting answers with the retryable `Error::ClusterNotReady`;
//! this example waits and retries. Without the variables it explains them and exits.
//!
//! ```text
//! cargo run -p lakeorm-examples --features spark --example databricks-connect
//! ```

use std::sync::Arc;
use std::time::Duration;

use lakeorm::delta::DeltaDialect;
use lakeorm::spark::SparkDriver;
use lakeorm::{Lake, Query};

#[derive(Lake, Debug, Clone)]
struct Greeting {
    #[lake(pk)]
    id: i64,
    text: String,
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let missing = lakeorm_examples::missing_databricks_vars(&[
        "DATABRICKS_HOST",
        "DATABRICKS_CLUSTER_ID",
        "LAKEORM_PATH",
    ]);
    if !missing.is_empty() {
        println!(
            "This example runs against a Databricks cluster. Set {} (see the top of \
             examples/databricks_connect.rs) and run it again.",
            missing.join(", ")
        );
        return Ok(());
    }

    let driver = Arc::new(SparkDriver::databricks_from_env()?);
    let mut dialect = DeltaDialect::new();
    if let Ok(catalog) = std::env::var("DATABRICKS_CATALOG") {
        dialect = dialect.with_catalog(catalog);
    }
    if let Ok(schema) = std::env::var("DATABRICKS_SCHEMA") {
        dialect = dialect.with_database(schema);
    }
    let lake = std::env::var("LAKEORM_PATH").expect("checked above");
    let backend = Arc::new(lakeorm::backends::from_uri(&lake)?);
    let client =
        lakeorm::Client::with_options(driver, Arc::new(dialect), backend, Default::default());

    // A cluster may take minutes to start: wait while it says so.
    lakeorm_examples::wait_until_ready(&client, "cluster", Duration::from_secs(20)).await?;

    client.migrate::<Greeting>().await?;
    client
        .insert(&[Greeting {
            id: 1,
            text: "hello from lakeorm".into(),
        }])
        .await?;
    let greeting: Greeting = Query::sql("SELECT * FROM greetings WHERE id = ?")
        .bind(1_i64)
        .fetch_one(&client)
        .await?;
    println!("{greeting:?}");
    client.close().await
}
