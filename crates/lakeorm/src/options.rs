//! Client and write options.

use std::time::Duration;

use lakeorm_backends::PartWriterOptions;
use lakeorm_core::MergeAction;

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
    /// The wait before retry `attempt` (0-based): exponential from `base_delay`, capped at
    /// `max_delay`, with jitter so that writers that collided do not collide again in step.
    pub fn delay(&self, attempt: u32) -> Duration {
        let capped = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        // The clock's sub-second noise is jitter enough, without a random-number dependency.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        capped.mul_f64(0.5 + f64::from(nanos % 1000) / 2000.0)
    }
}

/// Options of a [`Client`](crate::Client).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Retries of retryable failures (commit conflicts, clusters still starting).
    pub retry: RetryPolicy,
    /// Writes whose Arrow size reaches this many bytes are staged (Parquet parts on the
    /// Backend, then one engine operation) when the engine supports it and staging helps it
    /// (a remote engine; not the embedded one, where it is only a Parquet round trip), default
    /// 128 MiB.
    pub staged_threshold: u64,
    /// How many staged writes may run at once (default 4); more wait for a slot, which bounds
    /// the memory and upload bandwidth of a burst of large inserts.
    pub max_inflight_staged: usize,
    /// Codec and part sizes of staged Parquet (default zstd, 128 MiB parts).
    pub staging: PartWriterOptions,
    /// How long an idempotency key is remembered (default 24 hours).
    pub idempotency_ttl: Duration,
    /// How long a key whose call did not end in this process is taken to be in use by a write
    /// still running elsewhere (default 5 minutes): a retry within it is
    /// [`IdempotencyKeyInUse`](crate::Error::IdempotencyKeyInUse).
    pub idempotency_lease: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            staged_threshold: 128 << 20,
            max_inflight_staged: 4,
            staging: PartWriterOptions::default(),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            idempotency_lease: Duration::from_secs(5 * 60),
        }
    }
}

impl ClientOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the size from which writes are staged.
    pub fn staged_threshold(mut self, bytes: u64) -> Self {
        self.staged_threshold = bytes;
        self
    }

    /// Sets how many staged writes may run at once (at least one).
    pub fn max_inflight_staged(mut self, n: usize) -> Self {
        self.max_inflight_staged = n.max(1);
        self
    }

    /// Sets the codec and part sizes of staged Parquet.
    pub fn staging(mut self, staging: PartWriterOptions) -> Self {
        self.staging = staging;
        self
    }

    /// Sets how long idempotency keys are remembered.
    pub fn idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.idempotency_ttl = ttl;
        self
    }

    /// Sets how long a key claimed by a call that did not end in this process (another
    /// process, or this one before a restart) is taken to be in use.
    pub fn idempotency_lease(mut self, lease: Duration) -> Self {
        self.idempotency_lease = lease;
        self
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

impl From<ConflictStrategy> for MergeAction {
    fn from(strategy: ConflictStrategy) -> Self {
        match strategy {
            ConflictStrategy::Error => MergeAction::Error,
            ConflictStrategy::Ignore => MergeAction::Ignore,
            ConflictStrategy::Update => MergeAction::Update,
        }
    }
}

/// Which path a write takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WritePath {
    /// Chosen from the batch's size ([`ClientOptions::staged_threshold`]) on engines where
    /// staging helps (`DriverCapabilities::staging_helps`); direct elsewhere.
    #[default]
    Auto,
    /// Arrow batches sent straight to the engine.
    Direct,
    /// Staged: Parquet parts on the Backend under `_staging/<id>/`, then one engine
    /// operation over them; the parts are removed whether it commits or not.
    Staged,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for attempt in 0..20 {
            let delay = policy.delay(attempt);
            let full = policy
                .base_delay
                .saturating_mul(1 << attempt.min(16))
                .min(policy.max_delay);
            assert!(
                delay >= full / 2 && delay <= full,
                "attempt {attempt}: {delay:?} vs {full:?}"
            );
        }
        assert!(policy.delay(3) > policy.delay(0));
    }
}
