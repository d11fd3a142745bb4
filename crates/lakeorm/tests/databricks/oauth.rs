//! OAuth machine-to-machine: tokens cached, refreshed once per expiry, replaced when refused;
//! no token or secret in errors, logs or `Debug`.

use std::time::{Duration, Instant};

use lakeorm::databricks::{Credentials, Workspace};
use lakeorm::{ErrorKind, Query};

use crate::log::Captured;
use crate::workload::count;
use crate::{Account, statement_options, warehouse, warehouse_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_longer_than_the_token_lifetime_requests_one_token_per_expiry() {
    let lifetime = Duration::from_secs(2);
    let w = warehouse_with(|c| c.with_token_lifetime(lifetime), statement_options()).await;
    w.client.migrate::<Account>().await.unwrap();
    let started = Instant::now();
    let run = Duration::from_millis(4_500);
    let mut tasks = Vec::new();
    for task in 0..4_i64 {
        let db = w.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut id = task * 1_000_000;
            while started.elapsed() < run {
                id += 1;
                db.insert(&[Account::new(id)]).await.unwrap();
                Query::<Account>::sql("SELECT * FROM accounts WHERE id = ?")
                    .bind(id)
                    .fetch_one(&db)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let c = w.server.counters();
    // Tokens shorter-lived than twice the refresh margin are replaced at half their lifetime:
    // one request at the start, then one per half-lifetime the run lasted.
    let halves = (elapsed.as_secs_f64() / (lifetime.as_secs_f64() / 2.0)).floor() as u64;
    assert!(
        (halves..=halves + 1).contains(&c.token_requests),
        "{} token requests over {elapsed:?} ({halves} half-lifetimes)",
        c.token_requests
    );
    // The client asked for no token the workspace did not count (statements closed in the
    // background after the run may have asked for one more since the snapshot).
    assert!(w.tokens.token_requests() >= c.token_requests);
    assert!(w.tokens.token_requests() <= c.token_requests + 1);
    // Every token was replaced before it ran out: the workspace never refused one.
    assert_eq!(c.unauthenticated, 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_mid_run_is_replaced_once_for_all_callers() {
    let w = warehouse().await;
    w.client.migrate::<Account>().await.unwrap();
    assert_eq!(w.tokens.token_requests(), 1);
    w.server.faults().expire_tokens();
    let mut tasks = Vec::new();
    for id in 0..8_i64 {
        let db = w.client.clone();
        tasks.push(tokio::spawn(
            async move { db.insert(&[Account::new(id)]).await },
        ));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        w.tokens.token_requests(),
        2,
        "one new token for eight refused calls"
    );
    assert_eq!(
        count(&w.client, "SELECT COUNT(*) AS n FROM accounts").await,
        8
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_a_config_error_that_names_no_secret() {
    let w = warehouse().await;
    let workspace = Workspace::new(
        &w.server.host(),
        Credentials::oauth_m2m("lakeorm-client", "WRONG-SEKRIT"),
    )
    .unwrap();
    let db = lakeorm::databricks_sql(workspace, w.server.warehouse_id(), "main", "default")
        .open()
        .unwrap();
    let error = db.ping().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    assert!(error.to_string().contains("invalid_client"), "{error}");
    assert!(!format!("{error} {error:?} {db:?}").contains("SEKRIT"));
}

/// Tokens, the client secret and presigned links (their signatures) appear in no error, no
/// `Debug` and no log line at any level, through a run with every fault.
#[tokio::test]
async fn no_token_secret_or_link_in_errors_logs_or_debug() {
    let (captured, _log) = Captured::start();
    // Links shorter-lived than the client's renewal margin: each is asked for again before use.
    let w = warehouse_with(
        |c| {
            c.with_chunk_rows(100)
                .with_link_lifetime(Duration::from_secs(5))
        },
        statement_options(),
    )
    .await;
    let db = &w.client;
    db.migrate::<Account>().await.unwrap();
    db.insert(&(0..1_000).map(Account::new).collect::<Vec<_>>())
        .await
        .unwrap();
    let mut shown = vec![
        format!("{db:?}"),
        format!("{:?}", db.driver()),
        format!("{:?}", w.tokens),
    ];
    let token = w.tokens.token().await.unwrap();
    let _: Vec<Account> = Query::sql("SELECT * FROM accounts")
        .fetch_all(db)
        .await
        .unwrap();
    w.server.faults().expire_tokens();
    w.server.faults().fail_next("INTERNAL_ERROR", "boom");
    let errors = [
        db.ping().await.unwrap_err(),
        Query::<Account>::sql("SELECT * FROM nowhere")
            .fetch_all(db)
            .await
            .unwrap_err(),
    ];
    for error in &errors {
        shown.push(error.to_string());
        shown.push(format!("{error:?}"));
    }
    let fresh = w.tokens.token().await.unwrap();
    shown.push(captured.text());
    let secret = &w.server.config().client_secret;
    // The log did capture the driver's work, link renewals and token refreshes among it.
    let log = shown.last().unwrap();
    assert!(
        log.contains("submitting a statement"),
        "the log was not captured"
    );
    let c = w.server.counters();
    assert!(
        c.link_fetches > 1 && c.chunk_requests > 1,
        "links were fetched and renewed: {c:?}"
    );
    for text in &shown {
        for needle in [
            token.expose(),
            fresh.expose(),
            secret.as_str(),
            "X-Signature",
            "Signature=",
        ] {
            assert!(!text.contains(needle), "`{needle}` found in: {text}");
        }
    }
}
