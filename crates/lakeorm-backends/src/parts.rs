//! The Parquet part writer of staged writes.
//!
//! A staged write streams `RecordBatch`es into Parquet parts under one prefix
//! (`_staging/<ingest_id>/part-00000.parquet`, `part-00001.parquet`, …) so that an engine reads
//! the prefix as one dataset. A part rolls over once it reaches a byte threshold, and a row group
//! is flushed whenever its buffered size passes a bound, so memory stays bounded however much
//! is written. Uploads go through `object_store`'s buffered writer, which switches to a
//! multipart upload for anything larger than one buffer.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use lakeorm_core::{Backend, ClientStaging, Error, Location, Result, StagingOp};
use object_store::{ObjectStore, ObjectStoreExt as _};
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::async_writer::ParquetObjectWriter;
use parquet::basic::{GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// The codec of staged Parquet parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Zstandard (level 3): the best ratio for its speed, and the default.
    #[default]
    Zstd,
    /// Snappy: the fastest, for CPU-bound writers.
    Snappy,
    /// Gzip, for readers that know nothing newer.
    Gzip,
    /// No compression.
    None,
}

impl Compression {
    fn codec(self) -> parquet::basic::Compression {
        use parquet::basic::Compression as Codec;
        match self {
            // Level 3 is zstd's own default; the constants are in range by construction.
            Compression::Zstd => Codec::ZSTD(ZstdLevel::default()),
            Compression::Snappy => Codec::SNAPPY,
            Compression::Gzip => Codec::GZIP(GzipLevel::default()),
            Compression::None => Codec::UNCOMPRESSED,
        }
    }
}

/// Options of a [`PartWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartWriterOptions {
    /// The codec.
    pub compression: Compression,
    /// A part is closed, and the next begun, once it holds this many bytes (default 128 MiB).
    pub target_part_bytes: u64,
    /// A row group is flushed once its buffered data reaches this many bytes (default 32 MiB):
    /// the bound on the writer's memory.
    pub row_group_bytes: usize,
    /// The most rows in one row group (default 1,048,576).
    pub row_group_rows: usize,
}

impl Default for PartWriterOptions {
    fn default() -> Self {
        PartWriterOptions {
            compression: Compression::default(),
            target_part_bytes: 128 << 20,
            row_group_bytes: 32 << 20,
            row_group_rows: 1 << 20,
        }
    }
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPart {
    /// Where it is, as the client addresses it.
    pub location: Location,
    /// Rows in the part.
    pub rows: u64,
    /// Size of the part in bytes.
    pub bytes: u64,
}

/// What a [`PartWriter`] staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedParts {
    /// The prefix holding the parts.
    pub prefix: Location,
    /// The parts, in order.
    pub parts: Vec<StagedPart>,
    /// Rows over all parts.
    pub rows: u64,
    /// Bytes over all parts.
    pub bytes: u64,
}

struct OpenPart {
    writer: AsyncArrowWriter<ParquetObjectWriter>,
    location: Location,
    path: object_store::path::Path,
    rows: u64,
}

/// Streams batches into Parquet parts under a prefix of a [`Backend`].
///
/// Not shared between tasks: one writer per staged write. Call [`finish`](Self::finish) to
/// complete the last part, or [`abort`](Self::abort) to discard it.
pub struct PartWriter {
    store: Arc<dyn ObjectStore>,
    backend_name: String,
    prefix: Location,
    store_prefix: object_store::path::Path,
    schema: SchemaRef,
    options: PartWriterOptions,
    properties: WriterProperties,
    open: Option<OpenPart>,
    done: Vec<StagedPart>,
}

impl std::fmt::Debug for PartWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartWriter")
            .field("prefix", &self.prefix.as_str())
            .field("options", &self.options)
            .field("parts", &self.done.len())
            .finish_non_exhaustive()
    }
}

impl PartWriter {
    /// A writer of parts of `schema` under `prefix` on `backend`.
    pub fn new(
        backend: &dyn Backend,
        prefix: Location,
        schema: SchemaRef,
        options: PartWriterOptions,
    ) -> Self {
        let properties = WriterProperties::builder()
            .set_compression(options.compression.codec())
            .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
            .build();
        PartWriter {
            store: backend.object_store(),
            backend_name: backend.name().to_owned(),
            store_prefix: backend.store_path(&prefix),
            prefix,
            schema,
            options,
            properties,
            open: None,
            done: Vec::new(),
        }
    }

