//! The one error type of lakeorm.
//!
//! Every fallible call returns [`Result<T>`]. Errors carry enough context to act on without a
//! debugger: the table, the column, the row or the URI involved, and a hint where one exists.
//! [`Error::kind`] sorts every variant into a small [`ErrorKind`] for callers that branch on the
//! kind of failure rather than on its details, and [`Error::is_retryable`] tells callers (and
//! lakeorm's own commit loops) which failures are worth another attempt.

use std::fmt;

use crate::convert::{DecodeError, EncodeError, JsonError};
use crate::validate::ValidationError;

/// `Result` with lakeorm's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a lower layer (an engine, an object store, the network).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in lakeorm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One or more records failed validation; nothing was written.
    #[error(transparent)]
    Validation(#[from] ValidationError),

    /// Records could not be turned into Arrow columns.
    #[error(transparent)]
    Encode(#[from] EncodeError),

    /// Arrow data could not be decoded into the requested struct.
    #[error(transparent)]
    Decode(#[from] DecodeError),

    /// A JSON document was rejected by [`from_json`](crate::from_json).
    #[error(transparent)]
    Json(#[from] JsonError),

    /// A query that must return a row returned none.
    #[error("lakeorm: no rows")]
    NoRows,

    /// The table does not exist (it has not been migrated, or was dropped).
    #[error("lakeorm: table `{table}` not found{}; create it with a migration or `Client::migrate`", location.as_ref().map(|l| format!(" at `{l}`")).unwrap_or_default())]
    TableNotFound {
        /// The table as the dialect names it.
        table: String,
        /// Where the table was looked for, when it has a location of its own.
        location: Option<String>,
    },

    /// The client, or its driver, was closed; open a new one.
    #[error("lakeorm: {what} is closed")]
    Closed {
        /// What was closed (`"the client"`, `"the Spark Connect driver"`).
        what: String,
    },

    /// Data read back from a table is not what lakeorm wrote there (a corrupt record of lakeorm's
    /// own bookkeeping, a value outside its column's range).
    #[error("lakeorm: invalid data in {what}: {reason}")]
    DataInvalid {
        /// Where the data was read (`"the idempotency record of key `k`"`).
        what: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A model (a `#[derive(Lake)]` type) cannot be used as asked, e.g. an upsert on a model
    /// without keys.
    #[error("lakeorm: invalid model `{model}`: {reason}")]
    InvalidModel {
        /// The Rust type name of the model.
        model: String,
        /// What is wrong and what to do about it.
        reason: String,
    },

    /// The engine, dialect or backend cannot do what was asked.
    #[error("lakeorm: {operation} is not supported by {by}: {reason}")]
    Unsupported {
        /// The operation that was attempted (e.g. `"MERGE"`, `"vacuum"`).
        operation: String,
        /// Who lacks the capability (e.g. `"the delta dialect"`, `"Sail"`).
        by: String,
        /// Why, and what to use instead where there is an alternative.
        reason: String,
    },

    /// The remote cluster is still starting; retry later.
    #[error(transparent)]
    ClusterNotReady(#[from] ClusterNotReady),

    /// The client could not write to, or clean up, staging storage.
    #[error(transparent)]
    ClientStaging(#[from] ClientStaging),

    /// The engine could not read what the client wrote.
    #[error(transparent)]
    DriverRead(#[from] DriverRead),

    /// The client and the engine see different storage for the same address.
    #[error(transparent)]
    UriMismatch(#[from] UriMismatch),

    /// A write with `on_conflict(Error)` found rows whose key already exists; nothing was
    /// written.
    #[error(
        "lakeorm: {rows} row(s) of the write already exist in `{table}` (key: {keys:?}); nothing was written"
    )]
    DuplicateKey {
        /// The table written to.
        table: String,
        /// The key columns.
        keys: Vec<String>,
        /// How many source rows collided.
        rows: u64,
    },

    /// Two rows of one upsert (or update) carry the same key, which MERGE cannot apply
    /// unambiguously; nothing was written.
    #[error(
        "lakeorm: rows {} and {} of the write to `{table}` have the same key ({value}); an upsert needs one row per key, nothing was written", rows.0, rows.1
    )]
    DuplicateKeyInWrite {
        /// The table written to.
        table: String,
        /// The key columns.
        keys: Vec<String>,
        /// The repeated key, as `column = value` pairs.
        value: String,
        /// The positions (0-based) of the first two rows carrying it.
        rows: (u64, u64),
    },

    /// Another call with the same idempotency key may still be writing (in another process,
    /// or in this one before a restart): this call wrote nothing. Retry after `retry_after`.
    #[error(
        "lakeorm: idempotency key `{key}` for `{table}` is in use by a write that may still be running (ingest id {ingest_id}); nothing was written, retry in {retry_after:?}"
    )]
    IdempotencyKeyInUse {
        /// The key.
        key: String,
        /// The table written to.
        table: String,
        /// The ingest id the other call writes under.
        ingest_id: crate::IngestId,
        /// When the other call's lease ends.
        retry_after: std::time::Duration,
    },

    /// A two-phase write was committed or aborted twice.
    #[error("lakeorm: finalizer already {0}")]
    AlreadyFinalized(&'static str),

    /// An optimistic commit lost against a concurrent writer more times than allowed.
    #[error(
        "lakeorm: commit to `{table}` conflicted with concurrent writers {attempts} times: {message}"
    )]
    CommitConflict {
        /// The table written to.
        table: String,
        /// How many attempts were made.
        attempts: u32,
        /// The engine's last conflict message.
        message: String,
    },

    /// A vacuum was asked to delete files younger than its table format's safe minimum
    /// ([`TableFormat::min_vacuum_retention`](crate::TableFormat::min_vacuum_retention));
    /// nothing was deleted.
    #[error(
        "lakeorm: vacuum of `{table}` with a retention of {requested:?} is below the {format} minimum of {minimum:?}: files that young may belong to a commit in flight or a snapshot being read; nothing was deleted (`.force()` overrides when no one else uses the table)"
    )]
    RetentionTooShort {
        /// The table.
        table: String,
        /// The table's format.
        format: crate::TableFormat,
        /// The retention asked for.
        requested: std::time::Duration,
        /// The format's minimum.
        minimum: std::time::Duration,
    },

    /// The engine failed in a way that leaves open whether the operation took effect (the
    /// connection dropped after the request was sent), and lakeorm could not find out. Not
    /// retried automatically: a blind retry could write the rows twice.
    #[error(
        "lakeorm: the outcome of {operation} on `{table}` is unknown{}: it may or may not have committed ({source}); {}",
        ingest_id.map(|id| format!(" (ingest id {id})")).unwrap_or_default(),
        if ingest_id.is_some() {
            "`Client::is_committed` answers once the engine is reachable, and a retry with the same idempotency key writes the rows at most once"
        } else {
            "check the table before running the statement again"
        }
    )]
    OutcomeUnknown {
        /// The operation (`"append"`, `"merge"`, `"exec"`).
        operation: String,
        /// The table written to, empty for a statement.
        table: String,
        /// The write's ingest id, which its commit carries if it landed.
        ingest_id: Option<crate::IngestId>,
        /// The engine's error.
        #[source]
        source: Box<Error>,
    },

    /// The operation failed before any of it could take effect (the connection failed while
    /// the rows were still being sent, no session could be opened): running it again cannot
    /// apply it twice. Its kind and retryability are those of the wrapped error.
    #[error(transparent)]
    NotApplied(Box<Error>),

    /// Every session of a driver's pool stayed in use for longer than the acquire timeout.
    /// A call made while the caller itself holds a session (reading a stream, a session
    /// lease) waits on itself when the pool has one session.
    #[error(
        "lakeorm: no {engine} session was free within {waited:?} (all {size} in use): a stream or session lease held by the caller blocks a call nested in it; read the stream to its end first, or raise the pool size"
    )]
    SessionTimeout {
        /// The driver.
        engine: String,
        /// How long the call waited.
        waited: std::time::Duration,
        /// The pool's size.
        size: usize,
    },

    /// A configuration value (an option, a URI, an environment variable) is invalid.
    #[error("lakeorm: invalid configuration: {0}")]
    Config(String),

    /// A SQL text or its parameters are malformed, or the engine rejected the statement.
    #[error("lakeorm: SQL error: {message}")]
    Sql {
        /// What is wrong, with the offending fragment.
        message: String,
        /// The engine's own error, when the engine rejected the statement.
        #[source]
        source: Option<BoxError>,
    },

    /// Storage (object store, local files) failed.
    #[error("lakeorm: storage error at `{location}`: {source}")]
    Storage {
        /// The URI or path involved.
        location: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// The execution engine failed.
    #[error("lakeorm: {engine} failed during {operation}: {source}")]
    Engine {
        /// The engine's name (e.g. `"datafusion"`, `"spark-connect"`).
        engine: String,
        /// What was being done (e.g. `"merge into users"`).
        operation: String,
        /// Whether retrying the same call can succeed.
        retryable: bool,
        /// The engine's error.
        #[source]
        source: BoxError,
    },

    /// A migration file could not be authored, checked or applied.
    #[error(transparent)]
    Migration(#[from] MigrationError),

    /// A live table's schema differs from its model.
    #[error(transparent)]
    SchemaMismatch(#[from] SchemaMismatch),

    /// An Arrow compute or layout error.
    #[error("lakeorm: arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The kind of an [`Error`]: what callers branch on when the details do not matter.
///
/// New kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Records or data are invalid: a failed validation, a value that cannot be encoded or
    /// decoded, a malformed JSON document, a corrupt stored record.
    DataInvalid,
    /// A model cannot be used as asked.
    InvalidModel,
    /// An option, URI or environment variable is invalid.
    Config,
    /// A SQL text or its parameters are malformed, or the engine rejected the statement.
    Sql,
    /// A table, or the row a query had to return, does not exist.
    NotFound,
    /// The write collided with existing keys or lost against concurrent writers.
    Conflict,
    /// The engine, dialect or backend cannot do what was asked.
    Unsupported,
    /// The client or its driver was closed.
    Closed,
    /// The remote engine is not ready yet; retry later.
    Unavailable,
    /// Storage failed, or the client and the engine disagree about it.
    Storage,
    /// The execution engine failed.
    Engine,
    /// A live table differs from its model, or a migration failed.
    Schema,
    /// A broken invariant of lakeorm itself (an Arrow layout error, a write finalized twice).
    Unexpected,
    /// The engine failed after the request was sent, and whether it committed is not known.
    OutcomeUnknown,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::DataInvalid => "data invalid",
            ErrorKind::InvalidModel => "invalid model",
            ErrorKind::Config => "configuration",
            ErrorKind::Sql => "sql",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Closed => "closed",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Storage => "storage",
            ErrorKind::Engine => "engine",
            ErrorKind::Schema => "schema",
            ErrorKind::Unexpected => "unexpected",
            ErrorKind::OutcomeUnknown => "outcome unknown",
        })
    }
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Validation(_)
            | Error::Encode(_)
            | Error::Decode(_)
            | Error::Json(_)
            | Error::DataInvalid { .. }
            | Error::DuplicateKeyInWrite { .. } => ErrorKind::DataInvalid,
            Error::InvalidModel { .. } => ErrorKind::InvalidModel,
            Error::Config(_) | Error::RetentionTooShort { .. } => ErrorKind::Config,
            Error::Sql { .. } => ErrorKind::Sql,
            Error::NoRows | Error::TableNotFound { .. } => ErrorKind::NotFound,
            Error::DuplicateKey { .. }
            | Error::CommitConflict { .. }
            | Error::IdempotencyKeyInUse { .. } => ErrorKind::Conflict,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Closed { .. } => ErrorKind::Closed,
            Error::ClusterNotReady(_) | Error::SessionTimeout { .. } => ErrorKind::Unavailable,
            Error::NotApplied(inner) => inner.kind(),
            Error::ClientStaging(_)
            | Error::DriverRead(_)
            | Error::UriMismatch(_)
            | Error::Storage { .. } => ErrorKind::Storage,
            Error::Engine { .. } => ErrorKind::Engine,
            Error::Migration(_) | Error::SchemaMismatch(_) => ErrorKind::Schema,
            Error::AlreadyFinalized(_) | Error::Arrow(_) => ErrorKind::Unexpected,
            Error::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
        }
    }

    /// Whether the engine says the operation did not take effect: it lost a commit race, or
    /// refused the work before starting it. Re-running such an operation cannot apply it
    /// twice. Other retryable errors (a dropped connection) leave the outcome open.
    pub fn is_unapplied(&self) -> bool {
        matches!(
            self,
            Error::ClusterNotReady(_) | Error::CommitConflict { .. } | Error::NotApplied(_)
        )
    }

    /// Marks a failure that happened before any of the operation could take effect (see
    /// [`Error::NotApplied`]); errors that are not retryable are returned as they are.
    pub fn not_applied(self) -> Self {
        if self.is_retryable() && !self.is_unapplied() {
            Error::NotApplied(Box::new(self))
        } else {
            self
        }
    }

    /// Whether the same call may succeed if retried (after a backoff).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::ClusterNotReady(_)
            | Error::CommitConflict { .. }
            | Error::IdempotencyKeyInUse { .. } => true,
            Error::Engine { retryable, .. } => *retryable,
            Error::NotApplied(inner) => inner.is_retryable(),
            _ => false,
        }
    }

    /// Shorthand for [`Error::Unsupported`].
    pub fn unsupported(
        operation: impl Into<String>,
        by: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Unsupported {
            operation: operation.into(),
            by: by.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Engine`].
    pub fn engine(
        engine: impl Into<String>,
        operation: impl Into<String>,
        retryable: bool,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Engine {
            engine: engine.into(),
            operation: operation.into(),
            retryable,
            source: source.into(),
        }
    }

    /// Shorthand for [`Error::Sql`] about the statement itself.
    pub fn sql(message: impl Into<String>) -> Self {
        Error::Sql {
            message: message.into(),
            source: None,
        }
    }

    /// Shorthand for [`Error::Sql`] when the engine rejected the statement with `source`.
    pub fn sql_rejected(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Sql {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// Shorthand for [`Error::Closed`].
    pub fn closed(what: impl Into<String>) -> Self {
        Error::Closed { what: what.into() }
    }

    /// Shorthand for [`Error::DataInvalid`].
    pub fn data_invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::DataInvalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Storage`].
    pub fn storage(location: impl fmt::Display, source: impl Into<BoxError>) -> Self {
        Error::Storage {
            location: location.to_string(),
            source: source.into(),
        }
    }
}

