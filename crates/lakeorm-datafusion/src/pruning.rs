//! Partition pruning through generated partition columns.
//!
//! A Delta table partitioned by a transform is partitioned by a generated column
//! (`created_at_day = CAST(created_at AS DATE)`, see [`lakeorm_core::generated`]), while queries
//! filter on the source column (`WHERE created_at >= …`). Spark's Delta derives the partition
//! filter for the expressions it recognises; delta-rs does not, and file statistics cannot prune
//! hash buckets at all. So the embedded engine wraps such a table's provider: every filter
//! `source <op> constant` that it is handed also yields `generated <op'> f(constant)` — equality
//! for every transform, ranges for the monotonic ones — which the Delta scan prunes partitions
//! with. The derived filters are implied by the user's, so adding them changes which files are
//! read, never which rows are returned.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatchOptions;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{
    BinaryExpr, Expr, LogicalPlan, Operator, TableProviderFilterPushDown, cast, col, lit,
};
use datafusion::physical_plan::{ColumnarValue, ExecutionPlan};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::kernel::StructTypeExt as _;
use lakeorm_core::{GeneratedColumn, LakeType};

/// A generated partition column that lakeorm can derive filters for.
struct Derivation {
    column: GeneratedColumn,
    /// The generation expression over the table's columns.
    expr: Expr,
    /// The generated column's type.
    ty: DataType,
}

/// A Delta table's provider that adds partition filters derived from filters on the source
/// columns of its generated partition columns.
pub(crate) struct GeneratedPruning {
    inner: Arc<dyn TableProvider>,
    derivations: Vec<Derivation>,
}

impl fmt::Debug for GeneratedPruning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedPruning")
            .field(
                "columns",
                &self
                    .derivations
                    .iter()
                    .map(|d| &d.column.name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The lakeorm type of an Arrow column, as far as generated partition columns care.
fn lake_type(ty: &DataType) -> Option<LakeType> {
    Some(match ty {
        DataType::Int8 => LakeType::Int8,
        DataType::Int16 => LakeType::Int16,
        DataType::Int32 => LakeType::Int32,
        DataType::Int64 => LakeType::Int64,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => LakeType::String,
        DataType::Date32 => LakeType::Date,
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => LakeType::Timestamp,
        DataType::Timestamp(TimeUnit::Microsecond, None) => LakeType::TimestampNtz,
        DataType::Dictionary(_, value) => return lake_type(value),
        _ => return None,
    })
}

impl GeneratedPruning {
    /// `inner` wrapped when `table` has generated partition columns that lakeorm declared (in
    /// the forms of [`lakeorm_core::generated`]); `inner` itself otherwise.
    pub(crate) fn wrap(
        inner: Arc<dyn TableProvider>,
        table: &DeltaTable,
    ) -> Arc<dyn TableProvider> {
        let Ok(snapshot) = table.snapshot() else {
            return inner;
        };
        let partitions = snapshot.metadata().partition_columns();
        let Ok(mut generated) = snapshot.schema().get_generated_columns() else {
            return inner;
        };
        // Most tables have none: nothing to parse, and registration (after every write) stays
        // as cheap as it was.
        generated.retain(|g| partitions.contains(&g.name));
        if generated.is_empty() {
            return inner;
        }
        let arrow = snapshot.snapshot().arrow_schema();
        let Ok(df_schema) = DFSchema::try_from(arrow.as_ref().clone()) else {
            return inner;
        };
        let parser = SessionContext::new();
        let derivations: Vec<Derivation> = generated
            .iter()
            .filter_map(|g| {
                let column = lakeorm_core::generated::recognize(&g.name, &g.generation_expr, |c| {
                    arrow
                        .field_with_name(c)
                        .ok()
                        .and_then(|f| lake_type(f.data_type()))
                })?;
                let expr = parser
                    .parse_sql_expr(&g.generation_expr, &df_schema)
                    .map_err(|e| {
                        tracing::debug!(column = %g.name, error = %e, "generated column not prunable");
                    })
                    .ok()?;
                let ty = arrow.field_with_name(&g.name).ok()?.data_type().clone();
                Some(Derivation { column, expr, ty })
            })
            .collect();
        if derivations.is_empty() {
            return inner;
        }
        Arc::new(GeneratedPruning { inner, derivations })
    }

    /// The partition filters that `filter` implies.
    fn derive(&self, session: &dyn Session, filter: &Expr) -> Vec<Expr> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = filter else {
            return Vec::new();
        };
        let (column, op, value) = match (left.as_ref(), right.as_ref()) {
            (Expr::Column(c), value) => (c, *op, value),
            (value, Expr::Column(c)) => match op.swap() {
                Some(op) => (c, op, value),
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        if !value.column_refs().is_empty() {
            return Vec::new();
        }
        self.derivations
            .iter()
            .filter(|d| d.column.source == column.name)
            .filter_map(|d| {
                let bound = match op {
                    Operator::Eq => Operator::Eq,
                    Operator::Gt | Operator::GtEq if d.column.is_monotonic() => Operator::GtEq,
                    Operator::Lt | Operator::LtEq if d.column.is_monotonic() => Operator::LtEq,
                    _ => return None,
                };
                let constant = self.evaluate(session, d, value)?;
                Some(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(col(Column::new_unqualified(&d.column.name))),
                    bound,
                    Box::new(lit(constant)),
                )))
            })
            .collect()
    }

    /// The generation expression of `d` evaluated on the constant `value`; `None` when it does
    /// not reduce to one value (the filter is then simply not derived).
    fn evaluate(&self, session: &dyn Session, d: &Derivation, value: &Expr) -> Option<ScalarValue> {
        let source = &d.column.source;
        let substituted = d
            .expr
            .clone()
            .transform(|e| match &e {
                Expr::Column(c) if &c.name == source => Ok(Transformed::yes(value.clone())),
                _ => Ok(Transformed::no(e)),
            })
            .ok()?
            .data;
        let typed = cast(substituted, d.ty.clone());
        let physical = session
            .create_physical_expr(typed, &DFSchema::empty())
            .ok()?;
        let one_row = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )
        .ok()?;
        match physical.evaluate(&one_row).ok()? {
            ColumnarValue::Scalar(value) => Some(value),
            ColumnarValue::Array(array) => ScalarValue::try_from_array(&array, 0).ok(),
        }
    }
}

#[async_trait]
impl TableProvider for GeneratedPruning {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn get_table_definition(&self) -> Option<&str> {
        self.inner.get_table_definition()
    }

    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        self.inner.get_logical_plan()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut all = filters.to_vec();
        for filter in filters {
            for derived in self.derive(state, filter) {
                if !all.contains(&derived) {
                    tracing::debug!(filter = %derived, "partition filter derived");
                    all.push(derived);
                }
            }
        }
        self.inner.scan(state, projection, &all, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.insert_into(state, input, insert_op).await
    }
}
