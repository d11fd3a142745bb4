//! `INSERT`, `MERGE`, `DELETE` and `UPDATE` on Delta tables, with delta-rs' operations.
//!
//! Each statement is parsed with sqlparser; its source query runs on the engine (so it sees
//! the lake's tables, `read_files` and bound parameters) and its conditions and values become
//! DataFusion expressions, parameters bound as literals in the expression tree. Like
//! Databricks, an `INSERT` answers one row `num_affected_rows, num_inserted_rows`, a `MERGE`
//! `num_affected_rows, num_updated_rows, num_deleted_rows, num_inserted_rows`, a `DELETE` or
//! `UPDATE` `num_affected_rows`. A statement that fails commits nothing.
//!
//! `raise_error(...)` in a `WHEN MATCHED` clause fails the whole statement with
//! `USER_RAISED_EXCEPTION` when any source row reaches that clause (checked against the
//! snapshot the merge runs on, before it writes), and otherwise the clause is dropped.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::{Expr, JoinType, cast, lit};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::DataFrame;
use datafusion::sql::sqlparser::ast::ExprWithAlias;
use deltalake::kernel::StructTypeExt as _;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder};
use lakeorm_core::Param;
use sqlparser::ast::{
    Assignment, AssignmentTarget, Delete, FromTable, FunctionArg, FunctionArgExpr,
    FunctionArguments, Insert, Merge, MergeAction, MergeClause, MergeClauseKind, MergeInsertKind,
    ObjectName, Statement, TableFactor, TableObject, Update,
};
use sqlparser::dialect::DatabricksDialect;
use sqlparser::parser::Parser;

use super::{Engine, Output, datafusion_error, delta_error};
use crate::errors::SqlError;

/// Carries out one DML statement.
pub(super) async fn execute(
    engine: &Engine,
    sql: &str,
    values: Vec<Param>,
) -> Result<Output, SqlError> {
    let sql = super::params::number(sql)?;
    let mut statements = Parser::parse_sql(&DatabricksDialect {}, &sql)
        .map_err(|e| SqlError::syntax(e.to_string()))?;
    if statements.len() != 1 {
        return Err(SqlError::syntax("Expected exactly one statement."));
    }
    match statements.remove(0) {
        Statement::Insert(insert) => self::insert(engine, insert, values).await,
        Statement::Merge(merge) => self::merge(engine, merge, values).await,
        Statement::Delete(delete) => self::delete(engine, delete, values).await,
        Statement::Update(update) => self::update(engine, update, values).await,
        other => Err(SqlError::unsupported(format!("The statement `{other}`"))),
    }
}

/// The Parquet properties of the files a write adds (snappy, bounded row groups), as lakeorm's
/// embedded engine writes them.
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by(format!(
            "lakeorm-databricks-server {} (delta-rs)",
            env!("CARGO_PKG_VERSION")
        ))
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(128 * 1024))
        .build()
}

/// The session delta-rs plans rewrites in: plain string types (no views), so rewritten files
/// hold the types the table declares.
fn write_session() -> Arc<dyn datafusion::catalog::Session> {
    let mut state = deltalake::delta_datafusion::DeltaSessionContext::new().state();
    state
        .config_mut()
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    Arc::new(state)
}

/// Opens the Delta table `name` of the lake.
pub(super) async fn open_table(engine: &Engine, name: &str) -> Result<DeltaTable, SqlError> {
    let location = engine.backend.table_location(name);
    if let Some(dir) = location.to_file_path()
        && !dir.join("_delta_log").is_dir()
    {
        return Err(SqlError::table_not_found(name));
    }
    let text = format!("{}/", location.as_str().trim_end_matches('/'));
    let url =
        url::Url::parse(&text).map_err(|e| SqlError::internal(format!("table URL {text}: {e}")))?;
    let mut table = DeltaTableBuilder::from_url(url.clone())
        .and_then(|b| {
            b.with_storage_backend(engine.backend.object_store(), url)
                .build()
        })
        .map_err(|e| delta_error(name, e))?;
    table.load().await.map_err(|e| delta_error(name, e))?;
    Ok(table)
}

