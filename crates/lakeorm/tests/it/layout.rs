//! Layout intents on the embedded engine, checked in the files themselves: rows sorted by
//! `sortable` columns, bloom filters for indexed columns and merge keys in the Parquet footer,
//! Z-ordered files whose statistics ranges do not overlap, and Iceberg's sort order and
//! bucketed merge key in the table metadata.

use std::path::{Path, PathBuf};

use deltalake::parquet::file::properties::ReaderProperties;
use deltalake::parquet::file::reader::{FileReader, SerializedFileReader};
use deltalake::parquet::file::serialized_reader::ReadOptionsBuilder;
use deltalake::parquet::file::statistics::Statistics;
use deltalake::parquet::record::RowAccessor as _;
use lakeorm::delta::DeltaDialect;
use lakeorm::iceberg::IcebergDialect;
use lakeorm::{Client, Error, Lake, LocalBuilder, Query, Row, Statement};

#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "readings", key_buckets = 4)]
struct Reading {
    #[lake(pk, sortable)]
    seq: i64,
    #[lake(merge_key)]
    sensor: String,
    #[lake(indexed)]
    site: String,
    value: f64,
}

/// Two indexed coordinates: what `optimize` Z-orders by.
#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "points")]
struct Point {
    #[lake(pk)]
    id: i64,
    #[lake(indexed)]
    x: i32,
    #[lake(indexed)]
    y: i32,
}

#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "events")]
struct Event {
    #[lake(pk)]
    id: i64,
    #[lake(partition = "identity")]
    region: String,
    #[lake(indexed)]
    score: i32,
}

#[derive(Clone, Copy, Debug)]
enum Format {
    Delta,
    Iceberg,
}

async fn open(format: Format, path: &Path) -> Client {
    let builder = LocalBuilder::new().path(path);
    match format {
        Format::Delta => builder.open().await.unwrap(),
        Format::Iceberg => builder.dialect(IcebergDialect::new()).open().await.unwrap(),
    }
}

/// The data files of the table's current version, as the format's own reader lists them.
async fn live_files(format: Format, lake: &Path, table: &str) -> Vec<PathBuf> {
    use futures::TryStreamExt as _;
    let dir = lake.join("tables").join(table);
    let mut files: Vec<PathBuf> = match format {
        Format::Delta => {
            let url = url::Url::from_directory_path(&dir).unwrap();
            let table = deltalake::open_table(url).await.unwrap();
            table
                .get_file_uris()
                .unwrap()
                .map(|uri| file_path(&uri))
                .collect()
        }
        Format::Iceberg => {
            let metadata = dir.join("metadata");
            let hint = std::fs::read_to_string(metadata.join("version-hint.text")).unwrap();
            let file = metadata.join(format!("v{}.metadata.json", hint.trim()));
            let table = iceberg::table::StaticTable::from_metadata_file(
                &format!("file://{}", file.display()),
                iceberg::TableIdent::from_strs(["default", table]).unwrap(),
                iceberg::io::FileIO::new_with_fs(),
            )
            .await
            .unwrap()
            .into_table();
            let tasks: Vec<iceberg::scan::FileScanTask> = table
                .scan()
                .build()
                .unwrap()
                .plan_files()
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            tasks
                .into_iter()
                .map(|t| file_path(&t.data_file_path))
                .collect()
        }
    };
    files.sort();
    files
}

/// A `file://` URI or a plain path as a path.
fn file_path(uri: &str) -> PathBuf {
    url::Url::parse(uri)
        .ok()
        .and_then(|u| u.to_file_path().ok())
        .unwrap_or_else(|| PathBuf::from(uri))
}

/// Every Parquet data file under a table's directory.
fn data_files(lake: &Path, table: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&lake.join("tables").join(table), &mut out);
    out.sort();
    out
}

fn reader(path: &Path) -> SerializedFileReader<std::fs::File> {
    let options = ReadOptionsBuilder::new()
        .with_reader_properties(
            ReaderProperties::builder()
                .set_read_bloom_filter(true)
                .build(),
        )
        .build();
    SerializedFileReader::new_with_options(std::fs::File::open(path).unwrap(), options).unwrap()
}

