//! Exactly once on Spark Connect (Sail, Delta and Iceberg): the commit log answers whether a
//! write landed, so a lost reply is not written twice and a write that did not land is; a
//! cancelled write is interrupted on the server; a call nested in a stream that holds the
//! only session fails with a typed error instead of waiting forever.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lakeorm::spark::SparkDriver;
use lakeorm::spark::SparkServer;
use lakeorm::{
    Client, ClientOptions, ConflictStrategy, Driver, Error, IngestId, Query, RetryPolicy, Row,
};

use crate::engines::{self, Format, Order, TestLake, orders};
use crate::faults::{Fault, Faulty};
use crate::log::Captured;
use crate::reliability::{lost_and_duplicated, record};

#[derive(Row)]
struct N {
    n: i64,
}

async fn count(client: &Client) -> i64 {
    Query::<N>::sql("SELECT COUNT(*) AS n FROM orders")
        .fetch_one(client)
        .await
        .unwrap()
        .n
}

fn quick_retries() -> ClientOptions {
    ClientOptions::default().retry(RetryPolicy {
        max_retries: 5,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    })
}

/// A client on Sail over `lake` with a driver and options of its own.
fn sail_with(
    driver: Arc<dyn Driver>,
    url: &str,
    lake: &TestLake,
    format: Format,
    options: ClientOptions,
) -> Client {
    let base = engines::sail(url, lake, format, ClientOptions::default());
    Client::with_options(
        driver,
        base.dialect().clone(),
        base.backend().clone(),
        options,
    )
}

/// A client on Sail whose driver can be failed around its commits.
fn faulty_sail(url: &str, lake: &TestLake, format: Format) -> (Client, Arc<Faulty>) {
    let driver = Faulty::wrap(Arc::new(engines::sail_driver(url)) as Arc<dyn Driver>);
    let client = sail_with(driver.clone(), url, lake, format, quick_retries());
    (client, driver)
}

async fn the_commit_log_decides_retries(format: Format) {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let (client, faulty) = faulty_sail(&url, &lake, format);
    client.migrate::<Order>().await.unwrap();

    // The reply is lost after Sail committed: found in the log, not written again.
    faulty.arm(Fault::AfterCommit { retryable: true });
    let first = client.insert(&orders(0..100, 0)).await.unwrap();
    assert_eq!(count(&client).await, 100, "{format:?}");
    // The connection drops before Sail saw the write: not in the log, written once.
    faulty.arm(Fault::BeforeCommit { retryable: true });
    let second = client.insert(&orders(100..150, 0)).await.unwrap();
    assert_eq!(second.metrics.retries, 1);
    assert_eq!(count(&client).await, 150, "{format:?}");
    assert_eq!(faulty.faults_fired(), 2);

    // An upsert replaces the first write's rows, and with them its ingest id: the versions
    // made since it began still show that it committed.
    client
        .insert(&orders(0..100, 1))
        .on_conflict(ConflictStrategy::Update)
        .await
        .unwrap();
    assert!(
        client
            .is_committed::<Order>(&first.ingest_id)
            .await
            .unwrap()
    );
    assert!(
        !client
            .is_committed::<Order>(&IngestId::new())
            .await
            .unwrap()
    );

    // An upsert repeating a key is refused before anything reaches Sail.
    let mut twice = orders(600..602, 0);
    twice[1].id = twice[0].id;
    let refused = client
        .insert(&twice)
        .on_conflict(ConflictStrategy::Update)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::DuplicateKeyInWrite { .. }),
        "{refused:?}"
    );

    // An idempotent retry after a reply lost for good (the error reached the caller).
    faulty.arm(Fault::AfterCommit { retryable: false });
    let rows = orders(500..520, 0);
    assert!(client.insert(&rows).idempotency_key("k-1").await.is_err());
    let retry = client.insert(&rows).idempotency_key("k-1").await.unwrap();
    assert!(retry.deduplicated, "{format:?}");
    let rows = count(&client).await;
    let [lost, duplicated] = lost_and_duplicated(170, rows);
    record(
        "fault",
        &format!(
            "Sail {format:?}: a transport error after the commit, one before it, an idempotent retry after a lost reply"
        ),
        3,
        &[lost, duplicated],
    );
    assert_eq!(rows, 170, "{format:?}");
}

#[tokio::test]
async fn the_commit_log_decides_retries_on_delta() {
    the_commit_log_decides_retries(Format::Delta).await;
}

#[tokio::test]
async fn the_commit_log_decides_retries_on_iceberg() {
    the_commit_log_decides_retries(Format::Iceberg).await;
}

