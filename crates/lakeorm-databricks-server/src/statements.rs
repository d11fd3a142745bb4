//! The Statement Execution API: `POST /api/2.0/sql/statements`, `GET …/{id}`,
//! `GET …/{id}/result/chunks/{n}`, `POST …/{id}/cancel` and `DELETE …/{id}` (close).
//!
//! Each statement runs in its own task, through the states Databricks documents: `PENDING`
//! while the warehouse starts (a fault), `RUNNING`, then `SUCCEEDED`, `FAILED` or `CANCELED`;
//! a closed statement is `CLOSED` and its result files are gone. The submitting request waits
//! up to `wait_timeout` (then continues asynchronously or cancels, per `on_wait_timeout`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::SecondsFormat;
use serde_json::{Value, json};

use crate::Shared;
use crate::errors::{ApiError, SqlError, json_response};
use crate::faults::bump;
use crate::results::{Format, Limits, Spooled};
use crate::sql::{Kind, Parameter};

/// The longest statement text accepted (16 MiB).
pub(crate) const MAX_STATEMENT_BYTES: usize = 16 * 1024 * 1024;
/// The most parameters a statement may have.
pub(crate) const MAX_PARAMETERS: usize = 256;

/// A statement's execution state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Canceled,
    Closed,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Pending => "PENDING",
            Phase::Running => "RUNNING",
            Phase::Succeeded => "SUCCEEDED",
            Phase::Failed => "FAILED",
            Phase::Canceled => "CANCELED",
            Phase::Closed => "CLOSED",
        }
    }

    fn is_terminal(self) -> bool {
        !matches!(self, Phase::Pending | Phase::Running)
    }
}

/// `disposition` of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    Inline,
    ExternalLinks,
}

/// A validated execute request.
#[derive(Debug, Clone)]
pub(crate) struct ExecuteRequest {
    pub(crate) statement: String,
    pub(crate) catalog: Option<String>,
    pub(crate) schema: Option<String>,
    pub(crate) parameters: Vec<Parameter>,
    pub(crate) disposition: Disposition,
    pub(crate) format: Format,
    pub(crate) wait_timeout: Duration,
    pub(crate) cancel_on_timeout: bool,
    pub(crate) row_limit: Option<u64>,
    pub(crate) byte_limit: Option<u64>,
}

/// Every statement the server has seen, by id.
#[derive(Default)]
pub(crate) struct Registry {
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

impl Registry {
    fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn insert(&self, entry: Arc<Entry>) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(entry.id.clone(), entry);
    }

    /// Stops every running statement (the server is stopping).
    pub(crate) fn abort_all(&self) {
        let entries: Vec<Arc<Entry>> = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for entry in entries {
            entry.stop(Phase::Canceled);
        }
    }

    /// The file of chunk `chunk` of a succeeded, open statement.
    pub(crate) fn chunk_file(&self, id: &str, chunk: usize) -> Option<std::path::PathBuf> {
        let entry = self.get(id)?;
        let inner = entry.lock();
        match (&inner.phase, &inner.result) {
            (Phase::Succeeded, Some(result)) => result.chunks.get(chunk).map(|c| c.path.clone()),
            _ => None,
        }
    }
}

/// One statement.
pub(crate) struct Entry {
    id: String,
    disposition: Disposition,
    inner: Mutex<Inner>,
    phase: tokio::sync::watch::Sender<Phase>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

struct Inner {
    phase: Phase,
    error: Option<SqlError>,
    result: Option<Arc<Spooled>>,
}

impl Entry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves a live statement to `to`; a statement already terminal stays as it is (a
    /// cancel racing the end of a statement loses).
    fn advance(&self, to: Phase, error: Option<SqlError>, result: Option<Arc<Spooled>>) -> bool {
        let mut inner = self.lock();
        if inner.phase.is_terminal() {
            if let Some(result) = result {
                result.remove();
            }
            return false;
        }
        inner.phase = to;
        inner.error = error;
        inner.result = result;
        drop(inner);
        self.phase.send_replace(to);
        true
    }

    /// Cancels (or closes) the statement: its task is stopped where it is.
    fn stop(&self, to: Phase) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        let mut inner = self.lock();
        let changed = match to {
            Phase::Closed => inner.phase != Phase::Closed,
            _ => !inner.phase.is_terminal(),
        };
        if changed {
            if to == Phase::Closed
                && let Some(result) = inner.result.take()
            {
                result.remove();
            }
            inner.phase = to;
            drop(inner);
            self.phase.send_replace(to);
        }
    }

