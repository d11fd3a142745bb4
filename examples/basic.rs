//! The hero path of lakeorm on the embedded engine — no server, no Docker.
//!
//! Defines a model, creates its Delta table, inserts and upserts validated records, queries
//! them back typed (all at once and streamed), aggregates into a projection struct, and deletes.
//! The lake lives in `./lake` (or `$LAKEORM_PATH`); `tables/users` is a real Delta table that any
//! Delta reader can open.
//!
//! Run with `cargo run --example basic`.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lakeorm::{Lake, Query, Row, SortableId, Statement};

/// The `users` table. `email` is the merge key, so inserting an existing email updates it, and
/// `created_at` keeps the time of the first insert. The table is partitioned by a hash of
/// `country` (on Delta, the generated column `country_bucket`).
#[derive(Lake, Debug, Clone)]
struct User {
    #[lake(pk)]
    id: SortableId,
    #[lake(merge_key, validate = "email")]
    email: String,
    #[lake(partition = "bucket(16)", validate = "length(min = 2, max = 2)")]
    country: String,
    #[lake(validate = "range(min = 0, max = 150)")]
    age: Option<i32>,
    #[lake(auto = "create_time")]
    created_at: DateTime<Utc>,
}

/// A query shape: the result of an aggregate, not a table.
#[derive(Row, Debug)]
struct CountryCount {
    country: String,
    users: i64,
    average_age: Option<f64>,
}

fn user(email: &str, country: &str, age: Option<i32>) -> User {
    User {
        id: SortableId::new(),
        email: email.into(),
        country: country.into(),
        age,
        created_at: DateTime::UNIX_EPOCH,
    }
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let db = lakeorm::local().await?;
    println!("lake at {}", db.backend().root());

    db.migrate::<User>().await?;

    let report = db
        .insert(&[
            user("ada@example.com", "GB", Some(36)),
            user("grace@example.com", "US", Some(45)),
            user("linus@example.com", "FI", None),
            user("margaret@example.com", "US", Some(33)),
        ])
        .await?;
    println!(
        "insert {}: {} rows (table version {:?})",
        report.ingest_id, report.rows, report.metrics.version
    );

    // Validation happens before any I/O; one bad record and nothing is written.
    let bad = user("not-an-email", "USA", Some(200));
    if let Err(e) = db.insert(&[bad]).await {
        println!("rejected: {e}");
    }

    // `email` is the merge key: this updates Ada instead of adding a second row.
    db.insert(&[user("ada@example.com", "GB", Some(37))])
        .await?;

    let americans: Vec<User> = Query::sql("SELECT * FROM users WHERE country = ? ORDER BY email")
        .bind("US")
        .fetch_all(&db)
        .await?;
    for u in &americans {
        println!(
            "US user: {} (age {:?}, since {})",
            u.email, u.age, u.created_at
        );
    }

    let counts: Vec<CountryCount> = Query::sql(
        "SELECT country, COUNT(*) AS users, AVG(age) AS average_age FROM users GROUP BY country ORDER BY country",
    )
    .fetch_all(&db)
    .await?;
    for c in &counts {
        println!(
            "{}: {} user(s), average age {:?}",
            c.country, c.users, c.average_age
        );
    }

    // Streams hold one Arrow batch at a time, however large the table.
    let mut stream = std::pin::pin!(Query::<User>::sql("SELECT * FROM users").fetch(&db));
    let mut seen = 0;
    while let Some(u) = stream.try_next().await? {
        seen += 1;
        let _ = u;
    }
    println!("streamed {seen} users");

    let ada: User = Query::sql("SELECT * FROM users WHERE email = ?")
        .bind("ada@example.com")
        .fetch_one(&db)
        .await?;
    println!("Ada is now {:?}", ada.age);

    let removed = db
        .delete_where::<User>(Statement::new("country = ?").bind("FI"))
        .await?;
    println!("deleted {} user(s) in FI", removed.rows_deleted);

    let stats = db.maintain().stats::<User>().await?;
    println!(
        "table users: version {}, {} files, {} rows, {} bytes",
        stats.version, stats.files, stats.rows, stats.bytes
    );
    db.close().await
}