fn column_index(reader: &SerializedFileReader<std::fs::File>, column: &str) -> usize {
    reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.name() == column)
        .unwrap_or_else(|| panic!("no column {column}"))
}

/// The `(min, max)` of an integer column over a whole file, from its row-group statistics.
fn range(path: &Path, column: &str) -> (i64, i64) {
    let reader = reader(path);
    let i = column_index(&reader, column);
    let mut out = (i64::MAX, i64::MIN);
    for rg in reader.metadata().row_groups() {
        let (lo, hi) = match rg.column(i).statistics().expect("statistics") {
            Statistics::Int32(s) => (
                i64::from(*s.min_opt().unwrap()),
                i64::from(*s.max_opt().unwrap()),
            ),
            Statistics::Int64(s) => (*s.min_opt().unwrap(), *s.max_opt().unwrap()),
            other => panic!("unexpected statistics {other:?}"),
        };
        out = (out.0.min(lo), out.1.max(hi));
    }
    out
}

/// The values of an i64 column of a file, in file order.
fn longs(path: &Path, column: &str) -> Vec<i64> {
    let reader = reader(path);
    let i = column_index(&reader, column);
    let mut out = Vec::new();
    for row in reader.get_row_iter(None).unwrap() {
        let row = row.unwrap();
        out.push(row.get_long(i).unwrap());
    }
    out
}

fn readings(seqs: impl IntoIterator<Item = i64>) -> Vec<Reading> {
    seqs.into_iter()
        .map(|seq| Reading {
            seq,
            sensor: format!("sensor-{seq}"),
            site: format!("site-{}", seq % 3),
            value: seq as f64 / 2.0,
        })
        .collect()
}

#[tokio::test]
async fn sortable_columns_sort_files_and_indexed_ones_get_bloom_filters() {
    for format in [Format::Delta, Format::Iceberg] {
        let dir = tempfile::tempdir().unwrap();
        let db = open(format, dir.path()).await;
        db.migrate::<Reading>().await.unwrap();
        // Out of order, in two writes.
        db.insert(&readings((0..100).rev().map(|i| i * 2)))
            .await
            .unwrap();
        db.insert(&readings((0..100).rev().map(|i| i * 2 + 1)))
            .await
            .unwrap();
        let files = data_files(dir.path(), "readings");
        assert!(!files.is_empty(), "{format:?}");
        for file in &files {
            let seqs = longs(file, "seq");
            assert!(
                seqs.windows(2).all(|w| w[0] <= w[1]),
                "{format:?}: {} is not sorted by seq: {seqs:?}",
                file.display()
            );
            let reader = reader(file);
            let rg = reader.get_row_group(0).unwrap();
            for column in ["sensor", "site"] {
                let filter = rg
                    .get_column_bloom_filter(column_index(&reader, column))
                    .unwrap_or_else(|| {
                        panic!(
                            "{format:?}: no bloom filter for {column} in {}",
                            file.display()
                        )
                    });
                let present = if column == "sensor" {
                    format!("sensor-{}", seqs[0])
                } else {
                    format!("site-{}", seqs[0] % 3)
                };
                assert!(filter.check(&present.as_str()), "{format:?}: {column}");
            }
            // Columns that are neither indexed nor keys carry none.
            assert!(
                rg.get_column_bloom_filter(column_index(&reader, "value"))
                    .is_none()
            );
        }
        let all: Vec<Reading> = Query::sql("SELECT * FROM readings ORDER BY seq")
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(all, readings(0..200), "{format:?}");
    }
}

