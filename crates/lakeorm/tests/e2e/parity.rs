//! The Spark Connect driver where the embedded engine set the bar: statistics, session
//! configuration for every pooled session, tables created by `exec` and by migration files
//! reachable from every pooled session, native DataFrames, and layout intents in the DDL.

// The official client's error type is large; closures returning it trip this lint.
#![allow(clippy::result_large_err)]

use lakeorm::spark::SparkServer;
use lakeorm::{ClientOptions, Error, Lake, Query, Row};

use crate::engines::{self, Format, Order, TestLake, orders};

#[derive(Row, Debug)]
struct Count {
    n: i64,
}

/// A Sail driver of `sessions` pooled sessions.
fn sail_pool(url: &str, sessions: usize) -> lakeorm::spark::SparkDriverBuilder {
    lakeorm::spark::SparkDriver::builder(url)
        .unwrap()
        .server(SparkServer::Sail)
        .pool_size(sessions)
}

/// The sessions the pool lends at once: every one of them, held together.
async fn every_session(client: &lakeorm::Client, n: usize) -> Vec<lakeorm::spark::SessionLease> {
    let mut leases = Vec::new();
    for _ in 0..n {
        leases.push(client.session().await.unwrap());
    }
    leases
}

#[tokio::test]
async fn sail_reports_table_statistics() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    for format in [Format::Delta, Format::Iceberg] {
        let lake = TestLake::new();
        let client = engines::sail(&url, &lake, format, ClientOptions::default());
        client.migrate::<Order>().await.unwrap();
        client.insert(&orders(0..30, 0)).await.unwrap();
        client.insert(&orders(30..50, 0)).await.unwrap();
        match client.maintain().stats::<Order>().await {
            Ok(stats) => {
                assert_eq!(stats.rows, 50, "{format:?}: {stats:?}");
                assert!(stats.files >= 2 && stats.bytes > 0, "{format:?}: {stats:?}");
                if matches!(format, Format::Delta) {
                    assert!(stats.version >= 2, "{format:?}: {stats:?}");
                }
            }
            // Where Sail lacks the statement, the refusal is typed and names it, and the
            // table is untouched.
            Err(error) => {
                assert!(
                    matches!(error, Error::Unsupported { .. }),
                    "{format:?}: {error:?}"
                );
                let statement = match format {
                    Format::Delta => "DESCRIBE DETAIL",
                    Format::Iceberg => ".snapshots",
                };
                assert!(error.to_string().contains(statement), "{format:?}: {error}");
                let n: Count = Query::sql("SELECT COUNT(*) AS n FROM orders")
                    .fetch_one(&client)
                    .await
                    .unwrap();
                assert_eq!(n.n, 50);
            }
        }
        client.close().await.unwrap();
    }
}

#[tokio::test]
async fn session_confs_reach_every_pooled_session_and_set_is_refused() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let driver = sail_pool(&url, 3)
        .session_conf("spark.sql.shuffle.partitions", "7")
        .session_conf("spark.sql.shuffle.partitions", "5")
        .build();
    let client = engines::sail_on(driver, &lake, Format::Delta, ClientOptions::default());
    for lease in every_session(&client, 3).await {
        let value = lease
            .with_spark(|spark| spark.conf().get("spark.sql.shuffle.partitions"))
            .await
            .unwrap();
        assert_eq!(value.as_deref(), Some("5"));
        // lakeorm's own settings stay.
        let zone = lease
            .with_spark(|spark| spark.conf().get("spark.sql.session.timeZone"))
            .await
            .unwrap();
        assert_eq!(zone.as_deref(), Some("UTC"));
    }
    let refused = client
        .exec("SET spark.sql.shuffle.partitions = 1")
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Unsupported { .. }), "{refused:?}");
    assert!(refused.to_string().contains("session_conf"), "{refused}");
    client.close().await.unwrap();
}

#[tokio::test]
async fn an_exec_created_table_is_used_from_every_pooled_session() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let driver = sail_pool(&url, 3).build();
    let client = engines::sail_on(driver, &lake, Format::Delta, ClientOptions::default());
    let location = url::Url::from_directory_path(lake.dir.path().join("tables/notes")).unwrap();
    client
        .exec(format!(
            "CREATE TABLE IF NOT EXISTS notes (id BIGINT, body STRING) USING delta LOCATION '{location}'"
        ))
        .await
        .unwrap();
    client
        .exec("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
        .await
        .unwrap();
    // Three sessions at once, so every one of them answers.
    for lease in every_session(&client, 3).await {
        let n = lease
            .with_spark(|spark| spark.sql("SELECT * FROM notes")?.count())
            .await
            .unwrap();
        assert_eq!(n, 2);
    }
    // Through lakeorm's queries too, from sessions the pool lends concurrently.
    let counts = futures::future::try_join_all(
        (0..6).map(|_| Query::<Count>::sql("SELECT COUNT(*) AS n FROM notes").fetch_one(&client)),
    )
    .await
    .unwrap();
    assert!(counts.iter().all(|c| c.n == 2), "{counts:?}");
    client.close().await.unwrap();
}

