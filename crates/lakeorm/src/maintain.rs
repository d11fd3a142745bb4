//! Table maintenance: compaction, vacuum and statistics.

use std::time::Duration;

use lakeorm_core::{ExecMetrics, ExecutionPlan, Lake, Result, TableStats};

use crate::client::Client;

/// Maintenance of the tables of a [`Client`]'s models.
#[derive(Debug)]
pub struct Maintenance<'a> {
    client: &'a Client,
}

impl Client {
    /// Maintenance of model tables: compaction, vacuum and statistics.
    pub fn maintain(&self) -> Maintenance<'_> {
        Maintenance { client: self }
    }
}

impl Maintenance<'_> {
    async fn run(&self, plan: ExecutionPlan) -> Result<ExecMetrics> {
        let capable = self.client.driver().capabilities().maintenance;
        self.client
            .require(plan.operation(), plan.table(), capable)?;
        self.client.run(plan, 0, 0).await
    }

    /// Compacts the small files of `T`'s table (aiming at the engine's default file size).
    pub async fn optimize<T: Lake>(&self) -> Result<ExecMetrics> {
        let table = self.client.table_spec::<T>()?;
        self.run(ExecutionPlan::Optimize {
            table,
            target_size: None,
        })
        .await
    }

    /// Deletes files of `T`'s table that no version newer than `retention` references.
    pub async fn vacuum<T: Lake>(&self, retention: Duration) -> Result<ExecMetrics> {
        let table = self.client.table_spec::<T>()?;
        self.run(ExecutionPlan::Vacuum { table, retention }).await
    }

    /// Deletes the records of expired idempotency keys (see
    /// [`Insert::idempotency_key`](crate::Insert::idempotency_key)).
    /// Expired keys are already ignored; this only keeps the dedup table small.
    pub async fn expire_idempotency_keys(&self) -> Result<ExecMetrics> {
        crate::idempotency::expire(self.client).await
    }

    /// The version, file count, rows and bytes of `T`'s table.
    pub async fn stats<T: Lake>(&self) -> Result<TableStats> {
        let table = self.client.table_spec::<T>()?;
        self.client
            .driver()
            .stats(&table, self.client.exec_context())
            .await
    }
}