    async fn wait(&self, timeout: Duration) -> bool {
        let mut rx = self.phase.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|p| p.is_terminal()))
            .await
            .is_ok()
    }
}

/// `POST /api/2.0/sql/statements`.
pub(crate) async fn execute(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let request = parse_request(&shared, &value)?;
    bump(&shared.counters.statements);
    match crate::sql::kind(&request.statement) {
        Kind::Query => bump(&shared.counters.queries),
        Kind::Write => bump(&shared.counters.writes),
        Kind::Ddl => bump(&shared.counters.ddl),
        Kind::Other => {}
    }
    let (phase, _) = tokio::sync::watch::channel(Phase::Pending);
    let entry = Arc::new(Entry {
        id: uuid::Uuid::new_v4().to_string(),
        disposition: request.disposition,
        inner: Mutex::new(Inner {
            phase: Phase::Pending,
            error: None,
            result: None,
        }),
        phase,
        task: Mutex::new(None),
    });
    shared.statements.insert(Arc::clone(&entry));
    let task = tokio::spawn(run(
        Arc::clone(&shared),
        Arc::clone(&entry),
        request.clone(),
    ));
    *entry.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
    if !request.wait_timeout.is_zero()
        && !entry.wait(request.wait_timeout).await
        && request.cancel_on_timeout
    {
        bump(&shared.counters.cancels);
        entry.stop(Phase::Canceled);
    }
    Ok(json_response(StatusCode::OK, &response(&shared, &entry)))
}

/// The statement's life after it was accepted.
async fn run(shared: Arc<Shared>, entry: Arc<Entry>, request: ExecuteRequest) {
    if let Some(until) = shared.faults.starting_until() {
        tokio::time::sleep_until(until.into()).await;
    }
    if !entry.advance(Phase::Running, None, None) {
        return;
    }
    let delay = shared.faults.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some((code, message)) = shared.faults.take_failure() {
        bump(&shared.counters.statements_failed);
        entry.advance(Phase::Failed, Some(SqlError::injected(code, message)), None);
        return;
    }
    match produce(&shared, &entry, &request).await {
        Ok(result) => {
            entry.advance(Phase::Succeeded, None, Some(Arc::new(result)));
        }
        Err(error) => {
            bump(&shared.counters.statements_failed);
            tracing::debug!(statement = %entry.id, %error, "statement failed");
            entry.advance(Phase::Failed, Some(error), None);
        }
    }
}

async fn produce(
    shared: &Shared,
    entry: &Entry,
    request: &ExecuteRequest,
) -> Result<Spooled, SqlError> {
    let output = shared
        .engine
        .execute(
            &request.statement,
            &request.parameters,
            request.catalog.as_deref(),
            request.schema.as_deref(),
        )
        .await?;
    let dir = shared.results_dir.join(&entry.id);
    let limits = Limits {
        chunk_rows: shared.config.chunk_rows,
        row_limit: request.row_limit,
        byte_limit: request.byte_limit,
        inline: request.disposition == Disposition::Inline,
    };
    let spooled =
        crate::results::spool(&output.schema, output.batches, &dir, request.format, limits).await;
    if spooled.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    spooled
}

/// Reads an integer that proto3 JSON may send as a number or a string.
fn integer(value: &Value, field: &str) -> Result<Option<u64>, ApiError> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("{field} must be a non-negative integer"))
        }),
        Some(Value::String(s)) => s
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("{field} must be a non-negative integer"))),
        Some(_) => Err(ApiError::bad_request(format!(
            "{field} must be a non-negative integer"
        ))),
    }
}

fn text<'a>(value: &'a Value, field: &str) -> Result<Option<&'a str>, ApiError> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(format!("{field} must be a string"))),
    }
}