/// A remote cluster (Databricks, a Spark Connect server) is still starting.
///
/// Always retryable: wait and call again.
#[derive(Debug, thiserror::Error)]
#[error("lakeorm: cluster not ready (state={state}): {message}")]
pub struct ClusterNotReady {
    /// The cluster state the server reported (e.g. `PENDING`).
    pub state: String,
    /// The server's request id, for support tickets.
    pub request_id: Option<String>,
    /// The server's message.
    pub message: String,
    /// The transport error this was classified from.
    #[source]
    pub source: Option<BoxError>,
}

impl ClusterNotReady {
    /// A cluster that is not ready is always worth retrying.
    pub fn is_retryable(&self) -> bool {
        true
    }
}

/// Which client-side staging step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StagingOp {
    /// Writing a staged Parquet part of an insert.
    StageWrite,
    /// Writing the probe file of `verify`.
    ProbeWrite,
    /// Listing or deleting staging prefixes.
    Cleanup,
}

impl fmt::Display for StagingOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StagingOp::StageWrite => "stage-write",
            StagingOp::ProbeWrite => "probe-write",
            StagingOp::Cleanup => "cleanup",
        })
    }
}

/// The client could not write to (or clean) the backend's staging area.
#[derive(Debug, thiserror::Error)]
#[error("lakeorm: client-side {op} failed on {uri} (backend={backend}): {source}")]
pub struct ClientStaging {
    /// The object or prefix involved.
    pub uri: String,
    /// The backend's name.
    pub backend: String,
    /// The failing step.
    pub op: StagingOp,
    /// The storage error.
    #[source]
    pub source: BoxError,
}

