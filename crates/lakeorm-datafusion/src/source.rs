//! The rows of a write, whichever path they came by.

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
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
        WriteSource::Staged { location, rows } => {
            let read_error = |e| errors::driver_read(&location, e);
            let url = crate::catalog::table_url(&location)?;
            let batches = session
                .read_parquet(url.as_str(), ParquetReadOptions::default())
                .await
                .map_err(read_error)?
                .collect()
                .await
                .map_err(read_error)?;
            // Parts gone (a janitor, a lifecycle rule) would otherwise commit fewer rows, or
            // none, and report success.
            let read: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
            if read != rows {
                return Err(errors::driver_read(
                    &location,
                    DataFusionError::Execution(format!(
                        "the staged parts hold {read} row(s), the write staged {rows}: parts are missing; nothing was committed"
                    )),
                ));
            }
            batches
        }
    };
    Ok(batches.into_iter().filter(|b| b.num_rows() > 0).collect())
}
