//! Joins decode into projection structs: one struct per table for writes, one struct per query
//! shape for reads (CQRS).
//!
//! Run with `cargo run --example joins`.

use lakeorm::{Lake, LocalBuilder, Query, Row};

#[derive(Lake, Debug, Clone)]
struct Customer {
    #[lake(pk)]
    id: i64,
    #[lake(validate = "non_empty")]
    name: String,
}

#[derive(Lake, Debug, Clone)]
struct Order {
    #[lake(pk)]
    id: i64,
    customer_id: i64,
    /// In cents.
    amount: i64,
}

/// Not a table: the shape of the join below.
#[derive(Row, Debug)]
struct CustomerTotal {
    name: String,
    orders: i64,
    total: Option<i64>,
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let db = LocalBuilder::new().in_memory().open().await?;
    db.migrate::<Customer>().await?;
    db.migrate::<Order>().await?;
    db.insert(&[
        Customer {
            id: 1,
            name: "alice".into(),
        },
        Customer {
            id: 2,
            name: "bob".into(),
        },
        Customer {
            id: 3,
            name: "carol".into(),
        },
    ])
    .await?;
    db.insert(&[
        Order {
            id: 10,
            customer_id: 1,
            amount: 1250,
        },
        Order {
            id: 11,
            customer_id: 1,
            amount: 3000,
        },
        Order {
            id: 12,
            customer_id: 2,
            amount: 9999,
        },
    ])
    .await?;

    let totals: Vec<CustomerTotal> = Query::sql(
        "SELECT c.name, COUNT(o.id) AS orders, SUM(o.amount) AS total \
         FROM customers c LEFT JOIN orders o ON o.customer_id = c.id \
         GROUP BY c.name ORDER BY c.name",
    )
    .fetch_all(&db)
    .await?;
    for t in &totals {
        println!(
            "{:<6} {} order(s), {:>6} cents",
            t.name,
            t.orders,
            t.total.unwrap_or(0)
        );
    }
    Ok(())
}
