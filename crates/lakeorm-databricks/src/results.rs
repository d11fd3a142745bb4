//! Reading a statement's result: Arrow IPC chunks behind presigned links, fetched a few at a
//! time in order and decoded one batch after another, so a result of any size is read in the
//! memory of a few chunks.
//!
//! Presigned links carry their own credential: they are fetched without the workspace's
//! `Authorization` header (storage services refuse a second one) and never logged. A link that
//! has expired, or is about to, is asked for again (`GET …/result/chunks/{n}` issues a new one).

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::ipc::reader::StreamReader;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use lakeorm_core::{BatchStream, Error, QueryResult, Result};

use crate::api::{ExternalLink, Format, Manifest, ResultData};
use crate::errors::{self, ApiError, ENGINE};
use crate::statement::{Finished, Warehouse};

/// Chunks fetched ahead of the one being read.
const PREFETCH: usize = 2;
/// A link with less than this left is renewed before it is used.
const LINK_MARGIN: Duration = Duration::from_secs(10);
/// How often one chunk's link is renewed after the storage refused it.
const LINK_RENEWALS: usize = 3;

/// The result of a finished query as a stream of batches.
pub(crate) async fn query_result(
    warehouse: &Arc<Warehouse>,
    finished: Finished,
) -> Result<QueryResult> {
    let manifest = finished.manifest.clone().ok_or_else(|| {
        Error::engine(
            ENGINE,
            "query",
            false,
            "the warehouse sent a result without a manifest",
        )
    })?;
    if let Some(format) = manifest.format
        && format != Format::ArrowStream
    {
        return Err(Error::engine(
            ENGINE,
            "query",
            false,
            format!("the warehouse sent the result as {format:?}, not the ARROW_STREAM asked for"),
        ));
    }
    if manifest.truncated {
        // A row or byte limit cut the result; lakeorm sets neither, so a server did.
        tracing::warn!(
            statement = finished.id(),
            "the warehouse truncated the result"
        );
    }
    let chunks = manifest.total_chunk_count.unwrap_or(0);
    let declared = manifest_schema(&manifest);
    if chunks == 0 {
        return Ok(QueryResult {
            schema: declared,
            batches: stream::empty().boxed(),
            native: None,
        });
    }
    // The first chunk decides the schema (the IPC stream's own), so it is read before the
    // result is handed out.
    let first_link = finished
        .result
        .as_ref()
        .and_then(|r| r.external_links.as_ref())
        .and_then(|links| links.iter().find(|l| l.chunk_index == 0).cloned());
    let first = fetch_chunk(warehouse, finished.id(), 0, first_link).await?;
    let schema = first.first().map(RecordBatch::schema).unwrap_or(declared);
    let warehouse = Arc::clone(warehouse);
    let id = finished.id().to_owned();
    // The statement stays open (and is closed when the stream is dropped) while chunks remain.
    let guard = Arc::new(finished.guard);
    let rest = stream::iter(1..chunks)
        .map(move |index| {
            let warehouse = Arc::clone(&warehouse);
            let id = id.clone();
            let guard = Arc::clone(&guard);
            async move {
                let batches = fetch_chunk(&warehouse, &id, index, None).await;
                drop(guard);
                batches
            }
        })
        .buffered(PREFETCH)
        .map_ok(|batches| stream::iter(batches.into_iter().map(Ok)))
        .try_flatten();
    let batches: BatchStream = stream::iter(first.into_iter().map(Ok)).chain(rest).boxed();
    Ok(QueryResult {
        schema,
        batches,
        native: None,
    })
}

