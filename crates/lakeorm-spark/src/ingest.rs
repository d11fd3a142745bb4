//! The direct write path: in-memory batches sent to the server inside the plan.
//!
//! Spark Connect carries such rows as a `LocalRelation` holding an Arrow IPC stream. One gRPC
//! request cannot be arbitrarily large: Sail and Apache Spark both accept an 82 MB request and
//! fail a 164 MB one with an HTTP/2 protocol error. Rows are therefore cut into IPC chunks of at
//! most [`DEFAULT_MAX_REQUEST_BYTES`] (configurable), each sent as its own temporary view, and
//! the source view is their `UNION ALL`, so the write itself is still one statement and one
//! commit.
//!
//! A write's `_ingest_id` is one value in every row: it travels once, as a literal column of
//! the source view, instead of 36 bytes per row (about 40% of a six-column request).

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Schema};
use arrow::ipc::writer::StreamWriter;
use lakeorm_core::dialect::SOURCE_VIEW;
use lakeorm_core::{Error, ExecMetrics, INGEST_ID_COLUMN, Result, Statement};

use crate::commands::run_all;
use crate::errors::ENGINE;
use crate::pool::Lease;

/// The default cap on the Arrow bytes of one request (well under the ~82 MB known to work).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 48 * 1024 * 1024;

/// Encodes `batches` as Arrow IPC streams of at most `max_bytes` each (a single row larger
/// than that still travels alone).
pub(crate) fn chunks(batches: &[RecordBatch], max_bytes: usize) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for batch in batches.iter().filter(|b| b.num_rows() > 0) {
        // Start from the in-memory size, which is close to the IPC size for plain columns,
        // and split further whenever an encoded piece turns out too large.
        let per_row = (batch.get_array_memory_size() / batch.num_rows()).max(1);
        let rows = (max_bytes / per_row).clamp(1, batch.num_rows());
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = rows.min(batch.num_rows() - offset);
            encode_within(&batch.slice(offset, len), max_bytes, &mut out)?;
            offset += len;
        }
    }
    Ok(out)
}

fn encode_within(batch: &RecordBatch, max_bytes: usize, out: &mut Vec<Vec<u8>>) -> Result<()> {
    let bytes = encode(batch)?;
    if bytes.len() <= max_bytes || batch.num_rows() == 1 {
        out.push(bytes);
        return Ok(());
    }
    let half = batch.num_rows() / 2;
    encode_within(&batch.slice(0, half), max_bytes, out)?;
    encode_within(&batch.slice(half, batch.num_rows() - half), max_bytes, out)
}

fn encode(batch: &RecordBatch) -> Result<Vec<u8>> {
    let fail = |e| Error::engine(ENGINE, "encoding rows as Arrow IPC", false, e);
    let mut writer = StreamWriter::try_new(Vec::new(), batch.schema_ref()).map_err(fail)?;
    writer.write(batch).map_err(fail)?;
    writer.into_inner().map_err(fail)
}

/// The batches without their `_ingest_id` column, and its value, when that column is the
/// last one and holds one value in every row (as every write's does); `None` otherwise,
/// and the rows travel as they are.
fn constant_ingest_id(batches: &[RecordBatch]) -> Option<(Vec<RecordBatch>, String)> {
    let mut id: Option<&str> = None;
    for batch in batches.iter().filter(|b| b.num_rows() > 0) {
        let last = batch.num_columns().checked_sub(1)?;
        let field = batch.schema_ref().field(last).clone();
        if field.name() != INGEST_ID_COLUMN || field.data_type() != &DataType::Utf8 {
            return None;
        }
        let column = batch.column(last).as_string::<i32>();
        if column.null_count() > 0 {
            return None;
        }
        let first = *id.get_or_insert(column.value(0));
        if column.iter().any(|v| v != Some(first)) {
            return None;
        }
    }
    // Spliced into SQL, so only what an ingest id (a UUID) is made of.
    let id = id?;
    if !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return None;
    }
    let trimmed = batches
        .iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| b.project(&(0..b.num_columns() - 1).collect::<Vec<_>>()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .ok()?;
    Some((trimmed, id.to_owned()))
}

