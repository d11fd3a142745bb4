//! Spark Connect errors, classified into lakeorm's typed errors.

use lakeorm_core::{ClusterNotReady, Error};
use spark_connect::SparkError;

/// The driver's name in errors, logs and metrics.
pub(crate) const ENGINE: &str = "spark-connect";

/// gRPC status codes (tonic's numbering).
const FAILED_PRECONDITION: i32 = 9;
const UNAVAILABLE: i32 = 14;
const DEADLINE_EXCEEDED: i32 = 4;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNIMPLEMENTED: i32 = 12;
const UNKNOWN: i32 = 2;

/// Cluster states in which a Databricks cluster refuses work but will accept it later.
const STARTING_STATES: &[&str] = &["PENDING", "RESTARTING", "STARTING", "RESIZING"];

/// Whether a server refused a statement it does not implement or cannot parse (Sail's parser
/// answers `found X at … expected …`), rather than failed running it.
pub(crate) fn unsupported_statement(error: &Error) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    let parse = text.contains("found ") && text.contains(" expected ");
    parse
        || [
            "not implemented",
            "not supported",
            "unsupported",
            "parseexception",
            "syntax error",
        ]
        .iter()
        .any(|needle| text.contains(needle))
}

/// Whether a `CREATE TABLE` failed because its location already holds a table (Sail refuses a
/// declared schema there, even a matching one).
pub(crate) fn refused_existing_table(error: &Error) -> bool {
    error
        .to_string()
        .to_ascii_lowercase()
        .contains("already exists")
}

/// Whether an error leaves the session it happened on in doubt — the connection broke, or
/// the server may still be running the operation — so that it must not be lent again. A
/// definite answer from the server (a lost commit race, a starting cluster, a refused
/// statement) leaves the session as good as it was.
pub(crate) fn session_in_doubt(error: &Error) -> bool {
    error.is_retryable()
        && !matches!(
            error,
            Error::CommitConflict { .. } | Error::ClusterNotReady(_)
        )
        && !server_raised(error)
}

/// Whether the error is an exception the server raised (it names its class), which is an
/// answer to the request, however retryable, rather than a failure to get one.
fn server_raised(error: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(spark) = current.downcast_ref::<SparkError>() {
            return !spark.error_class.is_empty();
        }
        cause = current.source();
    }
    false
}

/// Turns a client or server error into a lakeorm error, naming `operation`.
pub(crate) fn classify(error: SparkError, operation: &str) -> Error {
    let message = error.message();
    let code = error.grpc_code;
    if code == Some(FAILED_PRECONDITION)
        && let Some(state) = starting_state(&message)
    {
        return Error::ClusterNotReady(ClusterNotReady {
            state,
            request_id: request_id(&message),
            message,
            source: Some(Box::new(error)),
        });
    }
    if let Some(table) = missing_table(&error, &message) {
        return Error::TableNotFound {
            table,
            location: None,
        };
    }
    if matches!(error.kind, spark_connect_core::error::SparkErrorKind::Parse) {
        return Error::sql_rejected(format!("{operation}: {message}"), error);
    }
    if code == Some(UNIMPLEMENTED) || looks_unsupported(&error, &message) {
        return Error::unsupported(operation, ENGINE, message);
    }
    let lower = message.to_ascii_lowercase();
    if let Some(attempts) = lost_commit_race(&lower) {
        return Error::CommitConflict {
            table: table_of(operation),
            attempts,
            message,
        };
    }
    // Sail can read a Delta log while another writer commits to it and then refuse the
    // listing it saw (`Missing commit file: expected version 0, found 38`). A fresh read
    // succeeds; whether the statement committed before it failed is the commit log's to say,
    // so this is retryable but not known to be unapplied.
    if lower.contains("missing commit file") {
        return Error::engine(ENGINE, operation, true, error);
    }
    // The server could not be reached at all: nothing of the request was sent.
    if never_connected(&lower) {
        return Error::engine(ENGINE, operation, true, error).not_applied();
    }
    // The connection broke mid-request (HTTP/2 errors surface as UNKNOWN): retryable, but
    // the server may have acted on it.
    let retryable = matches!(
        code,
        Some(UNAVAILABLE | DEADLINE_EXCEEDED | RESOURCE_EXHAUSTED)
    ) || (code == Some(UNKNOWN) && broken_connection(&lower));
    Error::engine(ENGINE, operation, retryable, error)
}

