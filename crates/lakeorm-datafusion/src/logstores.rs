//! Delta log stores for object-store schemes.
//!
//! delta-rs only knows `file://` and `memory://` unless its cloud crates (with their own SDKs
//! and lock services) are linked. lakeorm hands delta-rs the Backend's store itself, so all it
//! needs for `s3://` and `gs://` is delta-rs' default log store over that store. Its commits
//! are conditional puts (`If-None-Match: *`), which S3 and GCS honour, so concurrent writers
//! stay safe without an external lock.

use std::sync::Arc;

use deltalake::DeltaResult;
use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig, default_logstore, logstore_factories,
};
use url::Url;

#[derive(Debug, Default)]
struct DefaultOverBackend;

impl LogStoreFactory for DefaultOverBackend {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// Makes delta-rs accept tables under `scheme://` (no-op for schemes it already knows).
pub(crate) fn register(scheme: &str) {
    let Ok(key) = Url::parse(&format!("{scheme}://")) else {
        return;
    };
    let registry = logstore_factories();
    if registry.get(&key).is_none() {
        registry.insert(key, Arc::new(DefaultOverBackend));
    }
}