/// Sends in-memory rows as the source view, runs `statements`, drops the views.
pub(crate) async fn with_source(
    lease: &mut Lease,
    batches: &[RecordBatch],
    statements: &[Statement],
    max_request_bytes: usize,
) -> Result<ExecMetrics> {
    let (chunks, ingest_id) = match constant_ingest_id(batches) {
        Some((trimmed, id)) => (chunks(&trimmed, max_request_bytes)?, Some(id)),
        None => (chunks(batches, max_request_bytes)?, None),
    };
    let mut views = Vec::new();
    // Until the write statement runs, nothing of it can have taken effect.
    let registered = async {
        match chunks.len() {
            0 => {
                // Nothing to send but the shape: an empty view with the batches' schema.
                let schema = batches
                    .first()
                    .map(|b| b.schema())
                    .unwrap_or_else(|| Arc::new(Schema::empty()));
                let bytes = encode(&RecordBatch::new_empty(schema))?;
                lease.session().register_view(SOURCE_VIEW, bytes).await?;
                views.push(SOURCE_VIEW.to_owned());
            }
            1 if ingest_id.is_none() => {
                let bytes = chunks.into_iter().next().expect("one chunk");
                lease.session().register_view(SOURCE_VIEW, bytes).await?;
                views.push(SOURCE_VIEW.to_owned());
            }
            n => {
                tracing::debug!(chunks = n, "direct write sent as its chunks' views");
                for (i, bytes) in chunks.into_iter().enumerate() {
                    let name = format!("{SOURCE_VIEW}_{i}");
                    lease.session().register_view(&name, bytes).await?;
                    views.push(name);
                }
                let rows = views
                    .iter()
                    .map(|v| format!("SELECT * FROM `{v}`"))
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ");
                let source = match &ingest_id {
                    Some(id) => format!(
                        "SELECT *, '{id}' AS `{INGEST_ID_COLUMN}` FROM ({rows}) AS `{SOURCE_VIEW}_rows`"
                    ),
                    None => rows,
                };
                lease
                    .session()
                    .command_sql(&Statement::new(format!(
                        "CREATE OR REPLACE TEMPORARY VIEW `{SOURCE_VIEW}` AS {source}"
                    )))
                    .await?;
                views.push(SOURCE_VIEW.to_owned());
            }
        }
        Ok::<_, Error>(())
    }
    .await
    .map_err(Error::not_applied);
    let result = match registered {
        Ok(()) => run_all(lease, statements).await,
        Err(e) => Err(e),
    };
    // The views hold the rows in server memory: free them whatever happened.
    for view in views.iter().rev() {
        let drop_view = Statement::new(format!("DROP VIEW IF EXISTS `{view}`"));
        if let Err(error) = lease.session().command_sql(&drop_view).await {
            tracing::debug!(%error, view, "could not drop a source view; discarding the session");
            lease.discard();
            break;
        }
    }
    if let Err(error) = &result
        && crate::errors::session_in_doubt(error)
    {
        lease.discard();
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::ipc::reader::StreamReader;

    use super::*;

    fn batch(rows: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(0..rows as i64)),
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("name-{i:08}")),
                )),
            ],
        )
        .unwrap()
    }

    fn decoded_rows(chunk: &[u8]) -> usize {
        StreamReader::try_new(chunk, None)
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum()
    }

    #[test]
    fn every_row_travels_once_within_the_cap() {
        let max = 64 * 1024;
        let chunks = chunks(&[batch(50_000), batch(0), batch(3)], max).unwrap();
        assert!(chunks.len() > 10, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() <= max));
        assert_eq!(
            chunks.iter().map(|c| decoded_rows(c)).sum::<usize>(),
            50_003
        );
    }

    fn with_ingest_id(batch: RecordBatch, id: &str) -> RecordBatch {
        let mut fields = batch.schema().fields().to_vec();
        fields.push(Arc::new(Field::new(
            INGEST_ID_COLUMN,
            DataType::Utf8,
            false,
        )));
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(StringArray::from(vec![id; batch.num_rows()])));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn a_write_sends_its_ingest_id_once_rather_than_in_every_row() {
        let id = "0193b2c4-7d4e-7a10-8f00-1234567890ab";
        let batches = [with_ingest_id(batch(10), id), with_ingest_id(batch(5), id)];
        let (trimmed, found) = constant_ingest_id(&batches).unwrap();
        assert_eq!(found, id);
        assert_eq!(trimmed.iter().map(|b| b.num_rows()).sum::<usize>(), 15);
        assert!(trimmed.iter().all(|b| b.num_columns() == 2));
    }

    #[test]
    fn rows_whose_ingest_ids_differ_or_are_not_ids_travel_as_they_are() {
        let a = "0193b2c4-7d4e-7a10-8f00-1234567890ab";
        let b = "0193b2c4-7d4e-7a10-8f00-1234567890ac";
        assert!(
            constant_ingest_id(&[with_ingest_id(batch(3), a), with_ingest_id(batch(3), b)])
                .is_none()
        );
        assert!(constant_ingest_id(&[with_ingest_id(batch(3), "x' OR '1")]).is_none());
        assert!(constant_ingest_id(&[batch(3)]).is_none());
        assert!(constant_ingest_id(&[]).is_none());
    }

    #[test]
    fn a_small_write_is_one_chunk() {
        let chunks = chunks(&[batch(100)], DEFAULT_MAX_REQUEST_BYTES).unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(decoded_rows(&chunks[0]), 100);
    }
}
