//! The table operations each format implements, and the one dispatch of plans onto them.

use std::time::Duration;

use async_trait::async_trait;
use lakeorm_core::{
    ExecContext, ExecMetrics, ExecutionPlan, IngestId, Predicate, Result, Statement, TableSpec,
    WriteSource,
};

use crate::delta::{DeltaOps, MergeKind};
use crate::iceberg::IcebergOps;

/// What a table format does natively on the embedded engine.
#[async_trait]
pub(crate) trait TableOps: Send + Sync {
    async fn create(&self, table: &TableSpec, ctx: ExecContext<'_>) -> Result<ExecMetrics>;
    async fn append(
        &self,
        table: &TableSpec,
        source: WriteSource,
        ingest_id: &IngestId,
    ) -> Result<ExecMetrics>;
    /// Upserts, keyed updates and keyed deletes: merges of a source on key columns.
    async fn merge(
        &self,
        table: &TableSpec,
        source: WriteSource,
        keys: &[String],
        kind: MergeKind,
        ingest_id: Option<&IngestId>,
    ) -> Result<ExecMetrics>;
    async fn delete_where(&self, table: &TableSpec, predicate: &Statement) -> Result<ExecMetrics>;
    async fn optimize(
        &self,
        table: &TableSpec,
        target_size: Option<u64>,
        zorder: &[String],
        filter: Option<&Statement>,
    ) -> Result<ExecMetrics>;
    async fn vacuum(
        &self,
        table: &TableSpec,
        retention: Duration,
        force: bool,
    ) -> Result<ExecMetrics>;
}

/// Executes a plan on a table with `ops`; `Err(plan)` hands back a plan that is not a table
/// operation (a statement, a query).
pub(crate) async fn execute(
    ops: &dyn TableOps,
    plan: ExecutionPlan,
    ctx: ExecContext<'_>,
) -> std::result::Result<Result<ExecMetrics>, ExecutionPlan> {
    Ok(match plan {
        ExecutionPlan::CreateTable { table } => match ctx.dialect.check_schema(&table.schema) {
            Ok(()) => ops.create(&table, ctx).await,
            Err(e) => Err(e),
        },
        ExecutionPlan::Append {
            table,
            source,
            ingest_id,
        } => ops.append(&table, source, &ingest_id).await,
        ExecutionPlan::Merge {
            table,
            source,
            keys,
            on_match,
            ingest_id,
        } => {
            let kind = MergeKind::Upsert(on_match);
            ops.merge(&table, source, &keys, kind, Some(&ingest_id))
                .await
        }
        ExecutionPlan::Update {
            table,
            source,
            keys,
            ingest_id,
        } => {
            ops.merge(&table, source, &keys, MergeKind::Update, Some(&ingest_id))
                .await
        }
        ExecutionPlan::Delete { table, predicate } => match predicate {
            Predicate::Keys { columns, values } => {
                let source = WriteSource::Batches(vec![values]);
                ops.merge(&table, source, &columns, MergeKind::Delete, None)
                    .await
            }
            Predicate::Sql(statement) => ops.delete_where(&table, &statement).await,
        },
        ExecutionPlan::Optimize {
            table,
            target_size,
            zorder,
            filter,
        } => {
            ops.optimize(&table, target_size, &zorder, filter.as_ref())
                .await
        }
        ExecutionPlan::Vacuum {
            table,
            retention,
            force,
        } => ops.vacuum(&table, retention, force).await,
        other => return Err(other),
    })
}

#[async_trait]
impl TableOps for DeltaOps<'_> {
    async fn create(&self, table: &TableSpec, ctx: ExecContext<'_>) -> Result<ExecMetrics> {
        let state = table.table_state(ctx.dialect)?;
        if !state.clustering.is_empty() {
            return Err(lakeorm_core::Error::unsupported(
                format!(
                    "creating `{}` liquid-clustered by {}",
                    table.table,
                    state.clustering.join(", ")
                ),
                crate::errors::ENGINE,
                "delta-rs does not write clustered tables; drop `with_liquid_clustering` on \
                 this engine (optimize Z-orders by the same columns)",
            ));
        }
        // Transform partitions are generated columns, which the dialect declares.
        let generated = ctx.dialect.generated_columns(&state)?;
        DeltaOps::create(self, table, &generated).await
    }
    async fn append(
        &self,
        table: &TableSpec,
        source: WriteSource,
        ingest_id: &IngestId,
    ) -> Result<ExecMetrics> {
        DeltaOps::append(self, table, source, ingest_id).await
    }
    async fn merge(
        &self,
        table: &TableSpec,
        source: WriteSource,
        keys: &[String],
        kind: MergeKind,
        ingest_id: Option<&IngestId>,
    ) -> Result<ExecMetrics> {
        DeltaOps::merge(self, table, source, keys, kind, ingest_id).await
    }
    async fn delete_where(&self, table: &TableSpec, predicate: &Statement) -> Result<ExecMetrics> {
        DeltaOps::delete_where(self, table, predicate).await
    }
    async fn optimize(
        &self,
        table: &TableSpec,
        target_size: Option<u64>,
        zorder: &[String],
        filter: Option<&Statement>,
    ) -> Result<ExecMetrics> {
        DeltaOps::optimize(self, table, target_size, zorder, filter).await
    }
    async fn vacuum(
        &self,
        table: &TableSpec,
        retention: Duration,
        force: bool,
    ) -> Result<ExecMetrics> {
        DeltaOps::vacuum(self, table, retention, force).await
    }
}

#[async_trait]
impl TableOps for IcebergOps<'_> {
    async fn create(&self, table: &TableSpec, ctx: ExecContext<'_>) -> Result<ExecMetrics> {
        IcebergOps::create(self, table, &table.table_state(ctx.dialect)?).await
    }
    async fn append(
        &self,
        table: &TableSpec,
        source: WriteSource,
        ingest_id: &IngestId,
    ) -> Result<ExecMetrics> {
        IcebergOps::append(self, table, source, ingest_id).await
    }
    async fn merge(
        &self,
        table: &TableSpec,
        source: WriteSource,
        keys: &[String],
        kind: MergeKind,
        ingest_id: Option<&IngestId>,
    ) -> Result<ExecMetrics> {
        IcebergOps::merge(self, table, source, keys, kind, ingest_id).await
    }
    async fn delete_where(&self, table: &TableSpec, predicate: &Statement) -> Result<ExecMetrics> {
        IcebergOps::delete_where(self, table, predicate).await
    }
    async fn optimize(
        &self,
        table: &TableSpec,
        target_size: Option<u64>,
        zorder: &[String],
        filter: Option<&Statement>,
    ) -> Result<ExecMetrics> {
        IcebergOps::optimize(self, table, target_size, zorder, filter).await
    }
    async fn vacuum(
        &self,
        table: &TableSpec,
        retention: Duration,
        _force: bool,
    ) -> Result<ExecMetrics> {
        IcebergOps::vacuum(self, table, retention).await
    }
}