/// The table a "table or view not found" error names: Spark's error class
/// `TABLE_OR_VIEW_NOT_FOUND` (its message quotes the name in backticks), or Sail's wording.
fn missing_table(error: &SparkError, message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let missing = error.error_class == "TABLE_OR_VIEW_NOT_FOUND"
        || lower.contains("table_or_view_not_found")
        || lower.contains("table or view not found");
    if !missing {
        return None;
    }
    // `catalog`.`schema`.`name`: the last of the backticked parts joined by dots.
    let parts: Vec<&str> = message.split('`').collect();
    let mut name = None;
    let mut at = 1;
    while let Some(part) = parts.get(at).filter(|_| at + 1 < parts.len()) {
        name = Some(*part);
        if parts.get(at + 1) != Some(&".") {
            break;
        }
        at += 2;
    }
    // Sail: `[org.apache.spark.sql.AnalysisException] Table not found: [TABLE_OR_VIEW_NOT_FOUND]
    // Table or view not found: name`.
    let after_colon = || {
        // The last one: servers may repeat the error class's title before the details.
        let at = lower.rfind("not found:")? + "not found:".len();
        message[at..]
            .split_whitespace()
            .find(|word| !word.starts_with('['))
    };
    let name = name
        .filter(|n| !n.is_empty())
        .or_else(after_colon)
        .map(|n| n.trim_matches(|c| c == '`' || c == '\'' || c == '"'))
        .map(|n| n.rsplit('.').next().unwrap_or(n))
        .filter(|n| !n.is_empty());
    Some(name.unwrap_or("(unnamed)").to_owned())
}

/// Whether the server refused a commit because another writer committed first, and how many
/// attempts it made. Sail's Delta writer is delta-rs's: `Failed to commit transaction: N`
/// (its `MaxCommitAttempts`, N the retries it was allowed, so N + 1 attempts), `Version N
/// already exists`, or a conflict its checker found; its Iceberg writer and catalogs name a
/// commit conflict. None of them wrote a commit, so the write may run again.
fn lost_commit_race(lower: &str) -> Option<u32> {
    if let Some(rest) = lower.split("failed to commit transaction:").nth(1) {
        let retries: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return Some(retries.parse::<u32>().map_or(1, |n| n.saturating_add(1)));
    }
    let conflict = [
        // delta-rs's conflict checker.
        "commit failed: a concurrent transaction",
        "metadata changed since last commit",
        "concurrent transaction failed",
        "tried committing existing table version",
        // Sail's catalogs and its Iceberg writer.
        "commit conflict",
        "concurrent metadata writes detected",
        "concurrent iceberg metadata writes detected",
    ]
    .iter()
    .any(|w| lower.contains(w))
        || (lower.contains("version") && lower.contains("already exists"));
    conflict.then_some(1)
}

