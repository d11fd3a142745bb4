//! Writes: `insert` (append, or upsert on the model's merge key), `update` and `delete`.
//!
//! Each write validates every record before any I/O, stamps `auto` fields and one ingest id,
//! checks the engine's capabilities and plans one operation; the rows go to the engine directly
//! as Arrow, or staged as Parquet on the Backend when they are large (see [`WritePath`]).
//! `insert` is an operation builder, as delta-rs's are: configure it, then await it.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use arrow::array::RecordBatch;
use lakeorm_core::{
    Error, ExecMetrics, ExecutionPlan, IngestId, Lake, LakeField, MergeAction, Predicate, Result,
    Row, Statement, TableSpec, WriteSource,
};

use crate::client::Client;
use crate::idempotency::{self, Claim};
use crate::options::{ConflictStrategy, WritePath};
use crate::staging::Finalizer;

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteReport {
    /// The write's id, stamped on every row it wrote.
    pub ingest_id: IngestId,
    /// Rows handed to the write.
    pub rows: u64,
    /// What the engine reports.
    pub metrics: ExecMetrics,
    /// The path the rows took: [`WritePath::Direct`] or [`WritePath::Staged`]; `None`
    /// when nothing was written (a deduplicated retry).
    pub write_path: Option<WritePath>,
    /// The write's idempotency key had already committed: nothing was written this time, and
    /// `ingest_id` is the first call's.
    pub deduplicated: bool,
}

/// An insert, configured by its methods and run by awaiting it.
///
/// ```no_run
/// # use lakeorm::{ConflictStrategy, Lake};
/// # #[derive(Lake, Debug)]
/// # struct User { #[lake(pk)] id: i64, email: String }
/// # async fn demo(db: &lakeorm::Client, users: Vec<User>) -> lakeorm::Result<()> {
/// let report = db
///     .insert(&users)
///     .on_conflict(ConflictStrategy::Update)
///     .idempotency_key("import-2026-12-01")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "an insert does nothing until it is awaited"]
pub struct Insert<'a, T> {
    client: &'a Client,
    records: &'a [T],
    on_conflict: Option<ConflictStrategy>,
    options: WriteOptions,
}

/// How one write runs, whatever its shape.
#[derive(Debug, Default)]
pub(crate) struct WriteOptions {
    pub(crate) path: WritePath,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) idempotency_ttl: Option<Duration>,
}

impl<'a, T: Lake> Insert<'a, T> {
    /// What to do when a row with the same primary key (else merge key) already exists. Without
    /// it, rows are appended, or upserted on the merge key for models that have one.
    pub fn on_conflict(mut self, strategy: ConflictStrategy) -> Self {
        self.on_conflict = Some(strategy);
        self
    }

    /// Makes the insert idempotent under `key`: if a call with the same key (for the same
    /// table) has committed within the key's time to live, this call writes nothing and
    /// reports the first call's ingest id; if the first call failed before committing, this
    /// one writes the rows, once.
    ///
    /// Calls with one key are serialised: one that arrives while another is still writing
    /// waits for it in this process, and is refused with the retryable
    /// [`Error::IdempotencyKeyInUse`] when the other runs in another process.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key = Some(key.into());
        self
    }

    /// How long this call's idempotency key is remembered (default:
    /// [`ClientOptions::idempotency_ttl`](crate::ClientOptions::idempotency_ttl)).
    pub fn idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.options.idempotency_ttl = Some(ttl);
        self
    }

    /// Stages the rows as Parquet on the Backend, then runs one engine operation over them,
    /// whatever their size ([`WritePath::Staged`]).
    pub fn staged(mut self) -> Self {
        self.options.path = WritePath::Staged;
        self
    }

    /// Sends the rows to the engine as Arrow, whatever their size ([`WritePath::Direct`]; on
    /// Spark Connect, inside the gRPC request).
    pub fn direct(mut self) -> Self {
        self.options.path = WritePath::Direct;
        self
    }
}

impl<'a, T: Lake> IntoFuture for Insert<'a, T> {
    type Output = Result<WriteReport>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<WriteReport>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let shape = insert_shape::<T>(self.on_conflict)?;
            self.client.write(self.records, shape, &self.options).await
        })
    }
}

impl Client {
    /// Validates and writes `records`: appended, or upserted on the merge key for models that
    /// have one. Await the returned [`Insert`], after configuring it if need be.
    ///
    /// Nothing is written if any record is invalid: the error lists every failure of every
    /// record.
    pub fn insert<'a, T: Lake>(&'a self, records: &'a [T]) -> Insert<'a, T> {
        Insert {
            client: self,
            records,
            on_conflict: None,
            options: WriteOptions::default(),
        }
    }

    /// Overwrites the rows whose primary key matches one of `records`; records whose key does
    /// not exist are not inserted.
    pub async fn update<T: Lake>(&self, records: &[T]) -> Result<WriteReport> {
        let keys = keys::<T>("update", T::schema().primary_key())?;
        self.write(records, WriteShape::Update(keys), &WriteOptions::default())
            .await
    }