/// The engine could not read data that the client staged.
#[derive(Debug, thiserror::Error)]
#[error("lakeorm: driver {driver} failed to read {staging_uri}: {source}")]
pub struct DriverRead {
    /// What the engine was asked to read.
    pub staging_uri: String,
    /// The driver's name.
    pub driver: String,
    /// The engine's error.
    #[source]
    pub source: BoxError,
}

/// The client and the engine resolve one address to different storage.
#[derive(Debug, thiserror::Error)]
#[error("lakeorm: URI mismatch between client ({client_uri}) and driver ({driver_uri}): {detail}")]
pub struct UriMismatch {
    /// The address as the client wrote it.
    pub client_uri: String,
    /// The address as the engine read it.
    pub driver_uri: String,
    /// What differed.
    pub detail: String,
}

/// A migration file could not be authored, checked or applied.
#[derive(Debug, thiserror::Error)]
#[error("lakeorm: migration {file}: {reason}{}", statement.as_ref().map(|s| format!("\n  statement: {s}")).unwrap_or_default())]
pub struct MigrationError {
    /// The file involved (or `lakeorm.sum`).
    pub file: String,
    /// The statement that failed, when applying.
    pub statement: Option<String>,
    /// What went wrong and what to do.
    pub reason: String,
    /// The underlying error, when a statement failed.
    #[source]
    pub source: Option<BoxError>,
}

