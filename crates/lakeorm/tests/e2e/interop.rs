//! Tables written by one engine and read by another: interop is tested, not assumed.

use lakeorm::{ClientOptions, ConflictStrategy, Query};

use crate::engines::{self, Format, Order, TestLake, orders};

/// The embedded engine writes a Delta table; Sail attaches it at its location and reads it.
#[tokio::test]
async fn embedded_writes_sail_reads() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let embedded = engines::embedded(&lake).await;
    embedded.migrate::<Order>().await.unwrap();
    embedded.insert(&orders(0..500, 0)).await.unwrap();

    let sail = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    // Creating the model's table is a no-op on an existing one: it attaches it to Sail.
    sail.migrate::<Order>().await.unwrap();
    let mut rows: Vec<Order> = Query::sql("SELECT * FROM orders")
        .fetch_all(&sail)
        .await
        .unwrap();
    rows.sort_by_key(|o| o.id);
    assert_eq!(rows, orders(0..500, 0));
}

/// Sail writes a Delta table (both paths); the embedded engine reads it.
#[tokio::test]
async fn sail_writes_embedded_reads() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let sail = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    sail.migrate::<Order>().await.unwrap();
    sail.insert(&orders(0..300, 0)).await.unwrap();
    sail.insert(&orders(300..500, 0)).staged().await.unwrap();

    let embedded = engines::embedded(&lake).await;
    let mut rows: Vec<Order> = Query::sql("SELECT * FROM orders")
        .fetch_all(&embedded)
        .await
        .unwrap();
    rows.sort_by_key(|o| o.id);
    assert_eq!(rows, orders(0..500, 0));
}

/// A model partitioned by transforms: on Delta, generated partition columns.
#[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
#[lake(table = "visits")]
struct Visit {
    #[lake(pk, merge_key)]
    id: i64,
    #[lake(partition = "bucket(8)")]
    email: String,
    #[lake(partition = "day")]
    at: chrono::DateTime<chrono::Utc>,
    #[lake(partition = "truncate(3)")]
    code: String,
    #[lake(auto = "create_time")]
    created_at: chrono::DateTime<chrono::Utc>,
}

fn visits(range: std::ops::Range<i64>) -> Vec<Visit> {
    range
        .map(|id| Visit {
            id,
            email: format!("visitor{id}@example.com"),
            // Around midnight UTC, where a zone other than UTC would pick another day.
            at: chrono::DateTime::from_timestamp(1_700_006_400 + id * 1_800 - 36_000, 0).unwrap(),
            code: format!("c{:04}", id * 37),
            created_at: chrono::DateTime::UNIX_EPOCH,
        })
        .collect()
}

/// Each generated column next to the same expression evaluated by the engine on the source
/// column, for every row.
#[derive(lakeorm::Row, Debug)]
struct Agreement {
    id: i64,
    email_bucket: Option<i32>,
    bucket: Option<i32>,
    at_day: Option<chrono::NaiveDate>,
    day: Option<chrono::NaiveDate>,
    code_trunc: Option<String>,
    trunc: Option<String>,
}

/// Every generated column of `visits`, as stored and as `client`'s engine evaluates the
/// generation expression: they must agree row by row, and none may be NULL.
async fn assert_generated_agree(client: &lakeorm::Client, rows: usize) {
    let state = lakeorm::TableState::from_schema(<Visit as lakeorm::Row>::schema());
    let generated = lakeorm_core::generated::generated_columns(&state).unwrap();
    let expr = |name: &str| {
        generated
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.expression.clone())
            .unwrap()
    };
    let sql = format!(
        "SELECT id, email_bucket, {} AS bucket, at_day, {} AS day, code_trunc, {} AS trunc FROM visits ORDER BY id",
        expr("email_bucket"),
        expr("at_day"),
        expr("code_trunc")
    );
    let all: Vec<Agreement> = Query::sql(sql).fetch_all(client).await.unwrap();
    assert_eq!(all.len(), rows);
    for a in &all {
        assert!(
            a.email_bucket.is_some() && a.at_day.is_some() && a.code_trunc.is_some(),
            "{a:?}"
        );
        assert_eq!(a.email_bucket, a.bucket, "{a:?}");
        assert_eq!(a.at_day, a.day, "{a:?}");
        assert_eq!(a.code_trunc, a.trunc, "{a:?}");
    }
}

/// Delta partition transforms as generated columns: the embedded engine creates and writes the
/// table, Sail reads it and evaluates the same expressions alike, Sail writes rows that the
/// embedded engine reads, and upserts on either side keep `create_time`.
#[tokio::test]
async fn generated_partition_columns_agree_between_embedded_and_sail() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let embedded = engines::embedded(&lake).await;
    embedded.migrate::<Visit>().await.unwrap();
    embedded.insert(&visits(0..100)).await.unwrap();
    assert_generated_agree(&embedded, 100).await;

    let sail = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    sail.migrate::<Visit>().await.unwrap();
    assert_generated_agree(&sail, 100).await;

    // Sail computes the generated columns of the rows it writes.
    sail.insert(&visits(100..150)).await.unwrap();
    let embedded = engines::embedded(&lake).await;
    assert_generated_agree(&embedded, 150).await;
    let mut back: Vec<Visit> = Query::sql("SELECT * FROM visits WHERE id >= ?")
        .bind(100)
        .fetch_all(&embedded)
        .await
        .unwrap();
    back.sort_by_key(|v| v.id);
    assert_eq!(back.len(), 50);

    // An upsert through Sail keeps the stored create_time.
    let before: Visit = Query::sql("SELECT * FROM visits WHERE id = ?")
        .bind(7)
        .fetch_one(&embedded)
        .await
        .unwrap();
    let mut changed = visits(7..8);
    changed[0].code = "zzz-moved".into();
    sail.insert(&changed)
        .on_conflict(ConflictStrategy::Update)
        .await
        .unwrap();
    let after: Visit = Query::sql("SELECT * FROM visits WHERE id = ?")
        .bind(7)
        .fetch_one(&sail)
        .await
        .unwrap();
    assert_eq!(after.code, "zzz-moved");
    assert_eq!(after.created_at, before.created_at);
    assert_generated_agree(&engines::embedded(&lake).await, 150).await;
}

/// The same table created by Sail from the Delta dialect's DDL: the embedded engine writes into
/// it, computing the generated columns Sail declared.
#[tokio::test]
async fn sail_creates_generated_partition_columns_embedded_writes() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let sail = engines::sail(&url, &lake, Format::Delta, ClientOptions::default());
    sail.migrate::<Visit>().await.unwrap();
    sail.insert(&visits(0..40)).await.unwrap();
    let embedded = engines::embedded(&lake).await;
    embedded.insert(&visits(40..80)).await.unwrap();
    assert_generated_agree(&embedded, 80).await;
    assert_generated_agree(&sail, 80).await;
}
