//! The direct write path: in-memory batches sent to the server inside the plan.
//!
//! Spark Connect carries such rows as a `LocalRelation` holding an Arrow IPC stream. One gRPC
//! request cannot be arbitrarily large: Sail and Apache Spark both accept an 82 MB request and
//! fail a 164 MB one with an HTTP/2 protocol error. Rows are therefore cut into IPC chunks of at
//! most [`DEFAULT_MAX_REQUEST_BYTES`] (configurable), each sent as its own temporary view, and
//! the source view is their `UNION ALL`, so the write itself is still one statement and one
//! commit.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow::ipc::writer::StreamWriter;
use lakeorm_core::dialect::SOURCE_VIEW;
use lakeorm_core::{Error, ExecMetrics, Result, Statement};

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

/// Sends in-memory rows as the source view, runs `statements`, drops the views.
pub(crate) async fn with_source(
    lease: &mut Lease,
    batches: &[RecordBatch],
    statements: &[Statement],
    max_request_bytes: usize,
) -> Result<ExecMetrics> {
    let chunks = chunks(batches, max_request_bytes)?;
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
            1 => {
                let bytes = chunks.into_iter().next().expect("one chunk");
                lease.session().register_view(SOURCE_VIEW, bytes).await?;
                views.push(SOURCE_VIEW.to_owned());
            }
            n => {
                tracing::debug!(chunks = n, "direct write split into several requests");
                for (i, bytes) in chunks.into_iter().enumerate() {
                    let name = format!("{SOURCE_VIEW}_{i}");
                    lease.session().register_view(&name, bytes).await?;
                    views.push(name);
                }
                let union = views
                    .iter()
                    .map(|v| format!("SELECT * FROM `{v}`"))
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ");
                lease
                    .session()
                    .command_sql(&Statement::new(format!(
                        "CREATE OR REPLACE TEMPORARY VIEW `{SOURCE_VIEW}` AS {union}"
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

    #[test]
    fn a_small_write_is_one_chunk() {
        let chunks = chunks(&[batch(100)], DEFAULT_MAX_REQUEST_BYTES).unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(decoded_rows(&chunks[0]), 100);
    }
}