/// A model whose migration file is generated, then applied on Sail.
#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "tickets")]
struct Ticket {
    #[lake(pk)]
    id: i64,
    title: String,
}

#[tokio::test]
async fn migration_files_place_tables_where_migrate_does() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let driver = sail_pool(&url, 2).build();
    let client = engines::sail_on(driver, &lake, Format::Delta, ClientOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let models = lakeorm::migrate::Registry::new().model::<Ticket>().models;
    client.migrate_generate(dir.path(), &models).unwrap();
    client.migrator(dir.path()).up().await.unwrap();
    // The file created the table at the Backend's location, so the typed path finds it there.
    assert!(lake.dir.path().join("tables/tickets/_delta_log").is_dir());
    client.migrate::<Ticket>().await.unwrap();
    let tickets = vec![
        Ticket {
            id: 1,
            title: "one".into(),
        },
        Ticket {
            id: 2,
            title: "two".into(),
        },
    ];
    client.insert(&tickets).await.unwrap();
    for lease in every_session(&client, 2).await {
        let n = lease
            .with_spark(|spark| spark.sql("SELECT * FROM tickets")?.count())
            .await
            .unwrap();
        assert_eq!(n, 2);
    }
    client.close().await.unwrap();
}

#[tokio::test]
async fn native_frames_of_queries_and_counts_of_spark_frames() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    client.migrate::<Order>().await.unwrap();
    client.insert(&orders(0..20, 0)).await.unwrap();
    let df = client
        .dataframe(lakeorm::Statement::new("SELECT * FROM orders WHERE id >= ?").bind(15))
        .await
        .unwrap();
    let native = df
        .native::<lakeorm::spark::spark_connect::DataFrame>()
        .expect("the official client's DataFrame")
        .clone();
    let n = tokio::task::spawn_blocking(move || native.count())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(df.count().await.unwrap(), 5);
    // A frame built on a lent session counts in that session.
    let session = client.session().await.unwrap();
    let frame = session.sql("SELECT * FROM orders WHERE id < 4").unwrap();
    let read = client.read_spark(session, frame).await.unwrap();
    assert_eq!(read.count().await.unwrap(), 4);
    let rows: Vec<Order> = read.fetch_all().await.unwrap();
    assert_eq!(rows.len(), 4);
    client.close().await.unwrap();
}

/// A model with layout intents, created on Sail through the Iceberg dialect's DDL (a bucketed
/// merge key, a sort order, bloom-filter properties).
#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "readings", key_buckets = 4)]
struct Reading {
    #[lake(pk, sortable)]
    seq: i64,
    #[lake(merge_key)]
    sensor: String,
    #[lake(indexed)]
    site: String,
}

#[tokio::test]
async fn sail_creates_tables_with_layout_intents() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    for format in [Format::Delta, Format::Iceberg] {
        let lake = TestLake::new();
        let client = engines::sail(&url, &lake, format, ClientOptions::default());
        client.migrate::<Reading>().await.unwrap();
        let rows: Vec<Reading> = (0..12)
            .rev()
            .map(|seq| Reading {
                seq,
                sensor: format!("s{seq}"),
                site: format!("site-{}", seq % 2),
            })
            .collect();
        client.insert(&rows).await.unwrap();
        let mut back: Vec<Reading> = Query::sql("SELECT * FROM readings")
            .fetch_all(&client)
            .await
            .unwrap();
        back.sort_by_key(|r| r.seq);
        assert_eq!(back.len(), 12, "{format:?}");
        client.close().await.unwrap();
    }
}

/// A migration file of a model with a sort order runs on Sail, whose SQL has no
/// `WRITE ORDERED BY`: the table is created (bucketed key and all), the sort order skipped, as
/// `migrate::<T>()` does.
#[tokio::test]
async fn an_iceberg_migration_with_a_sort_order_runs_on_sail() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let client = engines::sail(&url, &lake, Format::Iceberg, ClientOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let models = lakeorm::migrate::Registry::new().model::<Reading>().models;
    client.migrate_generate(dir.path(), &models).unwrap();
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "sql"))
        .unwrap();
    let text = std::fs::read_to_string(file.path()).unwrap();
    assert!(text.contains("WRITE ORDERED BY"), "{text}");
    assert!(text.contains("bucket(4, `sensor`)"), "{text}");
    client.migrator(dir.path()).up().await.unwrap();
    assert!(lake.dir.path().join("tables/readings/metadata").is_dir());
    let rows: Vec<Reading> = (0..5)
        .map(|seq| Reading {
            seq,
            sensor: format!("s{seq}"),
            site: "a".into(),
        })
        .collect();
    client.insert(&rows).await.unwrap();
    let n: Count = Query::sql("SELECT COUNT(*) AS n FROM readings")
        .fetch_one(&client)
        .await
        .unwrap();
    assert_eq!(n.n, 5);
    client.close().await.unwrap();
}
