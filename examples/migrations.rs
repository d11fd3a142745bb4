//! A model through three changes: the migration files lakeorm writes for each, applied to a
//! real Delta lake, with the rows carried along.
//!
//! ```text
//! cargo run --example migrations                    # the walk-through, in a temporary dir
//! cargo run -q --example migrations -- --print-models   # the registry, for the CLI:
//! lakeorm migrate generate --dir migrations \
//!     --models 'cargo run -q --example migrations -- --print-models'
//! ```
//!
//! The second form is the pattern for any project: a tiny binary registers the models and
//! prints them, and `lakeorm migrate generate` reads what it prints.

use lakeorm::migrate::Registry;
use lakeorm::{Client, LocalBuilder, Query};

/// Version 1: the table as first shipped.
mod v1 {
    #[derive(lakeorm::Lake, Debug, Clone)]
    #[lake(table = "users")]
    pub(crate) struct User {
        #[lake(pk)]
        pub(crate) id: i64,
        pub(crate) email: Option<String>,
        pub(crate) nickname: Option<String>,
        pub(crate) age: i32,
    }
}

/// Version 2: `nickname` is renamed to `handle`, `age` widens to 64 bits, `country` appears.
mod v2 {
    #[derive(lakeorm::Lake, Debug, Clone)]
    #[lake(table = "users")]
    pub(crate) struct User {
        #[lake(pk)]
        pub(crate) id: i64,
        pub(crate) email: Option<String>,
        #[lake(renamed_from = "nickname")]
        pub(crate) handle: Option<String>,
        pub(crate) age: i64,
        pub(crate) country: Option<String>,
    }
}

/// Version 3: `email` is dropped, `handle` becomes required, the table is partitioned by
/// `country`. All three are destructive, and the file says so.
mod v3 {
    #[derive(lakeorm::Lake, Debug, Clone)]
    #[lake(table = "users")]
    pub(crate) struct User {
        #[lake(pk)]
        pub(crate) id: i64,
        #[lake(renamed_from = "nickname")]
        pub(crate) handle: String,
        pub(crate) age: i64,
        #[lake(partition = "identity")]
        pub(crate) country: Option<String>,
    }
}

async fn step(
    client: &Client,
    dir: &std::path::Path,
    title: &str,
    models: Registry,
) -> lakeorm::Result<()> {
    println!("\n=== {title}");
    let report = client.migrate_generate(dir, &models.models)?;
    for file in &report.written {
        println!(
            "--- {}",
            file.path.file_name().unwrap_or_default().to_string_lossy()
        );
        print!(
            "{}",
            std::fs::read_to_string(&file.path)
                .map_err(|e| lakeorm::Error::storage(file.path.display(), e))?
        );
    }
    let applied = client.migrator(dir).up().await?;
    println!("applied {} file(s)", applied.files.len());
    Ok(())
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    if std::env::args().any(|a| a == "--print-models") {
        return Registry::new().model::<v3::User>().print();
    }
    let work = std::env::temp_dir().join(format!("lakeorm-migrations-{}", std::process::id()));
    let dir = work.join("migrations");
    let client = LocalBuilder::new().path(work.join("lake")).open().await?;

    step(
        &client,
        &dir,
        "v1: create the table",
        Registry::new().model::<v1::User>(),
    )
    .await?;
    client
        .insert(&[
            v1::User {
                id: 1,
                email: Some("ada@example.com".into()),
                nickname: Some("ada".into()),
                age: 36,
            },
            v1::User {
                id: 2,
                email: None,
                nickname: Some("grace".into()),
                age: 45,
            },
        ])
        .await?;
    client.assert_schema::<v1::User>().await?;

    // A model changed without a migration fails the start-up check, naming the columns.
    if let Err(e) = client.assert_schema::<v2::User>().await {
        println!("\nassert_schema before migrating:\n{e}");
    }

    step(
        &client,
        &dir,
        "v2: rename, widen, add",
        Registry::new().model::<v2::User>(),
    )
    .await?;
    client.assert_schema::<v2::User>().await?;

    step(
        &client,
        &dir,
        "v3: drop, tighten, repartition",
        Registry::new().model::<v3::User>(),
    )
    .await?;
    client.assert_schema::<v3::User>().await?;
    let users: Vec<v3::User> = Query::sql("SELECT * FROM users ORDER BY id")
        .fetch_all(&client)
        .await?;
    println!("\nrows after three migrations: {users:?}");

    println!("\n=== status");
    for line in client.migrator(&dir).status().await? {
        println!("{:<32} {:?}", line.name, line.state);
    }
    println!(
        "\nlakeorm.sum:\n{}",
        std::fs::read_to_string(dir.join(lakeorm::migrate::SUM_FILE))
            .map_err(|e| lakeorm::Error::storage(dir.display(), e))?
    );
    std::fs::remove_dir_all(&work).map_err(|e| lakeorm::Error::storage(work.display(), e))?;
    Ok(())
}
