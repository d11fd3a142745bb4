//! Partition transforms on Delta tables — generated partition columns written, checked against
//! the stated functions computed here, and pruned by — and `create_time` kept by upserts, on the
//! embedded engine.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use lakeorm::delta::DeltaDialect;
use lakeorm::{Client, ConflictStrategy, Error, Lake, LocalBuilder, Query, Row};
use md5::{Digest, Md5};

use crate::client::count;

/// A model partitioned by every transform Delta takes, one column each.
#[derive(Lake, Debug, Clone, PartialEq)]
struct Reading {
    #[lake(pk)]
    id: i64,
    #[lake(partition = "bucket(4)")]
    email: String,
    #[lake(partition = "year")]
    started: DateTime<Utc>,
    #[lake(partition = "hour")]
    ended: DateTime<Utc>,
    #[lake(partition = "truncate(2)")]
    code: String,
    #[lake(partition = "truncate(10)")]
    n: i32,
    #[lake(partition = "month")]
    on: NaiveDate,
}

/// The generated columns, read back as a query shape.
#[derive(Row, Debug, PartialEq)]
struct Generated {
    id: i64,
    email_bucket: i32,
    started_year: i32,
    ended_hour: DateTime<Utc>,
    code_trunc: String,
    n_trunc: i32,
    on_month: NaiveDate,
}

/// `bucket(N)` as `lakeorm_core::generated` states it: the first 16 bits of the MD5 of the
/// value's text, modulo N.
fn bucket(text: &str, buckets: u32) -> i32 {
    let digest = Md5::digest(text.as_bytes());
    let first = (u32::from(digest[0]) << 8) | u32::from(digest[1]);
    i32::try_from(first % buckets).unwrap()
}

fn reading(id: i64) -> Reading {
    let at = Utc.with_ymd_and_hms(2023 + (id % 3) as i32, 1 + (id % 12) as u32, 9, 10, 0, 0);
    Reading {
        id,
        email: format!("user{id}@example.com"),
        started: at.unwrap(),
        ended: at.unwrap() + chrono::Duration::minutes(37 * id),
        code: format!("{}{}x", (b'a' + (id % 3) as u8) as char, id % 2),
        n: i32::try_from(id * 7 - 40).unwrap(),
        on: NaiveDate::from_ymd_opt(2024, 1 + (id % 12) as u32, 1 + (id % 28) as u32).unwrap(),
    }
}

fn expected(r: &Reading) -> Generated {
    Generated {
        id: r.id,
        email_bucket: bucket(&r.email, 4),
        started_year: r.started.year(),
        ended_hour: r
            .ended
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .unwrap(),
        code_trunc: r.code.chars().take(2).collect(),
        n_trunc: r.n - r.n.rem_euclid(10),
        on_month: r.on.with_day(1).unwrap(),
    }
}

/// The generated columns of every reading, in id order.
async fn generated_of(db: &Client) -> Vec<Generated> {
    Query::sql(
        "SELECT id, email_bucket, started_year, ended_hour, code_trunc, n_trunc, on_month \
         FROM readings ORDER BY id",
    )
    .fetch_all(db)
    .await
    .unwrap()
}

/// Every data file of `table` under the lake in `dir`.
fn data_files(dir: &std::path::Path, table: &str) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.join("tables").join(table)];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("_delta_log") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files
}