/// `wait_timeout`: `0s`, or `5s` to `50s`.
fn wait_timeout(text: Option<&str>) -> Result<Duration, ApiError> {
    let text = text.unwrap_or("10s");
    let seconds = text
        .strip_suffix('s')
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n == 0 || (5..=50).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "wait_timeout must be 0s or between 5s and 50s, not `{text}`"
            ))
        })?;
    Ok(Duration::from_secs(seconds))
}

fn parse_request(shared: &Shared, value: &Value) -> Result<ExecuteRequest, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object",
        ));
    }
    let statement = text(value, "statement")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("statement is required"))?;
    if statement.len() > MAX_STATEMENT_BYTES {
        return Err(ApiError::bad_request(format!(
            "The statement is {} bytes; statements are limited to {MAX_STATEMENT_BYTES} bytes (16 MiB)",
            statement.len()
        )));
    }
    let warehouse = text(value, "warehouse_id")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("warehouse_id is required"))?;
    if warehouse != shared.config.warehouse_id {
        return Err(ApiError::not_found(format!(
            "The SQL warehouse {warehouse} does not exist"
        )));
    }
    let disposition = match text(value, "disposition")?.unwrap_or("INLINE") {
        "INLINE" => Disposition::Inline,
        "EXTERNAL_LINKS" => Disposition::ExternalLinks,
        other => {
            return Err(ApiError::bad_request(format!(
                "disposition must be INLINE or EXTERNAL_LINKS, not `{other}`"
            )));
        }
    };
    let format_text = text(value, "format")?.unwrap_or("JSON_ARRAY");
    let format = Format::parse(format_text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "format must be JSON_ARRAY, ARROW_STREAM or CSV, not `{format_text}`"
        ))
    })?;
    if disposition == Disposition::Inline && format != Format::JsonArray {
        return Err(ApiError::bad_request(format!(
            "The INLINE disposition supports only the JSON_ARRAY format, not {format_text}; use EXTERNAL_LINKS"
        )));
    }
    let wait_timeout = wait_timeout(text(value, "wait_timeout")?)?;
    let cancel_on_timeout = match text(value, "on_wait_timeout")?.unwrap_or("CONTINUE") {
        "CONTINUE" => false,
        "CANCEL" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "on_wait_timeout must be CONTINUE or CANCEL, not `{other}`"
            )));
        }
    };
    let parameters = match value.get("parameters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_PARAMETERS {
                return Err(ApiError::bad_request(format!(
                    "A statement can have at most {MAX_PARAMETERS} parameters; this one has {}",
                    items.len()
                )));
            }
            items
                .iter()
                .map(|item| {
                    let name = text(item, "name")?
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| ApiError::bad_request("every parameter needs a name"))?;
                    let value = text(item, "value")?.map(str::to_owned);
                    let ty = text(item, "type")?.unwrap_or("STRING").to_owned();
                    Ok(Parameter {
                        name: name.to_owned(),
                        value,
                        ty,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?
        }
        Some(_) => return Err(ApiError::bad_request("parameters must be an array")),
    };
    Ok(ExecuteRequest {
        statement: statement.to_owned(),
        catalog: text(value, "catalog")?.map(str::to_owned),
        schema: text(value, "schema")?.map(str::to_owned),
        parameters,
        disposition,
        format,
        wait_timeout,
        cancel_on_timeout,
        row_limit: integer(value, "row_limit")?,
        byte_limit: integer(value, "byte_limit")?,
    })
}

/// A `StatementResponse` of the statement as it is now.
fn response(shared: &Shared, entry: &Entry) -> Value {
    let inner = entry.lock();
    let mut status = json!({ "state": inner.phase.name() });
    if let (Phase::Failed, Some(error)) = (inner.phase, &inner.error) {
        status["error"] = json!({ "error_code": error.error_code, "message": error.message });
        if let Some(state) = &error.sql_state {
            status["sql_state"] = json!(state);
        }
    }
    let mut body = json!({ "statement_id": entry.id, "status": status });
    if let (Phase::Succeeded, Some(result)) = (inner.phase, &inner.result) {
        body["manifest"] = result.manifest();
        if !result.chunks.is_empty() {
            match chunk_json(shared, entry, result, 0) {
                Ok(chunk) => body["result"] = chunk,
                Err(e) => {
                    tracing::warn!(statement = %entry.id, error = %e.message, "reading chunk 0")
                }
            }
        }
    }
    body
}

