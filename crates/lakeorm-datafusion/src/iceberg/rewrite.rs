//! Copy-on-write planning of row-level writes on Iceberg tables.
//!
//! A merge, keyed update, keyed delete or predicate delete reads the data files that may hold
//! affected rows (the scan prunes by partition and column bounds), finds the files that do, and
//! produces their surviving rows plus the new rows. The caller writes those as new files and
//! commits one snapshot that removes the touched files and adds the new ones. Files without an
//! affected row are left alone.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{max, min};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Column, JoinType};
use datafusion::logical_expr::{Expr, col, lit, when};
use datafusion::prelude::{DataFrame, SessionContext};
use futures::TryStreamExt as _;
use iceberg::expr::{Predicate, Reference};
use iceberg::scan::FileScanTask;
use iceberg::spec::Datum;
use iceberg::table::Table;
use lakeorm_core::{Error, LakeSchema, MergeAction, Result};

use super::errors::iceberg as iceberg_error;
use super::schema::{conform, conform_present};
use crate::delta::MergeKind;
use crate::errors;

/// The column carrying each target row's file, while planning.
const FILE_COLUMN: &str = "__lakeorm_file";

/// What a row-level write changes.
#[derive(Debug, Default)]
pub(crate) struct Rewrite {
    /// Data files to remove.
    pub(crate) removed: HashSet<String>,
    /// Rows to write as new files (survivors of removed files and new or updated rows).
    pub(crate) rows: Vec<RecordBatch>,
    pub(crate) inserted: u64,
    pub(crate) updated: u64,
    pub(crate) deleted: u64,
    /// The rows are unchanged, only rearranged (compaction): a `replace` snapshot.
    pub(crate) replace: bool,
    /// The columns the rows are Z-ordered by when written (empty: the table's sort order).
    pub(crate) zorder: Vec<String>,
    /// The size new files roll at (`None`: the table's `write.target-file-size-bytes`).
    pub(crate) target_size: Option<u64>,
}

impl Rewrite {
    pub(crate) fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.rows.iter().all(|b| b.num_rows() == 0)
    }
}

/// The target rows read for planning: every row of the candidate files, tagged with the index
/// of its file in `files`.
struct Target {
    files: Vec<String>,
    rows: DataFrame,
}

fn df_error(what: &str) -> impl Fn(datafusion::error::DataFusionError) -> Error + '_ {
    move |e| errors::datafusion(what, e)
}

/// The table's current Arrow schema (what its rows are read and written as).
pub(crate) fn arrow_schema(table: &Table) -> Result<SchemaRef> {
    iceberg::arrow::schema_to_arrow_schema(table.metadata().current_schema())
        .map(Arc::new)
        .map_err(|e| iceberg_error(table.identifier().name(), "mapping the schema", e))
}

/// The data files of the current snapshot that `filter` may match (all of them without one).
async fn candidates(table: &Table, filter: Option<Predicate>) -> Result<Vec<FileScanTask>> {
    let name = table.identifier().name();
    let table = &super::tables::current_view(table)?;
    if table.metadata().current_snapshot().is_none() {
        return Ok(Vec::new());
    }
    let mut scan = table.scan().select_all();
    if let Some(filter) = filter {
        scan = scan.with_filter(filter);
    }
    let scan = scan
        .build()
        .map_err(|e| iceberg_error(name, "planning the rewrite", e))?;
    scan.plan_files()
        .await
        .map_err(|e| iceberg_error(name, "planning the rewrite", e))?
        .map_ok(|mut task| {
            // The filter chose the file; every row of it is read.
            task.predicate = None;
            task
        })
        .try_collect()
        .await
        .map_err(|e| iceberg_error(name, "planning the rewrite", e))
}