/// A write whose future is dropped mid-flight (a timeout) is interrupted on the server; the
/// table holds all of it or none; the session pool keeps working at its size; a retry with
/// the same key, once its lease has passed, writes it exactly once.
async fn a_cancelled_write(format: Format) {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let driver = SparkDriver::builder(&url)
        .unwrap()
        .server(SparkServer::Sail)
        .pool_size(2)
        .build();
    let client = sail_with(
        Arc::new(driver),
        &url,
        &lake,
        format,
        ClientOptions::default().idempotency_lease(Duration::from_secs(2)),
    );
    client.migrate::<Order>().await.unwrap();
    let rows = orders(0..200_000, 0);
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        client
            .insert(&rows)
            .direct()
            .idempotency_key("big")
            .into_future(),
    )
    .await;
    let landed = count(&client).await;
    assert!(
        landed == 0 || landed == 200_000,
        "{format:?}: {landed} rows"
    );
    if cancelled.is_ok() {
        eprintln!("{format:?}: the write finished within the timeout");
    }
    // The retry, once the cancelled call's lease is over.
    let report = loop {
        match client.insert(&rows).direct().idempotency_key("big").await {
            Err(Error::IdempotencyKeyInUse { .. }) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => break other.unwrap(),
        }
    };
    let landed = count(&client).await;
    let [lost, duplicated] = lost_and_duplicated(200_000, landed);
    record(
        "fault",
        &format!(
            "Sail {format:?}: a 200,000-row insert whose future is dropped after 300 ms, then retried with its key"
        ),
        1,
        &[lost, duplicated],
    );
    assert_eq!(landed, 200_000, "{format:?}: {report:?}");
    // The pool still lends its two sessions.
    let (a, b, c) = tokio::join!(count(&client), count(&client), count(&client));
    assert_eq!((a, b, c), (200_000, 200_000, 200_000));
}

#[tokio::test]
async fn a_cancelled_write_on_delta_lands_once() {
    a_cancelled_write(Format::Delta).await;
}

#[tokio::test]
async fn a_cancelled_write_on_iceberg_lands_once() {
    a_cancelled_write(Format::Iceberg).await;
}

/// With one session, a query nested in the reading of a stream cannot get one: a typed error
/// after the acquire timeout, and the stream, once dropped, frees the session.
#[tokio::test]
async fn a_call_nested_in_a_stream_on_a_one_session_pool_times_out() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let driver = SparkDriver::builder(&url)
        .unwrap()
        .server(SparkServer::Sail)
        .pool_size(1)
        .acquire_timeout(Duration::from_secs(2))
        .build();
    let client = sail_with(
        Arc::new(driver),
        &url,
        &lake,
        Format::Delta,
        ClientOptions::default(),
    );
    client.migrate::<Order>().await.unwrap();
    client.insert(&orders(0..10, 0)).await.unwrap();
    let mut stream = Box::pin(client.query::<Order>().fetch());
    assert!(stream.next().await.unwrap().is_ok());
    let nested = client.query::<Order>().fetch_all().await.unwrap_err();
    assert!(
        matches!(nested, Error::SessionTimeout { size: 1, .. }),
        "{nested:?}"
    );
    record(
        "load",
        "a query nested in a stream holding the only session: SessionTimeout, no deadlock",
        1,
        &[("calls that waited forever", 0)],
    );
    drop(stream);
    assert_eq!(count(&client).await, 10);
}

/// A token and a credential header go nowhere a person reads: not into errors (`Display`,
/// `Debug`), not into the log at any level, not into the `Debug` of the driver and client, not
/// into metric labels. The server does not answer (a closed port), the worst case for error
/// text. Runs without a server.
#[tokio::test]
async fn secrets_stay_out_of_errors_logs_debug_and_metrics() {
    let (captured, _log) = Captured::start();
    let token = "dapi-SEKRIT/x=y";
    let url = format!(
        "sc://127.0.0.1:1/;token={};x-api-key=K3Y-SEKRIT",
        token.replace('/', "%2F").replace('=', "%3D")
    );
    let driver = SparkDriver::builder(&url)
        .unwrap()
        .retries(0, Duration::from_millis(1), Duration::from_millis(1))
        .build();
    let lake = TestLake::new();
    let client = Client::with_options(
        Arc::new(driver),
        Arc::new(lakeorm::delta::DeltaDialect::new()),
        lake.backend.clone(),
        quick_retries(),
    );
    let mut shown = vec![format!("{client:?}"), format!("{:?}", client.driver())];
    for error in [
        client.ping().await.unwrap_err(),
        client.migrate::<Order>().await.unwrap_err(),
        client.insert(&orders(0..3, 0)).await.unwrap_err(),
        client
            .insert(&orders(0..3, 0))
            .idempotency_key("k")
            .await
            .unwrap_err(),
    ] {
        shown.push(error.to_string());
        shown.push(format!("{error:?}"));
    }
    let metrics = prometheus::TextEncoder::new()
        .encode_to_string(&client.metrics_registry().gather())
        .unwrap();
    shown.push(metrics);
    shown.push(captured.text());
    let found = shown.iter().filter(|t| t.contains("SEKRIT")).count() as u64;
    record(
        "secrets",
        "a token and a credential header: errors (Display, Debug), the TRACE log, Debug of client and driver, metrics",
        shown.len() as u64,
        &[("secrets found", found)],
    );
    for text in &shown {
        assert!(!text.contains("SEKRIT"), "{text}");
    }
    assert!(
        shown.last().unwrap().contains("lakeorm"),
        "the log was captured"
    );
}
