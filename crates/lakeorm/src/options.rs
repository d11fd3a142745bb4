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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// Retries of retryable failures (commit conflicts, clusters still starting).
    pub retry: RetryPolicy,
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
