//! Databricks REST errors, classified into lakeorm's typed errors.
//!
//! Nothing here quotes a credential: bodies of the workspace's errors hold none, and transport
//! errors are stripped of their URL (a presigned link carries a temporary credential).

use std::fmt;

use lakeorm_core::{ClusterNotReady, Error};
use reqwest::StatusCode;
use serde::Deserialize;

/// The driver's name in errors, logs and metrics.
pub(crate) const ENGINE: &str = "databricks-sql";

/// The most of an error body kept in an error.
const MAX_BODY: usize = 8 * 1024;

/// An error answer of the workspace: its HTTP status and, where the body is Databricks'
/// JSON error, its `error_code` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// Databricks' error code (`NOT_FOUND`, `BAD_REQUEST`, `invalid_client`, …), if given.
    pub error_code: Option<String>,
    /// The message.
    pub message: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    // OAuth errors (RFC 6749 §5.2).
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

impl ApiError {
    /// Reads an error body: Databricks' `{error_code, message}`, OAuth's `{error,
    /// error_description}`, or text.
    pub(crate) fn from_body(status: StatusCode, body: &str) -> Self {
        let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
        let (code, message) = match parsed {
            Some(b) => (
                b.error_code.or(b.error),
                b.message.or(b.error_description).unwrap_or_default(),
            ),
            None => (None, body.trim().to_owned()),
        };
        ApiError {
            status: status.as_u16(),
            error_code: code,
            message: if message.is_empty() {
                status.canonical_reason().unwrap_or("no message").to_owned()
            } else {
                message
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.error_code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ApiError {}

/// A statement the warehouse ran and failed (`status.state = FAILED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementError {
    /// Databricks' error code.
    pub error_code: Option<String>,
    /// The message (Spark's error class in brackets first, where it has one).
    pub message: String,
    /// The SQLSTATE.
    pub sql_state: Option<String>,
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(state) = &self.sql_state {
            write!(f, " (SQLSTATE {state})")?;
        }
        Ok(())
    }
}

impl std::error::Error for StatementError {}

/// The body of an answer, cut at [`MAX_BODY`]; empty if it cannot be read.
pub(crate) async fn read_body(response: reqwest::Response) -> String {
    let mut body = response.text().await.unwrap_or_default();
    if body.len() > MAX_BODY {
        let mut cut = MAX_BODY;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push('…');
    }
    body
}

/// A request that got no answer. Retryable when it never reached the workspace (connecting,
/// a timeout before the request was written is not distinguishable, so only connects) — then
/// also marked not applied.
pub(crate) fn transport(operation: &str, error: reqwest::Error) -> Error {
    let connect = error.is_connect();
    let retryable = connect || error.is_timeout() || error.is_request();
    let error = Error::engine(ENGINE, operation, retryable, error.without_url());
    if connect { error.not_applied() } else { error }
}

/// The HTTP status of the workspace answer an error came from, if it came from one.
pub(crate) fn api_status(error: &Error) -> Option<u16> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(api) = current.downcast_ref::<ApiError>() {
            return Some(api.status);
        }
        cause = current.source();
    }
    None
}

/// An error answer of the workspace API.
pub(crate) fn api(operation: &str, error: ApiError) -> Error {
    match error.status {
        400 => Error::sql_rejected(format!("{operation}: {}", error.message), error),
        401 => Error::Config(format!(
            "the workspace refused the credentials while {operation}: {error}"
        )),
        // Throttled, or the service is briefly unavailable: the request was not acted on.
        429 | 503 => Error::engine(ENGINE, operation, true, error).not_applied(),
        s if s >= 500 => Error::engine(ENGINE, operation, true, error),
        _ => Error::engine(ENGINE, operation, false, error),
    }
}

/// Error codes of a statement that failed before it could change anything and may succeed
/// when run again.
const TRANSIENT: &[&str] = &[
    "TEMPORARILY_UNAVAILABLE",
    "SERVICE_UNDER_MAINTENANCE",
    "WORKSPACE_TEMPORARILY_UNAVAILABLE",
    "RESOURCE_EXHAUSTED",
];

