//! The staging janitor: deletes the staging prefixes that writes left behind.
//!
//! A write removes its own staging prefix whether it commits or not; prefixes survive only
//! when a process dies mid-write. Each prefix is named by its write's UUIDv7 ingest id, whose
//! first 48 bits are the creation time, so the janitor can tell an orphan's age without reading
//! object metadata, and can leave alone anything it does not recognise.
//!
//! A staging prefix is named by an id minted when its staging begins (not by the write's
//! ingest id, which a retry reuses long after it was minted), so its age is the age of the
//! upload. A prefix a write of this process holds is never deleted, whatever its age; a
//! cutoff below [`MIN_STAGING_AGE`] is refused unless forced, since a write staged by
//! another process may still be running.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
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
    /// Prefixes a write of this process is using, kept whatever their age.
    pub in_use: Vec<Location>,
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
    /// A prefix was kept because a write of this process is using it.
    InUse(&'a Location),
    /// Deleting a prefix failed.
    Failed(&'a Location, &'a Error),
}

/// The youngest staging prefix the janitor deletes unless forced: a staged upload and its
/// commit finish well within it, so an older prefix belongs to a write that died.
pub const MIN_STAGING_AGE: Duration = Duration::from_secs(3600);

/// Staging prefixes writes of this process are using, with how many holds each has.
static IN_USE: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Default::default);

/// A write's claim on its staging prefix: while it lives, no janitor of this process deletes
/// the prefix.
#[derive(Debug)]
#[must_use = "the prefix is protected only while the hold lives"]
pub struct StagingHold {
    key: String,
}

impl StagingHold {
    /// Holds `prefix` until the returned value is dropped.
    pub fn new(prefix: &Location) -> Self {
        let key = prefix.to_string();
        *IN_USE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default() += 1;
        StagingHold { key }
    }

    /// Whether a write of this process holds `prefix`.
    pub fn is_held(prefix: &Location) -> bool {
        IN_USE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(prefix.as_str())
    }
}

impl Drop for StagingHold {
    fn drop(&mut self) {
        let mut held = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// Deletes the staging prefixes of `backend` older than `older_than`.
///
/// Never touches a prefix younger than the cutoff, one a write of this process holds, or one
/// whose name is not a UUIDv7. A cutoff below [`MIN_STAGING_AGE`] is a
/// [`Config`](Error::Config) error; [`cleanup_staging_with`] can force it. A failed deletion
/// is reported and the janitor moves on; only a failed listing is an error
/// ([`ClientStaging`] with [`StagingOp::Cleanup`]).
pub async fn cleanup_staging(backend: &dyn Backend, older_than: Duration) -> Result<CleanupReport> {
    cleanup_staging_with(backend, older_than, false, |_| {}).await
}

/// [`cleanup_staging`], reporting progress to `on_event`; with `force`, any cutoff is taken
/// (only safe when no other process is writing to the lake).
pub async fn cleanup_staging_with(
    backend: &dyn Backend,
    older_than: Duration,
    force: bool,
    mut on_event: impl FnMut(CleanupEvent<'_>),
) -> Result<CleanupReport> {
    if !force && older_than < MIN_STAGING_AGE {
        return Err(Error::Config(format!(
            "a staging cleanup cutoff of {} is below the safe minimum of {}: a write staged by another process may still be using a younger prefix; force it only when nothing else writes to the lake",
            humanize(older_than),
            humanize(MIN_STAGING_AGE)
        )));
    }
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
        if StagingHold::is_held(&location) {
            on_event(CleanupEvent::InUse(&location));
            report.in_use.push(location);
            continue;
        }
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

fn humanize(d: Duration) -> String {
    match d.as_secs() {
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        _ => format!("{d:?}"),
    }
}
