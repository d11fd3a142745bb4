//! The model layer of lakeorm, without an engine: a model is the schema contract of a table.
//!
//! Defines a model, validates records at the boundary, projects them into the Arrow batch that
//! is written to the table (with the `_ingest_id` system column), reads typed rows back from a
//! batch, and ingests strict JSON.
//!
//! Run with `cargo run --example model`.

use chrono::{DateTime, Utc};
use lakeorm::{IngestId, Lake, Row, SortableId};

/// One row of the `users` table.
#[derive(Lake, Debug, Clone, PartialEq)]
struct User {
    #[lake(pk)]
    id: SortableId,
    #[lake(merge_key, validate = "email")]
    email: String,
    #[lake(partition = "identity", validate = "length(min = 2, max = 2)")]
    country: String,
    #[lake(validate = "range(min = 0, max = 150)")]
    age: Option<u8>,
    #[lake(auto = "create_time")]
    created_at: DateTime<Utc>,
}

/// A query shape: what a `SELECT email, country FROM users` returns.
#[derive(Row, Debug)]
struct Contact {
    email: String,
    country: String,
}

fn main() -> Result<(), lakeorm::Error> {
    let schema = User::schema();
    println!(
        "model `User` → table `{}` ({} columns + `{}`)",
        schema.table(),
        schema.fields().len(),
        lakeorm::INGEST_ID_COLUMN
    );
    for field in schema.fields() {
        println!(
            "  {:<12} {:<10} {}{}{}",
            field.column,
            field.ty.ty,
            if field.ty.nullable {
                "NULL"
            } else {
                "NOT NULL"
            },
            if field.primary_key {
                ", primary key"
            } else {
                ""
            },
            if field.merge_key { ", merge key" } else { "" },
        );
    }
    println!(
        "schema fingerprint: {}",
        lakeorm::schema_fingerprint::<User>()
    );

    let users = vec![
        User {
            id: SortableId::new(),
            email: "ada@example.com".into(),
            country: "GB".into(),
            age: Some(36),
            created_at: DateTime::UNIX_EPOCH,
        },
        User {
            id: SortableId::new(),
            email: "grace@example.com".into(),
            country: "US".into(),
            age: None,
            created_at: DateTime::UNIX_EPOCH,
        },
    ];

    // Validation happens at the boundary and reports every failure at once.
    let bad = User {
        email: "not-an-email".into(),
        country: "GBR".into(),
        age: Some(200),
        ..users[0].clone()
    };
    match bad.validate() {
        Err(e) => println!("\nrejected before any I/O: {e}"),
        Ok(()) => unreachable!("the record breaks three rules"),
    }
    lakeorm::validate(&users)?;

    // One write = one ingest id, stamped on every row; `auto` fields are filled in.
    let ingest_id = IngestId::new();
    let batch = User::to_write_batch(&users, &ingest_id, Utc::now())?;
    println!(
        "\nwrite {ingest_id} (made at {}): {} rows × {} columns",
        ingest_id.timestamp(),
        batch.num_rows(),
        batch.num_columns()
    );

    // Reads decode by column name into whatever shape the query has.
    let back = User::from_record_batch(&batch)?;
    assert_eq!(back.len(), users.len());
    assert!(
        back.iter().all(|u| u.created_at > DateTime::UNIX_EPOCH),
        "stamped"
    );
    let contacts = Contact::from_record_batch(&batch)?;
    for c in &contacts {
        println!("read back: {} ({})", c.email, c.country);
    }

    // Strict JSON: unknown fields, wrong types and trailing data are errors naming the field.
    let json = br#"{"id": "2b8Zzq9ctG2YcYg1sQ3Y7Fxyh0s", "email": "linus@example.com", "country": "FI", "created_at": "2024-05-01T12:00:00Z", "shoe_size": 44}"#;
    match lakeorm::from_json::<User>(json) {
        Err(e) => println!("\n{e}"),
        Ok(u) => println!("\naccepted {u:?}"),
    }
    Ok(())
}
