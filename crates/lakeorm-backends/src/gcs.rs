//! Google Cloud Storage.
//!
//! Covered by configuration and URL tests only: the GCS emulator installable here
//! (`fake-gcs-server` from PyPI) rejects `object_store`'s upload requests, so there is no
//! loopback server to run the backend contract against.

use std::fmt;
use std::sync::Arc;

use lakeorm_core::{Error, Location, Result};
use object_store::gcp::GoogleCloudStorageBuilder;

use crate::store::{ObjectStoreBackend, bucket_root};

/// How to reach a GCS bucket.
///
/// With [`GcsOptions::from_env`] the standard variables are read first
/// (`GOOGLE_SERVICE_ACCOUNT`/`GOOGLE_SERVICE_ACCOUNT_PATH`, `GOOGLE_SERVICE_ACCOUNT_KEY`,
/// `GOOGLE_APPLICATION_CREDENTIALS`); options given here win.
#[derive(Clone, Default)]
pub struct GcsOptions {
    bucket: String,
    prefix: String,
    from_env: bool,
    service_account_path: Option<String>,
    service_account_key: Option<String>,
}

impl fmt::Debug for GcsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcsOptions")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("from_env", &self.from_env)
            .field("service_account_path", &self.service_account_path)
            .field(
                "service_account_key",
                &self.service_account_key.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

impl GcsOptions {
    /// A lake in `bucket`, configured only by these options.
    pub fn new(bucket: impl Into<String>) -> Self {
        GcsOptions {
            bucket: bucket.into(),
            ..Self::default()
        }
    }

    /// A lake in `bucket`, configured by the standard `GOOGLE_*` variables and these options.
    pub fn from_env(bucket: impl Into<String>) -> Self {
        GcsOptions {
            from_env: true,
            ..Self::new(bucket)
        }
    }

    /// The lake's root inside the bucket.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_matches('/').to_owned();
        self
    }

    /// A service-account JSON file.
    pub fn service_account_path(mut self, path: impl Into<String>) -> Self {
        self.service_account_path = Some(path.into());
        self
    }

    /// A service-account key, as JSON text.
    pub fn service_account_key(mut self, json: impl Into<String>) -> Self {
        self.service_account_key = Some(json.into());
        self
    }

    /// The lake's root URI (`gs://bucket/prefix`).
    pub fn root(&self) -> Result<Location> {
        bucket_root("gs", &self.bucket, &self.prefix)
    }
}

impl ObjectStoreBackend {
    /// A lake in a Google Cloud Storage bucket. Every engine addresses it as `gs://`.
    pub fn gcs(options: GcsOptions) -> Result<Self> {
        let root = options.root()?;
        let mut builder = if options.from_env {
            GoogleCloudStorageBuilder::from_env()
        } else {
            GoogleCloudStorageBuilder::new()
        };
        builder = builder.with_bucket_name(&options.bucket);
        if let Some(path) = &options.service_account_path {
            builder = builder.with_service_account_path(path);
        }
        if let Some(key) = &options.service_account_key {
            builder = builder.with_service_account_key(key);
        }
        let store = builder
            .build()
            .map_err(|e| Error::Config(format!("GCS lake {root}: {e}")))?;
        Ok(ObjectStoreBackend::from_store("gcs", root, Arc::new(store)))
    }
}

#[cfg(test)]
mod tests {
    use lakeorm_core::{Backend, EngineFlavor};

    use super::*;

    const FAKE_KEY: &str = r#"{"private_key": "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n", "client_email": "lake@example.iam.gserviceaccount.com", "private_key_id": "k"}"#;

    #[test]
    fn gcs_root_and_layout() {
        let options = GcsOptions::new("bucket").prefix("lake");
        assert_eq!(options.root().unwrap().as_str(), "gs://bucket/lake");
        assert!(
            !format!("{:?}", options.clone().service_account_key(FAKE_KEY)).contains("PRIVATE")
        );
        // Building needs credentials object_store can parse; a malformed key is a typed
        // configuration error, not a panic.
        match ObjectStoreBackend::gcs(options.service_account_key("{not json")) {
            Err(Error::Config(message)) => assert!(message.contains("gs://bucket/lake")),
            other => panic!("expected a configuration error, got {other:?}"),
        }
        let store: Arc<dyn object_store::ObjectStore> =
            Arc::new(object_store::memory::InMemory::new());
        let backend = ObjectStoreBackend::from_store(
            "gcs",
            Location::parse("gs://bucket/lake").unwrap(),
            store,
        );
        let table = backend.table_location("users");
        assert_eq!(
            backend
                .engine_location(&table, EngineFlavor::Hadoop)
                .unwrap()
                .as_str(),
            "gs://bucket/lake/tables/users"
        );
    }
}