#[tokio::test]
async fn iceberg_records_the_sort_order_and_buckets_the_merge_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(Format::Iceberg, dir.path()).await;
    db.migrate::<Reading>().await.unwrap();
    let metadata_dir = dir.path().join("tables/readings/metadata");
    let hint = std::fs::read_to_string(metadata_dir.join("version-hint.text")).unwrap();
    let metadata: serde_json::Value = serde_json::from_slice(
        &std::fs::read(metadata_dir.join(format!("v{}.metadata.json", hint.trim()))).unwrap(),
    )
    .unwrap();
    let field_id = |name: &str| {
        metadata["schemas"][0]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()["id"]
            .clone()
    };
    let default_order = metadata["default-sort-order-id"].clone();
    let order = metadata["sort-orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order-id"] == default_order)
        .unwrap();
    assert_eq!(order["fields"][0]["source-id"], field_id("seq"), "{order}");
    assert_eq!(order["fields"][0]["direction"], "asc");
    assert_eq!(order["fields"][0]["null-order"], "nulls-first");
    let spec = &metadata["partition-specs"][0]["fields"][0];
    assert_eq!(spec["transform"], "bucket[4]", "{spec}");
    assert_eq!(spec["source-id"], field_id("sensor"));
    let properties = &metadata["properties"];
    for column in ["sensor", "site"] {
        assert_eq!(
            properties[format!("write.parquet.bloom-filter-enabled.column.{column}")],
            "true",
            "{properties}"
        );
    }
    // Rows land in the bucket of their key and read back whole.
    db.insert(&readings(0..40)).await.unwrap();
    let n: Vec<Count> = Query::sql("SELECT COUNT(*) AS n FROM readings")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(n[0].n, 40);
    assert!(data_files(dir.path(), "readings").len() > 1);
}

#[derive(Row, Debug)]
struct Count {
    n: i64,
}

/// A small pseudo-random walk, the same on every run.
fn points(from: i64, count: i64) -> Vec<Point> {
    (from..from + count)
        .map(|id| {
            let h = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            Point {
                id,
                x: (h >> 40) as i32 % 1000,
                y: (h >> 20) as i32 % 1000,
            }
        })
        .collect()
}

