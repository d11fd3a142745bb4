//! Iceberg on the embedded engine against its peers in the same run:
//! - `iceberg-insert`: the Client inserting 1M rows into an Iceberg table (validate, encode,
//!   write, commit), directly and staged, against the apache `iceberg` crate appending the same
//!   rows as a prebuilt batch (its Parquet writer with the same zstd compression, a fast append
//!   through its memory catalog);
//! - `upsert`: 100k rows of which half exist, upserted into a 1M-row table, on Iceberg
//!   (copy-on-write) against Delta (delta-rs' merge), both through the Client.
//!
//! `cargo xtask bench iceberg` prints the ratios.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use iceberg::io::LocalFsStorageFactory;
use iceberg::memory::{MEMORY_CATALOG_WAREHOUSE, MemoryCatalogBuilder};
use iceberg::spec::DataFileFormat;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::{Catalog, CatalogBuilder, NamespaceIdent, TableCreation};
use lakeorm::embedded::datafusion::parquet::basic::{Compression, ZstdLevel};
use lakeorm::embedded::datafusion::parquet::file::properties::WriterProperties;
use lakeorm::iceberg::IcebergDialect;
use lakeorm::{Client, Lake, LocalBuilder};

mod common;

const ROWS: usize = 1_000_000;
const UPSERT: usize = 100_000;

