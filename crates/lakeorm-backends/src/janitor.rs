//! The staging janitor: deletes the staging prefixes that writes left behind.
//!
//! A write removes its own staging prefix whether it commits or not; prefixes survive only
//! when a process dies mid-write. Each prefix is named by its write's UUIDv7 ingest id, whose
//! first 48 bits are the creation time, so the janitor can tell an orphan's age without reading
//! object metadata, and can leave alone anything it does not recognise.

use std::time::{Duration, SystemTime};

use lakeorm_core::{Backend, ClientStaging, Error, Location, Result, StagingOp};

/// What a cleanup did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Prefixes found under `_staging/`.
    pub scanned: usize,
    /// Prefixes older than the cutoff, deleted.
    pub deleted: Vec<Location>,
    /// Prefixes younger than the cutoff, kept (their writes may still be running).
    pub kept: Vec<Location>,
    /// Prefixes not named by a UUIDv7, never touched.
    pub skipped: Vec<Location>,
    /// Prefixes whose deletion failed, with the error.
    pub failed: Vec<(Location, String)>,
    /// Objects deleted over all prefixes.
    pub objects_deleted: u64,
}

/// Progress of a cleanup, for progress bars and logs.
#[derive(Debug)]
#[non_exhaustive]
pub enum CleanupEvent<'a> {
    /// The listing is done; this many prefixes will be looked at.
    Listed(usize),
    /// A prefix was deleted, with this many objects.
    Deleted(&'a Location, u64),
    /// A prefix was kept because it is younger than the cutoff.
    Kept(&'a Location),
    /// A prefix was skipped because its name is not an ingest id.
    Skipped(&'a Location),
    /// Deleting a prefix failed.
    Failed(&'a Location, &'a Error),
}

/// Deletes the staging prefixes of `backend` older than `older_than`.
///
/// Never touches a prefix younger than the cutoff or one whose name is not a UUIDv7. A failed
/// deletion is reported and the janitor moves on; only a failed listing is an error
/// ([`ClientStaging`] with [`StagingOp::Cleanup`]).
pub async fn cleanup_staging(backend: &dyn Backend, older_than: Duration) -> Result<CleanupReport> {
    cleanup_staging_with(backend, older_than, |_| {}).await
}

/// [`cleanup_staging`], reporting progress to `on_event`.
pub async fn cleanup_staging_with(
    backend: &dyn Backend,
    older_than: Duration,
    mut on_event: impl FnMut(CleanupEvent<'_>),
) -> Result<CleanupReport> {
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let prefixes = backend.list_staging().await.map_err(|e| {
        Error::ClientStaging(ClientStaging {
            uri: backend
                .root()
                .join(lakeorm_core::backend::STAGING_DIR)
                .to_string(),
            backend: backend.name().to_owned(),
            op: StagingOp::Cleanup,
            source: Box::new(e),
        })
    })?;
    on_event(CleanupEvent::Listed(prefixes.len()));
    let mut report = CleanupReport {
        scanned: prefixes.len(),
        ..CleanupReport::default()
    };
    for prefix in prefixes {
        let location = prefix.location;
        let Some(id) = prefix.ingest_id else {
            on_event(CleanupEvent::Skipped(&location));
            report.skipped.push(location);
            continue;
        };
        if id.system_time() >= cutoff {
            on_event(CleanupEvent::Kept(&location));
            report.kept.push(location);
            continue;
        }
        match backend.delete_prefix(&location).await {
            Ok(objects) => {
                tracing::info!(prefix = %location, objects, "deleted an orphaned staging prefix");
                on_event(CleanupEvent::Deleted(&location, objects));
                report.objects_deleted += objects;
                report.deleted.push(location);
            }
            Err(e) => {
                tracing::warn!(prefix = %location, error = %e, "could not delete a staging prefix");
                on_event(CleanupEvent::Failed(&location, &e));
                report.failed.push((location, e.to_string()));
            }
        }
    }
    Ok(report)
}
