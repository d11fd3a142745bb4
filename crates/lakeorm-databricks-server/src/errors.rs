//! The error bodies the server answers with, in the shapes Databricks uses.
//!
//! The workspace API answers a failed request with an HTTP status and a JSON body
//! `{"error_code": "...", "message": "..."}`; a statement that fails is not a failed request but a
//! `FAILED` state carrying a [`SqlError`]; the "cloud storage" behind presigned links answers in
//! S3's XML.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A refused workspace API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) error_code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        error_code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            error_code,
            message: message.into(),
        }
    }

    /// 400 `BAD_REQUEST`: the request is malformed or a field holds an invalid value.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    /// 400 `INVALID_PARAMETER_VALUE`, the code the REST APIs (Files) use for a bad argument.
    pub(crate) fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    /// 404 `NOT_FOUND`.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 409 `ALREADY_EXISTS`.
    pub(crate) fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "ALREADY_EXISTS", message)
    }

    /// 401 `UNAUTHENTICATED`.
    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
    }

    /// 429 `REQUEST_LIMIT_EXCEEDED`: too many requests (the rate limit Databricks answers with).
    pub(crate) fn throttled() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "REQUEST_LIMIT_EXCEEDED",
            "Too many requests. Please wait a moment and try again.",
        )
    }

    /// 500 `INTERNAL_ERROR`: the server itself failed (a disk error under `dir`).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error_code": self.error_code,
            "message": self.message,
        });
        json_response(self.status, &body)
    }
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Why a statement ended `FAILED`: the `status.error` and `status.sql_state` of its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// One of the documented `ServiceErrorCode`s (`BAD_REQUEST` for errors in the SQL itself).
    pub error_code: String,
    /// The message, `[ERROR_CLASS] detail SQLSTATE: xxxxx` as Databricks writes it.
    pub message: String,
    /// The SQLSTATE.
    pub sql_state: Option<String>,
}

impl SqlError {
    /// An error of the SQL (error code `BAD_REQUEST`) with Databricks' error class and SQLSTATE.
    pub(crate) fn class(class: &str, sql_state: &str, detail: impl std::fmt::Display) -> Self {
        SqlError {
            error_code: "BAD_REQUEST".into(),
            message: format!("[{class}] {detail} SQLSTATE: {sql_state}"),
            sql_state: Some(sql_state.into()),
        }
    }

    /// `[PARSE_SYNTAX_ERROR]`.
    pub(crate) fn syntax(detail: impl std::fmt::Display) -> Self {
        Self::class("PARSE_SYNTAX_ERROR", "42601", detail)
    }

    /// `[UNSUPPORTED_FEATURE]`: valid Databricks SQL this server does not carry out.
    pub(crate) fn unsupported(detail: impl std::fmt::Display) -> Self {
        Self::class(
            "UNSUPPORTED_FEATURE",
            "0A000",
            format!("{detail} is not supported by the local Databricks server."),
        )
    }

    /// `[TABLE_OR_VIEW_NOT_FOUND]`.
    pub(crate) fn table_not_found(name: &str) -> Self {
        Self::class(
            "TABLE_OR_VIEW_NOT_FOUND",
            "42P01",
            format!(
                "The table or view `{name}` cannot be found. Verify the spelling and correctness of the schema and catalog."
            ),
        )
    }

    /// An error of the engine that is not the SQL's fault.
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        SqlError {
            error_code: "INTERNAL_ERROR".into(),
            message: format!("[INTERNAL_ERROR] {detail} SQLSTATE: XX000"),
            sql_state: Some("XX000".into()),
        }
    }

    /// An error class given by a test through `Faults::fail_next`.
    pub(crate) fn injected(error_code: String, message: String) -> Self {
        SqlError {
            error_code,
            message,
            sql_state: None,
        }
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_code, self.message)
    }
}

impl std::error::Error for SqlError {}

/// An S3-style XML error of the "cloud storage" port.
pub(crate) fn storage_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        xml_escape(message),
        uuid::Uuid::new_v4().simple()
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
