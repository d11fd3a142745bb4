//! Execution of lakeorm plans on Iceberg tables, with the `iceberg` crate.
//!
//! Tables live in the hadoop-style layout ([`tables`]) on the Backend's store ([`storage`]).
//! Appends write data files ([`write`]) and commit an `append` snapshot; merges, updates and
//! deletes are copy-on-write ([`rewrite`]): the touched files are rewritten and one `overwrite`
//! snapshot ([`snapshot`]) swaps them. Every write's ingest id goes into its snapshot summary,
//! where [`IcebergOps::is_committed`] looks for it. A commit that loses against a concurrent
//! writer is planned again on the new snapshot, a bounded number of times.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::catalog::TableProvider;
use datafusion::prelude::SessionContext;
use iceberg::TableCreation;
use iceberg::spec::DataFile;
use iceberg_datafusion::IcebergStaticTableProvider;
use lakeorm_core::{
    AsOf, Error, ExecMetrics, IngestId, Result, Statement, TableSpec, TableState, TableStats,
    WriteSource,
};

use crate::catalog::LakeSchemaProvider;
use crate::delta::{MergeKind, bound_expr, location};

mod alter;
mod errors;
mod maintain;
mod rewrite;
mod schema;
mod snapshot;
mod storage;
mod tables;
mod write;

pub(crate) use tables::{IcebergTables, Loaded};

use errors::iceberg as iceberg_error;
use snapshot::Change;

/// The snapshot-summary key holding a write's ingest id.
pub(crate) const INGEST_ID_SUMMARY_KEY: &str = "lakeorm.ingest-id";

/// How many times a write is planned and committed before a conflict is returned.
const MAX_COMMIT_ATTEMPTS: u32 = 32;

/// How far before an ingest id's timestamp a snapshot carrying it may be, allowing for clocks
/// of different writers that disagree.
const COMMIT_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// The DataFusion provider of a loaded table's current snapshot.
pub(crate) async fn provider(table: &Loaded) -> Result<Arc<dyn TableProvider>> {
    let name = table.table.identifier().name().to_owned();
    IcebergStaticTableProvider::try_new_from_table(tables::current_view(&table.table)?)
        .await
        .map(|p| Arc::new(p) as Arc<dyn TableProvider>)
        .map_err(|e| iceberg_error(&name, "reading the table", e))
}

/// The DataFusion provider of the table as of a snapshot id or an instant (the snapshot that
/// was current then).
pub(crate) async fn provider_as_of(table: &Loaded, at: AsOf) -> Result<Arc<dyn TableProvider>> {
    let name = table.table.identifier().name().to_owned();
    let metadata = table.metadata();
    let snapshot = match at {
        AsOf::Version(id) => metadata
            .snapshot_by_id(id)
            .map(|s| s.snapshot_id())
            .ok_or_else(|| {
                Error::sql(format!(
                    "`{name}` has no snapshot {id} (Iceberg versions are snapshot ids)"
                ))
            })?,
        AsOf::Timestamp(instant) => {
            let ms = instant.timestamp_millis();
            let logged = metadata
                .history()
                .iter()
                .filter(|l| l.timestamp_ms <= ms)
                .max_by_key(|l| l.timestamp_ms)
                .map(|l| l.snapshot_id);
            let listed = || {
                metadata
                    .snapshots()
                    .filter(|s| s.timestamp_ms() <= ms)
                    .max_by_key(|s| (s.timestamp_ms(), s.sequence_number()))
                    .map(|s| s.snapshot_id())
            };
            logged.or_else(listed).ok_or_else(|| {
                Error::sql(format!("`{name}` has no snapshot at or before {instant}"))
            })?
        }
    };
    IcebergStaticTableProvider::try_new_from_table_snapshot(table.table.clone(), snapshot)
        .await
        .map(|p| Arc::new(p) as Arc<dyn TableProvider>)
        .map_err(|e| iceberg_error(&name, "reading a past snapshot", e))
}

/// Waits before the next attempt of a conflicting commit: exponential from 5 ms, capped at
/// 500 ms, with full jitter so that racing writers spread out.
async fn back_off(attempt: u32) {
    let cap = 5u64.saturating_mul(1 << attempt.min(7)).min(500);
    let jitter = uuid::Uuid::new_v4().as_u128() as u64 % (cap + 1);
    tokio::time::sleep(Duration::from_millis(jitter)).await;
}

