//! Table maintenance: compaction, vacuum and statistics.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use lakeorm_core::{
    Error, ExecMetrics, ExecutionPlan, Lake, Param, Partition, Result, Statement, TableFormat,
    TableSpec, TableState, TableStats,
};

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

    /// Compacts the small files of `T`'s table, Z-ordering the rewritten rows by the model's
    /// layout columns (its `sortable` columns, then its `indexed` ones and merge keys; see
    /// [`Layout`](crate::Layout)). Await the returned [`Optimize`], after choosing a file size,
    /// other Z-order columns or a part of the table.
    pub fn optimize<T: Lake>(&self) -> Optimize<'_, T> {
        Optimize {
            maintenance: Maintenance {
                client: self.client,
            },
            target_size: None,
            zorder: None,
            filter: None,
            model: std::marker::PhantomData,
        }
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

/// A compaction, run by awaiting it; see [`Maintenance::optimize`].
#[derive(Debug)]
#[must_use = "an optimize does nothing until it is awaited"]
pub struct Optimize<'a, T> {
    maintenance: Maintenance<'a>,
    target_size: Option<u64>,
    zorder: Option<Vec<String>>,
    filter: Option<Statement>,
    model: std::marker::PhantomData<fn() -> T>,
}

impl<T> Optimize<'_, T> {
    /// The size of the files to write, in bytes (default: the engine's or the table's).
    pub fn target_size(mut self, bytes: u64) -> Self {
        self.target_size = Some(bytes);
        self
    }

    /// Z-orders the rewritten rows by `columns` instead of the model's layout columns; an
    /// empty list compacts without reordering.
    pub fn zorder_by<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.zorder = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Only optimizes the part of the table `predicate` selects: a SQL expression on
    /// partition columns with `?` placeholders, bound with [`bind`](Self::bind).
    pub fn filter(mut self, predicate: impl Into<Statement>) -> Self {
        self.filter = Some(predicate.into());
        self
    }

    /// Binds the next `?` of the [`filter`](Self::filter).
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        let filter = self.filter.take().unwrap_or_else(|| Statement::new(""));
        self.filter = Some(filter.bind(value));
        self
    }
}

impl<'a, T: Lake> IntoFuture for Optimize<'a, T> {
    type Output = Result<ExecMetrics>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<ExecMetrics>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let client = self.maintenance.client;
            let table = client.table_spec::<T>()?;
            let state = table.table_state(client.dialect().as_ref())?;
            let zorder = match self.zorder {
                Some(columns) => {
                    check_zorder(&table, &state, &columns)?;
                    columns
                }
                // A clustered table is clustered by OPTIMIZE itself, and Delta refuses to
                // Z-order by the columns it is partitioned by.
                None if !state.clustering.is_empty() => Vec::new(),
                None => {
                    let partitioned = |c: &String| {
                        table.format == TableFormat::Delta
                            && state
                                .column(c)
                                .is_some_and(|c| c.partition == Some(Partition::Identity))
                    };
                    let mut columns = table.schema.layout().zorder_by;
                    columns.retain(|c| !partitioned(c));
                    columns
                }
            };
            if let Some(filter) = &self.filter
                && filter.sql.trim().is_empty()
            {
                return Err(Error::sql(
                    "optimize: `bind` was called without a `filter` to bind it to",
                ));
            }
            self.maintenance
                .run(ExecutionPlan::Optimize {
                    table,
                    target_size: self.target_size,
                    zorder,
                    filter: self.filter,
                })
                .await
        })
    }
}

/// Explicit Z-order columns must be columns of the table, and not ones a Delta table is
/// partitioned by.
fn check_zorder(table: &TableSpec, state: &TableState, columns: &[String]) -> Result<()> {
    let refuse = |reason: String| Error::InvalidModel {
        model: table.schema.type_name().to_owned(),
        reason,
    };
    for column in columns {
        let Some(found) = state.column(column) else {
            return Err(refuse(format!(
                "optimize cannot Z-order by `{column}`: `{}` has no such column",
                table.table
            )));
        };
        if table.format == TableFormat::Delta && found.partition == Some(Partition::Identity) {
            return Err(refuse(format!(
                "optimize cannot Z-order `{}` by `{column}`, the column it is partitioned by; \
                 each file already holds one value of it",
                table.table
            )));
        }
    }
    Ok(())
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
