//! The client's side of staged writes: Parquet parts up, and always removed again.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use arrow::array::RecordBatch;
use lakeorm_backends::{CleanupReport, PartWriter, StagedParts, StagingHold};
use lakeorm_core::{Error, ExecMetrics, ExecutionPlan, Location, Result};

use crate::client::Client;

/// The commit phase of a staged write: the Parquet parts are on the Backend under
/// `_staging/<id>/` (an id minted for the upload), and nothing is in the table yet.
///
/// [`commit`](Self::commit) runs the engine's one `INSERT … SELECT` or `MERGE` over the
/// parts; if that fails the write is aborted. Either way the staging prefix is removed. A
/// finalizer dropped before its commit began removes the parts in the background; one dropped
/// mid-commit leaves them, since the engine may still be reading them. Whatever
/// a crash leaves behind, the janitor ([`Client::cleanup_staging`]) removes once it is old.
#[must_use = "a staged write lands only when committed"]
pub(crate) struct Finalizer {
    client: Client,
    prefix: Location,
    /// Keeps this process's janitor off the prefix until the finalizer is done with it.
    _hold: StagingHold,
    plan: ExecutionPlan,
    rows: u64,
    bytes: u64,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Staged,
    /// The engine may be reading the parts.
    Committing,
    Committed,
    Aborted,
}

impl fmt::Debug for Finalizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finalizer")
            .field("prefix", &self.prefix.as_str())
            .field("rows", &self.rows)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Finalizer {
    /// Stages `batches` under `prefix` and returns the finalizer of `plan`, which reads them.
    pub(crate) async fn stage(
        client: &Client,
        prefix: Location,
        batches: &[RecordBatch],
        plan: impl FnOnce(&StagedParts) -> Result<ExecutionPlan>,
    ) -> Result<Self> {
        let hold = StagingHold::new(&prefix);
        let staged = stage(client, &prefix, batches).await?;
        let plan = match plan(&staged) {
            Ok(plan) => plan,
            Err(e) => {
                remove(client, &prefix).await;
                return Err(e);
            }
        };
        Ok(Finalizer {
            client: client.clone(),
            prefix,
            _hold: hold,
            plan,
            rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
            bytes: batches
                .iter()
                .map(|b| b.get_array_memory_size() as u64)
                .sum(),
            state: State::Staged,
        })
    }

    /// Runs the write over the staged parts, then removes them, committed or not.
    pub(crate) async fn commit(&mut self) -> Result<ExecMetrics> {
        match self.state {
            State::Staged => {}
            State::Committing | State::Committed => {
                return Err(Error::AlreadyFinalized("committed"));
            }
            State::Aborted => return Err(Error::AlreadyFinalized("aborted")),
        }
        self.state = State::Committing;
        let result = self
            .client
            .run(self.plan.clone(), self.rows, self.bytes)
            .await;
        if let Err(e @ Error::OutcomeUnknown { .. }) = &result {
            // The engine may still be reading the parts: deleting them could let it commit a
            // part of the rows. The janitor removes them once old.
            tracing::warn!(prefix = %self.prefix, error = %e, "a staged write's outcome is unknown; its parts stay for cleanup_staging");
            self.state = State::Aborted;
            return result;
        }
        remove(&self.client, &self.prefix).await;
        self.state = if result.is_ok() {
            State::Committed
        } else {
            State::Aborted
        };
        result
    }
}

impl Drop for Finalizer {
    fn drop(&mut self) {
        match self.state {
            State::Staged => {}
            State::Committing => {
                // Cancelled while the engine may still be reading the parts: deleting them now
                // could let it commit a part of the rows. The janitor removes them once old.
                tracing::warn!(prefix = %self.prefix, "a staged write was cancelled mid-commit; cleanup_staging will remove its parts");
                return;
            }
            State::Committed | State::Aborted => return,
        }
        // Dropped before the commit began: nothing reads the parts, remove them in the
        // background if a runtime is still there; otherwise the janitor will.
        let client = self.client.clone();
        let prefix = self.prefix.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { remove(&client, &prefix).await });
            }
            Err(_) => {
                tracing::warn!(%prefix, "a staged write was dropped; cleanup_staging will remove its parts")
            }
        }
    }
}

/// Uploads `batch` as Parquet parts under `prefix`. On failure nothing is left behind.
pub(crate) async fn stage(
    client: &Client,
    prefix: &Location,
    batches: &[RecordBatch],
) -> Result<StagedParts> {
    let Some(first) = batches.first() else {
        return Err(Error::data_invalid("a staged write", "it has no batches"));
    };
    let backend = client.backend().as_ref();
    let mut writer = PartWriter::new(
        backend,
        prefix.clone(),
        first.schema(),
        client.options().staging.clone(),
    );
    for batch in batches {
        if let Err(e) = writer.write(batch).await {
            writer.abort().await;
            remove(client, prefix).await;
            return Err(e);
        }
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
    /// (writes remove their own, committed or not). Await the returned [`CleanupStaging`].
    ///
    /// Prefixes younger than the cutoff, held by a write of this process, or not named by an
    /// id are never touched. A cutoff below
    /// [`MIN_STAGING_AGE`](crate::backends::MIN_STAGING_AGE) (one hour) is refused unless
    /// [`forced`](CleanupStaging::force). A TTL of 24 hours suits development, 72 hours
    /// production.
    pub fn cleanup_staging(&self, older_than: Duration) -> CleanupStaging<'_> {
        CleanupStaging {
            client: self,
            older_than,
            force: false,
        }
    }
}

/// A staging cleanup, run by awaiting it; see [`Client::cleanup_staging`].
#[derive(Debug)]
#[must_use = "a cleanup does nothing until it is awaited"]
pub struct CleanupStaging<'a> {
    client: &'a Client,
    older_than: Duration,
    force: bool,
}

impl CleanupStaging<'_> {
    /// Takes a cutoff below the safe minimum: only when no other process writes to the lake.
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }
}

impl<'a> IntoFuture for CleanupStaging<'a> {
    type Output = Result<CleanupReport>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<CleanupReport>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            lakeorm_backends::cleanup_staging_with(
                self.client.backend().as_ref(),
                self.older_than,
                self.force,
                |_| {},
            )
            .await
        })
    }
}
