//! The Client on the embedded engine against the peer it wraps, each pair in one run:
//! - `client-insert`: 1,000,000 rows inserted (validate, encode, write, commit) by the default
//!   `insert` (its `Auto` path) and by `.staged()`, against delta-rs writing the same rows as a
//!   prebuilt `RecordBatch`;
//! - `client-upsert`: 100,000 rows of which half exist, upserted into a 1,000,000-row table,
//!   against delta-rs's `merge` of the same rows as a prebuilt batch on the same key;
//! - `client-read`: 1,000,000 rows selected with a filter from a 1,250,000-row table, as typed
//!   structs (`fetch_all`) and as a typed stream (`fetch`), against DataFusion collecting the
//!   same SQL into Arrow batches;
//! - `client-query`: a small aggregate, against DataFusion.
//!
//! `cargo xtask bench` reads criterion's estimates into `docs/benchmarks.md`.

use std::future::IntoFuture;
use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::TryStreamExt as _;

use lakeorm::{Client, Lake, LocalBuilder, Query, Row};

mod common;
use common::{Event, event, events};

const ROWS: usize = 1_000_000;
const UPSERT: usize = 100_000;
const READ_TABLE: usize = 1_250_000;

/// The same shape with a merge key: inserting it upserts. Layout intents off
/// (`index_keys = false`), so the merge key gets no bloom filter the peer does not write either.
#[derive(Lake, Clone, Debug)]
#[lake(table = "accounts", index_keys = false)]
struct Account {
    #[lake(merge_key)]
    id: i64,
    email: String,
    country: String,
    age: i32,
    score: f64,
    created_at: chrono::DateTime<chrono::Utc>,
}

fn accounts(ids: std::ops::Range<usize>, generation: f64) -> Vec<Account> {
    ids.map(|i| {
        let e = event(i);
        Account {
            id: e.id,
            email: e.email,
            country: e.country,
            age: e.age,
            score: e.score + generation,
            created_at: e.created_at,
        }
    })
    .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn open(path: &Path) -> Client {
    LocalBuilder::new().path(path).open().await.unwrap()
}

async fn delta_table(path: &Path) -> DeltaTable {
    std::fs::create_dir_all(path).unwrap();
    let url = url::Url::from_directory_path(path).unwrap();
    let mut table = DeltaTableBuilder::from_url(url).unwrap().build().unwrap();
    // A table that exists is loaded; a fresh directory stays uninitialised for a first write.
    let _ = table.load().await;
    table
}

/// Copies a directory tree (a prepared table), so that each timed upsert starts from the
/// same 1,000,000 rows without writing them again.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn insert(c: &mut Criterion) {
    let rt = runtime();
    let rows = events(0..ROWS);
    let dir = tempfile::tempdir().unwrap();
    let db = rt.block_on(async {
        let db = open(&dir.path().join("lake")).await;
        db.migrate::<Event>().await.unwrap();
        db
    });
    // The peer: a Delta table written straight through delta-rs with a prebuilt batch.
    let batch = Event::to_table_batch(&rows, &lakeorm::IngestId::new()).unwrap();
    let mut peer = rt.block_on(async {
        delta_table(&dir.path().join("peer"))
            .await
            .write(vec![batch.clone()])
            .with_save_mode(SaveMode::Append)
            .await
            .unwrap()
    });

    let mut group = c.benchmark_group("client-insert");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    group.bench_function("lakeorm", |b| {
        b.iter(|| rt.block_on(db.insert(&rows).into_future()).unwrap());
    });
    // The staged path: Parquet parts on the backend, read back and committed by the engine.
    group.bench_function("lakeorm-staged", |b| {
        b.iter(|| {
            rt.block_on(db.insert(&rows).staged().into_future())
                .unwrap()
        });
    });
    group.bench_function("delta-rs", |b| {
        b.iter(|| {
            peer = rt
                .block_on(
                    peer.clone()
                        .write(vec![batch.clone()])
                        .with_save_mode(SaveMode::Append)
                        .into_future(),
                )
                .unwrap();
        });
    });
    group.finish();
}

