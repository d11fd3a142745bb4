//! Backends of lakeorm: where the bytes of a lake live, on top of `object_store`.
//!
//! One implementation, [`ObjectStoreBackend`], covers every store; constructors pick the store
//! and the root: [`ObjectStoreBackend::file`] (a local directory) and
//! [`ObjectStoreBackend::memory`] (in-process, for tests and examples). Object-storage
//! backends (S3, GCS) plug in through [`ObjectStoreBackend::from_store`].
//!
//! A backend knows the lake's layout: tables under `tables/<name>`, staged writes under
//! `_staging/<ingest_id>/`, and how an engine must address a location.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use lakeorm_core::backend::STAGING_DIR;
use lakeorm_core::{Backend, EngineFlavor, Error, IngestId, Location, Result, StagingPrefix};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

/// A [`Backend`] over any `object_store` store.
#[derive(Clone)]
pub struct ObjectStoreBackend {
    name: String,
    root: Location,
    store: Arc<dyn ObjectStore>,
    hadoop_scheme: Option<String>,
}

impl fmt::Debug for ObjectStoreBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreBackend")
            .field("name", &self.name)
            .field("root", &self.root.as_str())
            .finish_non_exhaustive()
    }
}

impl ObjectStoreBackend {
    /// A lake in a local directory, created if missing.
    pub fn file(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::storage(dir.display(), e))?;
        let root = Location::from_path(dir)?;
        Ok(ObjectStoreBackend {
            name: "file".into(),
            root,
            store: Arc::new(LocalFileSystem::new()),
            hadoop_scheme: None,
        })
    }

    /// A lake in memory, gone when the last clone of the backend is dropped.
    pub fn memory() -> Self {
        ObjectStoreBackend {
            name: "memory".into(),
            // Memory stores have no address of their own; this constant URI always parses.
            root: Location::parse("memory:///lake").expect("a constant, valid URI"),
            store: Arc::new(InMemory::new()),
            hadoop_scheme: None,
        }
    }

    /// A lake at `root` in `store`, whose paths are relative to the bucket (or file system
    /// root) that `root` names.
    pub fn from_store(
        name: impl Into<String>,
        root: Location,
        store: Arc<dyn ObjectStore>,
    ) -> Self {
        ObjectStoreBackend {
            name: name.into(),
            root,
            store,
            hadoop_scheme: None,
        }
    }

    /// Makes Hadoop-based engines (JVM Spark) address this lake under `scheme`, e.g. `s3a`
    /// for an `s3://` lake.
    pub fn with_hadoop_scheme(mut self, scheme: impl Into<String>) -> Self {
        self.hadoop_scheme = Some(scheme.into());
        self
    }
}

#[async_trait]
impl Backend for ObjectStoreBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn root(&self) -> &Location {
        &self.root
    }

    fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    fn engine_location(&self, location: &Location, flavor: EngineFlavor) -> Result<Location> {
        match (flavor, &self.hadoop_scheme) {
            (EngineFlavor::Hadoop, Some(scheme)) => location.with_scheme(scheme),
            _ => Ok(location.clone()),
        }
    }

    async fn list_staging(&self) -> Result<Vec<StagingPrefix>> {
        let staging = self.root.join(STAGING_DIR);
        let listing = self
            .store
            .list_with_delimiter(Some(&self.store_path(&staging)))
            .await;
        let listing = match listing {
            Ok(listing) => listing,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(Error::storage(&staging, e)),
        };
        let mut prefixes: Vec<StagingPrefix> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .map(|name| StagingPrefix {
                location: staging.join(name),
                ingest_id: name.parse::<IngestId>().ok(),
            })
            .collect();
        prefixes.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(prefixes)
    }

    async fn delete_prefix(&self, prefix: &Location) -> Result<u64> {
        let path = self.store_path(prefix);
        let locations = self
            .store
            .list(Some(&path))
            .map_ok(|meta| meta.location)
            .boxed();
        let deleted = self
            .store
            .delete_stream(locations)
            .try_fold(0u64, |n, _| async move { Ok(n + 1) })
            .await
            .map_err(|e| Error::storage(prefix, e))?;
        // Local stores leave empty directories behind; remove them so the prefix is gone.
        if let Some(dir) = prefix.to_file_path() {
            match tokio::fs::remove_dir_all(&dir).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::storage(dir.display(), e)),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{ObjectStoreExt, PutPayload};

    async fn contract(backend: &ObjectStoreBackend) {
        let store = backend.object_store();
        assert!(backend.list_staging().await.unwrap().is_empty());

        let old = IngestId::new();
        let young = IngestId::new();
        for id in [old, young] {
            for part in ["part-00000.parquet", "part-00001.parquet"] {
                let loc = backend.staging_location(&id).join(part);
                store
                    .put(&backend.store_path(&loc), PutPayload::from_static(b"x"))
                    .await
                    .unwrap();
            }
        }
        let junk = backend.root().join(STAGING_DIR).join("not-an-id/file");
        store
            .put(&backend.store_path(&junk), PutPayload::from_static(b"x"))
            .await
            .unwrap();

        let listed = backend.list_staging().await.unwrap();
        let ids: Vec<_> = listed.iter().map(|p| p.ingest_id).collect();
        assert_eq!(ids.len(), 3);
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
    }

    #[tokio::test]
    async fn memory_backend_contract() {
        contract(&ObjectStoreBackend::memory()).await;
    }

    #[tokio::test]
    async fn file_backend_contract() {
        let dir = tempfile::tempdir().unwrap();
        let backend = ObjectStoreBackend::file(dir.path()).unwrap();
        contract(&backend).await;
        let id = IngestId::new();
        assert!(!dir.path().join("_staging").join(id.to_string()).exists());
    }

    #[test]
    fn layout_and_engine_addresses() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let backend = ObjectStoreBackend::from_store(
            "s3",
            Location::parse("s3://bucket/lake").unwrap(),
            store,
        )
        .with_hadoop_scheme("s3a");
        let table = backend.table_location("users");
        assert_eq!(table.as_str(), "s3://bucket/lake/tables/users");
        assert_eq!(backend.store_path(&table).as_ref(), "lake/tables/users");
        assert_eq!(
            backend
                .engine_location(&table, EngineFlavor::Hadoop)
                .unwrap()
                .as_str(),
            "s3a://bucket/lake/tables/users"
        );
        assert_eq!(
            backend
                .engine_location(&table, EngineFlavor::Native)
                .unwrap(),
            table
        );
        let id = IngestId::new();
        assert!(
            backend
                .staging_location(&id)
                .as_str()
                .ends_with(&format!("/_staging/{id}"))
        );
    }
}
