//! The Statement Execution API's request and response bodies, as its public reference
//! documents them (`POST /api/2.0/sql/statements` and the `StatementResponse` object). Fields
//! the driver does not read are left out; unknown fields are ignored, so newer servers parse.

use serde::{Deserialize, Serialize};

/// `POST /api/2.0/sql/statements`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ExecuteRequest<'a> {
    pub statement: &'a str,
    pub warehouse_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    pub disposition: Disposition,
    pub format: Format,
    /// `"0s"` (answer at once) or `"5s"`..`"50s"`.
    pub wait_timeout: String,
    pub on_wait_timeout: &'static str,
}

/// A named parameter: `value` absent means NULL; `type` is a SQL type name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Parameter {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub ty: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Disposition {
    Inline,
    ExternalLinks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Format {
    JsonArray,
    ArrowStream,
    Csv,
}

/// The `StatementResponse` object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StatementResponse {
    pub statement_id: String,
    pub status: Status,
    #[serde(default)]
    pub manifest: Option<Manifest>,
    #[serde(default)]
    pub result: Option<ResultData>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Status {
    pub state: State,
    #[serde(default)]
    pub error: Option<ServiceError>,
    #[serde(default)]
    pub sql_state: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum State {
    Pending,
    Running,
    Succeeded,
    Failed,
    Canceled,
    Closed,
    #[serde(other)]
    Unknown,
}

impl State {
    pub(crate) fn is_terminal(self) -> bool {
        !matches!(self, State::Pending | State::Running)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ServiceError {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Manifest {
    #[serde(default)]
    pub format: Option<Format>,
    #[serde(default)]
    pub schema: Option<ResultSchema>,
    #[serde(default)]
    pub total_chunk_count: Option<u64>,
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ResultSchema {
    #[serde(default)]
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Column {
    pub name: String,
    #[serde(default)]
    pub type_name: Option<String>,
    #[serde(default)]
    pub type_text: Option<String>,
}

/// One chunk of a result: inline rows (`data_array`) or links to them.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ResultData {
    #[serde(default)]
    pub data_array: Option<Vec<Vec<Option<String>>>>,
    #[serde(default)]
    pub external_links: Option<Vec<ExternalLink>>,
    #[serde(default)]
    pub next_chunk_index: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ExternalLink {
    pub chunk_index: u64,
    /// A presigned URL: sensitive, never logged.
    pub external_link: String,
    /// When the link stops working (ISO 8601).
    #[serde(default)]
    pub expiration: Option<String>,
    /// Headers the storage service needs on the request (some clouds), none of them ours.
    #[serde(default)]
    pub http_headers: Option<std::collections::BTreeMap<String, String>>,
}

impl std::fmt::Display for ExternalLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The link's query carries a credential: show where it points, not how.
        let shown = self.external_link.split('?').next().unwrap_or_default();
        write!(f, "chunk {} at {shown}", self.chunk_index)
    }
}

/// The client against the documented shapes: the sample bodies of the public API reference
/// (as fixtures, in our own values), not only what the local server sends.
#[cfg(test)]
mod tests {
    use super::*;
    use lakeorm_databricks_server::fixture;

    #[test]
    fn documented_responses_parse() {
        let ok: StatementResponse =
            serde_json::from_str(fixture("statement_succeeded_external_links")).unwrap();
        assert_eq!(ok.status.state, State::Succeeded);
        let manifest = ok.manifest.unwrap();
        assert_eq!(manifest.format, Some(Format::ArrowStream));
        assert_eq!(manifest.total_chunk_count, Some(3));
        assert_eq!(
            manifest.schema.unwrap().columns[0].type_name.as_deref(),
            Some("LONG")
        );
        let link = &ok.result.unwrap().external_links.unwrap()[0];
        assert_eq!(link.chunk_index, 0);
        assert!(link.expiration.is_some());
        assert!(!link.to_string().contains("X-Signature"));

        let inline: StatementResponse =
            serde_json::from_str(fixture("statement_succeeded_inline")).unwrap();
        let rows = inline.result.unwrap().data_array.unwrap();
        assert!(!rows.is_empty());

        let pending: StatementResponse =
            serde_json::from_str(fixture("statement_pending")).unwrap();
        assert!(!pending.status.state.is_terminal());

        let failed: StatementResponse = serde_json::from_str(fixture("statement_failed")).unwrap();
        assert_eq!(failed.status.state, State::Failed);
        assert_eq!(failed.status.sql_state.as_deref(), Some("42P01"));
        let error = failed.status.error.unwrap();
        let typed = crate::errors::statement(
            "query",
            crate::errors::StatementError {
                error_code: error.error_code,
                message: error.message.unwrap(),
                sql_state: failed.status.sql_state,
            },
        );
        assert!(
            matches!(&typed, lakeorm_core::Error::TableNotFound { table, .. } if table == "missing"),
            "{typed:?}"
        );

        let chunk: ResultData = serde_json::from_str(fixture("result_chunk_inline")).unwrap();
        assert_eq!(chunk.data_array.unwrap()[0][3], None);
        let links: ResultData =
            serde_json::from_str(fixture("result_chunk_external_links")).unwrap();
        assert!(!links.external_links.unwrap().is_empty());
    }

    #[test]
    fn requests_use_the_documented_fields() {
        let documented: serde_json::Value =
            serde_json::from_str(fixture("execute_request_with_parameters")).unwrap();
        let ours = serde_json::to_value(ExecuteRequest {
            statement: "SELECT :p1",
            warehouse_id: "w",
            catalog: Some("main"),
            schema: Some("default"),
            parameters: vec![Parameter {
                name: "p1".into(),
                value: Some("1".into()),
                ty: "BIGINT".into(),
            }],
            disposition: Disposition::ExternalLinks,
            format: Format::ArrowStream,
            wait_timeout: "0s".into(),
            on_wait_timeout: "CONTINUE",
        })
        .unwrap();
        let documented = documented.as_object().unwrap();
        for (key, value) in ours.as_object().unwrap() {
            let sample = documented
                .get(key)
                .unwrap_or_else(|| panic!("`{key}` is not a documented request field"));
            if key != "parameters" && key != "wait_timeout" && key != "statement" {
                assert_eq!(
                    std::mem::discriminant(sample),
                    std::mem::discriminant(value),
                    "{key}"
                );
            }
        }
        assert_eq!(ours["disposition"], documented["disposition"]);
        assert_eq!(ours["format"], documented["format"]);
        let parameter = &documented["parameters"][0];
        let ours = &ours["parameters"][0];
        for key in ["name", "value", "type"] {
            assert!(
                parameter.get(key).is_some() && ours.get(key).is_some(),
                "{key}"
            );
        }
    }
}
