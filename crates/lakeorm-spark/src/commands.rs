//! Statements run for their effect on a lent session, and the row counts they report.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use lakeorm_core::{ExecMetrics, Result, Statement};
use spark_connect_proto as proto;

use crate::pool::{Lease, decode_arrow};

/// Runs statements on one session; a failure that may have broken the session (the
/// connection, the server) takes it out of the pool.
pub(crate) async fn run_all(lease: &mut Lease, statements: &[Statement]) -> Result<ExecMetrics> {
    let mut metrics = ExecMetrics::default();
    for statement in statements {
        match lease.session().command_sql(statement).await {
            Ok(responses) => add_reported(&mut metrics, &responses),
            Err(error) => {
                if crate::errors::session_in_doubt(&error) {
                    lease.discard();
                }
                return Err(error);
            }
        }
    }
    Ok(metrics)
}

/// Adds the row counts a DML statement reported (`num_inserted_rows`, …) to `metrics`.
fn add_reported(metrics: &mut ExecMetrics, responses: &[proto::ExecutePlanResponse]) {
    for response in responses {
        let Some(proto::execute_plan_response::ResponseType::SqlCommandResult(result)) =
            &response.response_type
        else {
            continue;
        };
        let Some(proto::relation::RelType::LocalRelation(local)) =
            result.relation.as_ref().and_then(|r| r.rel_type.as_ref())
        else {
            continue;
        };
        let Some(data) = &local.data else { continue };
        let Ok(batches) = decode_arrow(data) else {
            continue;
        };
        for batch in batches {
            let count = |name: &str| -> u64 {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_primitive_opt::<Int64Type>())
                    .filter(|c| !c.is_empty() && !c.is_null(0))
                    .map(|c| c.value(0).max(0) as u64)
                    .unwrap_or(0)
            };
            metrics.rows_inserted += count("num_inserted_rows");
            metrics.rows_updated += count("num_updated_rows");
            metrics.rows_deleted += count("num_deleted_rows");
        }
    }
}
