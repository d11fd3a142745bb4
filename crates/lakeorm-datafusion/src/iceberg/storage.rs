//! Iceberg's file IO on the Backend's object store.
//!
//! The `iceberg` crate reads and writes through its `Storage` trait; its own implementations
//! are a local file system and a private in-memory map. Tables of a lakeorm lake must live in
//! the Backend's store (the same in-memory store the client stages into, the same S3 client
//! with its credentials and conditional puts), so this adapter implements `Storage` over
//! `object_store`, addressing objects by the absolute URIs Iceberg metadata holds.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use iceberg::io::{
    FileIO, FileIOBuilder, FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage,
    StorageConfig, StorageFactory,
};
use lakeorm_core::{Backend, Location};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

/// A `FileIO` whose every path is an object of `backend`'s store.
pub(crate) fn file_io(backend: &Arc<dyn Backend>) -> FileIO {
    FileIOBuilder::new(Arc::new(LakeStorageFactory {
        storage: LakeStorage {
            backend: Some(Arc::clone(backend)),
        },
    }))
    .build()
}

/// Builds the one storage it was made with (the Backend is not configuration Iceberg can
/// serialise, so there is nothing to build from properties).
#[derive(Debug, Serialize, Deserialize)]
struct LakeStorageFactory {
    storage: LakeStorage,
}

#[typetag::serde]
impl StorageFactory for LakeStorageFactory {
    fn build(&self, _config: &StorageConfig) -> iceberg::Result<Arc<dyn Storage>> {
        Ok(Arc::new(self.storage.clone()))
    }
}

/// `Storage` over a Backend's object store. Iceberg serialises storages for distributed
/// engines; this one lives and dies in one process, so a deserialised copy has no store and
/// says so when used.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LakeStorage {
    #[serde(skip)]
    backend: Option<Arc<dyn Backend>>,
}

fn error(kind: iceberg::ErrorKind, message: String) -> iceberg::Error {
    iceberg::Error::new(kind, message)
}

fn store_error(path: &str, e: object_store::Error) -> iceberg::Error {
    let kind = match e {
        object_store::Error::NotFound { .. } => iceberg::ErrorKind::DataInvalid,
        _ => iceberg::ErrorKind::Unexpected,
    };
    error(kind, format!("object store: `{path}`")).with_source(e)
}

impl LakeStorage {
    fn resolve(&self, path: &str) -> iceberg::Result<(Arc<dyn ObjectStore>, Path)> {
        let backend = self.backend.as_ref().ok_or_else(|| {
            error(
                iceberg::ErrorKind::FeatureUnsupported,
                "a deserialised lakeorm storage has no object store".into(),
            )
        })?;
        let location = Location::parse(path).map_err(|e| {
            error(
                iceberg::ErrorKind::DataInvalid,
                format!("`{path}` is not an absolute URI: {e}"),
            )
        })?;
        let root = backend.root();
        if location.scheme() != root.scheme() || location.host() != root.host() {
            return Err(error(
                iceberg::ErrorKind::DataInvalid,
                format!("`{path}` is outside the lake at `{root}`"),
            ));
        }
        Ok((backend.object_store(), backend.store_path(&location)))
    }
}

#[async_trait]
#[typetag::serde]
impl Storage for LakeStorage {
    async fn exists(&self, path: &str) -> iceberg::Result<bool> {
        let (store, key) = self.resolve(path)?;
        match store.head(&key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(path, e)),
        }
    }

    async fn metadata(&self, path: &str) -> iceberg::Result<FileMetadata> {
        let (store, key) = self.resolve(path)?;
        let meta = store.head(&key).await.map_err(|e| store_error(path, e))?;
        Ok(FileMetadata { size: meta.size })
    }

    async fn read(&self, path: &str) -> iceberg::Result<Bytes> {
        let (store, key) = self.resolve(path)?;
        store
            .get(&key)
            .await
            .map_err(|e| store_error(path, e))?
            .bytes()
            .await
            .map_err(|e| store_error(path, e))
    }

    async fn reader(&self, path: &str) -> iceberg::Result<Box<dyn FileRead>> {
        let (store, key) = self.resolve(path)?;
        Ok(Box::new(Reader {
            store,
            key,
            path: path.to_owned(),
        }))
    }

    async fn write(&self, path: &str, bs: Bytes) -> iceberg::Result<()> {
        let (store, key) = self.resolve(path)?;
        store
            .put(&key, bs.into())
            .await
            .map(|_| ())
            .map_err(|e| store_error(path, e))
    }

    async fn writer(&self, path: &str) -> iceberg::Result<Box<dyn FileWrite>> {
        let (store, key) = self.resolve(path)?;
        Ok(Box::new(Writer {
            inner: BufWriter::new(store, key),
            path: path.to_owned(),
        }))
    }

    async fn delete(&self, path: &str) -> iceberg::Result<()> {
        let (store, key) = self.resolve(path)?;
        match store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(path, e)),
        }
    }

    async fn delete_prefix(&self, path: &str) -> iceberg::Result<()> {
        let (store, key) = self.resolve(path)?;
        let listed = store.list(Some(&key)).map(|meta| meta.map(|m| m.location));
        let mut deleted = store.delete_stream(listed.boxed());
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error(path, e)),
            }
        }
        Ok(())
    }

    async fn delete_stream(&self, paths: BoxStream<'static, String>) -> iceberg::Result<()> {
        let mut paths = paths;
        while let Some(path) = paths.next().await {
            self.delete(&path).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> iceberg::Result<InputFile> {
        Ok(InputFile::new(Arc::new(self.clone()), path.to_owned()))
    }

    fn new_output(&self, path: &str) -> iceberg::Result<OutputFile> {
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_owned()))
    }
}

struct Reader {
    store: Arc<dyn ObjectStore>,
    key: Path,
    path: String,
}

#[async_trait]
impl FileRead for Reader {
    async fn read(&self, range: Range<u64>) -> iceberg::Result<Bytes> {
        self.store
            .get_range(&self.key, range)
            .await
            .map_err(|e| store_error(&self.path, e))
    }
}

/// Buffers small files into one put and streams large ones as a multipart upload.
struct Writer {
    inner: BufWriter,
    path: String,
}

#[async_trait]
impl FileWrite for Writer {
    async fn write(&mut self, bs: Bytes) -> iceberg::Result<()> {
        self.inner
            .put(bs)
            .await
            .map_err(|e| store_error(&self.path, e))
    }

    async fn close(&mut self) -> iceberg::Result<()> {
        self.inner.shutdown().await.map_err(|e| {
            error(
                iceberg::ErrorKind::Unexpected,
                format!("object store: closing `{}`", self.path),
            )
            .with_source(e)
        })
    }
}
