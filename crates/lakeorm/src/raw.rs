//! Raw-then-merge: the opt-in exception for untrusted external feeds.
//!
//! lakeorm's default is to validate at the boundary and write straight to the target table.
//! Some feeds must be kept as delivered even when they are invalid (for audit, or to repair and
//! replay). For those, [`Client::insert_raw`] lands the records unvalidated in a raw table beside
//! the target (`<table>_raw`, same columns), and the returned [`RawInsert`] decides what happens
//! next:
//!
//! - [`then_merge`](RawInsert::then_merge) reads the batch back, validates it with the model's
//!   rules, writes it to the target as `insert` would (or with the conflict strategy given to
//!   [`MergeRaw::on_conflict`]), then removes it from the raw table; if any record is invalid
//!   nothing reaches the target and the raw rows stay for inspection. Await it, or
//!   [`spawn`](MergeRaw::spawn) it on a task and await the handle later;
//! - [`commit`](RawInsert::commit) keeps the rows raw.
//!
//! Rows keep their ingest id from landing to target, so a target row can be traced back to its
//! raw delivery.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;

use lakeorm_core::{
    Error, ExecutionPlan, INGEST_ID_COLUMN, IngestId, Lake, Predicate, Result, Statement, TableSpec,
};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::options::{ConflictStrategy, WritePath};
use crate::query::Query;
use crate::write::{WriteReport, WriteShape, insert_shape, stamped_batches};

/// The suffix of raw tables.
pub const RAW_SUFFIX: &str = "_raw";

/// Records landed in a raw table, waiting for a decision.
#[derive(Debug)]
#[must_use = "raw rows wait for then_merge or commit"]
pub struct RawInsert<T> {
    client: Client,
    raw: TableSpec,
    ingest_id: IngestId,
    rows: u64,
    _model: PhantomData<fn() -> T>,
}

/// What stays in the raw table after [`RawInsert::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RawReport {
    /// The raw table.
    pub table: String,
    /// The ingest id of the landed rows.
    pub ingest_id: IngestId,
    /// Rows landed.
    pub rows: u64,
}

/// A merge running on its own task.
#[derive(Debug)]
pub struct MergeHandle {
    task: JoinHandle<Result<WriteReport>>,
}

impl MergeHandle {
    /// Waits for the merge.
    pub async fn wait(self) -> Result<WriteReport> {
        self.task
            .await
            .map_err(|e| Error::engine("lakeorm", "a spawned raw merge", false, e))?
    }
}

impl Client {
    /// Lands `records` unvalidated in `T`'s raw table (created if missing); see the
    /// [module docs](crate::raw). `auto` fields are stamped now.
    pub async fn insert_raw<T: Lake>(&self, records: &[T]) -> Result<RawInsert<T>> {
        let schema = T::schema();
        let raw = self.spec_named(&format!("{}{RAW_SUFFIX}", schema.table()), schema)?;
        self.run(ExecutionPlan::CreateTable { table: raw.clone() }, 0, 0)
            .await?;
        let ingest_id = IngestId::new();
        let batches = stamped_batches(records, &ingest_id)?;
        let report = self
            .write_batch(
                raw.clone(),
                WriteShape::Append,
                batches,
                ingest_id,
                WritePath::Auto,
            )
            .await?;
        Ok(RawInsert {
            client: self.clone(),
            raw,
            ingest_id,
            rows: report.rows,
            _model: PhantomData,
        })
    }
}

impl<T: Lake> RawInsert<T> {
    /// The raw table.
    pub fn raw_table(&self) -> &str {
        &self.raw.table.name
    }

    /// The ingest id of the landed rows (and of the target rows after a merge).
    pub fn ingest_id(&self) -> IngestId {
        self.ingest_id
    }

    /// Rows landed.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Keeps the rows raw.
    pub fn commit(self) -> RawReport {
        RawReport {
            table: self.raw.table.to_string(),
            ingest_id: self.ingest_id,
            rows: self.rows,
        }
    }

    /// Validates the landed rows and writes them into the target, then removes them from the
    /// raw table. Invalid rows fail the whole merge (listing every failure) and stay raw.
    ///
    /// Await the returned [`MergeRaw`], or [`spawn`](MergeRaw::spawn) it.
    pub fn then_merge(self) -> MergeRaw<T> {
        MergeRaw {
            raw: self,
            on_conflict: None,
        }
    }

    async fn merge(self, on_conflict: Option<ConflictStrategy>) -> Result<WriteReport> {
        let client = &self.client;
        let shape = insert_shape::<T>(on_conflict)?;
        let target = client.table_spec::<T>()?;
        client.check_write(&target, &shape, WritePath::Auto)?;
        let raw_name = client.sql_table_name(&self.raw.table.name);
        let records: Vec<T> = Query::<T>::sql(format!(
            "SELECT * FROM {raw_name} WHERE {INGEST_ID_COLUMN} = ?"
        ))
        .bind(self.ingest_id.to_string())
        .fetch_all(client)
        .await?;
        lakeorm_core::validate(&records)?;
        // Stamped at landing; the target gets the values that were landed.
        let batches = vec![T::to_table_batch(&records, &self.ingest_id)?];
        crate::write::check_unique_keys(&target, &shape, &batches)?;
        let report = client
            .write_batch(target, shape, batches, self.ingest_id, WritePath::Auto)
            .await?;
        client
            .run(
                ExecutionPlan::Delete {
                    table: self.raw.clone(),
                    predicate: Predicate::Sql(
                        Statement::new(format!("{INGEST_ID_COLUMN} = ?"))
                            .bind(self.ingest_id.to_string()),
                    ),
                },
                0,
                0,
            )
            .await?;
        Ok(report)
    }
}

/// The merge of landed raw rows into the target, configured by its methods and run by awaiting
/// it (or spawning it).
#[derive(Debug)]
#[must_use = "a raw merge does nothing until it is awaited or spawned"]
pub struct MergeRaw<T> {
    raw: RawInsert<T>,
    on_conflict: Option<ConflictStrategy>,
}

impl<T: Lake> MergeRaw<T> {
    /// What to do when a row with the same primary key (else merge key) exists in the target;
    /// without it, the merge writes as `insert` does (upsert on the merge key, else append).
    pub fn on_conflict(mut self, strategy: ConflictStrategy) -> Self {
        self.on_conflict = Some(strategy);
        self
    }

    /// Runs the merge on a task of its own; await the handle later.
    pub fn spawn(self) -> MergeHandle {
        MergeHandle {
            task: tokio::spawn(self.into_future()),
        }
    }
}

impl<T: Lake> IntoFuture for MergeRaw<T> {
    type Output = Result<WriteReport>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<WriteReport>> + Send + 'static>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.raw.merge(self.on_conflict))
    }
}
