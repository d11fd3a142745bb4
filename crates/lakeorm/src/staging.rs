//! The client's side of staged writes: Parquet parts up, and always removed again.

use std::time::Duration;

use arrow::array::RecordBatch;
use lakeorm_backends::{CleanupReport, PartWriter, StagedParts};
use lakeorm_core::{Location, Result};

use crate::client::Client;

/// Uploads `batch` as Parquet parts under `prefix`. On failure nothing is left behind.
pub(crate) async fn stage(
    client: &Client,
    prefix: &Location,
    batch: &RecordBatch,
) -> Result<StagedParts> {
    let backend = client.backend().as_ref();
    let mut writer = PartWriter::new(
        backend,
        prefix.clone(),
        batch.schema(),
        client.options().staging.clone(),
    );
    if let Err(e) = writer.write(batch).await {
        writer.abort().await;
        remove(client, prefix).await;
        return Err(e);
    }
    match writer.finish().await {
        Ok(staged) => Ok(staged),
        Err(e) => {
            remove(client, prefix).await;
            Err(e)
        }
    }
}

/// Deletes a staging prefix. A failure is logged, not returned: the write's outcome stands, and
/// the janitor ([`Client::cleanup_staging`]) removes the prefix once it is old enough.
pub(crate) async fn remove(client: &Client, prefix: &Location) {
    if let Err(e) = client.backend().delete_prefix(prefix).await {
        tracing::warn!(%prefix, error = %e, "could not remove a staging prefix; cleanup_staging will");
    }
}

impl Client {
    /// Deletes the staging prefixes older than `older_than` that crashed writes left behind
    /// (writes remove their own, committed or not). Prefixes younger than the cutoff, or not
    /// named by an ingest id, are never touched. A TTL of 24 hours suits development, 72 hours
    /// production.
    pub async fn cleanup_staging(&self, older_than: Duration) -> Result<CleanupReport> {
        lakeorm_backends::cleanup_staging(self.backend().as_ref(), older_than).await
    }
}