/// Reads the rows of `tasks` (with their delete files applied) into a DataFrame of `ctx`.
async fn read_target(
    ctx: &SessionContext,
    table: &Table,
    tasks: Vec<FileScanTask>,
) -> Result<Target> {
    let name = table.identifier().name();
    let schema = arrow_schema(table)?;
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_metadata(Default::default()))
        .collect();
    fields.push(Field::new(FILE_COLUMN, DataType::UInt32, false));
    let tagged = Arc::new(Schema::new(fields));
    let mut files = Vec::new();
    let mut batches = Vec::new();
    let table = &super::tables::current_view(table)?;
    for task in tasks {
        let index = files.len() as u32;
        files.push(task.data_file_path.clone());
        let stream = table
            .reader_builder()
            .build()
            .read(Box::pin(futures::stream::iter([Ok(task)])))
            .map_err(|e| iceberg_error(name, "reading data files", e))?
            .stream();
        let read: Vec<RecordBatch> = stream
            .try_collect()
            .await
            .map_err(|e| iceberg_error(name, "reading data files", e))?;
        for batch in read {
            let batch = conform(&batch, &schema)?;
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            columns.push(Arc::new(UInt32Array::from(vec![index; batch.num_rows()])));
            batches.push(
                RecordBatch::try_new(Arc::clone(&tagged), columns)
                    .map_err(|e| Error::data_invalid("rows read for a rewrite", e.to_string()))?,
            );
        }
    }
    let rows = if batches.is_empty() {
        ctx.read_batch(RecordBatch::new_empty(tagged))
    } else {
        ctx.read_batches(batches)
    }
    .map_err(df_error("reading the target"))?;
    Ok(Target { files, rows })
}

/// The file indexes in the single `FILE_COLUMN` column of `hits` (rows that matched).
fn touched_files(hits: &[RecordBatch]) -> HashSet<u32> {
    hits.iter()
        .filter_map(|b| b.column(0).as_any().downcast_ref::<UInt32Array>())
        .flat_map(|files| files.values().iter().copied())
        .collect()
}

fn qualified(relation: &str, name: &str) -> Expr {
    Expr::Column(Column::new(Some(relation), name))
}

/// A pruning filter for rows whose `keys` are among the source's: per key column, its range in
/// the source (partition transforms and file bounds prune by it).
fn key_filter(source: &[RecordBatch], keys: &[String]) -> Option<Predicate> {
    let mut filter: Option<Predicate> = None;
    for key in keys {
        let columns: Vec<&ArrayRef> = source
            .iter()
            .filter_map(|b| b.column_by_name(key))
            .collect();
        // Keys of other types are not used for pruning.
        let (Some(low), Some(high)) = (bound(&columns, true), bound(&columns, false)) else {
            continue;
        };
        let range = Reference::new(key.clone())
            .greater_than_or_equal_to(low)
            .and(Reference::new(key.clone()).less_than_or_equal_to(high));
        filter = Some(match filter {
            Some(f) => f.and(range),
            None => range,
        });
    }
    filter
}

/// The least (or greatest) value of integer or string key columns, as an Iceberg datum.
fn bound(columns: &[&ArrayRef], lowest: bool) -> Option<Datum> {
    use datafusion::arrow::array::{AsArray as _, StringArray};
    use datafusion::arrow::datatypes::{Int32Type, Int64Type};
    let first = columns.first()?;
    match first.data_type() {
        DataType::Int64 => {
            let values = columns.iter().filter_map(|c| {
                let a = c.as_primitive::<Int64Type>();
                if lowest { min(a) } else { max(a) }
            });
            let v = if lowest { values.min() } else { values.max() }?;
            Some(Datum::long(v))
        }
        DataType::Int32 | DataType::Int16 | DataType::Int8 => {
            let values = columns.iter().filter_map(|c| {
                let c = datafusion::arrow::compute::cast(c, &DataType::Int32).ok()?;
                let a = c.as_primitive::<Int32Type>();
                if lowest { min(a) } else { max(a) }
            });
            let v = if lowest { values.min() } else { values.max() }?;
            Some(Datum::int(v))
        }
        DataType::Utf8 => {
            let values = columns.iter().filter_map(|c| {
                let a: &StringArray = c.as_string::<i32>();
                let v = if lowest {
                    datafusion::arrow::compute::min_string(a)
                } else {
                    datafusion::arrow::compute::max_string(a)
                };
                v.map(str::to_owned)
            });
            let v = if lowest { values.min() } else { values.max() }?;
            Some(Datum::string(v))
        }
        _ => None,
    }
}

