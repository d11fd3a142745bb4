//! One scenario, every engine: create, write along both paths, read typed, streamed and with
//! bound parameters, map errors.

use futures::TryStreamExt;
use lakeorm::{Client, ClientOptions, ConflictStrategy, Error, Query};

use crate::engines::{self, Format, Order, RegionCount, TestLake, order, orders};

/// The scenario every engine runs; `merges` says whether the engine's format takes upserts.
async fn append_read_bind(client: &Client, merges: bool) {
    client.migrate::<Order>().await.unwrap();
    // Creating again is a no-op.
    client.migrate::<Order>().await.unwrap();

    let direct = client.insert(&orders(0..600, 0)).direct().await.unwrap();
    assert_eq!(direct.rows, 600);
    let staged = client.insert(&orders(600..1000, 0)).staged().await.unwrap();
    assert_eq!(staged.rows, 400);
    assert_eq!(
        staged.write_path,
        Some(lakeorm::WritePath::Staged),
        "{staged:?}"
    );
    // The staged parts are gone once the write is over.
    assert!(client.backend().list_staging().await.unwrap().is_empty());

    // Typed read with bound parameters; a quote in a value is data, not SQL.
    let mut eu: Vec<Order> =
        Query::<Order>::sql("SELECT * FROM orders WHERE region = ? AND id < ? ORDER BY id")
            .bind("eu")
            .bind(30_i64)
            .fetch_all(client)
            .await
            .unwrap();
    eu.sort_by_key(|o| o.id);
    let expected: Vec<Order> = (0..30)
        .filter(|i| i % 3 == 0)
        .map(|i| order(i, 0))
        .collect();
    assert_eq!(eu, expected);
    let noted: Option<Order> = Query::<Order>::sql("SELECT * FROM orders WHERE note = ?")
        .bind("it's #10")
        .fetch_optional(client)
        .await
        .unwrap();
    assert_eq!(noted, Some(order(10, 0)));

    // A streamed read sees every row once.
    let streamed: Vec<Order> = Query::<Order>::sql("SELECT * FROM orders")
        .fetch(client)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 1000);
    let mut counts: Vec<RegionCount> =
        Query::<RegionCount>::sql("SELECT region, COUNT(*) AS n FROM orders GROUP BY region")
            .fetch_all(client)
            .await
            .unwrap();
    counts.sort_by(|a, b| a.region.cmp(&b.region));
    assert_eq!(
        counts.iter().map(|c| c.n).collect::<Vec<_>>(),
        vec![333, 334, 333] // ap, eu, us
    );

    // Errors: a missing table is a typed error naming it, not retryable.
    let missing = Query::<Order>::sql("SELECT * FROM no_such_table")
        .fetch_all(client)
        .await
        .unwrap_err();
    assert!(!missing.is_retryable(), "{missing:?}");
    assert_eq!(missing.kind(), lakeorm::ErrorKind::NotFound, "{missing:?}");
    assert!(
        missing.to_string().to_lowercase().contains("no_such_table"),
        "{missing}"
    );

    if merges {
        let report = client
            .insert(&orders(900..1100, 1))
            .on_conflict(ConflictStrategy::Update)
            .await
            .unwrap();
        assert_eq!(report.rows, 200);
        let total: Vec<Order> = Query::<Order>::sql("SELECT * FROM orders")
            .fetch_all(client)
            .await
            .unwrap();
        assert_eq!(total.len(), 1100);
        let updated = total.iter().filter(|o| o.quantity >= 1000).count();
        assert_eq!(updated, 200);
    } else {
        let refused = client
            .insert(&orders(0..10, 1))
            .on_conflict(ConflictStrategy::Update)
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::Unsupported { .. }), "{refused:?}");
    }
}

#[tokio::test]
async fn embedded_engine() {
    let lake = TestLake::new();
    let client = engines::embedded(&lake).await;
    append_read_bind(&client, true).await;
}

#[tokio::test]
async fn sail_delta() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    append_read_bind(&client, true).await;
    client.close().await.unwrap();
}

/// Sail and the client both on the S3 test server: the staged parts and the table live there.
#[tokio::test]
async fn sail_delta_on_s3() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let Some(lake) = TestLake::s3() else { return };
    let client = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    let probe = lakeorm::verify(&client).await.unwrap();
    assert_eq!(probe.rows, 3, "{probe:?}");
    append_read_bind(&client, true).await;
}

/// `verify` tells a client and an engine that see different stores apart.
#[tokio::test]
async fn verify_detects_an_engine_on_other_storage() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let Some(lake) = TestLake::other_s3() else {
        return;
    };
    let client = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    let error = lakeorm::verify(&client).await.unwrap_err();
    assert!(matches!(error, Error::UriMismatch(_)), "{error:?}");
    // The probe is removed either way.
    assert!(client.backend().list_staging().await.unwrap().is_empty());
}

#[tokio::test]
async fn sail_iceberg() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&url, &lake, Format::Iceberg, ClientOptions::default());
    append_read_bind(&client, true).await;
}

#[tokio::test]
async fn apache_spark_parquet() {
    let Some(url) = engines::spark_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::spark(&url, &lake);
    append_read_bind(&client, false).await;
}

/// Sail cannot compact or vacuum: a typed error says so before anything runs.
#[tokio::test]
async fn sail_reports_missing_maintenance_as_unsupported() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();
    let error = client
        .maintain()
        .vacuum::<Order>(std::time::Duration::from_secs(7 * 24 * 3600))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
}

/// The escape hatch: a pooled session for native DataFrame work, read back typed.
// The official client's error type is large; closures returning it trip this lint.
#[allow(clippy::result_large_err)]
#[tokio::test]
async fn a_native_dataframe_reads_typed() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();
    client.insert(&orders(0..50, 0)).await.unwrap();
    let session = client.session().await.unwrap();
    let df = session
        .sql("SELECT * FROM orders WHERE id >= 40")
        .unwrap()
        .limit(100);
    // Native work runs off the async executor.
    let schema = session
        .with_spark({
            let df = df.clone();
            move |_| df.schema()
        })
        .await
        .unwrap();
    assert!(format!("{schema:?}").contains("placed_at"), "{schema:?}");
    let mut rows: Vec<Order> = client
        .read_spark(session, df)
        .await
        .unwrap()
        .fetch_all()
        .await
        .unwrap();
    rows.sort_by_key(|o| o.id);
    assert_eq!(rows, orders(40..50, 0));
}
