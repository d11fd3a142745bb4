//! Running one statement on a SQL warehouse: submit, poll with backoff inside a deadline,
//! cancel when the caller gives up (a dropped future cancels the statement), close when its
//! result has been read.

use std::sync::Arc;
use std::time::Duration;

use lakeorm_core::{Error, Result};
use reqwest::Method;
use tokio::time::Instant;

use crate::api::{
    Disposition, ExecuteRequest, Format, Manifest, Parameter, ResultData, State, StatementResponse,
};
use crate::errors::{self, ENGINE, StatementError};
use crate::workspace::Workspace;

/// How statements are run.
#[derive(Debug, Clone)]
pub struct StatementOptions {
    /// How long a statement may take, from submission to its result, before it is cancelled.
    pub deadline: Duration,
    /// How long a statement may wait for the warehouse to start (state `PENDING`) before it is
    /// cancelled and the call fails with the retryable
    /// [`ClusterNotReady`](lakeorm_core::ClusterNotReady).
    pub start_timeout: Duration,
    /// The first pause between polls; pauses grow by half up to `max_poll`.
    pub first_poll: Duration,
    /// The longest pause between polls.
    pub max_poll: Duration,
}

impl Default for StatementOptions {
    fn default() -> Self {
        StatementOptions {
            deadline: Duration::from_secs(2 * 3600),
            start_timeout: Duration::from_secs(10 * 60),
            first_poll: Duration::from_millis(50),
            max_poll: Duration::from_secs(2),
        }
    }
}

/// A warehouse and how statements run on it.
#[derive(Debug)]
pub(crate) struct Warehouse {
    pub workspace: Workspace,
    pub warehouse_id: String,
    pub catalog: Option<String>,
    pub schema: Option<String>,
    pub options: StatementOptions,
}

/// A statement that succeeded: its manifest and first chunk. Closed on the warehouse when
/// dropped (its result is freed).
pub(crate) struct Finished {
    pub manifest: Option<Manifest>,
    pub result: Option<ResultData>,
    pub guard: Guard,
}

impl Finished {
    pub(crate) fn id(&self) -> &str {
        &self.guard.id
    }
}

/// What to do with a statement when its handle is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDrop {
    /// Running: cancel it.
    Cancel,
    /// Done: free its result.
    Close,
    /// Terminal and freed, or never to be touched.
    Nothing,
}

/// The handle of a submitted statement: cancels a running one and closes a finished one when
/// dropped, in the background.
pub(crate) struct Guard {
    warehouse: Arc<Warehouse>,
    pub(crate) id: String,
    on_drop: OnDrop,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let (path, method) = match self.on_drop {
            OnDrop::Nothing => return,
            OnDrop::Cancel => (
                format!("api/2.0/sql/statements/{}/cancel", self.id),
                Method::POST,
            ),
            OnDrop::Close => (
                format!("api/2.0/sql/statements/{}", self.id),
                Method::DELETE,
            ),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let warehouse = Arc::clone(&self.warehouse);
        let cancel = self.on_drop == OnDrop::Cancel;
        let id = std::mem::take(&mut self.id);
        runtime.spawn(async move {
            let Ok(url) = warehouse.workspace.url(&path) else {
                return;
            };
            let operation = if cancel {
                "cancelling a statement"
            } else {
                "closing a statement"
            };
            if let Err(error) = warehouse
                .workspace
                .send(operation, method, url, |r| r)
                .await
            {
                tracing::debug!(statement = %id, %error, "{operation} failed");
            } else if cancel {
                tracing::debug!(statement = %id, "cancelled a statement its caller dropped");
            }
        });
    }
}