/// Plans a merge of `source` on `keys` into `table`.
pub(crate) async fn merge(
    table: &Table,
    schema: &LakeSchema,
    source: &[RecordBatch],
    keys: &[String],
    kind: MergeKind,
) -> Result<Rewrite> {
    let ctx = SessionContext::new();
    let arrow = arrow_schema(table)?;
    let source: Vec<RecordBatch> = source
        .iter()
        .map(|b| conform_present(b, &arrow))
        .collect::<Result<_>>()?;
    let columns: Vec<String> = arrow.fields().iter().map(|f| f.name().clone()).collect();
    // The source's columns (all of the model's, or only the keys of a keyed delete); columns
    // of the table the model lacks keep the target's value or are written NULL.
    let in_source: HashSet<String> = source
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default();
    let tasks = candidates(table, key_filter(&source, keys)).await?;
    let target = read_target(&ctx, table, tasks).await?;
    let source_df = ctx
        .read_batches(source)
        .map_err(df_error("reading the merge source"))?;
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let t = target
        .rows
        .alias("t")
        .map_err(df_error("planning the merge"))?;
    let s = source_df
        .alias("s")
        .map_err(df_error("planning the merge"))?;

    // Target rows whose key is in the source, and the files holding them.
    let hits = t
        .clone()
        .join(s.clone(), JoinType::LeftSemi, &key_refs, &key_refs, None)
        .map_err(df_error("planning the merge"))?
        .select(vec![col(FILE_COLUMN)])
        .map_err(df_error("planning the merge"))?
        .collect()
        .await
        .map_err(df_error("planning the merge"))?;
    let matched: u64 = hits.iter().map(|b| b.num_rows() as u64).sum();
    if kind == MergeKind::Upsert(MergeAction::Error) && matched > 0 {
        return Err(Error::DuplicateKey {
            table: table.identifier().name().to_owned(),
            keys: keys.to_vec(),
            rows: matched,
        });
    }
    let touched = touched_files(&hits);

    let mut rewrite = Rewrite::default();
    let rewrites_files = matches!(
        kind,
        MergeKind::Upsert(MergeAction::Update) | MergeKind::Update | MergeKind::Delete
    );
    if rewrites_files && !touched.is_empty() {
        let in_touched = col(FILE_COLUMN).in_list(touched.iter().map(|i| lit(*i)).collect(), false);
        let kept = t
            .clone()
            .filter(in_touched)
            .map_err(df_error("planning the merge"))?
            .join(s.clone(), JoinType::LeftAnti, &key_refs, &key_refs, None)
            .map_err(df_error("planning the merge"))?
            .select(
                columns
                    .iter()
                    .map(|c| col(Column::new(Some("t"), c)))
                    .collect::<Vec<Expr>>(),
            )
            .map_err(df_error("planning the merge"))?;
        rewrite.rows.extend(
            kept.collect()
                .await
                .map_err(df_error("planning the merge"))?,
        );
        rewrite.removed = touched
            .iter()
            .map(|i| target.files[*i as usize].clone())
            .collect();
    }

    // The rows the source writes.
    let written = match kind {
        MergeKind::Delete => None,
        MergeKind::Upsert(MergeAction::Ignore) | MergeKind::Upsert(MergeAction::Error) => Some(
            s.clone()
                .join(t.clone(), JoinType::LeftAnti, &key_refs, &key_refs, None)
                .map_err(df_error("planning the merge"))?
                .select(
                    columns
                        .iter()
                        .filter(|c| in_source.contains(*c))
                        .map(|c| qualified("s", c).alias(c))
                        .collect::<Vec<Expr>>(),
                )
                .map_err(df_error("planning the merge"))?,
        ),
        MergeKind::Upsert(_) | MergeKind::Update => {
            let join = if kind == MergeKind::Update {
                JoinType::Inner
            } else {
                JoinType::Left
            };
            // Keys identify the row; `create_time` columns (and columns the model lacks) keep
            // the target's value on a matched row.
            let updated: HashSet<&str> = schema.update_columns(keys).collect();
            let projection = columns
                .iter()
                .map(|c| {
                    let expr = if !in_source.contains(c) {
                        qualified("t", c)
                    } else if updated.contains(c.as_str()) || keys.contains(c) {
                        qualified("s", c)
                    } else {
                        when(qualified("t", FILE_COLUMN).is_not_null(), qualified("t", c))
                            .otherwise(qualified("s", c))
                            .map_err(df_error("planning the merge"))?
                    };
                    Ok(expr.alias(c))
                })
                .collect::<Result<Vec<_>>>()?;
            Some(
                s.clone()
                    .join(t.clone(), join, &key_refs, &key_refs, None)
                    .map_err(df_error("planning the merge"))?
                    .select(projection)
                    .map_err(df_error("planning the merge"))?,
            )
        }
    };
    let source_rows: u64 = match written {
        Some(df) => {
            let batches = df.collect().await.map_err(df_error("planning the merge"))?;
            let n = batches.iter().map(|b| b.num_rows() as u64).sum();
            rewrite.rows.extend(batches);
            n
        }
        None => 0,
    };
    match kind {
        MergeKind::Delete => rewrite.deleted = matched,
        MergeKind::Update => rewrite.updated = source_rows,
        MergeKind::Upsert(MergeAction::Update) => {
            rewrite.updated = matched.min(source_rows);
            rewrite.inserted = source_rows.saturating_sub(rewrite.updated);
        }
        MergeKind::Upsert(_) => rewrite.inserted = source_rows,
    }
    Ok(rewrite)
}

