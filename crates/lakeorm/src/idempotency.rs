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
//! have updated or deleted those rows. Keys expire after their time to live (24 hours unless
//! configured); [`Maintenance::expire_idempotency_keys`](crate::Maintenance) removes expired
//! records.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lakeorm_core::{
    Error, ExecMetrics, ExecutionPlan, IngestId, Lake as _, Result, Statement, TableSpec,
    WriteSource,
};

use crate::client::Client;
use crate::query::Query;

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

/// Resolves `key` for a write of `rows` rows into `table`, recording it if it is new.
pub(crate) async fn claim(
    client: &Client,
    table: &TableSpec,
    key: &str,
    ttl: Duration,
    rows: u64,
    id: IngestId,
) -> Result<Claim> {
    if key.is_empty() {
        return Err(Error::Config("an idempotency key must not be empty".into()));
    }
    ensure_table(client).await?;
    let table_name = table.table.to_string();
    let now = Utc::now();
    let known = Query::<IdempotencyRecord>::sql(format!(
        "SELECT * FROM {} WHERE idempotency_key = ? AND table_name = ?",
        client.sql_table_name(IDEMPOTENCY_TABLE)
    ))
    .bind(key)
    .bind(table_name.as_str())
    .fetch_all(client)
    .await?
    .into_iter()
    .filter(|r| r.expires_at > now)
    .max_by_key(|r| r.recorded_at);
    if let Some(record) = known {
        let id: IngestId = record.ingest_id.parse().map_err(|e| {
            Error::data_invalid(
                format!("the idempotency record of key `{key}`"),
                format!("malformed ingest id `{}`: {e}", record.ingest_id),
            )
        })?;
        let committed = client
            .driver()
            .is_committed(table, &id, client.exec_context())
            .await?;
        return Ok(if committed {
            Claim::Committed(id)
        } else {
            Claim::Retry(id)
        });
    }
    let ttl = chrono::Duration::from_std(ttl)
        .map_err(|_| Error::Config(format!("idempotency TTL {ttl:?} is too long")))?;
    let record = IdempotencyRecord {
        idempotency_key: key.to_owned(),
        table_name,
        ingest_id: id.to_string(),
        rows: i64::try_from(rows).unwrap_or(i64::MAX),
        recorded_at: now,
        expires_at: now + ttl,
    };
    // Recorded before the write, so that a failure anywhere after this point leaves a record
    // for the retry to find.
    let batch = IdempotencyRecord::to_table_batch(std::slice::from_ref(&record), &id)?;
    client
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
    Ok(Claim::Fresh(id))
}

/// Deletes the records of expired keys.
pub(crate) async fn expire(client: &Client) -> Result<ExecMetrics> {
    ensure_table(client).await?;
    client
        .delete_where::<IdempotencyRecord>(Statement::new("expires_at <= ?").bind(Utc::now()))
        .await
}
