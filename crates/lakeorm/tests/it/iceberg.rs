//! Iceberg on the embedded engine, where it differs from Delta: the hadoop layout on disk,
//! schema and partition evolution by migration files, and concurrent writers on one path.

use lakeorm::iceberg::IcebergDialect;
use lakeorm::migrate::Registry;
use lakeorm::{Client, ConflictStrategy, LocalBuilder, Query, Row};

async fn iceberg(path: &std::path::Path) -> Client {
    LocalBuilder::new()
        .path(path)
        .dialect(IcebergDialect::new())
        .open()
        .await
        .unwrap()
}

/// The newest `metadata/vN.metadata.json` of `table`, as plain JSON.
fn metadata(lake: &std::path::Path, table: &str) -> serde_json::Value {
    let dir = lake.join("tables").join(table).join("metadata");
    let hint = std::fs::read_to_string(dir.join("version-hint.text")).unwrap();
    let file = dir.join(format!("v{}.metadata.json", hint.trim()));
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

fn field_id(metadata: &serde_json::Value, column: &str) -> Option<i64> {
    let current = metadata["current-schema-id"].as_i64();
    metadata["schemas"]
        .as_array()?
        .iter()
        .find(|s| s["schema-id"].as_i64() == current)?["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == column)
        .and_then(|f| f["id"].as_i64())
}

mod v1 {
    #[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
    #[lake(table = "users")]
    pub(super) struct User {
        #[lake(pk)]
        pub(super) id: i64,
        pub(super) email: Option<String>,
        pub(super) nickname: Option<String>,
        pub(super) age: i32,
    }
}

mod v2 {
    /// Renames `nickname`, widens `age`, adds `country`.
    #[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
    #[lake(table = "users")]
    pub(super) struct User {
        #[lake(pk)]
        pub(super) id: i64,
        pub(super) email: Option<String>,
        #[lake(renamed_from = "nickname")]
        pub(super) handle: Option<String>,
        pub(super) age: i64,
        pub(super) country: Option<String>,
    }
}

mod v3 {
    /// Drops `email`, partitions by `country` and by a bucket of `id`.
    #[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
    #[lake(table = "users")]
    pub(super) struct User {
        #[lake(pk)]
        #[lake(partition = "bucket(4)")]
        pub(super) id: i64,
        #[lake(renamed_from = "nickname")]
        pub(super) handle: Option<String>,
        pub(super) age: i64,
        #[lake(partition = "identity")]
        pub(super) country: Option<String>,
    }
}

async fn users<T: Row>(client: &Client) -> Vec<T> {
    Query::<T>::sql("SELECT * FROM users ORDER BY id")
        .fetch_all(client)
        .await
        .unwrap()
}

/// Migration files on an Iceberg lake: renames, widening and added columns are metadata-only
/// schema changes that keep field ids and rewrite no data file; a repartition is partition
/// evolution (new files follow the new spec).
#[tokio::test]
async fn migrations_evolve_iceberg_schemas_and_partitions() {
    let lake = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = iceberg(lake.path()).await;
    client
        .migrate_generate(dir.path(), &Registry::new().model::<v1::User>().models)
        .unwrap();
    let migrator = client.migrator(dir.path());
    assert_eq!(migrator.up().await.unwrap().files.len(), 1);
    client.assert_schema::<v1::User>().await.unwrap();
    let rows: Vec<v1::User> = (1..=3)
        .map(|id| v1::User {
            id,
            email: Some(format!("u{id}@example.com")),
            nickname: Some(format!("nick{id}")),
            age: 30 + id as i32,
        })
        .collect();
    client.insert(&rows).await.unwrap();
    let before = metadata(lake.path(), "users");
    let nickname_id = field_id(&before, "nickname").unwrap();
    let files_before = client.maintain().stats::<v1::User>().await.unwrap().files;

    client
        .migrate_generate(dir.path(), &Registry::new().model::<v2::User>().models)
        .unwrap();
    assert_eq!(migrator.up().await.unwrap().files.len(), 1);
    client.assert_schema::<v2::User>().await.unwrap();
    let read: Vec<v2::User> = users(&client).await;
    assert_eq!(read.len(), 3);
    assert_eq!(read[0].handle.as_deref(), Some("nick1"));
    assert_eq!(read[0].age, 31);
    assert_eq!(read[0].country, None);
    let after = metadata(lake.path(), "users");
    assert_eq!(
        field_id(&after, "handle"),
        Some(nickname_id),
        "a rename keeps the field id"
    );
    assert!(field_id(&after, "country").unwrap() > field_id(&before, "age").unwrap());
    assert_eq!(
        client.maintain().stats::<v2::User>().await.unwrap().files,
        files_before,
        "schema evolution rewrites no data file"
    );
    // A copy-on-write rewrite of a file written before the rename keeps the renamed column.
    let mut first = read[0].clone();
    first.country = Some("FR".into());
    client
        .insert(&[first])
        .on_conflict(ConflictStrategy::Update)
        .await
        .unwrap();
    let read: Vec<v2::User> = users(&client).await;
    assert_eq!(
        read.iter().map(|u| u.handle.as_deref()).collect::<Vec<_>>(),
        [Some("nick1"), Some("nick2"), Some("nick3")]
    );
    assert_eq!(read[0].country.as_deref(), Some("FR"));

    client
        .migrate_generate(dir.path(), &Registry::new().model::<v3::User>().models)
        .unwrap();
    assert_eq!(migrator.up().await.unwrap().files.len(), 1);
    client.assert_schema::<v3::User>().await.unwrap();
    client
        .insert(&[v3::User {
            id: 4,
            handle: Some("new".into()),
            age: 1,
            country: Some("NZ".into()),
        }])
        .await
        .unwrap();
    let read: Vec<v3::User> = users(&client).await;
    assert_eq!(read.len(), 4);
    assert_eq!(read[3].country.as_deref(), Some("NZ"));
    let evolved = metadata(lake.path(), "users");
    // One spec per partition field added (each ADD PARTITION FIELD is a step), the unpartitioned
    // first spec kept for the files written under it.
    let specs = evolved["partition-specs"].as_array().unwrap();
    assert_eq!(specs.len(), 3);
    let default = specs
        .iter()
        .find(|s| s["spec-id"] == evolved["default-spec-id"])
        .unwrap();
    let transforms: Vec<&str> = default["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["transform"].as_str().unwrap())
        .collect();
    assert_eq!(transforms, ["bucket[4]", "identity"]);
    assert!(field_id(&evolved, "email").is_none());
    let data = lake.path().join("tables/users/data");
    let partitioned = walk(&data)
        .into_iter()
        .any(|p| p.to_string_lossy().contains("country=NZ"));
    assert!(partitioned, "new files follow the new spec");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
#[lake(table = "positions")]
struct Position {
    #[lake(merge_key)]
    account: i64,
    #[lake(merge_key)]
    symbol: String,
    quantity: i64,
}

/// Eight upserting tasks over two clients on one path: commits race on `vN.metadata.json`,
/// losers re-plan on the winner's snapshot, and every row lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_upserts_from_two_clients_on_one_path() {
    let lake = tempfile::tempdir().unwrap();
    let first = iceberg(lake.path()).await;
    first.migrate::<Position>().await.unwrap();
    let second = iceberg(lake.path()).await;
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let db = if task % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                // Half of each task's keys are shared with the next task.
                let rows: Vec<Position> = (0..40)
                    .map(|i| Position {
                        account: i % 20,
                        symbol: format!("T{}", (task + usize::from(i >= 20)) % 8),
                        quantity: task as i64,
                    })
                    .collect();
                db.insert(&rows).on_conflict(ConflictStrategy::Update).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    #[derive(Row)]
    struct N {
        n: i64,
        keys: i64,
    }
    let counts: N = Query::sql(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT concat(CAST(account AS STRING), '/', symbol)) AS keys FROM positions",
    )
    .fetch_one(&second)
    .await
    .unwrap();
    assert_eq!(counts.keys, 8 * 20, "every key is there");
    assert_eq!(counts.n, counts.keys, "and exactly once");
}