/// The `result`-shaped description of chunk `index`.
fn chunk_json(
    shared: &Shared,
    entry: &Entry,
    result: &Spooled,
    index: usize,
) -> Result<Value, ApiError> {
    let chunk = result.chunks.get(index).ok_or_else(|| {
        ApiError::bad_request(format!(
            "The statement {} has {} chunks; there is no chunk {index}",
            entry.id,
            result.chunks.len()
        ))
    })?;
    let next = (index + 1 < result.chunks.len()).then_some(index + 1);
    let next_link =
        |next: usize| format!("/api/2.0/sql/statements/{}/result/chunks/{next}", entry.id);
    let body = match entry.disposition {
        Disposition::Inline => {
            let data = result
                .data_array(chunk)
                .map_err(|e| ApiError::internal(format!("reading a result chunk: {e}")))?;
            let mut body = json!({
                "chunk_index": chunk.index,
                "row_offset": chunk.row_offset,
                "row_count": chunk.row_count,
                "data_array": data,
            });
            if let Some(next) = next {
                body["next_chunk_index"] = json!(next);
                body["next_chunk_internal_link"] = json!(next_link(next));
            }
            body
        }
        Disposition::ExternalLinks => {
            let (link, expires) = shared.links.issue(shared, &entry.id, chunk.index);
            let mut item = json!({
                "chunk_index": chunk.index,
                "row_offset": chunk.row_offset,
                "row_count": chunk.row_count,
                "byte_count": chunk.byte_count,
                "external_link": link,
                "expiration": expires.to_rfc3339_opts(SecondsFormat::Millis, true),
            });
            if let Some(next) = next {
                item["next_chunk_index"] = json!(next);
                item["next_chunk_internal_link"] = json!(next_link(next));
            }
            json!({ "external_links": [item] })
        }
    };
    Ok(body)
}

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(format!("The statement {id} was not found"))
}

/// `GET /api/2.0/sql/statements/{statement_id}`.
pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = shared.statements.get(&id).ok_or_else(|| unknown(&id))?;
    Ok(json_response(StatusCode::OK, &response(&shared, &entry)))
}

/// `GET /api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index}`.
pub(crate) async fn chunk(
    State(shared): State<Arc<Shared>>,
    Path((id, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    bump(&shared.counters.chunk_requests);
    let entry = shared.statements.get(&id).ok_or_else(|| unknown(&id))?;
    let index: usize = index.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "chunk_index must be a non-negative integer, not `{index}`"
        ))
    })?;
    let result = {
        let inner = entry.lock();
        match (inner.phase, &inner.result) {
            (Phase::Succeeded, Some(result)) => Arc::clone(result),
            (Phase::Closed, _) => {
                return Err(ApiError::not_found(format!(
                    "The statement {id} is closed; its result is no longer available"
                )));
            }
            (phase, _) => {
                return Err(ApiError::bad_request(format!(
                    "The statement {id} is {}; result chunks are available once it has SUCCEEDED",
                    phase.name()
                )));
            }
        }
    };
    let body = chunk_json(&shared, &entry, &result, index)?;
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/2.0/sql/statements/{statement_id}/cancel`.
pub(crate) async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    bump(&shared.counters.cancels);
    let entry = shared.statements.get(&id).ok_or_else(|| unknown(&id))?;
    entry.stop(Phase::Canceled);
    Ok(json_response(StatusCode::OK, &json!({})))
}

/// `DELETE /api/2.0/sql/statements/{statement_id}` (close).
pub(crate) async fn close(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    bump(&shared.counters.closes);
    let entry = shared.statements.get(&id).ok_or_else(|| unknown(&id))?;
    entry.stop(Phase::Closed);
    Ok(json_response(StatusCode::OK, &json!({})))
}