fn arrow_schema(name: &str, table: &DeltaTable) -> Result<SchemaRef, SqlError> {
    Ok(table
        .snapshot()
        .map_err(|e| delta_error(name, e))?
        .snapshot()
        .arrow_schema())
}

fn generated_columns(name: &str, table: &DeltaTable) -> Result<HashSet<String>, SqlError> {
    let snapshot = table.snapshot().map_err(|e| delta_error(name, e))?;
    Ok(snapshot
        .schema()
        .get_generated_columns()
        .map_err(|e| delta_error(name, e.into()))?
        .into_iter()
        .map(|g| g.name)
        .collect())
}

/// `"name"`, quoted for delta-rs' column parser (which keeps case).
fn quoted(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}

/// The DataFusion value of a bound parameter.
fn scalar(param: &Param) -> Result<ScalarValue, SqlError> {
    use chrono::Datelike;
    Ok(match param {
        Param::Null => ScalarValue::Null,
        Param::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Param::Int(i) => ScalarValue::Int64(Some(*i)),
        Param::Float(f) => ScalarValue::Float64(Some(*f)),
        Param::String(s) => ScalarValue::Utf8(Some(s.clone())),
        Param::Bytes(b) => ScalarValue::Binary(Some(b.clone())),
        Param::Date(d) => ScalarValue::Date32(Some(d.num_days_from_ce() - 719_163)),
        Param::Timestamp(t) => {
            ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into()))
        }
        Param::TimestampNtz(t) => {
            ScalarValue::TimestampMicrosecond(Some(t.and_utc().timestamp_micros()), None)
        }
        other => {
            return Err(SqlError::internal(format!(
                "unsupported parameter {other:?}"
            )));
        }
    })
}

/// Turns SQL expressions into DataFusion expressions over one schema, binding `$n`.
struct Exprs<'a> {
    engine: &'a Engine,
    schema: DFSchema,
    values: Vec<ScalarValue>,
}

impl<'a> Exprs<'a> {
    fn new(engine: &'a Engine, schema: DFSchema, values: &[Param]) -> Result<Self, SqlError> {
        Ok(Exprs {
            engine,
            schema,
            values: values.iter().map(scalar).collect::<Result<_, _>>()?,
        })
    }

    fn convert(&self, expr: &sqlparser::ast::Expr) -> Result<Expr, SqlError> {
        let state = self.engine.driver.session().state();
        let logical = state
            .create_logical_expr_from_sql_expr(
                ExprWithAlias {
                    expr: expr.clone(),
                    alias: None,
                },
                &self.schema,
            )
            .map_err(datafusion_error)?;
        logical
            .transform(|e| {
                if let Expr::Placeholder(p) = &e
                    && let Some(value) =
                        p.id.trim_start_matches('$')
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| i.checked_sub(1))
                            .and_then(|i| self.values.get(i))
                {
                    return Ok(Transformed::yes(lit(value.clone())));
                }
                Ok(Transformed::no(e))
            })
            .map(|t| t.data)
            .map_err(datafusion_error)
    }
}

/// `expr` with its columns unqualified (delete and update predicates name the table's own
/// columns only, and delta-rs resolves them unqualified).
fn unqualified(expr: Expr) -> Result<Expr, SqlError> {
    expr.transform(|e| match e {
        Expr::Column(c) if c.relation.is_some() => Ok(Transformed::yes(Expr::Column(
            Column::new_unqualified(c.name),
        ))),
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .map_err(datafusion_error)
}

fn qualified(alias: &str, schema: &Schema) -> Result<DFSchema, SqlError> {
    DFSchema::try_from_qualified_schema(alias, schema).map_err(datafusion_error)
}

/// The table's column called `name`, case-insensitively (as Databricks resolves columns).
fn column<'s>(schema: &'s Schema, name: &str, table: &str) -> Result<&'s Field, SqlError> {
    schema
        .fields()
        .iter()
        .find(|f| f.name() == name)
        .or_else(|| schema.fields().iter().find(|f| f.name().eq_ignore_ascii_case(name)))
        .map(|f| f.as_ref())
        .ok_or_else(|| {
            SqlError::class(
                "UNRESOLVED_COLUMN.WITH_SUGGESTION",
                "42703",
                format!("A column, variable, or function parameter with name `{name}` cannot be resolved in `{table}`."),
            )
        })
}