/// How one column of a live table differs from its model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnDifference {
    /// The model has the column; the table does not.
    Missing {
        /// The column.
        column: String,
    },
    /// The table has a column the model does not.
    Extra {
        /// The column.
        column: String,
    },
    /// The column's types differ.
    Type {
        /// The column.
        column: String,
        /// What the model declares.
        model: String,
        /// What the table holds.
        table: String,
    },
    /// The column's nullability differs.
    Nullability {
        /// The column.
        column: String,
        /// Whether the model's column is nullable.
        model_nullable: bool,
    },
}

impl ColumnDifference {
    /// The column the difference is about.
    pub fn column(&self) -> &str {
        match self {
            ColumnDifference::Missing { column }
            | ColumnDifference::Extra { column }
            | ColumnDifference::Type { column, .. }
            | ColumnDifference::Nullability { column, .. } => column,
        }
    }
}

impl fmt::Display for ColumnDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let null = |nullable: bool| if nullable { "nullable" } else { "NOT NULL" };
        match self {
            ColumnDifference::Missing { column } => {
                write!(f, "`{column}`: in the model, missing from the table")
            }
            ColumnDifference::Extra { column } => {
                write!(f, "`{column}`: in the table, not in the model")
            }
            ColumnDifference::Type {
                column,
                model,
                table,
            } => write!(
                f,
                "`{column}`: type {table} in the table, {model} in the model"
            ),
            ColumnDifference::Nullability {
                column,
                model_nullable,
            } => write!(
                f,
                "`{column}`: {} in the table, {} in the model",
                null(!model_nullable),
                null(*model_nullable)
            ),
        }
    }
}