/// The table a statement writes, for a conflict's message: the first backticked name after
/// `INTO`, `TABLE` or `UPDATE` in the operation's name (the statement's first words).
fn table_of(operation: &str) -> String {
    let lower = operation.to_ascii_lowercase();
    ["into ", "table ", "update "]
        .iter()
        .filter_map(|word| lower.find(word).map(|at| at + word.len()))
        .min()
        .and_then(|at| {
            let rest = operation[at..].trim_start();
            let name = match rest.strip_prefix('`') {
                Some(quoted) => quoted.split('`').next(),
                None => rest.split_whitespace().next(),
            }?;
            Some(name.to_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "(unknown)".to_owned())
}

/// Whether a transport error says the connection was never made.
fn never_connected(lower: &str) -> bool {
    ["tcp connect error", "connection refused", "dns error"]
        .iter()
        .any(|w| lower.contains(w))
}

/// Whether a transport error says an open connection broke.
fn broken_connection(lower: &str) -> bool {
    [
        "h2 protocol error",
        "error reading a body from connection",
        "connection reset",
        "broken pipe",
        "connection closed",
        "transport error",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// The cluster state named in a "cluster not ready" message, if any.
fn starting_state(message: &str) -> Option<String> {
    let upper = message.to_ascii_uppercase();
    STARTING_STATES
        .iter()
        .find(|state| upper.contains(*state))
        .map(|state| (*state).to_owned())
}

/// A request id (`requestId=…`/`request_id: …`) quoted in a server message.
fn request_id(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let at = ["requestid=", "request_id=", "request id: ", "request_id: "]
        .iter()
        .find_map(|key| lower.find(key).map(|i| i + key.len()))?;
    let id: String = message[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// Whether the server said it cannot do this at all (as opposed to failing at it).
fn looks_unsupported(error: &SparkError, message: &str) -> bool {
    use spark_connect_core::error::SparkErrorKind;
    if matches!(
        error.kind,
        SparkErrorKind::UnsupportedOperation | SparkErrorKind::NotImplementedError
    ) {
        return true;
    }
    let lower = message.to_ascii_lowercase();
    error.error_class.starts_with("UNSUPPORTED")
        || lower.contains("not implemented")
        || lower.contains("not yet supported")
        || lower.contains("unsupported statement")
        || lower.contains("unsupported feature")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: i32, message: &str) -> SparkError {
        let mut e = SparkError::connect_msg(message);
        e.grpc_code = Some(code);
        e
    }

    #[test]
    fn a_lost_commit_race_is_a_conflict_with_its_attempts() {
        let operation = "MERGE INTO `stock` AS target USING (SELECT * FROM `__lakeorm_source`";
        for (message, expected) in [
            ("Failed to commit transaction: 0", 1),
            ("Failed to commit transaction: 15", 16),
            (
                "Failed to commit transaction: Commit failed: a concurrent transactions added new data.",
                1,
            ),
            ("Metadata changed since last commit.", 1),
            (
                "Concurrent Iceberg metadata writes detected for version 4",
                1,
            ),
            ("Version 7 already exists", 1),
        ] {
            let error = classify(status(13, message), operation);
            match &error {
                Error::CommitConflict {
                    table, attempts, ..
                } => {
                    assert_eq!(
                        (table.as_str(), *attempts),
                        ("stock", expected),
                        "{message}"
                    );
                }
                other => panic!("{message}: expected CommitConflict, got {other:?}"),
            }
            assert!(error.is_retryable() && error.is_unapplied(), "{message}");
        }
        // A table that exists is not a lost race.
        let error = classify(status(13, "Table `stock` already exists"), operation);
        assert!(!matches!(error, Error::CommitConflict { .. }), "{error:?}");
    }

    #[test]
    fn only_a_failure_to_get_an_answer_puts_the_session_in_doubt() {
        let mut raised = status(13, "Missing commit file: expected version 0, found 1");
        raised.error_class = "org.apache.spark.SparkRuntimeException".into();
        let raised = classify(raised, "SELECT 1");
        assert!(
            raised.is_retryable() && !session_in_doubt(&raised),
            "{raised:?}"
        );
        let broken = classify(status(UNAVAILABLE, "connection reset"), "SELECT 1");
        assert!(session_in_doubt(&broken), "{broken:?}");
        let conflict = classify(
            status(13, "Failed to commit transaction: 0"),
            "INSERT INTO t",
        );
        assert!(!session_in_doubt(&conflict), "{conflict:?}");
    }

    #[test]
    fn a_starting_cluster_is_retryable_and_typed() {
        let e = classify(
            status(
                FAILED_PRECONDITION,
                "[CLUSTER_NOT_READY] The cluster is in state PENDING. requestId=ab-12",
            ),
            "insert into users",
        );
        match &e {
            Error::ClusterNotReady(c) => {
                assert_eq!(c.state, "PENDING");
                assert_eq!(c.request_id.as_deref(), Some("ab-12"));
            }
            other => panic!("expected ClusterNotReady, got {other:?}"),
        }
        assert!(e.is_retryable());
    }

    #[test]
    fn other_failed_preconditions_are_engine_errors() {
        let e = classify(status(FAILED_PRECONDITION, "session closed"), "query");
        assert!(
            matches!(
                e,
                Error::Engine {
                    retryable: false,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn an_unreachable_server_is_retryable() {
        let e = classify(status(UNAVAILABLE, "connection refused"), "query");
        assert!(e.is_retryable());
        assert!(
            e.to_string().contains("spark-connect failed during query"),
            "{e}"
        );
        // Nothing was sent: re-running cannot apply anything twice.
        assert!(e.is_unapplied());
    }

    /// A connection that broke mid-request leaves the outcome open: retryable, not known to
    /// be unapplied.
    #[test]
    fn a_broken_connection_is_retryable_but_ambiguous() {
        for (code, message) in [
            (
                UNKNOWN,
                "h2 protocol error: error reading a body from connection",
            ),
            (UNAVAILABLE, "error trying to connect: broken pipe"),
            (
                DEADLINE_EXCEEDED,
                "Deadline expired before operation could complete",
            ),
        ] {
            let e = classify(status(code, message), "insert into t");
            assert!(e.is_retryable() && !e.is_unapplied(), "{message}: {e:?}");
        }
        let other = classify(status(UNKNOWN, "the query failed"), "insert into t");
        assert!(!other.is_retryable());
    }

    #[test]
    fn a_missing_table_is_typed() {
        let e = classify(
            SparkError::connect_msg(
                "[TABLE_OR_VIEW_NOT_FOUND] The table or view `spark_catalog`.`default`.`users` cannot be found.",
            ),
            "query",
        );
        assert!(
            matches!(&e, Error::TableNotFound { table, .. } if table == "users"),
            "{e:?}"
        );
    }

    #[test]
    fn sails_missing_table_is_typed() {
        let e = classify(
            SparkError::connect_msg(
                "[TABLE_OR_VIEW_NOT_FOUND] Table or view not found: no_such_table",
            ),
            "query",
        );
        assert!(
            matches!(&e, Error::TableNotFound { table, .. } if table == "no_such_table"),
            "{e:?}"
        );
    }

    #[test]
    fn other_things_not_found_are_not_missing_tables() {
        let e = classify(
            SparkError::connect_msg("column not found in target table: `email`"),
            "merge into users",
        );
        assert!(matches!(e, Error::Engine { .. }), "{e:?}");
    }

    #[test]
    fn unimplemented_is_unsupported() {
        let e = classify(status(2, "not implemented: OPTIMIZE"), "OPTIMIZE users");
        assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    }
}
