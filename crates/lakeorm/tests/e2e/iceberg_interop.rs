//! Iceberg tables between the embedded engine and Sail, both ways: what one writes (appends,
//! copy-on-write upserts and deletes) the other reads, and both compute the same partition
//! values for the same rows.

use std::collections::BTreeMap;

use lakeorm::iceberg::IcebergDialect;
use lakeorm::{Client, ClientOptions, LocalBuilder, Query, Statement};

use crate::engines::{self, Format, TestLake};

/// Partitioned by every transform family the spec has, upserted on its key.
#[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
#[lake(table = "visits")]
struct Visit {
    #[lake(pk, merge_key)]
    id: i64,
    #[lake(partition = "bucket(8)")]
    email: String,
    #[lake(partition = "day")]
    at: chrono::DateTime<chrono::Utc>,
    #[lake(partition = "truncate(3)")]
    code: String,
    #[lake(auto = "create_time")]
    created_at: chrono::DateTime<chrono::Utc>,
}

fn visits(range: std::ops::Range<i64>, generation: u32) -> Vec<Visit> {
    range
        .map(|id| Visit {
            id,
            email: format!("visitor{id}@example.com"),
            // Around midnight UTC, where a zone other than UTC would pick another day.
            at: chrono::DateTime::from_timestamp(1_700_006_400 + id * 1_800 - 36_000, 0).unwrap(),
            code: format!("g{generation}-{:04}", id * 37),
            created_at: chrono::DateTime::UNIX_EPOCH,
        })
        .collect()
}

async fn embedded(lake: &TestLake) -> Client {
    LocalBuilder::new()
        .path(lake.dir.path())
        .dialect(IcebergDialect::new())
        .open()
        .await
        .unwrap()
}

/// The table `visits` of `lake` read by Sail by its path, not through any catalog entry.
async fn sail_reads(sail: &Client, lake: &TestLake) -> Vec<Visit> {
    let location = lakeorm::Backend::table_location(lake.backend.as_ref(), "visits");
    let mut rows: Vec<Visit> = Query::sql(format!("SELECT * FROM iceberg.`{location}`"))
        .fetch_all(sail)
        .await
        .unwrap();
    rows.sort_by_key(|v| v.id);
    rows
}

async fn all(client: &Client) -> Vec<Visit> {
    let mut rows: Vec<Visit> = Query::sql("SELECT * FROM visits")
        .fetch_all(client)
        .await
        .unwrap();
    rows.sort_by_key(|v| v.id);
    rows
}

/// The newest `metadata/vN.metadata.json` of the table, as plain JSON.
fn latest_metadata(lake: &TestLake) -> serde_json::Value {
    let dir = lake.dir.path().join("tables/visits/metadata");
    let newest = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let n: u64 = name
                .strip_prefix('v')?
                .strip_suffix(".metadata.json")?
                .parse()
                .ok()?;
            Some((n, name))
        })
        .max()
        .expect("a vN.metadata.json");
    let hint = std::fs::read_to_string(dir.join("version-hint.text")).unwrap();
    assert_eq!(
        hint.trim(),
        newest.0.to_string(),
        "version-hint.text names the newest version"
    );
    serde_json::from_slice(&std::fs::read(dir.join(newest.1)).unwrap()).unwrap()
}

/// The embedded engine creates, upserts into and deletes from an Iceberg table; Sail reads it
/// by path and sees exactly the embedded engine's rows, with overwrite snapshots in its history.
#[tokio::test]
async fn embedded_iceberg_is_read_by_sail() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let db = embedded(&lake).await;
    db.migrate::<Visit>().await.unwrap();
    db.insert(&visits(0..100, 0)).await.unwrap();
    let first = all(&db).await;
    db.insert(&visits(50..120, 1)).await.unwrap(); // an upsert: 50 updated, 20 inserted
    db.delete(&visits(0..10, 0)).await.unwrap();
    db.delete_where::<Visit>(Statement::new("id >= ?").bind(110))
        .await
        .unwrap();

    let expected = all(&db).await;
    assert_eq!(expected.len(), 100);
    assert_eq!(expected.first().unwrap().id, 10);
    for v in &expected {
        let generation = u32::from(v.id >= 50);
        assert_eq!(v.code, format!("g{generation}-{:04}", v.id * 37));
        if (50..100).contains(&v.id) {
            let before = first.iter().find(|f| f.id == v.id).unwrap();
            assert_eq!(
                v.created_at, before.created_at,
                "an upsert keeps create_time"
            );
        }
    }

    let metadata = latest_metadata(&lake);
    let mut snapshots = metadata["snapshots"].as_array().unwrap().clone();
    snapshots.sort_by_key(|s| s["sequence-number"].as_i64());
    let operations: Vec<&str> = snapshots
        .iter()
        .map(|s| s["summary"]["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations.first(), Some(&"append"));
    assert!(operations.contains(&"overwrite"), "{operations:?}");

    let sail = engines::sail(&url, &lake, Format::Iceberg, ClientOptions::default());
    assert_eq!(sail_reads(&sail, &lake).await, expected);
}

/// Sail creates an Iceberg table, appends and merges into it; the embedded engine loads it,
/// upserts and deletes; Sail reads the result back.
#[tokio::test]
async fn sail_iceberg_is_written_by_embedded() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let lake = TestLake::new();
    let sail = engines::sail(&url, &lake, Format::Iceberg, ClientOptions::default());
    sail.migrate::<Visit>().await.unwrap();
    sail.insert(&visits(0..60, 0)).await.unwrap();
    sail.insert(&visits(30..60, 1)).await.unwrap(); // Sail's MERGE

    let db = embedded(&lake).await;
    let from_sail = all(&db).await;
    assert_eq!(from_sail.len(), 60);
    assert!(
        from_sail
            .iter()
            .all(|v| v.code.starts_with(if v.id >= 30 { "g1" } else { "g0" }))
    );
    db.insert(&visits(50..80, 2)).await.unwrap();
    db.delete(&visits(0..5, 0)).await.unwrap();
    let expected = all(&db).await;
    assert_eq!(expected.len(), 75);
    let kept = from_sail.iter().find(|v| v.id == 55).unwrap();
    let upserted = expected.iter().find(|v| v.id == 55).unwrap();
    assert_eq!(upserted.code, format!("g2-{:04}", 55 * 37));
    assert_eq!(upserted.created_at, kept.created_at);

    assert_eq!(sail_reads(&sail, &lake).await, expected);
}

