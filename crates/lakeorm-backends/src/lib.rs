//! Backends of lakeorm: where the bytes of a lake live, on top of `object_store`.
//!
//! One implementation, [`ObjectStoreBackend`], covers every store: local files, memory, S3 and
//! S3-compatible servers (feature `s3`, on by default) and Google Cloud Storage (feature
//! `gcs`). [`from_uri`] opens one from a URI given at run time.
//!
//! A backend knows the lake's layout — tables under `tables/<name>`, staged writes under
//! `_staging/<ingest_id>/` — and how each engine must address a location (`s3://` for the client
//! and native engines, `s3a://` for JVM Spark). Around it this crate holds the staging
//! lifecycle: the [`PartWriter`] that streams batches into Parquet parts, and the janitor,
//! [`cleanup_staging`], that removes what crashed writes left behind.

mod janitor;
mod parts;
mod store;
mod uri;

#[cfg(feature = "gcs")]
mod gcs;
#[cfg(feature = "s3")]
mod s3;

#[cfg(feature = "gcs")]
pub use gcs::GcsOptions;
pub use janitor::{
    CleanupEvent, CleanupReport, MIN_STAGING_AGE, StagingHold, cleanup_staging,
    cleanup_staging_with,
};
pub use parts::{Compression, PartWriter, PartWriterOptions, StagedPart, StagedParts};
#[cfg(feature = "s3")]
pub use s3::S3Options;
pub use store::ObjectStoreBackend;
pub use uri::from_uri;