/// The batches of chunk `index`, through `link` if it is still good, else a fresh one.
async fn fetch_chunk(
    warehouse: &Warehouse,
    id: &str,
    index: u64,
    link: Option<ExternalLink>,
) -> Result<Vec<RecordBatch>> {
    let mut link = link;
    let mut refused = None;
    for _ in 0..=LINK_RENEWALS {
        let current = match link.take().filter(|l| !expiring(l)) {
            Some(l) => l,
            None => fresh_link(warehouse, id, index).await?,
        };
        match download(warehouse, &current).await {
            Ok(Some(bytes)) => return decode(&bytes, index),
            Ok(None) => {
                tracing::debug!(
                    statement = id,
                    chunk = index,
                    "a result link expired; renewing it"
                );
                refused = Some(current.to_string());
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::engine(
        ENGINE,
        "reading a result chunk",
        true,
        format!(
            "the storage kept refusing the links of {} after {LINK_RENEWALS} renewals",
            refused.unwrap_or_default()
        ),
    ))
}

async fn fresh_link(warehouse: &Warehouse, id: &str, index: u64) -> Result<ExternalLink> {
    let chunk: ResultData = warehouse.chunk(id, index).await?;
    chunk
        .external_links
        .unwrap_or_default()
        .into_iter()
        .find(|l| l.chunk_index == index)
        .ok_or_else(|| {
            Error::engine(
                ENGINE,
                "reading a result chunk",
                false,
                format!("the warehouse sent no link for chunk {index} of statement {id}"),
            )
        })
}

fn expiring(link: &ExternalLink) -> bool {
    let Some(expiration) = link
        .expiration
        .as_deref()
        .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
    else {
        return false;
    };
    let left = expiration.with_timezone(&Utc) - Utc::now();
    left.to_std().map_or(true, |left| left < LINK_MARGIN)
}

/// The bytes behind a link; `None` when the storage refused the link as expired or invalid
/// (403), which a fresh link mends.
async fn download(warehouse: &Warehouse, link: &ExternalLink) -> Result<Option<Bytes>> {
    let operation = "downloading a result chunk";
    // Not `Workspace::send`: the link is its own credential, and must go without ours.
    let mut request = warehouse.workspace.http().get(&link.external_link);
    for (name, value) in link.http_headers.iter().flatten() {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| errors::transport(operation, e))?;
    let status = response.status();
    if status.is_success() {
        return response
            .bytes()
            .await
            .map(Some)
            .map_err(|e| errors::transport(operation, e));
    }
    if status.as_u16() == 403 {
        return Ok(None);
    }
    let body = errors::read_body(response).await;
    Err(Error::engine(
        ENGINE,
        format!("{operation} ({link})"),
        status.is_server_error(),
        ApiError::from_body(status, &body),
    ))
}

fn decode(bytes: &[u8], index: u64) -> Result<Vec<RecordBatch>> {
    let reader =
        StreamReader::try_new(Cursor::new(bytes), None).map_err(|e| chunk_error(index, e))?;
    reader
        .map(|batch| batch.map_err(|e| chunk_error(index, e)))
        .collect()
}

fn chunk_error(index: u64, error: arrow::error::ArrowError) -> Error {
    Error::engine(
        ENGINE,
        format!("decoding result chunk {index}"),
        false,
        error,
    )
}

/// The schema a manifest declares, for results without chunks.
pub(crate) fn manifest_schema(manifest: &Manifest) -> SchemaRef {
    let fields: Vec<Field> = manifest
        .schema
        .as_ref()
        .map(|s| s.columns.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            Field::new(
                &c.name,
                arrow_type(
                    c.type_name.as_deref().unwrap_or("STRING"),
                    c.type_text.as_deref(),
                ),
                true,
            )
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The Arrow type Databricks sends a column of `type_name` as.
fn arrow_type(type_name: &str, type_text: Option<&str>) -> DataType {
    match type_name.to_ascii_uppercase().as_str() {
        "BOOLEAN" => DataType::Boolean,
        "BYTE" | "TINYINT" => DataType::Int8,
        "SHORT" | "SMALLINT" => DataType::Int16,
        "INT" | "INTEGER" => DataType::Int32,
        "LONG" | "BIGINT" => DataType::Int64,
        "FLOAT" => DataType::Float32,
        "DOUBLE" => DataType::Float64,
        "DATE" => DataType::Date32,
        "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "TIMESTAMP_NTZ" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "BINARY" => DataType::Binary,
        "DECIMAL" => {
            let (p, s) = type_text.and_then(decimal_of).unwrap_or((38, 18));
            DataType::Decimal128(p, s)
        }
        _ => DataType::Utf8,
    }
}

/// `(p, s)` of `DECIMAL(p,s)`.
fn decimal_of(text: &str) -> Option<(u8, i8)> {
    let inner = text.split_once('(')?.1.trim_end_matches(')');
    let (p, s) = inner.split_once(',')?;
    Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
}

/// The rows of an inline (JSON_ARRAY) result, every chunk of it.
pub(crate) async fn inline_rows(
    warehouse: &Warehouse,
    finished: &Finished,
) -> Result<Vec<Vec<Option<String>>>> {
    let mut rows = Vec::new();
    let mut next = finished.result.clone();
    while let Some(chunk) = next {
        rows.extend(chunk.data_array.unwrap_or_default());
        next = match chunk.next_chunk_index {
            Some(index) => Some(warehouse.chunk(finished.id(), index).await?),
            None => None,
        };
    }
    Ok(rows)
}

/// The column names of a manifest.
pub(crate) fn column_names(manifest: Option<&Manifest>) -> Vec<String> {
    manifest
        .and_then(|m| m.schema.as_ref())
        .map(|s| s.columns.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_types() {
        assert_eq!(
            arrow_type("DECIMAL", Some("DECIMAL(10,2)")),
            DataType::Decimal128(10, 2)
        );
        assert_eq!(arrow_type("LONG", None), DataType::Int64);
        assert_eq!(arrow_type("INTERVAL", None), DataType::Utf8);
    }

    #[test]
    fn links_near_expiry_are_renewed() {
        let link = |expiration: Option<String>| ExternalLink {
            chunk_index: 0,
            external_link: "http://x/y?sig=secret".into(),
            expiration,
            http_headers: None,
        };
        assert!(expiring(&link(Some(
            (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339()
        ))));
        assert!(!expiring(&link(Some(
            (Utc::now() + chrono::Duration::minutes(10)).to_rfc3339()
        ))));
        assert!(!expiring(&link(None)));
        assert!(!link(None).to_string().contains("secret"));
    }

    /// A link that expired between the statement's answer and its download (the storage
    /// refuses it) is renewed, and the result reads whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn links_expired_before_use_are_renewed() {
        use crate::{Credentials, StatementOptions, Workspace};
        use lakeorm_databricks_server::{DatabricksServer, ServerConfig};

        let dir = tempfile::tempdir().unwrap();
        let server = DatabricksServer::start(ServerConfig::new(dir.path()).with_chunk_rows(10))
            .await
            .unwrap();
        let c = server.config().clone();
        let warehouse = Arc::new(Warehouse {
            workspace: Workspace::new(
                &server.host(),
                Credentials::oauth_m2m(c.client_id, c.client_secret),
            )
            .unwrap(),
            warehouse_id: server.warehouse_id().to_owned(),
            catalog: Some(c.catalog),
            schema: Some(c.schema),
            options: StatementOptions::default(),
        });
        let finished = warehouse
            .run(
                "query",
                "SELECT value FROM range(0, 100)",
                Vec::new(),
                crate::api::Disposition::ExternalLinks,
                Format::ArrowStream,
            )
            .await
            .unwrap();
        assert!(
            finished
                .result
                .as_ref()
                .and_then(|r| r.external_links.as_ref())
                .is_some()
        );
        server.faults().expire_links();
        let result = query_result(&warehouse, finished).await.unwrap();
        let batches: Vec<RecordBatch> = result.batches.try_collect().await.unwrap();
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            100
        );
        let counters = server.counters();
        assert_eq!(counters.links_expired, 1, "{counters:?}");
        assert_eq!(counters.link_fetches, 10, "{counters:?}");
        assert_eq!(counters.links_rejected_for_auth_header, 0);
    }
}
