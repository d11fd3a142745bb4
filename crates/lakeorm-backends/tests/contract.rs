//! The backend contract, run against every store: local files, memory, and S3 on a real
//! S3-compatible server on loopback (moto, started by `cargo xtask ci` or
//! `cargo xtask with-s3 -- …`, which set `LAKEORM_TEST_S3_ENDPOINT`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::TryStreamExt;
use lakeorm_backends::{
    CleanupEvent, Compression, ObjectStoreBackend, PartWriter, PartWriterOptions, S3Options,
    StagingHold, cleanup_staging, cleanup_staging_with,
};
use lakeorm_core::backend::STAGING_DIR;
use lakeorm_core::{Backend, Error, IngestId, StagingOp};
use object_store::{ObjectStoreExt as _, PutPayload};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::async_reader::ParquetObjectReader;

/// The S3 lake of this test run, under a fresh prefix so that tests never see each other's
/// objects; `None` (and a note on stderr) when no server was started.
fn s3() -> Option<ObjectStoreBackend> {
    let Ok(endpoint) = std::env::var("LAKEORM_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var_os("LAKEORM_TEST_S3_REQUIRED").is_none(),
            "LAKEORM_TEST_S3_REQUIRED is set but LAKEORM_TEST_S3_ENDPOINT is not"
        );
        eprintln!("no S3 server: run through `cargo xtask ci` or `cargo xtask with-s3 -- …`");
        return None;
    };
    let bucket = std::env::var("LAKEORM_TEST_S3_BUCKET").unwrap_or_else(|_| "lakeorm".into());
    let prefix = format!("contract/{}", IngestId::new());
    Some(
        ObjectStoreBackend::s3(
            S3Options::new(bucket)
                .prefix(prefix)
                .endpoint(endpoint)
                .region("us-east-1")
                .credentials("test", "test")
                .allow_http(true),
        )
        .unwrap(),
    )
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, true),
    ]))
}

/// `rows` rows whose payload does not compress away, so byte thresholds are reached.
fn batch(start: i64, rows: usize) -> RecordBatch {
    let ids: Vec<i64> = (start..start + rows as i64).collect();
    let payload: Vec<String> = ids
        .iter()
        .map(|i| {
            format!(
                "{:016x}{:016x}",
                (*i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                i
            )
        })
        .collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(payload)),
        ],
    )
    .unwrap()
}

async fn put(backend: &ObjectStoreBackend, location: &lakeorm_core::Location) {
    backend
        .object_store()
        .put(&backend.store_path(location), PutPayload::from_static(b"x"))
        .await
        .unwrap();
}

async fn read_back(
    backend: &ObjectStoreBackend,
    part: &lakeorm_core::Location,
) -> (Vec<i64>, parquet::basic::Compression) {
    let reader = ParquetObjectReader::new(backend.object_store(), backend.store_path(part));
    let builder = ParquetRecordBatchStreamBuilder::new(reader).await.unwrap();
    let codec = builder.metadata().row_group(0).column(0).compression();
    let batches: Vec<RecordBatch> = builder.build().unwrap().try_collect().await.unwrap();
    let ids = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    (ids, codec)
}

async fn staging_listing_and_deletion(backend: &ObjectStoreBackend) {
    assert!(backend.list_staging().await.unwrap().is_empty());
    let old = IngestId::new();
    let young = IngestId::new();
    for id in [old, young] {
        for part in ["part-00000.parquet", "part-00001.parquet"] {
            put(backend, &backend.staging_location(&id).join(part)).await;
        }
    }
    put(
        backend,
        &backend.root().join(STAGING_DIR).join("not-an-id/file"),
    )
    .await;

    let listed = backend.list_staging().await.unwrap();
    let ids: Vec<_> = listed.iter().map(|p| p.ingest_id).collect();
    assert_eq!(ids.len(), 3, "{listed:?}");
    assert!(ids.contains(&Some(old)) && ids.contains(&Some(young)) && ids.contains(&None));

    let deleted = backend
        .delete_prefix(&backend.staging_location(&old))
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let left: Vec<_> = backend
        .list_staging()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.ingest_id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&Some(old)));
    // Deleting what is not there is not an error.
    assert_eq!(
        backend
            .delete_prefix(&backend.staging_location(&old))
            .await
            .unwrap(),
        0
    );
}

