//! Commits to one table, one at a time, for servers that would otherwise lose one.
//!
//! Sail (0.7) commits Iceberg tables without noticing a concurrent commit: of eight
//! concurrent appends through one client, each reported success and one was missing from the
//! table. Until the server detects the conflict, the driver queues a client's writes to such a
//! table behind each other. That protects one process; writers in other processes still race.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lakeorm_core::{ExecutionPlan, TableFormat};
use tokio::sync::OwnedMutexGuard;

use crate::server::SparkServer;

/// One lock per table, created on first use.
#[derive(Default)]
pub(crate) struct CommitQueue {
    tables: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl CommitQueue {
    /// Waits for the table `plan` commits to, if `server` needs its commits queued; the write
    /// runs while the returned guard lives.
    pub(crate) async fn enter(
        &self,
        server: SparkServer,
        plan: &ExecutionPlan,
    ) -> Option<OwnedMutexGuard<()>> {
        let table = match plan {
            ExecutionPlan::Append { table, .. }
            | ExecutionPlan::Merge { table, .. }
            | ExecutionPlan::Update { table, .. }
            | ExecutionPlan::Delete { table, .. } => table,
            _ => return None,
        };
        if !queues_commits(server, table.format) {
            return None;
        }
        let key = match &table.location {
            Some(location) => location.as_str().to_owned(),
            None => table.table.to_string(),
        };
        let lock = Arc::clone(
            self.tables
                .lock()
                .expect("commit queue lock")
                .entry(key)
                .or_default(),
        );
        Some(lock.lock_owned().await)
    }
}

/// Whether `server` loses concurrent commits to tables of `format`.
fn queues_commits(server: SparkServer, format: TableFormat) -> bool {
    matches!((server, format), (SparkServer::Sail, TableFormat::Iceberg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sail_iceberg_commits_are_queued() {
        assert!(queues_commits(SparkServer::Sail, TableFormat::Iceberg));
        assert!(!queues_commits(SparkServer::Sail, TableFormat::Delta));
        assert!(!queues_commits(SparkServer::Spark, TableFormat::Iceberg));
        assert!(!queues_commits(
            SparkServer::Databricks,
            TableFormat::Iceberg
        ));
    }
}
