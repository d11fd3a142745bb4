//! Every way to read typed, all ending in the same terminals (`fetch_all`, `fetch_one`,
//! `fetch_optional`, `fetch`): `Query::<T>` over SQL, the untyped `DataFrame` (with the engine's
//! native DataFusion handle), and the dynamic query builder started from a model.
//!
//! Run with `cargo run --example typed-helpers`.

use futures::TryStreamExt;
use lakeorm::{Lake, LocalBuilder, Order, Query, Row, Statement};

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
        .dataframe("SELECT sku, price_cents FROM products")
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
    let prices: Vec<Price> = df.fetch_all().await?;
    println!("dataframe fetch_all: {prices:?}");

    let top: Price = db
        .query::<Product>()
        .select_as::<Price>()
        .filter(Statement::new("price_cents > ?").bind(0))
        .order_by("price_cents", Order::Desc)
        .limit(1)
        .fetch_one()
        .await?;
    println!("query builder: most expensive is {}", top.sku);
    Ok(())
}
