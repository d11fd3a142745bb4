//! The rows of a write, whichever path they came by.

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use lakeorm_core::{Result, WriteSource};

use crate::errors;

/// The non-empty batches of `source`: in memory already, or staged Parquet read back through
/// the engine's own view of storage.
pub(crate) async fn batches(
    session: &SessionContext,
    source: WriteSource,
) -> Result<Vec<RecordBatch>> {
    let batches = match source {
        WriteSource::Batches(batches) => batches,
        WriteSource::Staged { location, .. } => {
            let read_error = |e| errors::driver_read(&location, e);
            let url = crate::catalog::table_url(&location)?;
            session
                .read_parquet(url.as_str(), ParquetReadOptions::default())
                .await
                .map_err(read_error)?
                .collect()
                .await
                .map_err(read_error)?
        }
    };
    Ok(batches.into_iter().filter(|b| b.num_rows() > 0).collect())
}