impl Warehouse {
    /// Runs `sql` with `parameters` and waits for it to succeed.
    pub(crate) async fn run(
        self: &Arc<Self>,
        operation: &str,
        sql: &str,
        parameters: Vec<Parameter>,
        disposition: Disposition,
        format: Format,
    ) -> Result<Finished> {
        let started = Instant::now();
        let request = ExecuteRequest {
            statement: sql,
            warehouse_id: &self.warehouse_id,
            catalog: self.catalog.as_deref(),
            schema: self.schema.as_deref(),
            parameters,
            disposition,
            format,
            // Answer at once with the statement's id, so that a caller who gives up can
            // cancel it; then poll.
            wait_timeout: "0s".into(),
            on_wait_timeout: "CONTINUE",
        };
        let url = self.workspace.url("api/2.0/sql/statements")?;
        tracing::debug!(operation, "submitting a statement");
        // Nothing has run while the warehouse has not accepted the statement.
        let response: StatementResponse = self
            .workspace
            .send(operation, Method::POST, url, |r| r.json(&request))
            .await
            .map_err(Error::not_applied)?
            .json()
            .await
            .map_err(|e| errors::transport(operation, e))?;
        let mut guard = Guard {
            warehouse: Arc::clone(self),
            id: response.statement_id.clone(),
            on_drop: OnDrop::Cancel,
        };
        let mut response = response;
        let mut pause = self.options.first_poll;
        let mut ran = false;
        loop {
            match response.status.state {
                State::Succeeded => {
                    guard.on_drop = OnDrop::Close;
                    return Ok(Finished {
                        manifest: response.manifest,
                        result: response.result,
                        guard,
                    });
                }
                State::Failed => {
                    guard.on_drop = OnDrop::Close;
                    let error = response.status.error.unwrap_or(crate::api::ServiceError {
                        error_code: None,
                        message: None,
                    });
                    return Err(errors::statement(
                        operation,
                        StatementError {
                            error_code: error.error_code,
                            message: error
                                .message
                                .unwrap_or_else(|| "the statement failed without a message".into()),
                            sql_state: response.status.sql_state,
                        },
                    ));
                }
                State::Canceled | State::Closed | State::Unknown => {
                    guard.on_drop = OnDrop::Nothing;
                    return Err(Error::engine(
                        ENGINE,
                        operation,
                        false,
                        format!(
                            "statement {} ended {:?} on the warehouse, not by this client",
                            guard.id, response.status.state
                        ),
                    ));
                }
                State::Running => ran = true,
                State::Pending => {
                    if !ran && started.elapsed() >= self.options.start_timeout {
                        let waited = started.elapsed();
                        let id = guard.id.clone();
                        return match self.cancel_and_settle(operation, guard).await? {
                            Some(finished) => Ok(finished),
                            None => Err(errors::warehouse_starting("PENDING", &id, waited)),
                        };
                    }
                }
            }
            if started.elapsed() >= self.options.deadline {
                let id = guard.id.clone();
                if let Some(finished) = self.cancel_and_settle(operation, guard).await? {
                    return Ok(finished);
                }
                return Err(Error::engine(
                    ENGINE,
                    operation,
                    true,
                    format!(
                        "statement {id} did not finish within the deadline of {:?} and was cancelled",
                        self.options.deadline
                    ),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(self.options.max_poll);
            response = self.status(operation, &guard.id).await?;
        }
    }

    async fn status(&self, operation: &str, id: &str) -> Result<StatementResponse> {
        let url = self
            .workspace
            .url(&format!("api/2.0/sql/statements/{id}"))?;
        self.workspace
            .send(operation, Method::GET, url, |r| r)
            .await?
            .json()
            .await
            .map_err(|e| errors::transport(operation, e))
    }

    /// Cancels the statement and waits for its final state: `None` once it is cancelled, or
    /// what it finished with if it completed before the cancel reached it.
    async fn cancel_and_settle(
        &self,
        operation: &str,
        mut guard: Guard,
    ) -> Result<Option<Finished>> {
        let url = self
            .workspace
            .url(&format!("api/2.0/sql/statements/{}/cancel", guard.id))?;
        self.workspace
            .send("cancelling a statement", Method::POST, url, |r| r)
            .await?;
        let mut pause = self.options.first_poll;
        for _ in 0..50 {
            let response = self.status(operation, &guard.id).await?;
            match response.status.state {
                State::Succeeded => {
                    guard.on_drop = OnDrop::Close;
                    return Ok(Some(Finished {
                        manifest: response.manifest,
                        result: response.result,
                        guard,
                    }));
                }
                state if state.is_terminal() => {
                    guard.on_drop = OnDrop::Nothing;
                    return Ok(None);
                }
                _ => {}
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(self.options.max_poll);
        }
        Err(Error::engine(
            ENGINE,
            operation,
            true,
            format!("statement {} did not stop after it was cancelled", guard.id),
        ))
    }

    /// Chunk `index` of a finished statement's result (fresh links for external results).
    pub(crate) async fn chunk(&self, id: &str, index: u64) -> Result<ResultData> {
        let operation = "fetching a result chunk";
        let url = self.workspace.url(&format!(
            "api/2.0/sql/statements/{id}/result/chunks/{index}"
        ))?;
        self.workspace
            .send(operation, Method::GET, url, |r| r)
            .await?
            .json()
            .await
            .map_err(|e| errors::transport(operation, e))
    }
}
