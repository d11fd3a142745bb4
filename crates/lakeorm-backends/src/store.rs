//! [`ObjectStoreBackend`]: the one [`Backend`] implementation, over any `object_store` store.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use lakeorm_core::backend::STAGING_DIR;
use lakeorm_core::{Backend, EngineFlavor, Error, IngestId, Location, Result, StagingPrefix};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

/// The root `scheme://bucket[/prefix]` of a lake in a bucket.
#[cfg_attr(not(any(feature = "s3", feature = "gcs")), allow(dead_code))]
pub(crate) fn bucket_root(scheme: &str, bucket: &str, prefix: &str) -> Result<Location> {
    if bucket.is_empty() {
        return Err(Error::Config(format!(
            "a {scheme}:// lake needs a bucket name"
        )));
    }
    let root = if prefix.is_empty() {
        format!("{scheme}://{bucket}")
    } else {
        format!("{scheme}://{bucket}/{prefix}")
    };
    Location::parse(&root)
}

/// A [`Backend`] over any `object_store` store.
///
/// Constructors pick the store and the root: [`file`](Self::file) (a local directory),
/// [`memory`](Self::memory) (in-process), `s3` and `gcs` (behind the features of those names),
/// [`from_uri`](crate::from_uri) for a URI given at run time, and
/// [`from_store`](Self::from_store) for any other store.
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

    /// The scheme Hadoop-based engines address this lake under, if it differs from the
    /// client's.
    pub fn hadoop_scheme(&self) -> Option<&str> {
        self.hadoop_scheme.as_deref()
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
