//! Table maintenance: compaction, vacuum and statistics.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use lakeorm_core::{Error, ExecMetrics, ExecutionPlan, Lake, Result, TableStats};

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

    /// Deletes files of `T`'s table that no version newer than `retention` references. Await
    /// the returned [`Vacuum`].
    ///
    /// A retention below the format's safe minimum (7 days for Delta, 24 hours for Iceberg:
    /// [`TableFormat::min_vacuum_retention`](crate::TableFormat::min_vacuum_retention)) is
    /// refused with [`Error::RetentionTooShort`] before anything is deleted, unless
    /// [`Vacuum::force`] says that no one else is using the table.
    pub fn vacuum<T: Lake>(&self, retention: Duration) -> Vacuum<'_, T> {
        Vacuum {
            maintenance: Maintenance {
                client: self.client,
            },
            retention,
            force: false,
            model: std::marker::PhantomData,
        }
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

/// A vacuum, run by awaiting it; see [`Maintenance::vacuum`].
#[derive(Debug)]
#[must_use = "a vacuum does nothing until it is awaited"]
pub struct Vacuum<'a, T> {
    maintenance: Maintenance<'a>,
    retention: Duration,
    force: bool,
    model: std::marker::PhantomData<fn() -> T>,
}

impl<T> Vacuum<'_, T> {
    /// Allows a retention below the format's minimum, down to zero. Only safe when no other
    /// writer or reader uses the table (a test, a table being retired): files younger than
    /// the minimum may belong to a commit in flight or to a snapshot a reader is scanning.
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }
}

impl<'a, T: Lake> IntoFuture for Vacuum<'a, T> {
    type Output = Result<ExecMetrics>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<ExecMetrics>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let table = self.maintenance.client.table_spec::<T>()?;
            let minimum = table.format.min_vacuum_retention();
            if !self.force && self.retention < minimum {
                return Err(Error::RetentionTooShort {
                    table: table.table.to_string(),
                    format: table.format,
                    requested: self.retention,
                    minimum,
                });
            }
            self.maintenance
                .run(ExecutionPlan::Vacuum {
                    table,
                    retention: self.retention,
                    force: self.force,
                })
                .await
        })
    }
}