fn upsert(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let base = accounts(0..ROWS, 0.0);
    // Half of the keys exist, half are new.
    let change = accounts(ROWS - UPSERT / 2..ROWS + UPSERT / 2, 1.0);
    // One prepared 1,000,000-row table, written by the Client; both sides upsert into copies.
    let template = dir.path().join("template");
    rt.block_on(async {
        let db = open(&template).await;
        db.migrate::<Account>().await.unwrap();
        db.insert(&base).await.unwrap();
    });
    let change_batch = Account::to_table_batch(&change, &lakeorm::IngestId::new()).unwrap();
    let copies = std::sync::atomic::AtomicUsize::new(0);
    let fresh = || {
        let n = copies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let to = dir.path().join(format!("copy-{n}"));
        copy_tree(&template, &to);
        to
    };

    let mut group = c.benchmark_group("client-upsert");
    group.throughput(Throughput::Elements(UPSERT as u64));
    group.sample_size(10);
    group.bench_function("lakeorm", |b| {
        b.iter_batched(
            || rt.block_on(open(&fresh())),
            |db| {
                let report = rt.block_on(db.insert(&change).into_future()).unwrap();
                assert_eq!(report.metrics.rows_updated, (UPSERT / 2) as u64);
                db
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("delta-rs", |b| {
        b.iter_batched(
            || rt.block_on(delta_table(&fresh().join("tables/accounts"))),
            |table| {
                rt.block_on(async {
                    let ctx = lakeorm::embedded::datafusion::prelude::SessionContext::new();
                    let source = ctx.read_batch(change_batch.clone()).unwrap();
                    let columns: Vec<String> = change_batch
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect();
                    let (table, metrics) = table
                        .merge(source, "target.id = source.id")
                        .with_source_alias("source")
                        .with_target_alias("target")
                        .when_matched_update(|u| {
                            columns.iter().fold(u, |u, c| {
                                u.update(format!("`{c}`"), format!("source.`{c}`"))
                            })
                        })
                        .unwrap()
                        .when_not_matched_insert(|i| {
                            columns
                                .iter()
                                .fold(i, |i, c| i.set(format!("`{c}`"), format!("source.`{c}`")))
                        })
                        .unwrap()
                        .await
                        .unwrap();
                    assert_eq!(metrics.num_target_rows_updated, UPSERT / 2);
                    table
                })
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn read(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let db = rt.block_on(async {
        let db = open(dir.path()).await;
        db.migrate::<Event>().await.unwrap();
        db.insert(&events(0..READ_TABLE)).await.unwrap();
        db
    });
    let sql = "SELECT * FROM events WHERE id < ?";
    let native_sql = format!("SELECT * FROM events WHERE id < {ROWS}");
    let native = db
        .driver()
        .as_any()
        .downcast_ref::<lakeorm::embedded::EmbeddedDriver>()
        .map(|d| d.session().clone())
        .unwrap();

    let mut group = c.benchmark_group("client-read");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    group.bench_function("lakeorm-fetch_all", |b| {
        b.iter(|| {
            let rows = rt
                .block_on(Query::<Event>::sql(sql).bind(ROWS as i64).fetch_all(&db))
                .unwrap();
            assert_eq!(rows.len(), ROWS);
            rows
        });
    });
    group.bench_function("lakeorm-fetch", |b| {
        b.iter(|| {
            let n = rt
                .block_on(async {
                    Query::<Event>::sql(sql)
                        .bind(ROWS as i64)
                        .fetch(&db)
                        .try_fold(0usize, |n, row| {
                            std::hint::black_box(row);
                            futures::future::ready(Ok(n + 1))
                        })
                        .await
                })
                .unwrap();
            assert_eq!(n, ROWS);
        });
    });
    group.bench_function("datafusion", |b| {
        b.iter(|| {
            let batches = rt.block_on(async {
                native
                    .sql(&native_sql)
                    .await
                    .unwrap()
                    .collect()
                    .await
                    .unwrap()
            });
            assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), ROWS);
            batches
        });
    });
    group.finish();

    #[derive(Row)]
    #[allow(dead_code)]
    struct Total {
        country: String,
        n: i64,
        avg_score: f64,
    }
    let sql = "SELECT country, COUNT(*) AS n, AVG(score) AS avg_score FROM events GROUP BY country";
    let mut group = c.benchmark_group("client-query");
    group.sample_size(10);
    group.bench_function("lakeorm", |b| {
        b.iter(|| {
            rt.block_on(Query::<Total>::sql(sql).fetch_all(&db))
                .unwrap()
        });
    });
    group.bench_function("datafusion", |b| {
        b.iter(|| rt.block_on(async { native.sql(sql).await.unwrap().collect().await.unwrap() }));
    });
    group.finish();
}

criterion_group!(benches, insert, upsert, read);
criterion_main!(benches);