/// A live table's schema differs from its model (`assert_schema`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("lakeorm: table `{table}` does not match model `{model}`:{}\n  (write a migration with `lakeorm migrate generate`, then apply it with `lakeorm migrate up`)", differences.iter().map(|d| format!("\n  - {d}")).collect::<String>())]
pub struct SchemaMismatch {
    /// The table.
    pub table: String,
    /// The model's type name.
    pub model: String,
    /// Every differing column.
    pub differences: Vec<ColumnDifference>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_flags() {
        let not_ready = Error::from(ClusterNotReady {
            state: "PENDING".into(),
            request_id: None,
            message: "starting".into(),
            source: None,
        });
        assert!(not_ready.is_retryable());
        assert_eq!(
            not_ready.to_string(),
            "lakeorm: cluster not ready (state=PENDING): starting"
        );
        assert!(!Error::NoRows.is_retryable());
        let io = std::io::Error::other("boom");
        assert!(Error::engine("x", "y", true, io).is_retryable());
    }

    #[test]
    fn kinds_sort_variants() {
        assert_eq!(Error::NoRows.kind(), ErrorKind::NotFound);
        let missing = Error::TableNotFound {
            table: "users".into(),
            location: Some("file:///lake/users".into()),
        };
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert_eq!(
            missing.to_string(),
            "lakeorm: table `users` not found at `file:///lake/users`; create it with a migration or `Client::migrate`"
        );
        assert_eq!(Error::closed("the client").kind(), ErrorKind::Closed);
        assert_eq!(
            Error::closed("the client").to_string(),
            "lakeorm: the client is closed"
        );
        let rejected = Error::sql_rejected("bad", std::io::Error::other("parse"));
        assert_eq!(rejected.kind(), ErrorKind::Sql);
        assert!(std::error::Error::source(&rejected).is_some());
        assert_eq!(
            Error::data_invalid("the record", "not JSON").kind(),
            ErrorKind::DataInvalid
        );
    }

    #[test]
    fn staging_error_names_uri_and_op() {
        let e = ClientStaging {
            uri: "s3://b/_staging/x".into(),
            backend: "s3".into(),
            op: StagingOp::StageWrite,
            source: "denied".into(),
        };
        assert_eq!(
            e.to_string(),
            "lakeorm: client-side stage-write failed on s3://b/_staging/x (backend=s3): denied"
        );
    }
}
