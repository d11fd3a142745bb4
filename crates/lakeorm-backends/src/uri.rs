//! Opening a backend from a URI given at run time (a CLI flag, an environment variable).

use lakeorm_core::{Error, Location, Result};

use crate::store::ObjectStoreBackend;

/// Opens the lake at `uri`:
///
/// - a path, or `file:///abs/path`: a local directory (created if missing);
/// - `memory://`: a fresh in-memory lake;
/// - `s3://bucket/prefix` (feature `s3`): S3, configured by the standard `AWS_*` variables
///   (see [`S3Options::from_env`](crate::S3Options::from_env));
/// - `gs://bucket/prefix` (feature `gcs`): GCS, configured by the `GOOGLE_*` variables.
pub fn from_uri(uri: &str) -> Result<ObjectStoreBackend> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return ObjectStoreBackend::file(uri);
    };
    match scheme {
        "file" => {
            let location = Location::parse(uri)?;
            let path = location
                .to_file_path()
                .ok_or_else(|| Error::Config(format!("`{uri}` is not a local file URI")))?;
            ObjectStoreBackend::file(path)
        }
        "memory" => Ok(ObjectStoreBackend::memory()),
        "s3" | "s3a" => s3(rest, uri),
        "gs" => gcs(rest, uri),
        other => Err(Error::Config(format!(
            "`{uri}`: unknown lake scheme `{other}` (expected a path, file://, memory://, s3:// or gs://)"
        ))),
    }
}

/// `bucket/prefix` → (`bucket`, `prefix`).
#[cfg(any(feature = "s3", feature = "gcs"))]
fn bucket_and_prefix<'a>(rest: &'a str, uri: &str) -> Result<(&'a str, &'a str)> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::Config(format!("`{uri}` names no bucket")));
    }
    Ok((bucket, prefix))
}

#[cfg(feature = "s3")]
fn s3(rest: &str, uri: &str) -> Result<ObjectStoreBackend> {
    let (bucket, prefix) = bucket_and_prefix(rest, uri)?;
    ObjectStoreBackend::s3(crate::S3Options::from_env(bucket).prefix(prefix))
}

#[cfg(not(feature = "s3"))]
fn s3(_rest: &str, uri: &str) -> Result<ObjectStoreBackend> {
    Err(Error::unsupported(
        format!("opening `{uri}`"),
        "lakeorm-backends",
        "built without the `s3` feature",
    ))
}

#[cfg(feature = "gcs")]
fn gcs(rest: &str, uri: &str) -> Result<ObjectStoreBackend> {
    let (bucket, prefix) = bucket_and_prefix(rest, uri)?;
    ObjectStoreBackend::gcs(crate::GcsOptions::from_env(bucket).prefix(prefix))
}

#[cfg(not(feature = "gcs"))]
fn gcs(_rest: &str, uri: &str) -> Result<ObjectStoreBackend> {
    Err(Error::unsupported(
        format!("opening `{uri}`"),
        "lakeorm-backends",
        "built without the `gcs` feature",
    ))
}

#[cfg(test)]
mod tests {
    use lakeorm_core::Backend;

    use super::*;

    #[test]
    fn opens_each_scheme() {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let by_path = from_uri(lake.to_str().unwrap()).unwrap();
        assert_eq!(by_path.name(), "file");
        assert!(lake.is_dir());
        let by_url = from_uri(Location::from_path(&lake).unwrap().as_str()).unwrap();
        assert_eq!(by_url.root(), by_path.root());
        assert_eq!(from_uri("memory://").unwrap().name(), "memory");
        assert!(matches!(from_uri("ftp://x/y"), Err(Error::Config(_))));
        assert!(matches!(from_uri("s3:///nobucket"), Err(Error::Config(_))));
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_uris_keep_their_prefix() {
        let backend = from_uri("s3://bucket/warehouse/lake").unwrap();
        assert_eq!(backend.name(), "s3");
        assert_eq!(backend.root().as_str(), "s3://bucket/warehouse/lake");
    }
}
