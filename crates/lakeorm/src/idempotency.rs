//! Idempotent inserts.
//!
//! An insert with an idempotency key first records the key with the ingest id it will write
//! under, in the lake's own dedup table (`_lakeorm_idempotency`), and only then writes. A retry
//! with the same key finds that record and asks the engine whether a commit carrying the ingest
//! id exists in the target table's log:
//!
//! - it does: the first call committed (perhaps its reply was lost); the retry writes nothing;
//! - it does not: the first call failed before committing; the retry writes the rows, under
//!   the same ingest id, once.
//!
//! The commit log, not the rows, is the witness, so the answer holds even after later writes
//! have updated or deleted those rows.
//!
//! Calls with one key are serialised: in this process a second call waits until the first
//! has finished and then sees its outcome; across processes the first record to commit wins
//! (see [`claim`]), and a key whose write may still be running elsewhere is refused with the
//! retryable [`Error::IdempotencyKeyInUse`] until its lease
//! ([`ClientOptions::idempotency_lease`](crate::ClientOptions::idempotency_lease)) ends. Keys expire after their time to live (24 hours unless
//! configured); [`Maintenance::expire_idempotency_keys`](crate::Maintenance) removes expired
//! records.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lakeorm_core::{
    AsOf, Error, ExecMetrics, ExecutionPlan, IngestId, Lake as _, Result, Statement, TableSpec,
    WriteSource,
};

use crate::client::Client;

/// The table holding idempotency keys.
pub const IDEMPOTENCY_TABLE: &str = "_lakeorm_idempotency";

/// One remembered key.
#[derive(lakeorm_derive::Lake, Debug, Clone, PartialEq)]
#[lake(crate = "lakeorm_core", table = "_lakeorm_idempotency")]
pub(crate) struct IdempotencyRecord {
    #[lake(pk)]
    idempotency_key: String,
    #[lake(pk)]
    table_name: String,
    ingest_id: String,
    rows: i64,
    recorded_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// What a key says about the write about to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// A key not seen before (or expired), now recorded with this id.
    Fresh(IngestId),
    /// The key's earlier call did not commit; write again under its id.
    Retry(IngestId),
    /// The key's earlier call committed under this id; write nothing.
    Committed(IngestId),
}