pub(crate) struct IcebergOps<'a> {
    pub(crate) catalog: &'a LakeSchemaProvider,
    pub(crate) session: &'a SessionContext,
}

impl IcebergOps<'_> {
    fn tables(&self) -> &IcebergTables {
        self.catalog.iceberg()
    }

    async fn current(&self, spec: &TableSpec) -> Result<Loaded> {
        let location = location(spec)?;
        self.tables()
            .load(&spec.table.name, location)
            .await?
            .ok_or_else(|| Error::TableNotFound {
                table: spec.table.name.clone(),
                location: Some(location.to_string()),
            })
    }

    /// Registers the committed state of the table; returns its version (the current snapshot
    /// id, which is what time travel reads back).
    async fn publish(&self, spec: &TableSpec, table: Loaded) -> Result<Option<i64>> {
        let version = table.metadata().current_snapshot_id();
        self.catalog
            .register_iceberg(&spec.table.name, table)
            .await?;
        Ok(version)
    }

    /// Creates `spec`'s table as `state` (the dialect's table for the model: partitioning,
    /// sort order, layout properties) describes it; a no-op when it exists.
    pub(crate) async fn create(&self, spec: &TableSpec, state: &TableState) -> Result<ExecMetrics> {
        let location = location(spec)?;
        let table_schema = schema::table_schema(&spec.schema)?;
        let partition_spec = schema::partition_spec(state, &table_schema)?;
        let sort_order = schema::sort_order(state, &table_schema)?;
        let creation = TableCreation::builder()
            .name(spec.table.name.clone())
            .location(location.to_string())
            .schema(table_schema)
            .partition_spec(partition_spec)
            .sort_order(sort_order)
            .properties(
                spec.properties
                    .iter()
                    .chain(&state.properties)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            )
            .build();
        let table = self
            .tables()
            .create(&spec.table.name, location, creation)
            .await?;
        let version = self.publish(spec, table).await?;
        Ok(ExecMetrics {
            version,
            ..Default::default()
        })
    }

    /// Commits `change` on `base`; on a lost race the snapshot's own files are removed again
    /// and the conflict returned for the caller to re-plan.
    async fn commit(&self, base: &Loaded, change: Change) -> Result<Loaded> {
        let produced = snapshot::produce(&base.table, change).await?;
        match self
            .tables()
            .commit(base, &produced.requirements, produced.updates)
            .await
        {
            Ok(table) => Ok(table),
            Err(e) => {
                self.remove_files(&produced.written).await;
                Err(e)
            }
        }
    }

    /// Deletes files a failed commit wrote (best effort: an orphan is harmless, and `vacuum`
    /// removes it).
    async fn remove_files(&self, paths: &[String]) {
        for path in paths {
            if let Err(e) = self.tables().file_io().delete(path).await {
                tracing::debug!(path, error = %e, "could not remove the file of a lost commit");
            }
        }
    }

    fn summary(ingest_id: Option<&IngestId>) -> HashMap<String, String> {
        ingest_id
            .map(|id| (INGEST_ID_SUMMARY_KEY.to_owned(), id.to_string()))
            .into_iter()
            .collect()
    }

    pub(crate) async fn append(
        &self,
        spec: &TableSpec,
        source: WriteSource,
        ingest_id: &IngestId,
    ) -> Result<ExecMetrics> {
        let batches = crate::source::batches(self.session, source).await?;
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        if batches.is_empty() {
            return Ok(ExecMetrics::default());
        }
        let mut current = self.current(spec).await?;
        // The data files do not depend on the snapshot: they are written once and the append
        // is re-committed on the newest snapshot until it wins.
        let files = write::data_files(&current.table, &batches).await?;
        let files_added = files.len() as u64;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let change = Change {
                added: files.clone(),
                properties: Self::summary(Some(ingest_id)),
                ..Default::default()
            };
            match self.commit(&current, change).await {
                Ok(table) => {
                    let version = self.publish(spec, table).await?;
                    return Ok(ExecMetrics {
                        rows_inserted: rows,
                        files_added,
                        version,
                        ..Default::default()
                    });
                }
                Err(Error::CommitConflict { .. }) if attempt < MAX_COMMIT_ATTEMPTS => {
                    back_off(attempt).await;
                    current = self.current(spec).await?;
                }
                Err(e) => {
                    self.remove_data_files(&files).await;
                    return Err(with_attempts(e, attempt));
                }
            }
        }
    }

    async fn remove_data_files(&self, files: &[DataFile]) {
        let paths: Vec<String> = files.iter().map(|f| f.file_path().to_owned()).collect();
        self.remove_files(&paths).await;
    }

    /// Upserts, keyed updates and keyed deletes: copy-on-write merges of a source on keys.
    pub(crate) async fn merge(
        &self,
        spec: &TableSpec,
        source: WriteSource,
        keys: &[String],
        kind: MergeKind,
        ingest_id: Option<&IngestId>,
    ) -> Result<ExecMetrics> {
        let batches = crate::source::batches(self.session, source).await?;
        if batches.is_empty() {
            return Ok(ExecMetrics::default());
        }
        self.rewrite(spec, ingest_id, |table| {
            let batches = &batches;
            async move { rewrite::merge(&table, &spec.schema, batches, keys, kind).await }
        })
        .await
    }

    pub(crate) async fn delete_where(
        &self,
        spec: &TableSpec,
        predicate: &Statement,
    ) -> Result<ExecMetrics> {
        let probe = self.current(spec).await?;
        let arrow = rewrite::arrow_schema(&probe.table)?;
        let expr = bound_expr(&arrow, predicate)?;
        self.rewrite(spec, None, |table| {
            let expr = expr.clone();
            async move { rewrite::delete_where(&table, expr).await }
        })
        .await
    }

    /// Plans a row-level write on the newest snapshot, writes its files and commits, planning
    /// again after a lost race.
    async fn rewrite<F, Fut>(
        &self,
        spec: &TableSpec,
        ingest_id: Option<&IngestId>,
        plan: F,
    ) -> Result<ExecMetrics>
    where
        F: Fn(iceberg::table::Table) -> Fut,
        Fut: std::future::Future<Output = Result<rewrite::Rewrite>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.current(spec).await?;
            let planned = plan(current.table.clone()).await?;
            if planned.is_empty() {
                return Ok(ExecMetrics {
                    version: current.metadata().current_snapshot_id(),
                    ..Default::default()
                });
            }
            let order = write::Order {
                zorder: &planned.zorder,
                target_size: planned.target_size,
            };
            let files = write::data_files_ordered(&current.table, &planned.rows, order).await?;
            let metrics = ExecMetrics {
                rows_inserted: planned.inserted,
                rows_updated: planned.updated,
                rows_deleted: planned.deleted,
                files_added: files.len() as u64,
                files_removed: planned.removed.len() as u64,
                ..Default::default()
            };
            let change = Change {
                added: files.clone(),
                removed: planned.removed,
                properties: Self::summary(ingest_id),
                replace: planned.replace,
            };
            match self.commit(&current, change).await {
                Ok(table) => {
                    let version = self.publish(spec, table).await?;
                    return Ok(ExecMetrics { version, ..metrics });
                }
                Err(Error::CommitConflict { .. }) if attempt < MAX_COMMIT_ATTEMPTS => {
                    self.remove_data_files(&files).await;
                    back_off(attempt).await;
                }
                Err(e) => {
                    self.remove_data_files(&files).await;
                    return Err(with_attempts(e, attempt));
                }
            }
        }
    }

    /// Compacts small files: in every partition with more than one file under `target_size`
    /// (default: the table's `write.target-file-size-bytes`), their rows are rewritten into as
    /// few files as the target allows, committed as one `replace` snapshot.
    pub(crate) async fn optimize(
        &self,
        spec: &TableSpec,
        target_size: Option<u64>,
        zorder: &[String],
        filter: Option<&Statement>,
    ) -> Result<ExecMetrics> {
        let filter = match filter {
            None => None,
            Some(filter) => {
                let probe = self.current(spec).await?;
                let arrow = rewrite::arrow_schema(&probe.table)?;
                let expr = bound_expr(&arrow, filter)?;
                Some(
                    iceberg_datafusion::physical_plan::convert_filters_to_predicate(
                        std::slice::from_ref(&expr),
                    )
                    .ok_or_else(|| {
                        Error::unsupported(
                            format!("optimize filter `{expr}` on `{}`", spec.table),
                            crate::errors::ENGINE,
                            "Iceberg file selection takes comparisons of columns with values",
                        )
                    })?,
                )
            }
        };
        self.rewrite(spec, None, |table| {
            let filter = filter.clone();
            async move { maintain::compaction(&table, target_size, zorder, filter).await }
        })
        .await
    }

    /// Expires the snapshots older than `retention` (never the current one, nor one a branch
    /// or tag points at), then deletes the files no remaining snapshot reaches that are older
    /// than `retention`.
    pub(crate) async fn vacuum(
        &self,
        spec: &TableSpec,
        retention: Duration,
    ) -> Result<ExecMetrics> {
        let retention = chrono::Duration::from_std(retention)
            .map_err(|_| Error::Config(format!("vacuum retention {retention:?} is too long")))?;
        let cutoff = chrono::Utc::now() - retention;
        let mut attempt = 0;
        let current = loop {
            attempt += 1;
            let current = self.current(spec).await?;
            let Some((requirements, updates)) =
                maintain::expire(current.metadata(), cutoff.timestamp_millis())
            else {
                break current;
            };
            match self.tables().commit(&current, &requirements, updates).await {
                Ok(table) => {
                    self.catalog
                        .register_iceberg(&spec.table.name, table.clone())
                        .await?;
                    break table;
                }
                Err(Error::CommitConflict { .. }) if attempt < MAX_COMMIT_ATTEMPTS => {
                    back_off(attempt).await;
                }
                Err(e) => return Err(with_attempts(e, attempt)),
            }
        };
        let removed =
            maintain::remove_orphans(&current.table, self.catalog.backend().as_ref(), cutoff)
                .await?;
        Ok(ExecMetrics {
            files_removed: removed,
            version: current.metadata().current_snapshot_id(),
            ..Default::default()
        })
    }

    /// Whether a snapshot of `spec`'s table carries `ingest_id` in its summary. Walks the
    /// snapshots from the newest back to the first one older than the id (less a margin for
    /// clock skew).
    pub(crate) async fn is_committed(
        &self,
        spec: &TableSpec,
        ingest_id: &IngestId,
    ) -> Result<bool> {
        let Some(current) = self
            .tables()
            .load(&spec.table.name, location(spec)?)
            .await?
        else {
            return Ok(false);
        };
        let wanted = ingest_id.to_string();
        let since = ingest_id.timestamp().timestamp_millis() - COMMIT_CLOCK_SKEW_MS;
        let metadata = current.metadata();
        let mut snapshots: Vec<_> = metadata.snapshots().collect();
        snapshots.sort_by_key(|s| std::cmp::Reverse(s.timestamp_ms()));
        Ok(snapshots
            .into_iter()
            .take_while(|s| s.timestamp_ms() >= since)
            .any(|s| s.summary().additional_properties.get(INGEST_ID_SUMMARY_KEY) == Some(&wanted)))
    }

    pub(crate) async fn stats(&self, spec: &TableSpec) -> Result<TableStats> {
        let current = self.current(spec).await?;
        let summary = current
            .metadata()
            .current_snapshot()
            .map(|s| s.summary().additional_properties.clone())
            .unwrap_or_default();
        let total = |key: &str| {
            summary
                .get(key)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(TableStats {
            version: current.metadata().current_snapshot_id().unwrap_or(0),
            files: total("total-data-files"),
            rows: total("total-records"),
            bytes: total("total-files-size"),
        })
    }
}