/// Plans the deletion of the rows of `table` matching `predicate` (an expression over the
/// table's columns, parameters bound).
pub(crate) async fn delete_where(table: &Table, predicate: Expr) -> Result<Rewrite> {
    let ctx = SessionContext::new();
    let arrow = arrow_schema(table)?;
    let columns: Vec<String> = arrow.fields().iter().map(|f| f.name().clone()).collect();
    let tasks = candidates(table, None).await?;
    let target = read_target(&ctx, table, tasks).await?;
    let hits = target
        .rows
        .clone()
        .filter(predicate.clone())
        .map_err(df_error("planning the delete"))?
        .select(vec![col(FILE_COLUMN)])
        .map_err(df_error("planning the delete"))?
        .collect()
        .await
        .map_err(df_error("planning the delete"))?;
    let deleted: u64 = hits.iter().map(|b| b.num_rows() as u64).sum();
    let touched = touched_files(&hits);
    let mut rewrite = Rewrite {
        deleted,
        ..Default::default()
    };
    if touched.is_empty() {
        return Ok(rewrite);
    }
    let in_touched = col(FILE_COLUMN).in_list(touched.iter().map(|i| lit(*i)).collect(), false);
    // A row survives unless the predicate is true for it (NULL keeps the row, as in SQL).
    let kept = target
        .rows
        .filter(in_touched.and(predicate.is_not_true()))
        .map_err(df_error("planning the delete"))?
        .select(
            columns
                .iter()
                .map(|c| col(Column::new_unqualified(c)))
                .collect::<Vec<Expr>>(),
        )
        .map_err(df_error("planning the delete"))?;
    rewrite.rows = kept
        .collect()
        .await
        .map_err(df_error("planning the delete"))?;
    rewrite.removed = touched
        .iter()
        .map(|i| target.files[*i as usize].clone())
        .collect();
    Ok(rewrite)
}