async fn parts_roll_and_read_back(backend: &ObjectStoreBackend) {
    let id = IngestId::new();
    let options = PartWriterOptions {
        compression: Compression::Snappy,
        target_part_bytes: 256 << 10,
        row_group_bytes: 64 << 10,
        row_group_rows: 8192,
    };
    let mut writer = PartWriter::new(backend, backend.staging_location(&id), schema(), options);
    let mut next = 0;
    for rows in [10_000usize, 25_000, 5_000] {
        writer.write(&batch(next, rows)).await.unwrap();
        next += rows as i64;
    }
    let staged = writer.finish().await.unwrap();
    assert_eq!(staged.rows, 40_000);
    assert!(
        staged.parts.len() > 1,
        "a 256 KiB target must roll parts: {staged:?}"
    );
    assert_eq!(staged.prefix, backend.staging_location(&id));
    let mut all = Vec::new();
    for (i, part) in staged.parts.iter().enumerate() {
        assert!(
            part.location
                .as_str()
                .ends_with(&format!("/part-{i:05}.parquet"))
        );
        // Every part but the last is at least the target (it rolled because it was full).
        if i + 1 < staged.parts.len() {
            assert!(part.bytes >= 256 << 10, "part {i}: {} bytes", part.bytes);
        }
        let (ids, codec) = read_back(backend, &part.location).await;
        assert_eq!(ids.len() as u64, part.rows);
        assert_eq!(codec, parquet::basic::Compression::SNAPPY);
        all.extend(ids);
    }
    assert_eq!(all, (0..40_000).collect::<Vec<i64>>());
    assert_eq!(
        backend.delete_prefix(&staged.prefix).await.unwrap(),
        staged.parts.len() as u64
    );
}

async fn large_parts_upload_in_pieces(backend: &ObjectStoreBackend) {
    // More than object_store's 10 MiB buffer, uncompressed: a multipart upload on S3.
    let id = IngestId::new();
    let options = PartWriterOptions {
        compression: Compression::None,
        ..PartWriterOptions::default()
    };
    let mut writer = PartWriter::new(backend, backend.staging_location(&id), schema(), options);
    let mut next = 0;
    for _ in 0..6 {
        writer.write(&batch(next, 100_000)).await.unwrap();
        next += 100_000;
    }
    let staged = writer.finish().await.unwrap();
    assert_eq!(staged.parts.len(), 1);
    assert!(staged.bytes > 12 << 20, "{} bytes", staged.bytes);
    let (ids, codec) = read_back(backend, &staged.parts[0].location).await;
    assert_eq!(ids.len(), 600_000);
    assert_eq!(codec, parquet::basic::Compression::UNCOMPRESSED);
    backend.delete_prefix(&staged.prefix).await.unwrap();
}

async fn aborted_writers_leave_nothing(backend: &ObjectStoreBackend) {
    // Enough uncompressed data, flushed in small row groups, that the upload is under way
    // (past object_store's 10 MiB buffer: a multipart upload on S3, a temporary file on disk)
    // when the writer is abandoned.
    let id = IngestId::new();
    let mut writer = PartWriter::new(
        backend,
        backend.staging_location(&id),
        schema(),
        PartWriterOptions {
            compression: Compression::None,
            row_group_bytes: 1 << 20,
            ..PartWriterOptions::default()
        },
    );
    for start in (0..400_000).step_by(100_000) {
        writer.write(&batch(start, 100_000)).await.unwrap();
    }
    writer.abort().await;
    let left: Vec<_> = backend
        .object_store()
        .list(Some(&backend.store_path(&backend.staging_location(&id))))
        .try_collect()
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");

    // A batch of another schema is refused before anything is written.
    let mut writer = PartWriter::new(
        backend,
        backend.staging_location(&id),
        schema(),
        PartWriterOptions::default(),
    );
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    assert!(matches!(
        writer.write(&other).await,
        Err(Error::DataInvalid { .. })
    ));
    assert!(writer.finish().await.unwrap().parts.is_empty());
}

