//! Engine errors as lakeorm errors: commit conflicts become the retryable
//! [`Error::CommitConflict`], a missing table [`Error::TableNotFound`], a rejected statement
//! [`Error::Sql`], everything else an [`Error::Engine`] naming the operation.

use datafusion::error::DataFusionError;
use deltalake::DeltaTableError;
use deltalake::kernel::transaction::TransactionError;
use lakeorm_core::{DriverRead, Error, Location};

pub(crate) const ENGINE: &str = "embedded";

pub(crate) fn delta(table: &str, operation: &str, error: DeltaTableError) -> Error {
    // delta-rs rebases a commit that lost a race on its own; `MaxCommitAttempts` carries its
    // retry budget, so it made one attempt more than that. A conflict it does not retry (the
    // write read what the winner changed) is its first attempt.
    let attempts = match &error {
        DeltaTableError::Transaction {
            source: TransactionError::MaxCommitAttempts(n),
        } => Some(u32::try_from(*n).unwrap_or(u32::MAX).saturating_add(1)),
        DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(_),
        }
        | DeltaTableError::VersionAlreadyExists(_) => Some(1),
        _ => None,
    };
    match attempts {
        Some(attempts) => Error::CommitConflict {
            table: table.to_owned(),
            attempts,
            message: error.to_string(),
        },
        None => Error::engine(ENGINE, format!("{operation} on `{table}`"), false, error),
    }
}

pub(crate) fn datafusion(operation: &str, error: DataFusionError) -> Error {
    Error::engine(ENGINE, operation, false, error)
}

/// The engine could not read Parquet the client wrote at `location`.
pub(crate) fn driver_read(location: &Location, error: impl Into<DataFusionError>) -> Error {
    Error::DriverRead(DriverRead {
        staging_uri: location.to_string(),
        driver: ENGINE.to_owned(),
        source: Box::new(error.into()),
    })
}

/// DataFusion's refusal of a statement as a lakeorm error: a missing table is
/// [`Error::TableNotFound`], anything else [`Error::Sql`] carrying DataFusion's error.
pub(crate) fn rejected(error: DataFusionError) -> Error {
    // DataFusion reports a missing table only as plan text: `table 'catalog.schema.name' not
    // found`.
    if let DataFusionError::Plan(message) = error.find_root()
        && let Some(table) = message
            .strip_prefix("table '")
            .and_then(|rest| rest.strip_suffix("' not found"))
    {
        return Error::TableNotFound {
            table: table.rsplit('.').next().unwrap_or(table).to_owned(),
            location: None,
        };
    }
    Error::sql_rejected(error.to_string(), error)
}