/// A failed statement, as a lakeorm error.
pub(crate) fn statement(operation: &str, error: StatementError) -> Error {
    let message = error.message.clone();
    let lower = message.to_ascii_lowercase();
    if let Some(table) = missing_table(&message) {
        return Error::TableNotFound {
            table,
            location: None,
        };
    }
    if lower.contains("concurrentappendexception")
        || lower.contains("concurrent_append")
        || lower.contains("delta_concurrent")
        || lower.contains("concurrentdeleteread")
    {
        return Error::CommitConflict {
            table: operation.rsplit(' ').next().unwrap_or_default().to_owned(),
            attempts: 1,
            message,
        };
    }
    let code = error.error_code.as_deref().unwrap_or("");
    if TRANSIENT.contains(&code) {
        return Error::engine(ENGINE, operation, true, error).not_applied();
    }
    // SQLSTATE class 42 (syntax error or access rule violation) and parse errors: the
    // statement itself is wrong.
    let syntax = error
        .sql_state
        .as_deref()
        .is_some_and(|s| s.starts_with("42"))
        || lower.contains("parse_syntax_error");
    if syntax {
        return Error::sql_rejected(format!("{operation}: {message}"), error);
    }
    if lower.contains("unsupported_feature") || lower.contains("not supported") {
        return Error::unsupported(operation, ENGINE, message);
    }
    Error::engine(ENGINE, operation, false, error)
}

/// The table of a `TABLE_OR_VIEW_NOT_FOUND` message (its last backticked name part).
fn missing_table(message: &str) -> Option<String> {
    if !message.contains("TABLE_OR_VIEW_NOT_FOUND") {
        return None;
    }
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let name = quoted.last().copied().unwrap_or_default();
    Some(name.to_owned()).filter(|n| !n.is_empty())
}

/// A warehouse that is still starting: retryable, nothing ran.
pub(crate) fn warehouse_starting(
    state: &str,
    statement_id: &str,
    waited: std::time::Duration,
) -> Error {
    Error::ClusterNotReady(ClusterNotReady {
        state: state.to_owned(),
        request_id: Some(statement_id.to_owned()),
        message: format!(
            "the SQL warehouse did not start running the statement within {waited:?} (it is starting); the statement was cancelled"
        ),
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_both_shapes() {
        let e = ApiError::from_body(
            StatusCode::NOT_FOUND,
            r#"{"error_code":"NOT_FOUND","message":"no such statement"}"#,
        );
        assert_eq!(e.error_code.as_deref(), Some("NOT_FOUND"));
        assert_eq!(e.to_string(), "HTTP 404 NOT_FOUND: no such statement");
        let e = ApiError::from_body(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
        );
        assert_eq!(e.error_code.as_deref(), Some("invalid_client"));
        let e = ApiError::from_body(StatusCode::BAD_GATEWAY, "");
        assert_eq!(e.message, "Bad Gateway");
        let documented = lakeorm_databricks_server::fixture("error_not_found");
        let e = ApiError::from_body(StatusCode::NOT_FOUND, documented);
        assert_eq!(e.error_code.as_deref(), Some("NOT_FOUND"));
        assert!(!e.message.is_empty());
    }

    #[test]
    fn failed_statements_are_typed() {
        let failed = |message: &str, state: Option<&str>| StatementError {
            error_code: Some("BAD_REQUEST".into()),
            message: message.into(),
            sql_state: state.map(str::to_owned),
        };
        assert!(matches!(
            statement("query", failed("[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`default`.`users` cannot be found.", Some("42P01"))),
            Error::TableNotFound { table, .. } if table == "users"
        ));
        assert!(matches!(
            statement(
                "query",
                failed(
                    "[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'",
                    Some("42601")
                )
            ),
            Error::Sql { .. }
        ));
        let transient = statement(
            "query",
            StatementError {
                error_code: Some("TEMPORARILY_UNAVAILABLE".into()),
                message: "try again".into(),
                sql_state: None,
            },
        );
        assert!(transient.is_retryable() && transient.is_unapplied());
    }
}
