//! The Client's write and read overhead on the embedded engine, against the peer it wraps:
//! delta-rs writing the same prebuilt `RecordBatch`es, and DataFusion collecting the same query.
//! The staged write path (Parquet parts on the backend, then one commit) is measured against the
//! same peer.
//!
//! `cargo xtask bench` prints the ratios.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use deltalake::DeltaTableBuilder;
use deltalake::protocol::SaveMode;
use std::future::IntoFuture;

use lakeorm::{Lake, LocalBuilder, Query, Row};

const ROWS: usize = 100_000;

#[derive(Lake, Clone, Debug)]
struct Event {
    #[lake(pk)]
    id: i64,
    email: String,
    country: String,
    age: i32,
    score: f64,
    created_at: chrono::DateTime<chrono::Utc>,
}

fn rows() -> Vec<Event> {
    (0..ROWS)
        .map(|i| Event {
            id: i as i64,
            email: format!("user{i}@example.com"),
            country: ["GB", "FR", "DE", "US"][i % 4].into(),
            age: (i % 90) as i32,
            score: i as f64 * 0.5,
            created_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_000 + i as i64)
                .unwrap(),
        })
        .collect()
}

fn client(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows = rows();
    let dir = tempfile::tempdir().unwrap();
    let db = rt.block_on(async {
        let db = LocalBuilder::new()
            .path(dir.path().join("lake"))
            .open()
            .await
            .unwrap();
        db.migrate::<Event>().await.unwrap();
        db
    });
    // The peer: a Delta table written straight through delta-rs with a prebuilt batch.
    let batch = Event::to_table_batch(&rows, &lakeorm::IngestId::new()).unwrap();
    let peer_url = url::Url::from_directory_path(dir.path().join("peer")).unwrap();
    std::fs::create_dir_all(dir.path().join("peer")).unwrap();
    let mut peer = rt.block_on(async {
        DeltaTableBuilder::from_url(peer_url.clone())
            .unwrap()
            .build()
            .unwrap()
            .write(vec![batch.clone()])
            .with_save_mode(SaveMode::Append)
            .await
            .unwrap()
    });

    let mut insert = c.benchmark_group("client-insert");
    insert.throughput(Throughput::Elements(ROWS as u64));
    insert.sample_size(10);
    insert.bench_function("lakeorm", |b| {
        b.iter(|| rt.block_on(db.insert(&rows).into_future()).unwrap());
    });
    // The staged path: Parquet parts on the backend, read back and committed by the engine.
    insert.bench_function("lakeorm-staged", |b| {
        b.iter(|| {
            rt.block_on(db.insert(&rows).staged().into_future())
                .unwrap()
        });
    });
    insert.bench_function("delta-rs", |b| {
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
    insert.finish();

    #[derive(Row)]
    #[allow(dead_code)]
    struct Total {
        country: String,
        n: i64,
        avg_score: f64,
    }
    let sql = "SELECT country, COUNT(*) AS n, AVG(score) AS avg_score FROM events GROUP BY country";
    let native = db
        .driver()
        .as_any()
        .downcast_ref::<lakeorm::embedded::EmbeddedDriver>()
        .map(|d| d.session().clone())
        .unwrap();
    let mut query = c.benchmark_group("client-query");
    query.sample_size(10);
    query.bench_function("lakeorm", |b| {
        b.iter(|| {
            rt.block_on(Query::<Total>::sql(sql).fetch_all(&db))
                .unwrap()
        });
    });
    query.bench_function("datafusion", |b| {
        b.iter(|| rt.block_on(async { native.sql(sql).await.unwrap().collect().await.unwrap() }));
    });
    query.finish();
}

criterion_group!(benches, client);
criterion_main!(benches);