/// Layout intents off (`index_keys = false`): the peers write an unpartitioned table without
/// bloom filters, and the figures compare like with like. With them on, the table would be
/// bucket-partitioned by `id` and every write would make a file per bucket.
#[derive(Lake, Clone, Debug)]
#[lake(index_keys = false)]
struct Event {
    #[lake(pk, merge_key)]
    id: i64,
    email: String,
    country: String,
    age: i32,
    score: f64,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// The shared generator's rows, on this benchmark's model (which adds a merge key).
fn rows(ids: std::ops::Range<usize>) -> Vec<Event> {
    ids.map(|i| {
        let e = common::event(i);
        Event {
            id: e.id,
            email: e.email,
            country: e.country,
            age: e.age,
            score: e.score,
            created_at: e.created_at,
        }
    })
    .collect()
}

async fn lake(path: &std::path::Path, iceberg: bool) -> Client {
    let builder = LocalBuilder::new().path(path);
    let builder = if iceberg {
        builder.dialect(IcebergDialect::new())
    } else {
        builder
    };
    let db = builder.open().await.unwrap();
    db.migrate::<Event>().await.unwrap();
    db
}

fn insert(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let all = rows(0..ROWS);
    let dir = tempfile::tempdir().unwrap();
    // An insert of new keys on a merge-key model is a merge; the pk-only shape appends.
    #[derive(Lake, Clone, Debug)]
    #[lake(table = "appends")]
    struct Append {
        #[lake(pk)]
        id: i64,
        email: String,
        country: String,
        age: i32,
        score: f64,
        created_at: chrono::DateTime<chrono::Utc>,
    }
    let appends: Vec<Append> = all
        .iter()
        .map(|e| Append {
            id: e.id,
            email: e.email.clone(),
            country: e.country.clone(),
            age: e.age,
            score: e.score,
            created_at: e.created_at,
        })
        .collect();
    let db = rt.block_on(async {
        let db = LocalBuilder::new()
            .path(dir.path().join("lake"))
            .dialect(IcebergDialect::new())
            .open()
            .await
            .unwrap();
        db.migrate::<Append>().await.unwrap();
        db
    });

    // The peer: the same rows as one prebuilt batch, written and fast-appended by the
    // iceberg crate on its own memory catalog over the local file system.
    let batch = Append::to_table_batch(&appends, &lakeorm::IngestId::new()).unwrap();
    let warehouse = dir.path().join("peer");
    std::fs::create_dir_all(&warehouse).unwrap();
    let (catalog, table) = rt.block_on(async {
        let catalog = MemoryCatalogBuilder::default()
            .with_storage_factory(Arc::new(LocalFsStorageFactory))
            .load(
                "peer",
                HashMap::from([(
                    MEMORY_CATALOG_WAREHOUSE.to_owned(),
                    warehouse.display().to_string(),
                )]),
            )
            .await
            .unwrap();
        let namespace = NamespaceIdent::new("default".into());
        catalog
            .create_namespace(&namespace, HashMap::new())
            .await
            .unwrap();
        let schema =
            iceberg::arrow::arrow_schema_to_schema_auto_assign_ids(&batch.schema()).unwrap();
        let table = catalog
            .create_table(
                &namespace,
                TableCreation::builder()
                    .name("appends".into())
                    .schema(schema)
                    .build(),
            )
            .await
            .unwrap();
        (catalog, table)
    });
    let arrow = Arc::new(
        iceberg::arrow::schema_to_arrow_schema(table.metadata().current_schema()).unwrap(),
    );
    // Prebuilt in the table's own Arrow types (its timestamps are labelled `+00:00`).
    let columns = batch
        .columns()
        .iter()
        .zip(arrow.fields())
        .map(|(c, f)| {
            lakeorm::embedded::datafusion::arrow::compute::cast(c, f.data_type()).unwrap()
        })
        .collect();
    let peer_batch =
        lakeorm::embedded::datafusion::arrow::array::RecordBatch::try_new(arrow, columns).unwrap();
    let mut peer_table = table;

    let mut group = c.benchmark_group("iceberg-insert");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    // Rows sent to the engine as Arrow (the direct path)...
    group.bench_function("lakeorm", |b| {
        b.iter(|| {
            rt.block_on(db.insert(&appends).direct().into_future())
                .unwrap()
        });
    });
    // ...and staged as Parquet parts first, which is what an insert of this size does by
    // default (its Arrow size is above `ClientOptions::staged_threshold`).
    group.bench_function("lakeorm-staged", |b| {
        b.iter(|| {
            rt.block_on(db.insert(&appends).staged().into_future())
                .unwrap()
        });
    });
    group.bench_function("iceberg", |b| {
        b.iter(|| {
            peer_table = rt.block_on(async {
                let metadata = peer_table.metadata();
                let writer = ParquetWriterBuilder::new(
                    WriterProperties::builder()
                        .set_compression(Compression::ZSTD(ZstdLevel::default()))
                        .build(),
                    metadata.current_schema().clone(),
                );
                let rolling = RollingFileWriterBuilder::new_with_default_file_size(
                    writer,
                    peer_table.file_io().clone(),
                    DefaultLocationGenerator::new(metadata).unwrap(),
                    DefaultFileNameGenerator::new(
                        uuid::Uuid::now_v7().to_string(),
                        None,
                        DataFileFormat::Parquet,
                    ),
                );
                let mut data = DataFileWriterBuilder::new(rolling)
                    .build(None)
                    .await
                    .unwrap();
                data.write(peer_batch.clone()).await.unwrap();
                let files = data.close().await.unwrap();
                let tx = Transaction::new(&peer_table);
                let tx = tx.fast_append().add_data_files(files).apply(tx).unwrap();
                tx.commit(&catalog).await.unwrap()
            });
        });
    });
    group.finish();
}

fn upsert(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = rows(0..ROWS);
    // Half of the keys exist, half are new.
    let change = rows(ROWS - UPSERT / 2..ROWS + UPSERT / 2);
    let mut group = c.benchmark_group("upsert");
    group.throughput(Throughput::Elements(UPSERT as u64));
    group.sample_size(10);
    for (name, iceberg) in [("iceberg", true), ("delta", false)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let db = rt.block_on(async {
                        let db = lake(dir.path(), iceberg).await;
                        db.insert(&base).await.unwrap();
                        db
                    });
                    (dir, db)
                },
                |(dir, db)| {
                    let report = rt.block_on(db.insert(&change).into_future()).unwrap();
                    assert_eq!(report.metrics.rows_updated, (UPSERT / 2) as u64);
                    (dir, db)
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, insert, upsert);
criterion_main!(benches);
