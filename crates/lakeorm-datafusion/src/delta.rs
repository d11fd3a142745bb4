//! Execution of lakeorm plans on Delta tables through delta-rs' operation builders.
//!
//! SQL `MERGE`/`UPDATE`/`DELETE` are not available on Delta tables through DataFusion, so every
//! write is carried out natively: appends with `write`, upserts, updates and key deletes with
//! `merge`, predicate deletes with `delete`, and maintenance with `optimize` and `vacuum`.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{Expr, lit};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{DataFrame, SessionContext};
use deltalake::DeltaTable;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{StructType, StructTypeExt as _};
use deltalake::operations::optimize::OptimizeType;
use deltalake::protocol::SaveMode;
use deltalake::{PartitionFilter, PartitionValue};
use lakeorm_core::generated::generated_name;
use lakeorm_core::{
    Error, ExecMetrics, GeneratedColumn, INGEST_ID_COLUMN, IngestId, LakeSchema, MergeAction,
    Result, Statement, TableSpec, WriteSource,
};

use crate::catalog::LakeSchemaProvider;
use crate::errors;
use crate::params::to_scalars;
use crate::placeholders::bind_statement;

/// `"name"`, quoted for delta-rs' expression parser (which keeps case).
fn quoted(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}

/// Every column of the table, system column last.
fn table_columns(schema: &LakeSchema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|f| f.column.clone())
        .chain(std::iter::once(INGEST_ID_COLUMN.to_owned()))
        .collect()
}