fn assignment_column(assignment: &Assignment) -> Result<String, SqlError> {
    match &assignment.target {
        AssignmentTarget::ColumnName(name) => name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.clone())
            .ok_or_else(|| SqlError::syntax(format!("`{name}` is not a column"))),
        AssignmentTarget::Tuple(_) => Err(SqlError::unsupported("Tuple assignment")),
    }
}

/// One row of counts, every column a BIGINT.
fn counts(columns: &[(&str, u64)]) -> Result<Output, SqlError> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, _)| Field::new(*name, DataType::Int64, false))
            .collect::<Vec<_>>(),
    ));
    let arrays = columns
        .iter()
        .map(|(_, n)| {
            Arc::new(Int64Array::from(vec![
                i64::try_from(*n).unwrap_or(i64::MAX),
            ])) as _
        })
        .collect();
    RecordBatch::try_new(schema, arrays)
        .map(Output::batch)
        .map_err(|e| SqlError::internal(e.to_string()))
}

fn expr_at(df: &DataFrame, index: usize) -> Expr {
    let (qualifier, field) = df.schema().qualified_field(index);
    Expr::Column(Column::new(qualifier.cloned(), field.name()))
}

/// `INSERT INTO t [(cols)] <query>`: an append.
async fn insert(engine: &Engine, insert: Insert, values: Vec<Param>) -> Result<Output, SqlError> {
    if insert.overwrite {
        return Err(SqlError::unsupported("INSERT OVERWRITE"));
    }
    let TableObject::TableName(name) = &insert.table else {
        return Err(SqlError::unsupported("INSERT INTO a table function"));
    };
    let table_name = engine.table_name(name)?;
    let table = open_table(engine, &table_name).await?;
    let schema = arrow_schema(&table_name, &table)?;
    let generated = generated_columns(&table_name, &table)?;
    let source = insert
        .source
        .ok_or_else(|| SqlError::unsupported("INSERT without a query or VALUES"))?;
    let df = engine.dataframe(source.to_string(), &values).await?;
    let writable: Vec<&Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref())
        .filter(|f| !generated.contains(f.name()))
        .collect();
    let targets: Vec<String> = if insert.columns.is_empty() {
        writable.iter().map(|f| f.name().clone()).collect()
    } else {
        insert
            .columns
            .iter()
            .map(|c| column(&schema, &c.value, &table_name).map(|f| f.name().clone()))
            .collect::<Result<_, _>>()?
    };
    let given = df.schema().fields().len();
    if given != targets.len() {
        return Err(SqlError::class(
            "INSERT_COLUMN_ARITY_MISMATCH",
            "21S01",
            format!(
                "Cannot write to `{table_name}`: the query gives {given} columns, {} are expected.",
                targets.len()
            ),
        ));
    }
    let mut projection = Vec::new();
    for field in &writable {
        let expr = match targets.iter().position(|t| t == field.name()) {
            Some(i) => cast(expr_at(&df, i), field.data_type().clone()),
            None if field.is_nullable() => {
                lit(ScalarValue::try_from(field.data_type()).map_err(datafusion_error)?)
            }
            None => {
                return Err(SqlError::class(
                    "DELTA_MISSING_NOT_NULL_COLUMN_VALUE",
                    "23502",
                    format!(
                        "Column {} is not nullable and was not given a value.",
                        field.name()
                    ),
                ));
            }
        };
        projection.push(expr.alias(field.name()));
    }
    let df = df.select(projection).map_err(datafusion_error)?;
    let plan = df.logical_plan().clone();
    let table = table
        .write(Vec::<RecordBatch>::new())
        .with_input_plan(plan)
        .with_save_mode(SaveMode::Append)
        .with_session_state(write_session())
        .with_writer_properties(writer_properties())
        .await
        .map_err(|e| delta_error(&table_name, e))?;
    let inserted = table
        .history(Some(1))
        .await
        .map_err(|e| delta_error(&table_name, e))?
        .next()
        .and_then(|c| {
            c.info
                .get("operationMetrics")
                .and_then(|m| m.get("num_added_rows"))
                .and_then(serde_json::Value::as_u64)
        })
        .unwrap_or(0);
    counts(&[
        ("num_affected_rows", inserted),
        ("num_inserted_rows", inserted),
    ])
}