    /// Deletes the rows whose primary key matches one of `records`.
    pub async fn delete<T: Lake>(&self, records: &[T]) -> Result<ExecMetrics> {
        let keys = keys::<T>("delete", T::schema().primary_key())?;
        let table = self.table_spec::<T>()?;
        self.require("delete", Some(&table), self.driver().capabilities().delete)?;
        let batch = T::to_record_batch(records)?;
        let indices = keys
            .iter()
            .map(|k| batch.schema().index_of(k))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let values = batch.project(&indices)?;
        self.run(
            ExecutionPlan::Delete {
                table,
                predicate: Predicate::Keys {
                    columns: keys,
                    values,
                },
            },
            0,
            0,
        )
        .await
    }

    /// Deletes the rows of `T`'s table matching a SQL predicate, its `?` parameters bound:
    /// `db.delete_where::<User>(Statement::new("country = ? AND age < ?").bind("GB").bind(18))`.
    pub async fn delete_where<T: Lake>(
        &self,
        predicate: impl Into<Statement>,
    ) -> Result<ExecMetrics> {
        let table = self.table_spec::<T>()?;
        self.run(
            ExecutionPlan::Delete {
                table,
                predicate: Predicate::Sql(predicate.into()),
            },
            0,
            0,
        )
        .await
    }

    async fn write<T: Lake>(
        &self,
        records: &[T],
        shape: WriteShape,
        options: &WriteOptions,
    ) -> Result<WriteReport> {
        self.check_open()?;
        let table = self.table_spec::<T>()?;
        self.check_write(&table, &shape, options.path)?;
        lakeorm_core::validate(records)?;
        let rows = records.len() as u64;
        let minted = IngestId::new();
        let batches = stamped_batches(records, &minted)?;
        // Refused before an idempotency key is claimed: a write that can never land records
        // nothing.
        check_unique_keys(&table, &shape, &batches)?;
        // Held until the write has finished: another call with the key waits for it.
        let mut key_guard = None;
        let ingest_id = match &options.idempotency_key {
            None => minted,
            Some(key) => {
                let ttl = options
                    .idempotency_ttl
                    .unwrap_or(self.options().idempotency_ttl);
                let (claim, guard) =
                    idempotency::claim(self, &table, key, ttl, rows, minted).await?;
                key_guard = Some(guard);
                match claim {
                    Claim::Fresh(id) | Claim::Retry(id) => id,
                    Claim::Committed(id) => {
                        tracing::info!(%id, key, "idempotency key already committed; nothing written");
                        return Ok(WriteReport {
                            ingest_id: id,
                            rows,
                            metrics: ExecMetrics::default(),
                            write_path: None,
                            deduplicated: true,
                        });
                    }
                }
            }
        };
        // A retry writes under its first call's id.
        let batches = if ingest_id == minted {
            batches
        } else {
            batches
                .into_iter()
                .map(|batch| {
                    let model_columns: Vec<usize> = (0..batch.num_columns() - 1).collect();
                    lakeorm_core::with_ingest_id::<T>(batch.project(&model_columns)?, &ingest_id)
                })
                .collect::<Result<Vec<_>>>()?
        };
        let report = self
            .write_batch(table, shape, batches, ingest_id, options.path)
            .await;
        if let Some(guard) = key_guard {
            guard.ended();
        }
        report
    }

    /// Checks, before validation or I/O, that the engine can write `shape` along `path`.
    pub(crate) fn check_write(
        &self,
        table: &TableSpec,
        shape: &WriteShape,
        path: WritePath,
    ) -> Result<()> {
        let capabilities = self.driver().capabilities();
        if path == WritePath::Staged && !capabilities.staged_writes {
            return Err(Error::unsupported(
                "a staged write (Parquet parts on the backend, then one engine operation)",
                self.driver().name(),
                "this engine takes batches directly; use the default write path",
            ));
        }
        let capable = match shape {
            WriteShape::Append => true,
            WriteShape::Merge(..) => capabilities.merge,
            WriteShape::Update(_) => capabilities.update,
        };
        self.require(shape.operation(), Some(table), capable)
    }