/// The join condition of a merge or key check on `keys`.
fn key_join(keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("target.{0} = source.{0}", quoted(k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The commit properties of a write: its ingest id goes into the commit log, where
/// [`DeltaOps::is_committed`] finds it.
fn commit_properties(ingest_id: Option<&IngestId>) -> CommitProperties {
    let properties = CommitProperties::default();
    match ingest_id {
        Some(id) => properties.with_metadata([(
            INGEST_ID_COMMIT_KEY.to_owned(),
            serde_json::Value::String(id.to_string()),
        )]),
        None => properties,
    }
}

/// The Parquet properties of every Delta file lakeorm writes: delta-rs's own (snappy, its
/// `created_by`), with bounded row groups ([`ROW_GROUP_ROWS`](crate::ROW_GROUP_ROWS)) and
/// bloom filters on the `bloom_filters` columns.
pub(crate) fn writer_properties(bloom_filters: &[String]) -> WriterProperties {
    let builder = WriterProperties::builder()
        .set_created_by(format!("lakeorm {} (delta-rs)", env!("CARGO_PKG_VERSION")))
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(crate::ROW_GROUP_ROWS));
    crate::layout::with_bloom_filters(builder, bloom_filters).build()
}

/// The DataFusion session for delta-rs merges, which rewrite files.
///
/// delta-rs' own session reads Parquet as view types (`Utf8View`), and a merge or delete writes
/// what it read: the new files then hold `Utf8View` columns where the table says `string`, which
/// Sail (and Arrow readers that follow the file's Arrow schema) refuse to cast. Reading plain
/// types keeps the files what the table declares. (delta-rs' predicate delete builds its scan
/// with view types whatever the session says, so `delete_where` still writes `Utf8View`.)
fn rewrite_session() -> std::sync::Arc<dyn datafusion::catalog::Session> {
    let mut state = deltalake::delta_datafusion::DeltaSessionContext::new().state();
    state
        .config_mut()
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    std::sync::Arc::new(state)
}

/// How far before an ingest id's timestamp a commit carrying it may appear, allowing for
/// clocks of different writers that disagree.
const COMMIT_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// The commit-info key holding a write's ingest id.
pub(crate) const INGEST_ID_COMMIT_KEY: &str = "lakeorm.ingestId";

pub(crate) struct DeltaOps<'a> {
    pub(crate) catalog: &'a LakeSchemaProvider,
    /// The engine's session, whose object stores reach the Backend (for staged Parquet).
    pub(crate) session: &'a SessionContext,
}

impl DeltaOps<'_> {
    async fn source_batches(&self, source: WriteSource) -> Result<Vec<RecordBatch>> {
        crate::source::batches(self.session, source).await
    }

    async fn current(&self, spec: &TableSpec) -> Result<DeltaTable> {
        let location = location(spec)?;
        self.catalog
            .latest(&spec.table.name, location)
            .await?
            .ok_or_else(|| Error::TableNotFound {
                table: spec.table.name.clone(),
                location: Some(location.to_string()),
            })
    }

    async fn publish(&self, spec: &TableSpec, table: DeltaTable) -> Result<Option<i64>> {
        let version = table.version().and_then(|v| i64::try_from(v).ok());
        self.catalog.register(&spec.table.name, table).await?;
        Ok(version)
    }

    /// Creates `spec`'s table with the `generated` partition columns its dialect declares.
    pub(crate) async fn create(
        &self,
        spec: &TableSpec,
        generated: &[GeneratedColumn],
    ) -> Result<ExecMetrics> {
        let name = &spec.table.name;
        let location = location(spec)?;
        if let Some(existing) = self.catalog.load(location).await? {
            let version = self.publish(spec, existing).await?;
            return Ok(ExecMetrics {
                version,
                ..Default::default()
            });
        }
        // Identity partitions are the column itself; a transform partitions by its generated
        // column.
        let partitions: Vec<String> = spec
            .schema
            .partitions()
            .map(|(field, transform)| {
                generated_name(&field.column, transform).unwrap_or_else(|| field.column.clone())
            })
            .collect();
        let schema = with_generated(spec.schema.table_arrow_schema(), generated);
        let table = self
            .create_at(name, location, &schema, partitions, &spec.properties)
            .await?;
        let version = self.publish(spec, table).await?;
        Ok(ExecMetrics {
            version,
            ..Default::default()
        })
    }

    /// Creates an empty Delta table at `location` (a no-op when one exists there).
    pub(crate) async fn create_at(
        &self,
        name: &str,
        location: &lakeorm_core::Location,
        arrow: &SchemaRef,
        partitions: Vec<String>,
        properties: &std::collections::BTreeMap<String, String>,
    ) -> Result<DeltaTable> {
        let kernel: StructType = arrow
            .as_ref()
            .try_into_kernel()
            .map_err(|e| errors::delta(name, "create", e.into()))?;
        self.catalog
            .handle(location)?
            .create()
            .with_table_name(name.to_owned())
            .with_columns(kernel.fields().cloned())
            .with_partition_columns(partitions)
            .with_configuration(properties.iter().map(|(k, v)| (k.clone(), Some(v.clone()))))
            .with_raise_if_key_not_exists(false)
            .with_save_mode(SaveMode::Ignore)
            .await
            .map_err(|e| errors::delta(name, "create", e))
    }

    pub(crate) async fn append(
        &self,
        spec: &TableSpec,
        source: WriteSource,
        ingest_id: &IngestId,
    ) -> Result<ExecMetrics> {
        let name = &spec.table.name;
        let batches = self.source_batches(source).await?;
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        if batches.is_empty() {
            return Ok(ExecMetrics::default());
        }
        // Files come out sorted by the model's sortable columns: delta-rs splits rows by
        // partition in order.
        let layout = spec.schema.layout();
        let batches = crate::layout::sorted(batches, &layout.sort_by)?;
        let table = self
            .current(spec)
            .await?
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_writer_properties(writer_properties(&layout.bloom_filters))
            .with_commit_properties(commit_properties(Some(ingest_id)))
            .await
            .map_err(|e| errors::delta(name, "append", e))?;
        let version = self.publish(spec, table).await?;
        Ok(ExecMetrics {
            rows_inserted: rows,
            version,
            ..Default::default()
        })
    }

    /// Upserts, keyed updates and keyed deletes are all merges of a source on key columns.
    pub(crate) async fn merge(
        &self,
        spec: &TableSpec,
        source: WriteSource,
        keys: &[String],
        kind: MergeKind,
        ingest_id: Option<&IngestId>,
    ) -> Result<ExecMetrics> {
        let name = &spec.table.name;
        let batches = self.source_batches(source).await?;
        if batches.is_empty() {
            return Ok(ExecMetrics::default());
        }
        // Inserted rows follow the source's order: sorted, they land sorted.
        let layout = spec.schema.layout();
        let batches = crate::layout::sorted(batches, &layout.sort_by)?;
        let source_ctx = SessionContext::new();
        let source = source_ctx
            .read_batches(batches)
            .map_err(|e| errors::datafusion("reading the merge source", e))?;
        let table = self.current(spec).await?;
        let generated = generated_names(name, &table)?;
        if kind == MergeKind::Upsert(MergeAction::Error) {
            self.refuse_existing_keys(spec, &table, &source, keys)
                .await?;
        }
        let predicate = key_join(keys);
        let columns = table_columns(&spec.schema);
        // Keys identify the row and `create_time` columns keep their first value.
        let updated: Vec<&str> = spec.schema.update_columns(keys).collect();
        let mut builder = table
            .merge(source, predicate)
            .with_source_alias("source")
            .with_target_alias("target")
            .with_session_state(rewrite_session())
            .with_writer_properties(writer_properties(&layout.bloom_filters))
            .with_commit_properties(commit_properties(ingest_id));
        let map = |e| errors::delta(name, "merge", e);
        // Generated columns are not in the source: set to NULL on a matched row, delta-rs
        // computes them again from the updated values (a row whose partition source changed
        // moves to its new partition).
        let update_all = |u: deltalake::operations::merge::UpdateBuilder| {
            let u = updated.iter().fold(u, |u, c| {
                u.update(quoted(c), format!("source.{}", quoted(c)))
            });
            generated.iter().fold(u, |u, c| u.update(quoted(c), "NULL"))
        };
        builder = match kind {
            MergeKind::Upsert(MergeAction::Update) | MergeKind::Update => {
                builder.when_matched_update(update_all).map_err(map)?
            }
            MergeKind::Delete => builder.when_matched_delete(|d| d).map_err(map)?,
            _ => builder,
        };
        if let MergeKind::Upsert(_) = kind {
            builder = builder
                .when_not_matched_insert(|i| {
                    columns
                        .iter()
                        .fold(i, |i, c| i.set(quoted(c), format!("source.{}", quoted(c))))
                })
                .map_err(map)?;
        }
        let (table, metrics) = builder.await.map_err(map)?;
        let version = self.publish(spec, table).await?;
        Ok(ExecMetrics {
            rows_inserted: metrics.num_target_rows_inserted as u64,
            rows_updated: metrics.num_target_rows_updated as u64,
            rows_deleted: metrics.num_target_rows_deleted as u64,
            files_added: metrics.num_target_files_added as u64,
            files_removed: metrics.num_target_files_removed as u64,
            version,
            ..Default::default()
        })
    }

    /// `on_conflict(Error)`: fails, writing nothing, if any source key already exists in the
    /// snapshot the merge will run against. (A row committed by a concurrent writer between
    /// this check and the merge is not caught; the merge itself then upserts it.)
    async fn refuse_existing_keys(
        &self,
        spec: &TableSpec,
        table: &DeltaTable,
        source: &DataFrame,
        keys: &[String],
    ) -> Result<()> {
        let check = SessionContext::new();
        let provider = table
            .table_provider()
            .await
            .map_err(|e| errors::datafusion("reading the target", e))?;
        let register = |name: &str, provider| {
            check
                .register_table(name, provider)
                .map(|_| ())
                .map_err(|e| errors::datafusion("checking for existing keys", e))
        };
        register("target", provider)?;
        register("source", source.clone().into_view())?;
        let existing = check
            .sql(&format!(
                "SELECT 1 FROM target JOIN source ON {}",
                key_join(keys)
            ))
            .await
            .map_err(|e| errors::datafusion("checking for existing keys", e))?
            .count()
            .await
            .map_err(|e| errors::datafusion("checking for existing keys", e))?;
        if existing > 0 {
            return Err(Error::DuplicateKey {
                table: spec.table.to_string(),
                keys: keys.to_vec(),
                rows: existing as u64,
            });
        }
        Ok(())
    }

    pub(crate) async fn delete_where(
        &self,
        spec: &TableSpec,
        predicate: &Statement,
    ) -> Result<ExecMetrics> {
        let name = &spec.table.name;
        let table = self.current(spec).await?;
        let expr = bound_expr(spec.schema.table_arrow_schema(), predicate)?;
        let (table, metrics) = table
            .delete()
            .with_predicate(expr)
            .with_writer_properties(writer_properties(&spec.schema.layout().bloom_filters))
            .await
            .map_err(|e| errors::delta(name, "delete", e))?;
        let version = self.publish(spec, table).await?;
        Ok(ExecMetrics {
            rows_deleted: metrics.num_deleted_rows.unwrap_or(0) as u64,
            files_added: metrics.num_added_files as u64,
            files_removed: metrics.num_removed_files as u64,
            version,
            ..Default::default()
        })
    }

    /// Compacts `spec`'s table, Z-ordering rewritten files by `zorder` when it names columns,
    /// within the partitions `filter` selects.
    pub(crate) async fn optimize(
        &self,
        spec: &TableSpec,
        target_size: Option<u64>,
        zorder: &[String],
        filter: Option<&Statement>,
    ) -> Result<ExecMetrics> {
        let name = &spec.table.name;
        let table = self.current(spec).await?;
        let filters = match filter {
            None => Vec::new(),
            Some(filter) => {
                let partitions = table
                    .snapshot()
                    .map_err(|e| errors::delta(name, "optimize", e))?
                    .metadata()
                    .partition_columns()
                    .to_vec();
                let expr = bound_expr(spec.schema.table_arrow_schema(), filter)?;
                partition_filters(name, &expr, &partitions)?
            }
        };
        let kind = if zorder.is_empty() {
            OptimizeType::Compact
        } else {
            OptimizeType::ZOrder(zorder.to_vec())
        };
        let mut builder = table
            .optimize()
            .with_type(kind)
            .with_filters(&filters)
            .with_writer_properties(writer_properties(&spec.schema.layout().bloom_filters));
        if let Some(size) = target_size.and_then(std::num::NonZeroU64::new) {
            builder = builder.with_target_size(size);
        }
        let (table, metrics) = builder
            .await
            .map_err(|e| errors::delta(name, "optimize", e))?;
        let version = self.publish(spec, table).await?;
        Ok(ExecMetrics {
            files_added: metrics.num_files_added,
            files_removed: metrics.num_files_removed,
            version,
            ..Default::default()
        })
    }

    pub(crate) async fn vacuum(
        &self,
        spec: &TableSpec,
        retention: std::time::Duration,
        force: bool,
    ) -> Result<ExecMetrics> {
        let name = &spec.table.name;
        let table = self.current(spec).await?;
        let retention = chrono::Duration::from_std(retention)
            .map_err(|_| Error::Config(format!("vacuum retention {retention:?} is too long")))?;
        let (table, metrics) = table
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(!force)
            .await
            .map_err(|e| errors::delta(name, "vacuum", e))?;
        let version = self.publish(spec, table).await?;
        Ok(ExecMetrics {
            files_removed: metrics.files_deleted.len() as u64,
            version,
            ..Default::default()
        })
    }

    /// Whether a commit of `spec`'s table carries `ingest_id`. Reads the log from the newest
    /// commit back to the first one older than the id (less a margin for clock skew between
    /// writers), so the cost follows the commits since the write, not the table's age.
    pub(crate) async fn is_committed(
        &self,
        spec: &TableSpec,
        ingest_id: &IngestId,
    ) -> Result<bool> {
        let name = &spec.table.name;
        let Some(table) = self.catalog.latest(name, location(spec)?).await? else {
            return Ok(false);
        };
        let wanted = serde_json::Value::String(ingest_id.to_string());
        let since = ingest_id.timestamp().timestamp_millis() - COMMIT_CLOCK_SKEW_MS;
        let mut limit = 64usize;
        loop {
            let history: Vec<_> = table
                .history(Some(limit))
                .await
                .map_err(|e| errors::delta(name, "history", e))?
                .collect();
            if history
                .iter()
                .any(|c| c.info.get(INGEST_ID_COMMIT_KEY) == Some(&wanted))
            {
                return Ok(true);
            }
            let reached_older = history
                .last()
                .and_then(|c| c.timestamp)
                .is_some_and(|t| t < since);
            if history.len() < limit || reached_older {
                return Ok(false);
            }
            limit = limit.saturating_mul(8);
        }
    }

    pub(crate) async fn stats(&self, spec: &TableSpec) -> Result<lakeorm_core::TableStats> {
        let name = &spec.table.name;
        let table = self.current(spec).await?;
        let snapshot = table
            .snapshot()
            .map_err(|e| errors::delta(name, "stats", e))?;
        let files = snapshot.log_data();
        let (rows, bytes) = files.iter().fold((0u64, 0u64), |(r, b), f| {
            (
                r + f.num_records().unwrap_or(0) as u64,
                b + u64::try_from(f.size()).unwrap_or(0),
            )
        });
        Ok(lakeorm_core::TableStats {
            version: i64::try_from(snapshot.version()).unwrap_or(i64::MAX),
            files: files.num_files() as u64,
            rows,
            bytes,
        })
    }
}

