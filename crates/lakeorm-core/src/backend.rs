//! The `Backend` seam: where the bytes of a lake live.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use object_store::ObjectStore;

use crate::error::Result;
use crate::ingest::IngestId;
use crate::location::Location;

/// How an engine addresses storage. The same object may need another scheme on the engine's
/// side than on the client's (`s3a://` for Hadoop-based JVM Spark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EngineFlavor {
    /// Engines on `object_store` or with native S3 support (embedded, Sail).
    Native,
    /// JVM engines going through Hadoop file systems (Apache Spark, Databricks).
    Hadoop,
}

/// The prefix under the root where staged writes live.
pub const STAGING_DIR: &str = "_staging";

/// The prefix under the root where tables live.
pub const TABLES_DIR: &str = "tables";

/// One staging prefix found by [`Backend::list_staging`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingPrefix {
    /// The prefix (`…/_staging/<id>`).
    pub location: Location,
    /// The ingest id parsed from the prefix name, if it is a UUIDv7.
    pub ingest_id: Option<IngestId>,
}

/// A place to keep a lake: local files, memory, S3, GCS.
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// A short name (`"file"`, `"memory"`, `"s3"`, `"gcs"`).
    fn name(&self) -> &str;

    /// The lake's root, as the client addresses it.
    fn root(&self) -> &Location;

    /// The object store the client reads and writes through. Paths are relative to the store
    /// (a bucket, or the file system root for local files): use [`Backend::store_path`].
    fn object_store(&self) -> Arc<dyn ObjectStore>;

    /// The store path of a location on this backend.
    fn store_path(&self, location: &Location) -> object_store::path::Path {
        object_store::path::Path::from(location.path())
    }

    /// Where a table's files live.
    fn table_location(&self, table: &str) -> Location {
        self.root().join(TABLES_DIR).join(table)
    }

    /// Where the staged files of one write live.
    fn staging_location(&self, ingest_id: &IngestId) -> Location {
        self.root().join(STAGING_DIR).join(&ingest_id.to_string())
    }

    /// The same location as an engine of `flavor` must address it.
    fn engine_location(&self, location: &Location, flavor: EngineFlavor) -> Result<Location> {
        let _ = flavor;
        Ok(location.clone())
    }

    /// Lists the staging prefixes under the root.
    async fn list_staging(&self) -> Result<Vec<StagingPrefix>>;

    /// Deletes every object under `prefix`; returns how many were deleted.
    async fn delete_prefix(&self, prefix: &Location) -> Result<u64>;
}
