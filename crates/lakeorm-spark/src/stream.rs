//! Query results as a stream of Arrow batches, one server response at a time, holding a lent
//! session until the stream is dropped.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use futures::stream;
use lakeorm_core::{QueryResult, Result, Statement};
use spark_connect_core::client::ReattachableResponseStream;
use spark_connect_proto as proto;

use crate::errors::classify;
use crate::pool::{Lease, cancel, decode_arrow, operation_name, sql_relation};

/// Runs a query on a lent session and streams its batches; the session returns to the pool
/// when the stream is dropped.
pub(crate) async fn stream_query(mut lease: Lease, statement: &Statement) -> Result<QueryResult> {
    let operation = operation_name(&statement.sql);
    let plan = proto::plan::OpType::Root(sql_relation(statement)?);
    let tag = lease.session_mut().tag();
    let responses = lease.session().execute(plan, &operation).await?;
    let mut state = QueryState {
        lease,
        tag,
        responses,
        pending: VecDeque::new(),
        operation,
        done: false,
    };
    // The schema comes with the first batch (servers send an empty one for empty results).
    let schema = match state.next_batch().await? {
        Some(first) => {
            let schema = first.schema();
            state.pending.push_front(first);
            schema
        }
        None => Arc::new(Schema::empty()),
    };
    let batches = stream::try_unfold(state, |mut state| async move {
        Ok(state.next_batch().await?.map(|batch| (batch, state)))
    });
    Ok(QueryResult {
        schema,
        batches: Box::pin(batches),
        native: None,
    })
}

struct QueryState {
    lease: Lease,
    tag: String,
    responses: ReattachableResponseStream,
    pending: VecDeque<RecordBatch>,
    operation: String,
    done: bool,
}

impl QueryState {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some(batch) = self.pending.pop_front() {
                return Ok(Some(batch));
            }
            if self.done {
                return Ok(None);
            }
            let message = match self.responses.message().await {
                Ok(message) => message,
                Err(error) => {
                    let error = classify(error, &self.operation);
                    if crate::errors::session_in_doubt(&error) {
                        self.lease.discard();
                    }
                    self.done = true;
                    return Err(error);
                }
            };
            let Some(response) = message else {
                self.done = true;
                continue;
            };
            if let Some(proto::execute_plan_response::ResponseType::ArrowBatch(arrow)) =
                response.response_type
            {
                self.pending.extend(decode_arrow(&arrow.data)?);
            }
        }
    }
}

impl Drop for QueryState {
    /// A stream dropped before its end: the server would go on computing it, and the session
    /// cannot be lent again mid-response. Interrupt it and retire the session.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.lease.discard();
        cancel(
            Arc::clone(&self.lease.session().client),
            std::mem::take(&mut self.tag),
            (),
        );
    }
}