/// `schema` with the `generated` columns appended, each carrying its generation expression in
/// the field metadata, which delta-rs turns into the table's `generatedColumns` feature.
pub(crate) fn with_generated(schema: &SchemaRef, generated: &[GeneratedColumn]) -> SchemaRef {
    if generated.is_empty() {
        return std::sync::Arc::clone(schema);
    }
    let fields = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .chain(generated.iter().map(|g| {
            Field::new(&g.name, g.ty.to_arrow(), true).with_metadata(
                [(GENERATION_EXPRESSION_KEY.to_owned(), g.expression.clone())].into(),
            )
        }));
    std::sync::Arc::new(Schema::new(fields.collect::<Vec<_>>()))
}

/// The Delta column metadata key of a generated column's expression.
pub(crate) const GENERATION_EXPRESSION_KEY: &str = "delta.generationExpression";

/// The generated columns of `table` (named `name`).
fn generated_names(name: &str, table: &DeltaTable) -> Result<Vec<String>> {
    let snapshot = table
        .snapshot()
        .map_err(|e| errors::delta(name, "merge", e))?;
    Ok(snapshot
        .schema()
        .get_generated_columns()
        .map_err(|e| errors::delta(name, "merge", e.into()))?
        .into_iter()
        .map(|g| g.name)
        .collect())
}

