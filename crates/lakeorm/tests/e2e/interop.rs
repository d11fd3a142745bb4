//! Tables written by one engine and read by another: interop is tested, not assumed.

use lakeorm::{ClientOptions, Query};

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
    sail.insert_with(
        &orders(300..500, 0),
        lakeorm::InsertOptions::new().via_object_storage(),
    )
    .await
    .unwrap();

    let embedded = engines::embedded(&lake).await;
    let mut rows: Vec<Order> = Query::sql("SELECT * FROM orders")
        .fetch_all(&embedded)
        .await
        .unwrap();
    rows.sort_by_key(|o| o.id);
    assert_eq!(rows, orders(0..500, 0));
}