async fn janitor_deletes_only_old_ingest_prefixes(backend: &ObjectStoreBackend) {
    let orphan = IngestId::at(SystemTime::now() - Duration::from_secs(4 * 24 * 3600));
    let fresh = IngestId::new();
    for id in [orphan, fresh] {
        put(
            backend,
            &backend.staging_location(&id).join("part-00000.parquet"),
        )
        .await;
    }
    let foreign = backend.root().join(STAGING_DIR).join("keep-me");
    put(backend, &foreign.join("file")).await;

    let mut events = Vec::new();
    let report = cleanup_staging_with(backend, Duration::from_secs(72 * 3600), false, |event| {
        events.push(match event {
            CleanupEvent::Listed(n) => format!("listed {n}"),
            CleanupEvent::Deleted(_, n) => format!("deleted {n}"),
            CleanupEvent::Kept(_) => "kept".into(),
            CleanupEvent::Skipped(_) => "skipped".into(),
            other => format!("{other:?}"),
        })
    })
    .await
    .unwrap();
    assert_eq!(report.scanned, 3);
    assert_eq!(report.deleted, vec![backend.staging_location(&orphan)]);
    assert_eq!(report.kept, vec![backend.staging_location(&fresh)]);
    assert_eq!(report.skipped, vec![foreign]);
    assert!(report.failed.is_empty());
    assert_eq!(report.objects_deleted, 1);
    assert_eq!(events[0], "listed 3");
    assert!(events.contains(&"deleted 1".to_owned()));

    // The fresh prefix survives a second pass; with a zero age it goes too.
    let again = cleanup_staging(backend, Duration::from_secs(72 * 3600))
        .await
        .unwrap();
    assert!(again.deleted.is_empty() && again.kept.len() == 1);
    // Below the safe minimum, only when forced; and never a prefix a write holds.
    let refused = cleanup_staging(backend, Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("safe minimum"), "{refused}");
    let held = IngestId::new();
    put(
        backend,
        &backend.staging_location(&held).join("part-0.parquet"),
    )
    .await;
    let hold = StagingHold::new(&backend.staging_location(&held));
    let all = cleanup_staging_with(backend, Duration::ZERO, true, |_| {})
        .await
        .unwrap();
    assert_eq!(all.deleted, vec![backend.staging_location(&fresh)]);
    assert_eq!(all.in_use, vec![backend.staging_location(&held)]);
    drop(hold);
    let last = cleanup_staging_with(backend, Duration::ZERO, true, |_| {})
        .await
        .unwrap();
    assert_eq!(last.deleted, vec![backend.staging_location(&held)]);
    assert_eq!(all.skipped.len(), 1);
}

async fn contract(backend: ObjectStoreBackend) {
    staging_listing_and_deletion(&backend).await;
    parts_roll_and_read_back(&backend).await;
    large_parts_upload_in_pieces(&backend).await;
    aborted_writers_leave_nothing(&backend).await;
    // The listing test left one young prefix and one foreign one; start the janitor clean.
    for prefix in backend.list_staging().await.unwrap() {
        backend.delete_prefix(&prefix.location).await.unwrap();
    }
    janitor_deletes_only_old_ingest_prefixes(&backend).await;
}

#[tokio::test]
async fn memory_backend_contract() {
    contract(ObjectStoreBackend::memory()).await;
}

#[tokio::test]
async fn file_backend_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(ObjectStoreBackend::file(dir.path()).unwrap()).await;
    // Deleting a prefix on disk removes its directory too.
    let staging = dir.path().join(STAGING_DIR);
    let left: Vec<_> = std::fs::read_dir(&staging)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(left, vec![std::ffi::OsString::from("keep-me")]);
}

#[tokio::test]
async fn s3_backend_contract() {
    if let Some(backend) = s3() {
        contract(backend).await;
    }
}

#[tokio::test]
async fn s3_errors_are_typed_staging_errors() {
    let Some(backend) = s3() else { return };
    let endpoint = std::env::var("LAKEORM_TEST_S3_ENDPOINT").unwrap();
    // A bucket that does not exist: the client cannot stage.
    let missing = ObjectStoreBackend::s3(
        S3Options::new("no-such-bucket")
            .endpoint(endpoint)
            .credentials("test", "test")
            .allow_http(true)
            .max_retries(0),
    )
    .unwrap();
    let mut writer = PartWriter::new(
        &missing,
        missing.staging_location(&IngestId::new()),
        schema(),
        PartWriterOptions::default(),
    );
    writer.write(&batch(0, 10)).await.unwrap();
    match writer.finish().await {
        Err(Error::ClientStaging(e)) => {
            assert_eq!(e.op, StagingOp::StageWrite);
            assert_eq!(e.backend, "s3");
            assert!(
                e.uri.starts_with("s3://no-such-bucket/_staging/"),
                "{}",
                e.uri
            );
        }
        other => panic!("expected ClientStaging, got {other:?}"),
    }
    drop(backend);
}
