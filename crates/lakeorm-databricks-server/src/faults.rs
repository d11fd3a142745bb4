//! Runtime fault injection and the request counters tests read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Faults a test turns on while the server runs; every knob applies to what happens next.
///
/// Cloning shares the knobs.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    knobs: Mutex<Knobs>,
    /// Bumped by [`Faults::expire_links`]; a link issued under an older epoch has expired.
    link_epoch: AtomicU64,
    /// Bumped by [`Faults::expire_tokens`]; a token issued under an older epoch has expired.
    token_epoch: AtomicU64,
}

#[derive(Debug, Default)]
struct Knobs {
    starting_until: Option<Instant>,
    statement_delay: Duration,
    fail_next: Option<(String, String)>,
    /// Workspace API requests still to answer `429 Too Many Requests`.
    throttled: u32,
}

impl Faults {
    fn knobs(&self) -> std::sync::MutexGuard<'_, Knobs> {
        self.inner.knobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// For the next `d`, the warehouse is starting: new statements stay `PENDING`, then run.
    pub fn warehouse_starting(&self, d: Duration) {
        self.knobs().starting_until = Some(Instant::now() + d);
    }

    /// Every statement stays `RUNNING` at least `d` before it does its work (zero turns it off).
    pub fn statement_delay(&self, d: Duration) {
        self.knobs().statement_delay = d;
    }

    /// The next statement ends `FAILED` with this `error_code` and `message`, executing nothing.
    pub fn fail_next(&self, code: impl Into<String>, message: impl Into<String>) {
        self.knobs().fail_next = Some((code.into(), message.into()));
    }

    /// The next `n` workspace API requests are throttled: `429 Too Many Requests` with
    /// `Retry-After: 1`, before anything is done.
    pub fn throttle_next(&self, n: u32) {
        self.knobs().throttled = n;
    }

    /// Every presigned link issued so far expires now (links issued later are valid).
    pub fn expire_links(&self) {
        self.inner.link_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Every OAuth token issued so far expires now.
    pub fn expire_tokens(&self) {
        self.inner.token_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Turns every knob off.
    pub fn clear(&self) {
        *self.knobs() = Knobs::default();
    }

    pub(crate) fn starting_until(&self) -> Option<Instant> {
        self.knobs().starting_until.filter(|t| *t > Instant::now())
    }

    pub(crate) fn delay(&self) -> Duration {
        self.knobs().statement_delay
    }

    /// Whether this request is throttled (and one fewer will be).
    pub(crate) fn take_throttle(&self) -> bool {
        let mut knobs = self.knobs();
        let throttled = knobs.throttled > 0;
        knobs.throttled = knobs.throttled.saturating_sub(1);
        throttled
    }

    pub(crate) fn take_failure(&self) -> Option<(String, String)> {
        self.knobs().fail_next.take()
    }

    pub(crate) fn link_epoch(&self) -> u64 {
        self.inner.link_epoch.load(Ordering::SeqCst)
    }

    pub(crate) fn token_epoch(&self) -> u64 {
        self.inner.token_epoch.load(Ordering::SeqCst)
    }
}

/// What the server has seen, as a snapshot ([`crate::DatabricksServer::counters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Requests to `/oidc/v1/token`, granted or not.
    pub token_requests: u64,
    /// Tokens granted.
    pub tokens_issued: u64,
    /// Workspace API requests refused with 401.
    pub unauthenticated: u64,
    /// Statements accepted by `POST /api/2.0/sql/statements`.
    pub statements: u64,
    /// Of those, queries (`SELECT`, `WITH`, `VALUES`, `DESCRIBE`).
    pub queries: u64,
    /// Of those, writes (`INSERT`, `MERGE`, `DELETE`, `UPDATE`).
    pub writes: u64,
    /// Of those, DDL and maintenance (`CREATE`, `ALTER`, `DROP`, `OPTIMIZE`, `VACUUM`).
    pub ddl: u64,
    /// Statements that ended `FAILED`.
    pub statements_failed: u64,
    /// Cancel requests.
    pub cancels: u64,
    /// Close (DELETE) requests.
    pub closes: u64,
    /// `GET …/result/chunks/{n}` requests.
    pub chunk_requests: u64,
    /// Presigned links issued.
    pub links_issued: u64,
    /// Successful presigned link downloads.
    pub link_fetches: u64,
    /// Link downloads refused because the request carried an `Authorization` header.
    pub links_rejected_for_auth_header: u64,
    /// Link downloads refused because the link had expired.
    pub links_expired: u64,
    /// Link downloads refused because the signature did not match.
    pub links_bad_signature: u64,
    /// Files API uploads (`PUT /api/2.0/fs/files…`).
    pub files_put: u64,
    /// Files API downloads (`GET`).
    pub files_get: u64,
    /// Files API metadata requests (`HEAD`).
    pub files_head: u64,
    /// Files API deletes of files.
    pub files_deleted: u64,
    /// Files API directory requests (create, list, head, delete).
    pub directory_requests: u64,
    /// Requests answered `429 Too Many Requests` by [`Faults::throttle_next`].
    pub throttled: u64,
}

macro_rules! cells {
    ($($field:ident),* $(,)?) => {
        /// The live counters behind [`Counters`].
        #[derive(Debug, Default)]
        pub(crate) struct CounterCells { $(pub(crate) $field: AtomicU64,)* }

        impl CounterCells {
            pub(crate) fn snapshot(&self) -> Counters {
                Counters { $($field: self.$field.load(Ordering::SeqCst),)* }
            }
        }
    };
}

cells!(
    token_requests,
    tokens_issued,
    unauthenticated,
    statements,
    queries,
    writes,
    ddl,
    statements_failed,
    cancels,
    closes,
    chunk_requests,
    links_issued,
    link_fetches,
    links_rejected_for_auth_header,
    links_expired,
    links_bad_signature,
    files_put,
    files_get,
    files_head,
    files_deleted,
    directory_requests,
    throttled,
);

/// Adds one to a counter.
pub(crate) fn bump(cell: &AtomicU64) {
    cell.fetch_add(1, Ordering::SeqCst);
}
