//! Runnable examples of lakeorm; see the `[[example]]` entries in this package's manifest and run
//! them with `cargo run --example <name>`.

use std::time::Duration;

use lakeorm::{Client, Error};

/// The Databricks variables an example needs that are not set: `required`, and credentials
/// (`DATABRICKS_TOKEN`, or `DATABRICKS_CLIENT_ID` with `DATABRICKS_CLIENT_SECRET`).
pub fn missing_databricks_vars(required: &[&'static str]) -> Vec<&'static str> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    let mut missing: Vec<&'static str> = required.iter().copied().filter(|v| !set(v)).collect();
    let credentials =
        set("DATABRICKS_TOKEN") || (set("DATABRICKS_CLIENT_ID") && set("DATABRICKS_CLIENT_SECRET"));
    if !credentials {
        missing.push("DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET)");
    }
    missing
}

/// Pings until the engine answers: a Databricks cluster or warehouse that is starting answers
/// with the retryable `ClusterNotReady` for minutes. Gives up after 30 tries `pause` apart.
pub async fn wait_until_ready(client: &Client, what: &str, pause: Duration) -> lakeorm::Result<()> {
    let mut attempt = 0;
    loop {
        match client.ping().await {
            Ok(()) => return Ok(()),
            Err(Error::ClusterNotReady(not_ready)) if attempt < 30 => {
                attempt += 1;
                println!("{what} {} — waiting", not_ready.state);
                tokio::time::sleep(pause).await;
            }
            Err(error) => return Err(error),
        }
    }
}