fn with_attempts(error: Error, attempts: u32) -> Error {
    match error {
        Error::CommitConflict { table, message, .. } => Error::CommitConflict {
            table,
            attempts,
            message,
        },
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use async_trait::async_trait;
    use lakeorm_core::{Backend, Location, StagingPrefix};
    use object_store::ObjectStore;
    use object_store::memory::InMemory;

    /// A lake in memory, for unit tests of the Iceberg layer.
    #[derive(Debug)]
    struct Memory {
        root: Location,
        store: Arc<dyn ObjectStore>,
    }

    pub(crate) fn memory_lake() -> Arc<dyn Backend> {
        Arc::new(Memory {
            root: Location::parse("memory:///lake").unwrap(),
            store: Arc::new(InMemory::new()),
        })
    }

    #[async_trait]
    impl Backend for Memory {
        fn name(&self) -> &str {
            "memory"
        }
        fn root(&self) -> &Location {
            &self.root
        }
        fn object_store(&self) -> Arc<dyn ObjectStore> {
            Arc::clone(&self.store)
        }
        async fn list_staging(&self) -> lakeorm_core::Result<Vec<StagingPrefix>> {
            Ok(Vec::new())
        }
        async fn delete_prefix(&self, _: &Location) -> lakeorm_core::Result<u64> {
            Ok(0)
        }
    }
}