/// An optimize filter as delta-rs takes it: comparisons of partition columns with values,
/// joined by AND. delta-rs selects files by partition values only, so anything else is refused
/// with the partition columns named.
fn partition_filters(
    table: &str,
    expr: &Expr,
    partitions: &[String],
) -> Result<Vec<PartitionFilter>> {
    use datafusion::logical_expr::{BinaryExpr, Operator, expr::InList};
    let refuse = || {
        Error::unsupported(
            format!("optimize filter `{expr}` on `{table}`"),
            crate::errors::ENGINE,
            if partitions.is_empty() {
                "the table is not partitioned; the embedded engine filters optimize by partition values only".to_owned()
            } else {
                format!(
                    "the embedded engine filters optimize by comparing partition columns ({}) with values, joined by AND",
                    partitions.join(", ")
                )
            },
        )
    };
    let column = |e: &Expr| match e {
        Expr::Column(c) if partitions.contains(&c.name) => Some(c.name.clone()),
        _ => None,
    };
    let value = |e: &Expr| match e {
        Expr::Literal(v, _) if !v.is_null() => Some(v.to_string()),
        _ => None,
    };
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if *op == Operator::And => {
            let mut filters = partition_filters(table, left, partitions)?;
            filters.extend(partition_filters(table, right, partitions)?);
            Ok(filters)
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (key, v, op) = match (column(left), value(right), column(right), value(left)) {
                (Some(key), Some(v), _, _) => (key, v, *op),
                (_, _, Some(key), Some(v)) => (key, v, op.swap().ok_or_else(refuse)?),
                _ => return Err(refuse()),
            };
            let value = match op {
                Operator::Eq => PartitionValue::Equal(v),
                Operator::NotEq => PartitionValue::NotEqual(v),
                Operator::Gt => PartitionValue::GreaterThan(v),
                Operator::GtEq => PartitionValue::GreaterThanOrEqual(v),
                Operator::Lt => PartitionValue::LessThan(v),
                Operator::LtEq => PartitionValue::LessThanOrEqual(v),
                _ => return Err(refuse()),
            };
            Ok(vec![PartitionFilter { key, value }])
        }
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let key = column(expr).ok_or_else(refuse)?;
            let values = list
                .iter()
                .map(value)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(refuse)?;
            let value = if *negated {
                PartitionValue::NotIn(values)
            } else {
                PartitionValue::In(values)
            };
            Ok(vec![PartitionFilter { key, value }])
        }
        _ => Err(refuse()),
    }
}

