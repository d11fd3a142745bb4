//! Every way to read typed: `Query::<T>` (`fetch_all`, `fetch_one`, `fetch_optional`, `fetch`),
//! `DataFrame` exits (`collect_as`, `stream_as`, `first_as`), the dynamic query builder, and the
//! engine's native DataFusion handle.
//!
//! Run with `cargo run --example typed-helpers`.

use futures::TryStreamExt;
use lakeorm::{Lake, LocalBuilder, Order, Query, Row};

#[derive(Lake, Debug, Clone)]
struct Product {
    #[lake(pk)]
    sku: String,
    name: String,
    price_cents: i64,
    tags: Vec<String>,
}

#[derive(Row, Debug)]
struct Price {
    sku: String,
    price_cents: i64,
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let db = LocalBuilder::new().in_memory().open().await?;
    db.migrate::<Product>().await?;
    db.insert(&[
        Product {
            sku: "A1".into(),
            name: "kettle".into(),
            price_cents: 2999,
            tags: vec!["kitchen".into()],
        },
        Product {
            sku: "B2".into(),
            name: "lamp".into(),
            price_cents: 4500,
            tags: vec!["home".into(), "light".into()],
        },
        Product {
            sku: "C3".into(),
            name: "mug".into(),
            price_cents: 899,
            tags: vec![],
        },
    ])
    .await?;

    let all: Vec<Product> = Query::sql("SELECT * FROM products ORDER BY sku")
        .fetch_all(&db)
        .await?;
    println!("fetch_all: {} products", all.len());

    let lamp: Product = Query::sql("SELECT * FROM products WHERE sku = ?")
        .bind("B2")
        .fetch_one(&db)
        .await?;
    println!("fetch_one: {} with tags {:?}", lamp.name, lamp.tags);

    let missing = Query::<Product>::sql("SELECT * FROM products WHERE sku = ?")
        .bind("ZZ")
        .fetch_optional(&db)
        .await?;
    println!("fetch_optional: {missing:?}");

    let cheap: Vec<Price> =
        Query::sql("SELECT sku, price_cents FROM products WHERE price_cents < ?")
            .bind(3000)
            .fetch(&db)
            .try_collect()
            .await?;
    println!("fetch (stream): {cheap:?}");

    let df = db
        .dataframe("SELECT sku, price_cents FROM products", vec![])
        .await?;
    println!(
        "dataframe: {} rows, schema {:?}",
        df.count().await?,
        df.schema()
            .fields()
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
    );
    if let Some(native) = df.native::<lakeorm::embedded::datafusion::prelude::DataFrame>() {
        println!(
            "native DataFusion plan:\n{}",
            native.logical_plan().display_indent()
        );
    }
    let prices: Vec<Price> = df.collect_as().await?;
    println!("collect_as: {prices:?}");

    let top: Price = db
        .query()
        .from("products")
        .select(["sku", "price_cents"])
        .order_by("price_cents", Order::Desc)
        .limit(1)
        .dataframe()
        .await?
        .first_as()
        .await?;
    println!("query builder + first_as: most expensive is {}", top.sku);
    Ok(())
}
