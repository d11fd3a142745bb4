//! Iceberg's errors as lakeorm errors.

use lakeorm_core::Error;

use crate::errors::ENGINE;

/// An error of the `iceberg` crate during `operation` on `table`.
pub(crate) fn iceberg(table: &str, operation: &str, error: iceberg::Error) -> Error {
    if error.kind() == iceberg::ErrorKind::CatalogCommitConflicts {
        return conflict(table, error.to_string());
    }
    let retryable = error.retryable();
    Error::engine(
        ENGINE,
        format!("{operation} on `{table}`"),
        retryable,
        error,
    )
}

/// A commit that lost against another writer (retryable: re-plan on the new snapshot).
pub(crate) fn conflict(table: &str, message: impl Into<String>) -> Error {
    Error::CommitConflict {
        table: table.to_owned(),
        attempts: 1,
        message: message.into(),
    }
}