/// A `raise_error('…')` call among `assignments`: its message.
fn raised(assignments: &[Assignment]) -> Option<String> {
    assignments.iter().find_map(|a| match &a.value {
        sqlparser::ast::Expr::Function(f)
            if f.name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .is_some_and(|i| i.value.eq_ignore_ascii_case("raise_error")) =>
        {
            let message = match &f.args {
                FunctionArguments::List(list) => list.args.first().map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(sqlparser::ast::Expr::Value(v))) => {
                        match &v.value {
                            sqlparser::ast::Value::SingleQuotedString(s) => s.clone(),
                            other => other.to_string(),
                        }
                    }
                    other => other.to_string(),
                }),
                _ => None,
            };
            Some(message.unwrap_or_default())
        }
        _ => None,
    })
}

/// `MERGE INTO t [AS a] USING <source> [AS s] ON … WHEN …`.
async fn merge(engine: &Engine, merge: Merge, values: Vec<Param>) -> Result<Output, SqlError> {
    let TableFactor::Table { name, alias, .. } = &merge.table else {
        return Err(SqlError::unsupported(
            "MERGE INTO something other than a table",
        ));
    };
    let table_name = engine.table_name(name)?;
    let target_alias = alias
        .as_ref()
        .map_or(table_name.clone(), |a| a.name.value.clone());
    let table = open_table(engine, &table_name).await?;
    let schema = arrow_schema(&table_name, &table)?;
    let generated = generated_columns(&table_name, &table)?;
    let (source_sql, source_alias) = match &merge.source {
        TableFactor::Derived {
            subquery, alias, ..
        } => (
            subquery.to_string(),
            alias
                .as_ref()
                .map_or("source".to_owned(), |a| a.name.value.clone()),
        ),
        TableFactor::Table { name, alias, .. } => (
            format!("SELECT * FROM {name}"),
            alias.as_ref().map_or_else(
                || name.0.last().map_or("source".to_owned(), |p| p.to_string()),
                |a| a.name.value.clone(),
            ),
        ),
        other => return Err(SqlError::unsupported(format!("MERGE … USING {other}"))),
    };
    let source = engine.dataframe(source_sql, &values).await?;
    // Source columns named like target columns take the target's types, as an assignment
    // would cast them.
    let projection: Vec<Expr> = (0..source.schema().fields().len())
        .map(|i| {
            let field = source.schema().field(i);
            let expr = expr_at(&source, i);
            match schema
                .fields()
                .iter()
                .find(|t| t.name().eq_ignore_ascii_case(field.name()))
            {
                Some(t) if t.data_type() != field.data_type() => {
                    cast(expr, t.data_type().clone()).alias(field.name())
                }
                _ => expr.alias(field.name()),
            }
        })
        .collect();
    let source = source.select(projection).map_err(datafusion_error)?;
    let source_schema = Arc::new(source.schema().as_arrow().clone());
    let mut both = qualified(&target_alias, &schema)?;
    both.merge(&qualified(&source_alias, &source_schema)?);
    let exprs = Exprs::new(engine, both, &values)?;
    let on = exprs.convert(&merge.on)?;

    let mut kept: Vec<MergeClause> = Vec::new();
    for clause in merge.clauses {
        if let (MergeClauseKind::Matched, MergeAction::Update(update)) =
            (&clause.clause_kind, &clause.action)
            && let Some(message) = raised(&update.assignments)
        {
            let mut condition = on.clone();
            if let Some(p) = &clause.predicate {
                condition = condition.and(exprs.convert(p)?);
            }
            let session = engine.driver.session();
            let provider = table.table_provider().await.map_err(datafusion_error)?;
            let matched = session
                .read_table(provider)
                .and_then(|t| t.alias(&target_alias))
                .and_then(|t| {
                    t.join_on(
                        source.clone().alias(&source_alias)?,
                        JoinType::Inner,
                        [condition],
                    )
                })
                .map_err(datafusion_error)?
                .limit(0, Some(1))
                .map_err(datafusion_error)?
                .count()
                .await
                .map_err(datafusion_error)?;
            if matched > 0 {
                return Err(SqlError::class("USER_RAISED_EXCEPTION", "P0001", message));
            }
            continue;
        }
        kept.push(clause);
    }

    let map = |e| delta_error(&table_name, e);
    let mut builder = table
        .clone()
        .merge(source, on)
        .with_source_alias(&source_alias)
        .with_target_alias(&target_alias)
        .with_session_state(write_session())
        .with_writer_properties(writer_properties());
    for clause in kept {
        let predicate = clause
            .predicate
            .as_ref()
            .map(|p| exprs.convert(p))
            .transpose()?;
        let assignments = |list: &[Assignment]| -> Result<Vec<(String, Expr)>, SqlError> {
            list.iter()
                .map(|a| {
                    let name = assignment_column(a)?;
                    let column = column(&schema, &name, &table_name)?.name().clone();
                    Ok((column, exprs.convert(&a.value)?))
                })
                .collect()
        };
        match (clause.clause_kind, clause.action) {
            (MergeClauseKind::Matched, MergeAction::Update(update)) => {
                let sets = assignments(&update.assignments)?;
                builder = builder
                    .when_matched_update(|mut u| {
                        if let Some(p) = predicate {
                            u = u.predicate(p);
                        }
                        // Generated columns are computed again from the updated values.
                        for g in generated
                            .iter()
                            .filter(|g| !sets.iter().any(|(c, _)| c == *g))
                        {
                            u = u.update(quoted(g), "NULL");
                        }
                        sets.into_iter()
                            .fold(u, |u, (c, e)| u.update(quoted(&c), e))
                    })
                    .map_err(map)?;
            }
            (MergeClauseKind::Matched, MergeAction::Delete { .. }) => {
                builder = builder
                    .when_matched_delete(|d| match predicate {
                        Some(p) => d.predicate(p),
                        None => d,
                    })
                    .map_err(map)?;
            }
            (
                MergeClauseKind::NotMatched | MergeClauseKind::NotMatchedByTarget,
                MergeAction::Insert(insert),
            ) => {
                let MergeInsertKind::Values(rows) = &insert.kind else {
                    return Err(SqlError::unsupported("WHEN NOT MATCHED THEN INSERT ROW"));
                };
                let [row] = rows.rows.as_slice() else {
                    return Err(SqlError::syntax("INSERT in MERGE takes one row of values"));
                };
                let columns: Vec<String> = if insert.columns.is_empty() {
                    schema
                        .fields()
                        .iter()
                        .filter(|f| !generated.contains(f.name()))
                        .map(|f| f.name().clone())
                        .collect()
                } else {
                    insert
                        .columns
                        .iter()
                        .map(|c: &ObjectName| {
                            let last =
                                c.0.last()
                                    .and_then(|p| p.as_ident())
                                    .map(|i| i.value.clone())
                                    .unwrap_or_default();
                            column(&schema, &last, &table_name).map(|f| f.name().clone())
                        })
                        .collect::<Result<_, _>>()?
                };
                if columns.len() != row.len() {
                    return Err(SqlError::class(
                        "INSERT_COLUMN_ARITY_MISMATCH",
                        "21S01",
                        format!(
                            "MERGE INSERT names {} columns but gives {} values.",
                            columns.len(),
                            row.len()
                        ),
                    ));
                }
                let sets: Vec<(String, Expr)> = columns
                    .into_iter()
                    .zip(row.iter())
                    .map(|(c, e)| Ok((c, exprs.convert(e)?)))
                    .collect::<Result<_, SqlError>>()?;
                builder = builder
                    .when_not_matched_insert(|mut i| {
                        if let Some(p) = predicate {
                            i = i.predicate(p);
                        }
                        sets.into_iter().fold(i, |i, (c, e)| i.set(quoted(&c), e))
                    })
                    .map_err(map)?;
            }
            (MergeClauseKind::NotMatchedBySource, MergeAction::Update(update)) => {
                let sets = assignments(&update.assignments)?;
                builder = builder
                    .when_not_matched_by_source_update(|mut u| {
                        if let Some(p) = predicate {
                            u = u.predicate(p);
                        }
                        sets.into_iter()
                            .fold(u, |u, (c, e)| u.update(quoted(&c), e))
                    })
                    .map_err(map)?;
            }
            (MergeClauseKind::NotMatchedBySource, MergeAction::Delete { .. }) => {
                builder = builder
                    .when_not_matched_by_source_delete(|d| match predicate {
                        Some(p) => d.predicate(p),
                        None => d,
                    })
                    .map_err(map)?;
            }
            (kind, action) => {
                return Err(SqlError::unsupported(format!("WHEN {kind} THEN {action}")));
            }
        }
    }
    let (_, metrics) = builder.await.map_err(map)?;
    let (inserted, updated, deleted) = (
        metrics.num_target_rows_inserted as u64,
        metrics.num_target_rows_updated as u64,
        metrics.num_target_rows_deleted as u64,
    );
    counts(&[
        ("num_affected_rows", inserted + updated + deleted),
        ("num_updated_rows", updated),
        ("num_deleted_rows", deleted),
        ("num_inserted_rows", inserted),
    ])
}