/// How a merge treats matched and unmatched source rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MergeKind {
    /// Insert unmatched rows; matched rows per the action.
    Upsert(MergeAction),
    /// Update matched rows only.
    Update,
    /// Delete matched rows.
    Delete,
}

pub(crate) fn location(spec: &TableSpec) -> Result<&lakeorm_core::Location> {
    spec.location
        .as_ref()
        .ok_or_else(|| Error::Config(format!("table `{}` has no location", spec.table)))
}

/// Parses a SQL predicate against the table's schema and binds its `?` parameters as literal
/// values in the expression tree (never into the SQL text).
pub(crate) fn bound_expr(schema: &SchemaRef, predicate: &Statement) -> Result<Expr> {
    let sql = bind_statement(predicate)?;
    let df_schema = DFSchema::try_from(schema.as_ref().clone())
        .map_err(|e| errors::datafusion("preparing a predicate", e))?;
    let ctx = SessionContext::new();
    let expr = ctx
        .parse_sql_expr(&sql, &df_schema)
        .map_err(|e| Error::sql(format!("invalid predicate `{}`: {e}", predicate.sql)))?;
    let values: Vec<ScalarValue> = to_scalars(&predicate.params)?;
    let bound = expr
        .transform(|e| {
            if let Expr::Placeholder(p) = &e {
                let index =
                    p.id.trim_start_matches('$')
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| i.checked_sub(1));
                if let Some(value) = index.and_then(|i| values.get(i)) {
                    return Ok(Transformed::yes(lit(value.clone())));
                }
            }
            Ok(Transformed::no(e))
        })
        .map_err(|e| errors::datafusion("binding predicate parameters", e))?;
    Ok(bound.data)
}
