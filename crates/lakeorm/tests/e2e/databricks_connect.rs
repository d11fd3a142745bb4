//! Databricks Connect's OAuth machine-to-machine path on a real Spark Connect server: sessions
//! take their bearer token from the workspace's token source (here the OIDC endpoint of the
//! local Databricks server), and a session opened after a token was replaced carries the new
//! one. Sail stands in for the cluster (it accepts the token header on loopback and ignores
//! it); what a Databricks cluster does with the token was not tried from here.

use std::time::{Duration, Instant};

use lakeorm::databricks::{Credentials, Workspace};
use lakeorm::spark::{SparkDriver, SparkServer};
use lakeorm::{ClientOptions, Query, Row};
use lakeorm_databricks_server::{DatabricksServer, ServerConfig};

use crate::engines::{self, Format, TestLake, orders};

#[derive(Row)]
struct N {
    n: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_opened_after_a_token_refresh_carry_the_new_token() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lifetime = Duration::from_secs(2);
    let oidc = DatabricksServer::start(ServerConfig::new(dir.path()).with_token_lifetime(lifetime))
        .await
        .unwrap();
    let c = oidc.config().clone();
    let workspace = Workspace::new(
        &oidc.host(),
        Credentials::oauth_m2m(c.client_id, c.client_secret),
    )
    .unwrap();
    let driver = SparkDriver::builder(&url)
        .unwrap()
        .server(SparkServer::Sail)
        .pool_size(2)
        .tokens(std::sync::Arc::clone(workspace.tokens()))
        .build();
    let lake = TestLake::new();
    let client = engines::sail_on(
        driver.clone(),
        &lake,
        Format::Delta,
        ClientOptions::default(),
    );
    client.migrate::<engines::Order>().await.unwrap();
    let started = Instant::now();
    let mut id = 0;
    while started.elapsed() < Duration::from_millis(4_500) {
        client.insert(&orders(id..id + 10, 0)).await.unwrap();
        id += 10;
        let n = Query::<N>::sql("SELECT COUNT(*) AS n FROM orders")
            .fetch_one(&client)
            .await
            .unwrap()
            .n;
        assert_eq!(n, id);
    }
    let requests = workspace.tokens().token_requests();
    // One token at the start, one per half-lifetime after (tokens this short are replaced at
    // half their lifetime).
    assert!((4..=6).contains(&requests), "{requests} token requests");
    // Sessions of replaced tokens were retired and new ones opened with the current token,
    // the tables re-attached to them (the counts above read every write).
    let opened = driver.pool_stats().opened;
    assert!(
        opened >= requests,
        "{opened} sessions for {requests} tokens"
    );
    assert_eq!(oidc.counters().token_requests, requests);
    client.close().await.unwrap();
}
