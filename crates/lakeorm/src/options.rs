//! Client and write options.

use std::time::Duration;

/// How a failed optimistic commit (or any retryable error) is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        crate::client::backoff(self.base_delay, self.max_delay, attempt)
    }
}

/// Options of a [`Client`](crate::Client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Retries of retryable failures (commit conflicts, clusters still starting).
    pub retry: RetryPolicy,
    /// Batches larger than this (estimated) go through staged Parquet on engines that support
    /// it. Default 128 MiB.
    pub fast_path_threshold: u64,
    /// The most staged writes in flight at once. Default 4.
    pub max_inflight_ingests: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            fast_path_threshold: 128 << 20,
            max_inflight_ingests: 4,
        }
    }
}

/// What an insert does when a row with the same key already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictStrategy {
    /// Fail the whole insert; nothing is written.
    Error,
    /// Keep the existing row and skip the new one.
    Ignore,
    /// Overwrite the existing row.
    Update,
}

/// Which path a write takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WritePath {
    /// Chosen from the batch's size.
    #[default]
    Auto,
    /// Arrow batches sent straight to the engine.
    Direct,
    /// Parquet staged on the Backend, then one engine operation.
    ObjectStorage,
}

/// Options of one insert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertOptions {
    /// What to do on a key collision; `None`: append, or upsert for models with a merge key.
    pub on_conflict: Option<ConflictStrategy>,
    /// The write path.
    pub write_path: WritePath,
}

impl InsertOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the conflict strategy for rows whose primary key (else merge key) already exists.
    pub fn on_conflict(mut self, strategy: ConflictStrategy) -> Self {
        self.on_conflict = Some(strategy);
        self
    }

    /// Forces Arrow batches straight to the engine.
    pub fn via_direct(mut self) -> Self {
        self.write_path = WritePath::Direct;
        self
    }

    /// Forces staged Parquet on the Backend.
    pub fn via_object_storage(mut self) -> Self {
        self.write_path = WritePath::ObjectStorage;
        self
    }
}