/// The table a DELETE or UPDATE names, and the alias its columns may be qualified with.
fn target(engine: &Engine, factor: &TableFactor) -> Result<(String, String), SqlError> {
    let TableFactor::Table { name, alias, .. } = factor else {
        return Err(SqlError::unsupported("DML on something other than a table"));
    };
    let table = engine.table_name(name)?;
    let alias = alias
        .as_ref()
        .map_or(table.clone(), |a| a.name.value.clone());
    Ok((table, alias))
}

/// The rows of the table's current files, from the log's statistics.
fn row_count(name: &str, table: &DeltaTable) -> Result<u64, SqlError> {
    let snapshot = table.snapshot().map_err(|e| delta_error(name, e))?;
    Ok(snapshot
        .log_data()
        .iter()
        .map(|f| f.num_records().unwrap_or(0) as u64)
        .sum())
}

/// `DELETE FROM t [WHERE …]`.
async fn delete(engine: &Engine, delete: Delete, values: Vec<Param>) -> Result<Output, SqlError> {
    let (FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables)) = &delete.from;
    let [from] = tables.as_slice() else {
        return Err(SqlError::unsupported("DELETE from several tables"));
    };
    if !from.joins.is_empty() || delete.using.is_some() {
        return Err(SqlError::unsupported("DELETE … USING"));
    }
    let (table_name, alias) = target(engine, &from.relation)?;
    let table = open_table(engine, &table_name).await?;
    let schema = arrow_schema(&table_name, &table)?;
    let before = row_count(&table_name, &table)?;
    let mut builder = table.delete().with_writer_properties(writer_properties());
    if let Some(selection) = &delete.selection {
        let exprs = Exprs::new(engine, qualified(&alias, &schema)?, &values)?;
        builder = builder.with_predicate(unqualified(exprs.convert(selection)?)?);
    }
    let (table, metrics) = builder.await.map_err(|e| delta_error(&table_name, e))?;
    let deleted = match metrics.num_deleted_rows {
        Some(n) => n as u64,
        None => before.saturating_sub(row_count(&table_name, &table)?),
    };
    counts(&[("num_affected_rows", deleted)])
}

/// `UPDATE t SET … [WHERE …]`.
async fn update(engine: &Engine, update: Update, values: Vec<Param>) -> Result<Output, SqlError> {
    if !update.table.joins.is_empty() || update.from.is_some() {
        return Err(SqlError::unsupported("UPDATE … FROM"));
    }
    let (table_name, alias) = target(engine, &update.table.relation)?;
    let table = open_table(engine, &table_name).await?;
    let schema = arrow_schema(&table_name, &table)?;
    let exprs = Exprs::new(engine, qualified(&alias, &schema)?, &values)?;
    let mut builder = table
        .update()
        .with_session_state(write_session())
        .with_writer_properties(writer_properties());
    if let Some(selection) = &update.selection {
        builder = builder.with_predicate(unqualified(exprs.convert(selection)?)?);
    }
    for assignment in &update.assignments {
        let name = assignment_column(assignment)?;
        let column = column(&schema, &name, &table_name)?.name().clone();
        builder = builder.with_update(
            quoted(&column),
            unqualified(exprs.convert(&assignment.value)?)?,
        );
    }
    let (_, metrics) = builder.await.map_err(|e| delta_error(&table_name, e))?;
    counts(&[("num_affected_rows", metrics.num_updated_rows as u64)])
}
