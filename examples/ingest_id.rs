//! Lineage: every row carries the id of the write that stamped it (`_ingest_id`, a UUIDv7),
//! and a query shape reads it with `#[lake(ingest_id)]`, no SQL alias needed. Ids sort by
//! time, so "what did the nightly load write?" is a query on them.
//!
//! Run with `cargo run --example ingest-id`.

use lakeorm::{IngestId, Lake, LocalBuilder, Query, Row};

#[derive(Lake, Debug, Clone)]
struct Payment {
    #[lake(pk)]
    id: i64,
    /// In cents.
    amount: i64,
}

/// A payment with the write that stamped it.
#[derive(Row, Debug)]
struct PaymentLineage {
    id: i64,
    amount: i64,
    #[lake(ingest_id)]
    written_by: IngestId,
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let db = LocalBuilder::new().in_memory().open().await?;
    db.migrate::<Payment>().await?;
    let morning = db
        .insert(&[
            Payment {
                id: 1,
                amount: 1200,
            },
            Payment { id: 2, amount: 450 },
        ])
        .await?;
    let evening = db
        .insert(&[Payment {
            id: 3,
            amount: 9900,
        }])
        .await?;
    println!(
        "morning write {} at {}",
        morning.ingest_id,
        morning.ingest_id.timestamp()
    );
    println!(
        "evening write {} at {}",
        evening.ingest_id,
        evening.ingest_id.timestamp()
    );

    let rows: Vec<PaymentLineage> = Query::sql("SELECT * FROM payments ORDER BY id")
        .fetch_all(&db)
        .await?;
    for row in &rows {
        println!(
            "payment {} ({} cents) written by {}",
            row.id, row.amount, row.written_by
        );
    }
    assert!(rows[..2].iter().all(|r| r.written_by == morning.ingest_id));
    assert_eq!(rows[2].written_by, evening.ingest_id);

    // One write's rows, bound like any other value.
    let evening_rows: Vec<PaymentLineage> =
        Query::sql("SELECT * FROM payments WHERE _ingest_id = ?")
            .bind(evening.ingest_id)
            .fetch_all(&db)
            .await?;
    println!("the evening write added {} payment(s)", evening_rows.len());
    Ok(())
}