/// The `metaData` action of a table's first commit.
fn metadata(dir: &std::path::Path, table: &str) -> serde_json::Value {
    let log = dir.join(format!(
        "tables/{table}/_delta_log/00000000000000000000.json"
    ));
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find_map(|a| a.get("metaData").cloned())
        .expect("a metaData action")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transform_is_a_generated_partition_column() {
    let dir = tempfile::tempdir().unwrap();
    let db = LocalBuilder::new().path(dir.path()).open().await.unwrap();
    db.migrate::<Reading>().await.unwrap();

    let meta = metadata(dir.path(), "readings");
    let partitions: Vec<&str> = meta["partitionColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        partitions,
        [
            "email_bucket",
            "started_year",
            "ended_hour",
            "code_trunc",
            "n_trunc",
            "on_month"
        ]
    );
    let schema = meta["schemaString"].as_str().unwrap();
    assert!(
        schema
            .contains(r#""delta.generationExpression":"CAST(DATE_TRUNC('MONTH', `on`) AS DATE)""#),
        "{schema}"
    );

    let rows: Vec<Reading> = (1..=12).map(reading).collect();
    db.insert(&rows).await.unwrap();
    // The model reads back whole; the generated columns are extra columns it ignores.
    let back: Vec<Reading> = Query::sql("SELECT * FROM readings ORDER BY id")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(back, rows);
    assert_eq!(
        generated_of(&db).await,
        rows.iter().map(expected).collect::<Vec<_>>()
    );
    // A generated column is the model's: the schema check does not call it extra.
    db.assert_schema::<Reading>().await.unwrap();
    // Rows land in Hive-style partition directories of the generated columns.
    let first = dir
        .path()
        .join("tables/readings")
        .join(format!("email_bucket={}", bucket(&rows[0].email, 4)));
    assert!(first.is_dir(), "{}", first.display());
}

/// Accounts keyed by email, created once and updated on every write.
#[derive(Lake, Debug, Clone, PartialEq)]
struct Member {
    #[lake(pk, merge_key)]
    email: String,
    #[lake(partition = "bucket(8)")]
    team: String,
    visits: i64,
    #[lake(auto = "create_time")]
    created_at: DateTime<Utc>,
    #[lake(auto = "update_time")]
    updated_at: Option<DateTime<Utc>>,
}

fn member(email: &str, team: &str, visits: i64) -> Member {
    Member {
        email: email.into(),
        team: team.into(),
        visits,
        created_at: DateTime::UNIX_EPOCH,
        updated_at: None,
    }
}

async fn by_email(db: &Client, email: &str) -> Member {
    Query::sql("SELECT * FROM members WHERE email = ?")
        .bind(email)
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_keep_create_time_and_move_rows_between_partitions() {
    let db = LocalBuilder::new().in_memory().open().await.unwrap();
    db.migrate::<Member>().await.unwrap();
    db.insert(&[
        member("ada@example.com", "red", 1),
        member("bob@example.com", "red", 1),
    ])
    .await
    .unwrap();
    let first = by_email(&db, "ada@example.com").await;
    assert!(first.created_at > DateTime::UNIX_EPOCH);

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // `insert` on a merge-key model upserts; so does `on_conflict(Update)`. Both keep
    // `created_at`.
    db.insert(&[member("ada@example.com", "blue", 2)])
        .await
        .unwrap();
    db.insert(&[member("ada@example.com", "green", 3)])
        .on_conflict(ConflictStrategy::Update)
        .await
        .unwrap();
    let now = by_email(&db, "ada@example.com").await;
    assert_eq!(now.visits, 3);
    assert_eq!(
        now.created_at, first.created_at,
        "create_time is written once"
    );
    assert!(now.updated_at > first.updated_at, "update_time moves");
    assert_eq!(count(&db, "members").await, 2);

    // The row moved to the partition of its new team.
    #[derive(Row)]
    struct Bucket {
        team_bucket: i32,
    }
    let moved: Bucket = Query::sql("SELECT team_bucket FROM members WHERE email = ?")
        .bind("ada@example.com")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(moved.team_bucket, bucket("green", 8));

    // `update` leaves create_time alone too.
    let mut changed = now.clone();
    changed.created_at = DateTime::UNIX_EPOCH;
    changed.visits = 4;
    db.update(&[changed]).await.unwrap();
    let updated = by_email(&db, "ada@example.com").await;
    assert_eq!(updated.visits, 4);
    assert_eq!(updated.created_at, first.created_at);
}

#[derive(Lake, Debug, Clone, PartialEq)]
struct Mail {
    #[lake(pk)]
    id: i64,
    #[lake(partition = "bucket(8)")]
    email: String,
}

#[derive(Lake, Debug, Clone, PartialEq)]
struct Tick {
    #[lake(pk)]
    id: i64,
    #[lake(partition = "day")]
    at: DateTime<Utc>,
}

/// Removes every data file of `table` whose path `keep` does not accept; how many went.
fn remove_files_except(dir: &std::path::Path, table: &str, keep: &dyn Fn(&str) -> bool) -> usize {
    let gone: Vec<_> = data_files(dir, table)
        .into_iter()
        .filter(|p| !keep(&p.display().to_string()))
        .collect();
    for path in &gone {
        std::fs::remove_file(path).unwrap();
    }
    gone.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_on_source_columns_prune_partitions() {
    let dir = tempfile::tempdir().unwrap();
    // No column statistics: only partition values can skip a file, so a query that returns
    // while other partitions' files are gone was pruned by partition.
    let dialect = DeltaDialect::new().with_property("delta.dataSkippingNumIndexedCols", "0");
    let db = LocalBuilder::new()
        .path(dir.path())
        .dialect(dialect)
        .open()
        .await
        .unwrap();

    db.migrate::<Mail>().await.unwrap();
    let mails: Vec<Mail> = (0..64)
        .map(|id| Mail {
            id,
            email: format!("user{id}@example.com"),
        })
        .collect();
    db.insert(&mails).await.unwrap();
    let wanted = "user42@example.com";
    let keep = format!("email_bucket={}", bucket(wanted, 8));
    let removed = remove_files_except(dir.path(), "mails", &|p| p.contains(&keep));
    assert!(removed > 0);
    let found: Mail = Query::sql("SELECT * FROM mails WHERE email = ?")
        .bind(wanted)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(found.id, 42);
    assert!(
        Query::<Mail>::sql("SELECT * FROM mails")
            .fetch_all(&db)
            .await
            .is_err(),
        "the other buckets' files are gone, so an unfiltered scan fails"
    );

    db.migrate::<Tick>().await.unwrap();
    let day = |d: u32| Utc.with_ymd_and_hms(2024, 3, d, 12, 0, 0).unwrap();
    let ticks: Vec<Tick> = (1..=10)
        .map(|d| Tick {
            id: i64::from(d),
            at: day(d),
        })
        .collect();
    db.insert(&ticks).await.unwrap();
    remove_files_except(dir.path(), "ticks", &|p| {
        ["2024-03-08", "2024-03-09", "2024-03-10"]
            .iter()
            .any(|d| p.contains(&format!("at_day={d}")))
    });
    let late: Vec<Tick> = Query::sql("SELECT * FROM ticks WHERE at >= ? AND at < ? ORDER BY id")
        .bind(day(8) - chrono::Duration::hours(1))
        .bind(day(10))
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(late.iter().map(|t| t.id).collect::<Vec<_>>(), [8, 9]);
}

#[derive(Lake, Debug, Clone)]
struct Stamped {
    #[lake(pk)]
    id: i64,
    #[lake(partition = "bucket(4)")]
    at: DateTime<Utc>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_delta_cannot_express_is_refused_naming_the_alternative() {
    let db = LocalBuilder::new().in_memory().open().await.unwrap();
    match db.migrate::<Stamped>().await {
        Err(Error::Unsupported { reason, .. }) => {
            assert!(reason.contains("`at`"), "{reason}");
            assert!(reason.contains("Iceberg dialect"), "{reason}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_files_create_generated_partition_columns() {
    let lake = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = LocalBuilder::new().path(lake.path()).open().await.unwrap();
    let registry = lakeorm::migrate::Registry::new().model::<Reading>();
    let written = db.migrate_generate(dir.path(), &registry.models).unwrap();
    let file = std::fs::read_to_string(&written.written[0].path).unwrap();
    assert!(
        file.contains(
            "`on_month` DATE GENERATED ALWAYS AS (CAST(DATE_TRUNC('MONTH', `on`) AS DATE))"
        ),
        "{file}"
    );
    db.migrator(dir.path()).up().await.unwrap();
    db.assert_schema::<Reading>().await.unwrap();
    let meta = metadata(lake.path(), "readings");
    assert_eq!(meta["partitionColumns"][0], "email_bucket");

    let rows: Vec<Reading> = (1..=6).map(reading).collect();
    db.insert(&rows).await.unwrap();
    assert_eq!(
        generated_of(&db).await,
        rows.iter().map(expected).collect::<Vec<_>>()
    );
}

/// The Arrow type of `column` in every data file of `table`, as the file's own schema says.
fn file_types(dir: &std::path::Path, table: &str, column: &str) -> Vec<String> {
    data_files(dir, table)
        .iter()
        .map(|path| {
            let file = std::fs::File::open(path).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap();
            let field = reader.schema().field_with_name(column).unwrap().clone();
            field.data_type().to_string()
        })
        .collect()
}

/// Upserts, updates and keyed deletes are merges, which rewrite files; they keep the types the
/// table declares (a `string` stays `Utf8`, not the `Utf8View` that delta-rs reads it as), which
/// other readers such as Sail require.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_files_keep_the_declared_types() {
    let dir = tempfile::tempdir().unwrap();
    let db = LocalBuilder::new().path(dir.path()).open().await.unwrap();
    db.migrate::<Member>().await.unwrap();
    db.insert(&[
        member("ada@example.com", "red", 1),
        member("bob@example.com", "red", 1),
    ])
    .await
    .unwrap();
    db.insert(&[member("ada@example.com", "red", 2)])
        .on_conflict(ConflictStrategy::Update)
        .await
        .unwrap();
    db.update(&[member("bob@example.com", "red", 5)])
        .await
        .unwrap();
    let types = file_types(dir.path(), "members", "email");
    assert!(!types.is_empty());
    assert!(types.iter().all(|t| t == "Utf8"), "{types:?}");
}

#[derive(Lake, Debug, Clone)]
#[lake(table = "readings_flat")]
struct Flat {
    id: i64,
    label: String,
}

/// The files lakeorm writes hold row groups of at most 128 Ki rows, so that a reader holds a
/// bounded slice of a large table (and row-group statistics prune finely).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_files_hold_bounded_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let db = LocalBuilder::new().path(dir.path()).open().await.unwrap();
    db.migrate::<Flat>().await.unwrap();
    let rows: Vec<Flat> = (0..300_000)
        .map(|id| Flat {
            id,
            label: format!("row {id}"),
        })
        .collect();
    db.insert(&rows).await.unwrap();
    let mut groups = Vec::new();
    for path in data_files(dir.path(), "readings_flat") {
        let file = std::fs::File::open(path).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        groups.extend(reader.metadata().row_groups().iter().map(|g| g.num_rows()));
    }
    assert_eq!(groups.iter().sum::<i64>(), 300_000);
    assert!(groups.len() >= 3, "{groups:?}");
    assert!(groups.iter().all(|&rows| rows <= 128 * 1024), "{groups:?}");
}