/// Keys held by calls of this process, so that a second call with a key waits for the first
/// to finish rather than racing it.
static HELD: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// The last ingest id whose call finished in this process, per key: a retry of a call known
/// to have ended may write again at once. Bounded; a forgotten key falls back on the lease.
static FINISHED: LazyLock<Mutex<HashMap<String, IngestId>>> = LazyLock::new(Default::default);
const FINISHED_CAPACITY: usize = 65_536;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A key held by one call of this process, from its claim until its write has finished.
pub(crate) struct KeyGuard {
    scope: String,
    ingest_id: Option<IngestId>,
    /// The write returned (committed or failed). A guard dropped without it was cancelled,
    /// and its write may still run on a server: the key then stays leased.
    ended: bool,
    // Dropped before `lock` is looked at, so the map entry can go.
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl KeyGuard {
    async fn acquire(scope: String) -> Self {
        let lock = Arc::clone(lock(&HELD).entry(scope.clone()).or_default());
        let guard = Arc::clone(&lock).lock_owned().await;
        KeyGuard {
            scope,
            ingest_id: None,
            ended: false,
            guard: Some(guard),
            lock,
        }
    }
}

impl KeyGuard {
    /// The write under the key has returned.
    pub(crate) fn ended(mut self) {
        self.ended = true;
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if let Some(id) = self.ingest_id.filter(|_| self.ended) {
            let mut finished = lock(&FINISHED);
            if finished.len() >= FINISHED_CAPACITY {
                finished.clear();
            }
            finished.insert(self.scope.clone(), id);
        }
        drop(self.guard.take());
        let mut held = lock(&HELD);
        // The map's reference and ours: no other call waits on this key.
        if Arc::strong_count(&self.lock) == 2 {
            held.remove(&self.scope);
        }
    }
}

async fn ensure_table(client: &Client) -> Result<()> {
    client
        .idempotency_ready()
        .get_or_try_init(|| async {
            client.migrate::<IdempotencyRecord>().await?;
            Ok::<_, Error>(())
        })
        .await?;
    Ok(())
}

fn parse_id(key: &str, record: &IdempotencyRecord) -> Result<IngestId> {
    record.ingest_id.parse().map_err(|e| {
        Error::data_invalid(
            format!("the idempotency record of key `{key}`"),
            format!("malformed ingest id `{}`: {e}", record.ingest_id),
        )
    })
}

fn key_filter(key: &str, table_name: &str) -> Statement {
    Statement::new("idempotency_key = ? AND table_name = ?")
        .bind(key)
        .bind(table_name)
}

/// Resolves `key` for a write of `rows` rows into `table`, recording it under `id` if it is
/// new. The returned guard holds the key against other calls of this process until the write
/// has finished: keep it alive across the write.
///
/// Across processes, a fresh claim is decided by commit order: the claim reads the records
/// as of the version its own record committed at, and a rival visible there committed first
/// and wins. A key whose write another process may still be running (its record is younger
/// than the lease and its call did not end here) is [`Error::IdempotencyKeyInUse`].
pub(crate) async fn claim(
    client: &Client,
    table: &TableSpec,
    key: &str,
    ttl: Duration,
    rows: u64,
    id: IngestId,
) -> Result<(Claim, KeyGuard)> {
    if key.is_empty() {
        return Err(Error::Config("an idempotency key must not be empty".into()));
    }
    let table_name = table.table.to_string();
    let scope = format!("{}\0{table_name}\0{key}", client.backend().root());
    let mut guard = KeyGuard::acquire(scope.clone()).await;
    ensure_table(client).await?;
    let now = Utc::now();
    let mut known: Vec<IdempotencyRecord> = client
        .query::<IdempotencyRecord>()
        .filter(key_filter(key, &table_name))
        .fetch_all()
        .await?
        .into_iter()
        .filter(|r| r.expires_at > now)
        .collect();
    known.sort_by_key(|r| r.recorded_at);
    if !known.is_empty() {
        let claim = resolve(client, table, key, &scope, &known).await?;
        if let Claim::Retry(id) = claim {
            guard.ingest_id = Some(id);
        }
        return Ok((claim, guard));
    }
    let ttl = chrono::Duration::from_std(ttl)
        .map_err(|_| Error::Config(format!("idempotency TTL {ttl:?} is too long")))?;
    let record = IdempotencyRecord {
        idempotency_key: key.to_owned(),
        table_name: table_name.clone(),
        ingest_id: id.to_string(),
        rows: i64::try_from(rows).unwrap_or(i64::MAX),
        recorded_at: now,
        expires_at: now + ttl,
    };
    // Recorded before the write, so that a failure anywhere after this point leaves a record
    // for the retry to find.
    let batch = IdempotencyRecord::to_table_batch(std::slice::from_ref(&record), &id)?;
    let recorded = client
        .run(
            ExecutionPlan::Append {
                table: client.table_spec::<IdempotencyRecord>()?,
                source: WriteSource::Batches(vec![batch]),
                ingest_id: id,
            },
            0,
            0,
        )
        .await?;
    guard.ingest_id = Some(id);
    if let (Some(version), true) = (recorded.version, client.driver().capabilities().time_travel) {
        let mut rivals: Vec<IdempotencyRecord> = client
            .query::<IdempotencyRecord>()
            .as_of(AsOf::Version(version))
            .filter(key_filter(key, &table_name))
            .fetch_all()
            .await?
            .into_iter()
            .filter(|r| r.expires_at > now && r.ingest_id != record.ingest_id)
            .collect();
        if !rivals.is_empty() {
            // Another process claimed the key first: withdraw ours and defer to it.
            guard.ingest_id = None;
            client
                .delete_where::<IdempotencyRecord>(
                    Statement::new("ingest_id = ?").bind(record.ingest_id.as_str()),
                )
                .await?;
            rivals.sort_by_key(|r| r.recorded_at);
            let claim = resolve(client, table, key, &scope, &rivals).await?;
            return Ok((claim, guard));
        }
    }
    Ok((Claim::Fresh(id), guard))
}

/// What the live records of a key (oldest first) say: committed under one of them, or to be
/// retried under the oldest, or held by a write that may still be running elsewhere.
async fn resolve(
    client: &Client,
    table: &TableSpec,
    key: &str,
    scope: &str,
    records: &[IdempotencyRecord],
) -> Result<Claim> {
    for record in records {
        let id = parse_id(key, record)?;
        if client
            .driver()
            .is_committed(table, &id, client.exec_context())
            .await?
        {
            return Ok(Claim::Committed(id));
        }
    }
    let oldest = &records[0];
    let id = parse_id(key, oldest)?;
    let ended_here = lock(&FINISHED).get(scope) == Some(&id);
    let lease = client.options().idempotency_lease;
    let age = (Utc::now() - oldest.recorded_at)
        .to_std()
        .unwrap_or_default();
    if !ended_here && age < lease {
        return Err(Error::IdempotencyKeyInUse {
            key: key.to_owned(),
            table: table.table.to_string(),
            ingest_id: id,
            retry_after: lease - age,
        });
    }
    Ok(Claim::Retry(id))
}

/// Deletes the records of expired keys.
pub(crate) async fn expire(client: &Client) -> Result<ExecMetrics> {
    ensure_table(client).await?;
    client
        .delete_where::<IdempotencyRecord>(Statement::new("expires_at <= ?").bind(Utc::now()))
        .await
}