/// Every data file's partition tuple, keyed by the ids of the rows in it, read with the
/// `iceberg` crate from the newest metadata file.
async fn partitions_by_id(lake: &TestLake) -> BTreeMap<i64, String> {
    use datafusion_arrow::AsArray as _;
    use futures::TryStreamExt as _;

    let dir = lake.dir.path().join("tables/visits/metadata");
    let hint = std::fs::read_to_string(dir.join("version-hint.text")).unwrap();
    let file = dir.join(format!("v{}.metadata.json", hint.trim()));
    let io = iceberg::io::FileIO::new_with_fs();
    let table = iceberg::table::StaticTable::from_metadata_file(
        &format!("file://{}", file.display()),
        iceberg::TableIdent::from_strs(["default", "visits"]).unwrap(),
        io,
    )
    .await
    .unwrap()
    .into_table();
    let tasks: Vec<iceberg::scan::FileScanTask> = table
        .scan()
        .select(["id"])
        .build()
        .unwrap()
        .plan_files()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut by_id = BTreeMap::new();
    for task in tasks {
        let partition = format!("{:?}", task.partition);
        let batches: Vec<_> = table
            .reader_builder()
            .build()
            .read(Box::pin(futures::stream::iter([Ok(task)])))
            .unwrap()
            .stream()
            .try_collect()
            .await
            .unwrap();
        for batch in batches {
            let ids = batch
                .column(0)
                .as_primitive::<datafusion_arrow::Int64Type>();
            for id in ids.values() {
                by_id.insert(*id, partition.clone());
            }
        }
    }
    by_id
}

mod datafusion_arrow {
    pub(crate) use lakeorm::embedded::datafusion::arrow::array::AsArray;
    pub(crate) use lakeorm::embedded::datafusion::arrow::datatypes::Int64Type;
}

/// The same rows written by Sail and by the embedded engine land in the same partitions:
/// bucket (murmur3 over the spec's byte encodings), day and truncate agree.
#[tokio::test]
async fn iceberg_partition_values_agree_with_sail() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let rows = visits(0..200, 0);
    let by_sail = TestLake::new();
    let sail = engines::sail(&url, &by_sail, Format::Iceberg, ClientOptions::default());
    sail.migrate::<Visit>().await.unwrap();
    sail.insert(&rows).await.unwrap();

    let by_embedded = TestLake::new();
    let db = embedded(&by_embedded).await;
    db.migrate::<Visit>().await.unwrap();
    db.insert(&rows).await.unwrap();

    let sail_partitions = partitions_by_id(&by_sail).await;
    let embedded_partitions = partitions_by_id(&by_embedded).await;
    assert_eq!(sail_partitions.len(), 200);
    let distinct: std::collections::BTreeSet<&String> = sail_partitions.values().collect();
    assert!(
        distinct.len() > 8,
        "the rows are spread over partitions: {distinct:?}"
    );
    assert_eq!(sail_partitions, embedded_partitions);
}

/// `cargo run --example iceberg` on a bare machine (`.ci/run` runs it before installing anything
/// and names its lake in `LAKEORM_TEST_ICEBERG_EXAMPLE_LAKE`) leaves a table Sail reads with the
/// right rows, whose history holds the overwrite snapshots of its row-level writes.
#[tokio::test]
async fn the_iceberg_example_is_read_by_sail() {
    let Some(url) = engines::sail_url() else {
        return;
    };
    let Ok(lake) = std::env::var("LAKEORM_TEST_ICEBERG_EXAMPLE_LAKE") else {
        eprintln!("LAKEORM_TEST_ICEBERG_EXAMPLE_LAKE is not set (`.ci/run` sets it); skipping");
        return;
    };
    let table = std::path::Path::new(&lake).join("tables/visits");
    let location = lakeorm::Location::from_path(&table).unwrap();
    let sail = engines::sail(
        &url,
        &TestLake::new(),
        Format::Iceberg,
        ClientOptions::default(),
    );
    #[derive(lakeorm::Row, Debug, PartialEq)]
    struct PageCount {
        page: String,
        n: i64,
    }
    let pages: Vec<PageCount> = Query::sql(format!(
        "SELECT page, COUNT(*) AS n FROM iceberg.`{location}` GROUP BY page ORDER BY page"
    ))
    .fetch_all(&sail)
    .await
    .unwrap();
    let expected = [("/docs", 50), ("/home", 40), ("/pricing", 100)];
    assert_eq!(
        pages,
        expected.map(|(page, n)| PageCount {
            page: page.into(),
            n
        })
    );

    let metadata = table.join("metadata");
    let hint = std::fs::read_to_string(metadata.join("version-hint.text")).unwrap();
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(metadata.join(format!("v{}.metadata.json", hint.trim()))).unwrap(),
    )
    .unwrap();
    let operations: Vec<&str> = json["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["summary"]["operation"].as_str().unwrap())
        .collect();
    assert!(operations.contains(&"overwrite"), "{operations:?}");
    assert!(
        operations.contains(&"replace"),
        "compaction: {operations:?}"
    );
}