    /// The prefix the parts go under.
    pub fn prefix(&self) -> &Location {
        &self.prefix
    }

    fn staging_error(&self, uri: &Location, source: impl Into<lakeorm_core::BoxError>) -> Error {
        Error::ClientStaging(ClientStaging {
            uri: uri.to_string(),
            backend: self.backend_name.clone(),
            op: StagingOp::StageWrite,
            source: source.into(),
        })
    }

    fn open_part(&mut self) -> Result<&mut OpenPart> {
        if self.open.is_none() {
            let name = format!("part-{:05}.parquet", self.done.len());
            let location = self.prefix.join(&name);
            let path = self.store_prefix.clone().join(name);
            let sink = ParquetObjectWriter::new(Arc::clone(&self.store), path.clone());
            let writer = AsyncArrowWriter::try_new(
                sink,
                Arc::clone(&self.schema),
                Some(self.properties.clone()),
            )
            .map_err(|e| self.staging_error(&location, e))?;
            self.open = Some(OpenPart {
                writer,
                location,
                path,
                rows: 0,
            });
        }
        // Just ensured.
        Ok(self.open.as_mut().expect("a part is open"))
    }

    /// Writes a batch, rolling to a new part when the current one is full.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema() != self.schema {
            return Err(Error::data_invalid(
                "a staged batch",
                format!(
                    "its schema differs from the writer's: {:?} vs {:?}",
                    batch.schema(),
                    self.schema
                ),
            ));
        }
        // Slices keep one huge batch from overshooting a part or a row group by much.
        let step = (self.options.row_group_rows / 4).max(1024);
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = step.min(batch.num_rows() - offset);
            let slice = batch.slice(offset, len);
            offset += len;
            let row_group_bytes = self.options.row_group_bytes;
            let target = self.options.target_part_bytes;
            let part = self.open_part()?;
            let outcome = async {
                part.writer.write(&slice).await?;
                if part.writer.in_progress_size() >= row_group_bytes {
                    part.writer.flush().await?;
                }
                Ok::<_, parquet::errors::ParquetError>(())
            }
            .await;
            part.rows += len as u64;
            let location = part.location.clone();
            let full =
                (part.writer.bytes_written() + part.writer.in_progress_size()) as u64 >= target;
            if let Err(e) = outcome {
                return Err(self.staging_error(&location, e));
            }
            if full {
                self.close_part().await?;
            }
        }
        Ok(())
    }

    async fn close_part(&mut self) -> Result<()> {
        let Some(OpenPart {
            writer,
            location,
            path,
            rows,
        }) = self.open.take()
        else {
            return Ok(());
        };
        if let Err(e) = writer.close().await {
            return Err(self.staging_error(&location, e));
        }
        let bytes = match self.store.head(&path).await {
            Ok(meta) => meta.size,
            Err(e) => return Err(self.staging_error(&location, e)),
        };
        tracing::debug!(part = %location, rows, bytes, "staged part uploaded");
        self.done.push(StagedPart {
            location,
            rows,
            bytes,
        });
        Ok(())
    }

    /// Completes the last part and reports what was staged.
    pub async fn finish(mut self) -> Result<StagedParts> {
        self.close_part().await?;
        let rows = self.done.iter().map(|p| p.rows).sum();
        let bytes = self.done.iter().map(|p| p.bytes).sum();
        Ok(StagedParts {
            prefix: self.prefix,
            parts: self.done,
            rows,
            bytes,
        })
    }

    /// Abandons the open part (aborting its upload); parts already uploaded stay until the
    /// prefix is deleted.
    pub async fn abort(mut self) {
        if let Some(part) = self.open.take() {
            let mut sink = part.writer.into_inner().into_inner();
            if let Err(e) = sink.abort().await {
                tracing::warn!(part = %part.location, error = %e, "aborting a staged upload failed");
            }
        }
    }
}