    /// Writes the table batches of one write (system column included) along the direct or the
    /// staged path.
    pub(crate) async fn write_batch(
        &self,
        table: TableSpec,
        shape: WriteShape,
        batches: Vec<RecordBatch>,
        ingest_id: IngestId,
        path: WritePath,
    ) -> Result<WriteReport> {
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let bytes = batches
            .iter()
            .map(|b| b.get_array_memory_size() as u64)
            .sum();
        // Nothing to stage for an empty write; the engine treats it as a no-op.
        let staged = rows > 0
            && match path {
                WritePath::Staged => true,
                WritePath::Direct => false,
                WritePath::Auto => {
                    let capabilities = self.driver().capabilities();
                    capabilities.staged_writes
                        && capabilities.staging_helps
                        && bytes >= self.options().staged_threshold
                }
            };
        let metrics = if staged {
            let _slot = self.staging_slot().await?;
            // Named by an id minted now, not by the ingest id: a retry reuses that one long
            // after it was minted, and the janitor reads a prefix's age from its name. Two
            // calls under one id never share a prefix either.
            let prefix = self.backend().staging_location(&IngestId::new());
            let mut finalizer = Finalizer::stage(self, prefix, &batches, |staged| {
                let source = WriteSource::Staged {
                    location: self
                        .backend()
                        .engine_location(&staged.prefix, self.driver().flavor())?,
                    rows: staged.rows,
                };
                Ok(shape.plan(table, source, ingest_id))
            })
            .await?;
            // Committed or not, the staged parts are removed.
            finalizer.commit().await?
        } else {
            let source = WriteSource::Batches(batches);
            self.run(shape.plan(table, source, ingest_id), rows, bytes)
                .await?
        };
        tracing::info!(%ingest_id, rows, staged, "write committed");
        Ok(WriteReport {
            ingest_id,
            rows,
            metrics,
            write_path: Some(if staged {
                WritePath::Staged
            } else {
                WritePath::Direct
            }),
            deduplicated: false,
        })
    }
}

/// Refuses a merge or update whose rows repeat a key; every write calls it once, before it
/// claims a key or writes (`write`, and `raw`'s merge).
pub(crate) fn check_unique_keys(
    table: &TableSpec,
    shape: &WriteShape,
    batches: &[RecordBatch],
) -> Result<()> {
    match shape {
        WriteShape::Merge(keys, _) | WriteShape::Update(keys) => {
            crate::unique::check(&table.table.to_string(), keys, batches)
        }
        WriteShape::Append => Ok(()),
    }
}

/// How a write lands: appended, merged on keys, or updating existing keys only.
pub(crate) enum WriteShape {
    Append,
    Merge(Vec<String>, MergeAction),
    Update(Vec<String>),
}

impl WriteShape {
    fn plan(self, table: TableSpec, source: WriteSource, ingest_id: IngestId) -> ExecutionPlan {
        match self {
            WriteShape::Append => ExecutionPlan::Append {
                table,
                source,
                ingest_id,
            },
            WriteShape::Merge(keys, on_match) => ExecutionPlan::Merge {
                table,
                source,
                keys,
                on_match,
                ingest_id,
            },
            WriteShape::Update(keys) => ExecutionPlan::Update {
                table,
                source,
                keys,
                ingest_id,
            },
        }
    }

    fn operation(&self) -> &'static str {
        match self {
            WriteShape::Append => "append",
            WriteShape::Merge(..) => "merge (upsert)",
            WriteShape::Update(_) => "update",
        }
    }
}

/// How `insert` writes `T`: upsert on the merge key, else append, unless a conflict strategy
/// makes it a merge on the primary key (else the merge key).
pub(crate) fn insert_shape<T: Lake>(on_conflict: Option<ConflictStrategy>) -> Result<WriteShape> {
    let schema = T::schema();
    Ok(match on_conflict {
        None if schema.merge_key().next().is_none() => WriteShape::Append,
        None => WriteShape::Merge(columns(schema.merge_key()), MergeAction::Update),
        Some(strategy) => {
            let keys = if schema.primary_key().next().is_some() {
                columns(schema.primary_key())
            } else {
                keys::<T>("an on-conflict strategy", schema.merge_key())?
            };
            WriteShape::Merge(keys, strategy.into())
        }
    })
}

/// The table batches of `records` (one per core for large writes, in row order): `auto`
/// fields stamped with one instant while encoding (the records are neither copied nor
/// changed), `_ingest_id` set.
pub(crate) fn stamped_batches<T: Lake>(
    records: &[T],
    ingest_id: &IngestId,
) -> Result<Vec<RecordBatch>> {
    lakeorm_core::encode_write_batches(records, ingest_id, chrono::Utc::now())
}

pub(crate) fn columns<'a>(fields: impl Iterator<Item = &'a LakeField>) -> Vec<String> {
    fields.map(|f| f.column.clone()).collect()
}

/// The key columns `fields` of model `T`, or an error saying that `operation` needs keys.
pub(crate) fn keys<'a, T: Row>(
    operation: &str,
    fields: impl Iterator<Item = &'a LakeField>,
) -> Result<Vec<String>> {
    let keys = columns(fields);
    if keys.is_empty() {
        return Err(Error::InvalidModel {
            model: T::schema().type_name().into(),
            reason: format!(
                "{operation} needs key columns: mark the field(s) that identify a row with #[lake(pk)] or #[lake(merge_key)]"
            ),
        });
    }
    Ok(keys)
}