/// How many pairs of files have overlapping `column` ranges (sharing a boundary value does not
/// count: a run of equal values may be split between two files).
fn overlapping_pairs(files: &[PathBuf], column: &str) -> usize {
    let ranges: Vec<(i64, i64)> = files.iter().map(|f| range(f, column)).collect();
    let mut n = 0;
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            if a.0 < b.1 && b.0 < a.1 {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test]
async fn optimize_z_orders_files_into_ranges_that_do_not_overlap() {
    for format in [Format::Delta, Format::Iceberg] {
        let dir = tempfile::tempdir().unwrap();
        let db = open(format, dir.path()).await;
        db.migrate::<Point>().await.unwrap();
        for batch in 0..8 {
            db.insert(&points(batch * 5000, 5000)).await.unwrap();
        }
        let before = live_files(format, dir.path(), "points").await;
        assert_eq!(overlapping_pairs(&before, "x"), 8 * 7 / 2, "{format:?}");

        // By one column, a Z-order is a sort: every file holds its own range of `x`.
        let metrics = db
            .maintain()
            .optimize::<Point>()
            .zorder_by(["x"])
            .target_size(64 * 1024)
            .await
            .unwrap();
        assert!(metrics.files_removed >= 8, "{format:?}: {metrics:?}");

        let sorted = live_files(format, dir.path(), "points").await;
        assert!(sorted.len() > 2, "{format:?}: {} files", sorted.len());
        assert_eq!(overlapping_pairs(&sorted, "x"), 0, "{format:?}");

        // By the model's layout (x and y): a lookup of one point reads the files whose x and
        // y ranges both hold it, which Z-order makes a small share of them (before, every
        // file held every point).
        db.maintain()
            .optimize::<Point>()
            .target_size(64 * 1024)
            .await
            .unwrap();
        let zordered = live_files(format, dir.path(), "points").await;
        let boxes: Vec<_> = zordered
            .iter()
            .map(|f| (range(f, "x"), range(f, "y")))
            .collect();
        let (mut lookups, mut reads) = (0usize, 0usize);
        for x in (5..1000).step_by(50) {
            for y in (5..1000).step_by(50) {
                lookups += 1;
                reads += boxes
                    .iter()
                    .filter(|(rx, ry)| (rx.0..=rx.1).contains(&x) && (ry.0..=ry.1).contains(&y))
                    .count();
            }
        }
        let share = reads as f64 / (lookups * boxes.len()) as f64;
        assert!(
            boxes.len() > 2 && share < 0.5,
            "{format:?}: a point lookup reads {share:.2} of {} files",
            boxes.len()
        );
        let n: Vec<Count> = Query::sql("SELECT COUNT(*) AS n FROM points")
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(n[0].n, 40_000, "{format:?}");
    }
}

/// Three writes of 20 events, each adding one file per region.
async fn three_event_writes(db: &Client) {
    db.migrate::<Event>().await.unwrap();
    for round in 0..3 {
        let events: Vec<Event> = (0..20)
            .map(|i| Event {
                id: round * 100 + i,
                region: if i % 2 == 0 { "eu" } else { "us" }.into(),
                score: i as i32,
            })
            .collect();
        db.insert(&events).await.unwrap();
    }
}

#[tokio::test]
async fn optimize_filters_by_partition_and_checks_its_columns() {
    // Three small files per region; only the `eu` ones are compacted, on both formats.
    for format in [Format::Delta, Format::Iceberg] {
        let dir = tempfile::tempdir().unwrap();
        let db = open(format, dir.path()).await;
        three_event_writes(&db).await;
        let metrics = db
            .maintain()
            .optimize::<Event>()
            .filter("region = ?")
            .bind("eu")
            .await
            .unwrap();
        assert_eq!(
            (metrics.files_removed, metrics.files_added),
            (3, 1),
            "{format:?}: {metrics:?}"
        );
        let n: Vec<Count> = Query::sql("SELECT COUNT(*) AS n FROM events")
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(n[0].n, 60, "{format:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let db = open(Format::Delta, dir.path()).await;
    three_event_writes(&db).await;

    // delta-rs selects files by partition values only.
    let refused = db
        .maintain()
        .optimize::<Event>()
        .filter(Statement::new("score > ?").bind(3))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Unsupported { .. }), "{refused:?}");
    assert!(refused.to_string().contains("region"), "{refused}");
    // Z-order columns must exist, and a Delta table is not Z-ordered by its partition column.
    for column in ["nope", "region"] {
        let err = db
            .maintain()
            .optimize::<Event>()
            .zorder_by([column])
            .await
            .unwrap_err();
        assert!(err.to_string().contains(column), "{err}");
    }
}

#[tokio::test]
async fn the_embedded_engine_refuses_clustered_delta_tables() {
    let db = LocalBuilder::new()
        .in_memory()
        .dialect(DeltaDialect::new().with_liquid_clustering())
        .open()
        .await
        .unwrap();
    let err = db.migrate::<Reading>().await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("clustered"), "{err}");
}

/// A query shape reading the system column: lineage without an SQL alias.
#[derive(Row, Debug)]
struct Lineage {
    seq: i64,
    #[lake(ingest_id)]
    written_by: lakeorm::IngestId,
}

#[tokio::test]
async fn query_shapes_read_the_ingest_id() {
    let db = LocalBuilder::new().in_memory().open().await.unwrap();
    db.migrate::<Reading>().await.unwrap();
    let first = db.insert(&readings(0..3)).await.unwrap();
    let second = db.insert(&readings(3..5)).await.unwrap();
    let rows: Vec<Lineage> = Query::sql("SELECT * FROM readings ORDER BY seq")
        .fetch_all(&db)
        .await
        .unwrap();
    let ids: Vec<_> = rows.iter().map(|r| r.written_by).collect();
    assert_eq!(ids[..3], [first.ingest_id; 3]);
    assert_eq!(ids[3..], [second.ingest_id; 2]);
    assert_eq!(rows[4].seq, 4);
    // Bound like any other value.
    let only: Vec<Lineage> = Query::sql("SELECT * FROM readings WHERE _ingest_id = ?")
        .bind(second.ingest_id)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(only.len(), 2);
}
