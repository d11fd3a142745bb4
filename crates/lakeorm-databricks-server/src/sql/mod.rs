//! The SQL warehouse: statements carried out on lakeorm's embedded engine.
//!
//! Queries (`SELECT`, `WITH`, `VALUES`, with `VERSION AS OF` and `read_files(...)`) run on the
//! engine's DataFusion session, where the lake's tables are visible by name and, through an
//! alias of its catalog, as `<catalog>.<schema>.<name>`. Table DDL goes to the engine's own DDL
//! path. DataFusion has no DML on Delta tables, so `INSERT`, `MERGE`, `DELETE` and `UPDATE`
//! are parsed here (sqlparser, Databricks dialect) and carried out with delta-rs' operations
//! (`dml.rs`); `OPTIMIZE`, `VACUUM` and `DESCRIBE DETAIL`/`HISTORY` likewise (`maintain.rs`).
//! Anything else fails with a Databricks error class; a failed statement changes nothing.

mod dml;
mod maintain;
mod params;
mod relations;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use futures::StreamExt;
use futures::stream::BoxStream;
use lakeorm_backends::ObjectStoreBackend;
use lakeorm_core::{
    Backend, Driver as _, ExecContext, ExecutionPlan, Param, QueryResult, Statement,
};
use lakeorm_datafusion::EmbeddedDriver;
use lakeorm_delta::DeltaDialect;
use sqlparser::ast::{ObjectName, ObjectNamePart};

pub(crate) use params::Parameter;

use crate::ServerConfig;
use crate::errors::SqlError;

/// The schema of the engine's catalog where `read_files` sources are registered while a
/// statement is planned.
const READ_FILES_SCHEMA: &str = "__databricks_read_files";

/// What a statement is, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Query,
    Write,
    Ddl,
    Other,
}

/// The statement's kind from its first keyword.
pub(crate) fn kind(sql: &str) -> Kind {
    match params::first_keywords(sql, 1).first().map(String::as_str) {
        Some("SELECT" | "WITH" | "VALUES" | "DESCRIBE" | "DESC" | "FROM" | "SHOW") => Kind::Query,
        Some("INSERT" | "MERGE" | "DELETE" | "UPDATE") => Kind::Write,
        Some("CREATE" | "ALTER" | "DROP" | "OPTIMIZE" | "VACUUM") => Kind::Ddl,
        _ => Kind::Other,
    }
}

/// A statement's result: its schema and its batches as the engine produces them.
pub(crate) struct Output {
    pub(crate) schema: SchemaRef,
    pub(crate) batches: BoxStream<'static, Result<RecordBatch, SqlError>>,
}

impl Output {
    /// A result of one batch (DML counts, DESCRIBE rows) or none.
    fn batch(batch: RecordBatch) -> Self {
        let schema = batch.schema();
        let rows = batch.num_rows();
        Output {
            schema,
            batches: futures::stream::iter((rows > 0).then_some(Ok(batch))).boxed(),
        }
    }

    /// The empty result of DDL: no columns, no rows.
    fn empty() -> Self {
        Output {
            schema: Arc::new(arrow::datatypes::Schema::empty()),
            batches: futures::stream::empty().boxed(),
        }
    }
}

/// The warehouse's engine and what it needs to resolve names and volume paths.
pub(crate) struct Engine {
    driver: EmbeddedDriver,
    backend: Arc<dyn Backend>,
    dialect: DeltaDialect,
    catalog: String,
    schema: String,
    /// `/Volumes/<catalog>/<schema>/<volume>`.
    volume_path: String,
    volume_dir: PathBuf,
    read_files: Arc<MemorySchemaProvider>,
    retention_check: bool,
}

impl Engine {
    /// Opens the engine on the lake in `lake` and makes the configured catalog and schema
    /// names resolve to its tables.
    pub(crate) async fn open(
        lake: &Path,
        config: &ServerConfig,
        volume_dir: PathBuf,
    ) -> lakeorm_core::Result<Self> {
        let backend: Arc<dyn Backend> = Arc::new(ObjectStoreBackend::file(lake)?);
        let driver = EmbeddedDriver::open(Arc::clone(&backend)).await?;
        let session = driver.session();
        let engine_error =
            |what: &str| lakeorm_core::Error::Config(format!("local Databricks server: {what}"));
        let catalog = session
            .catalog("lakeorm")
            .ok_or_else(|| engine_error("the embedded engine has no `lakeorm` catalog"))?;
        let tables = catalog
            .schema("default")
            .ok_or_else(|| engine_error("the embedded engine has no `default` schema"))?;
        if config.schema != "default" {
            catalog
                .register_schema(&config.schema, Arc::clone(&tables))
                .map_err(|e| engine_error(&e.to_string()))?;
        }
        if config.catalog != "lakeorm" {
            session.register_catalog(&config.catalog, Arc::clone(&catalog));
        }
        let read_files = Arc::new(MemorySchemaProvider::new());
        catalog
            .register_schema(
                READ_FILES_SCHEMA,
                Arc::clone(&read_files) as Arc<dyn SchemaProvider>,
            )
            .map_err(|e| engine_error(&e.to_string()))?;
        Ok(Engine {
            driver,
            backend,
            dialect: DeltaDialect::new(),
            catalog: config.catalog.clone(),
            schema: config.schema.clone(),
            volume_path: format!(
                "/Volumes/{}/{}/{}",
                config.catalog, config.schema, config.volume
            ),
            volume_dir,
            read_files,
            retention_check: config.retention_check,
        })
    }

    fn ctx(&self) -> ExecContext<'_> {
        ExecContext {
            dialect: &self.dialect,
            backend: self.backend.as_ref(),
        }
    }

    /// Runs one statement of a request.
    pub(crate) async fn execute(
        &self,
        sql: &str,
        parameters: &[Parameter],
        catalog: Option<&str>,
        schema: Option<&str>,
    ) -> Result<Output, SqlError> {
        if let Some(catalog) = catalog.filter(|c| !c.eq_ignore_ascii_case(&self.catalog)) {
            return Err(SqlError::class(
                "NO_SUCH_CATALOG_EXCEPTION",
                "42704",
                format!("Catalog '{catalog}' was not found."),
            ));
        }
        if let Some(schema) = schema.filter(|s| !s.eq_ignore_ascii_case(&self.schema)) {
            return Err(SqlError::class(
                "SCHEMA_NOT_FOUND",
                "42704",
                format!("The schema `{}`.`{schema}` cannot be found.", self.catalog),
            ));
        }
        let sql = params::single_statement(sql)?;
        let (sql, values) = params::bind(sql, parameters)?;
        let words = params::first_keywords(&sql, 2);
        let first = words.first().map(String::as_str).unwrap_or("");
        match first {
            "SELECT" | "WITH" | "VALUES" | "FROM" => self.query(&sql, values).await,
            "INSERT" | "MERGE" | "DELETE" | "UPDATE" => dml::execute(self, &sql, values).await,
            "CREATE" | "ALTER" | "DROP" => self.ddl(&sql, &values).await,
            "OPTIMIZE" | "VACUUM" | "DESCRIBE" | "DESC" => {
                maintain::execute(self, &sql, &values).await
            }
            "USE" | "SET" | "SHOW" => Err(SqlError::unsupported(format!("`{first}`"))),
            "" => Err(SqlError::syntax("Syntax error at or near end of input.")),
            other => Err(SqlError::syntax(format!(
                "Syntax error at or near '{other}'."
            ))),
        }
    }

    /// `sql` (its `read_files` and `parquet.` relations rewritten) run on the engine with
    /// positional `values`. The plan keeps the relations it registered.
    async fn engine_query(&self, sql: &str, values: Vec<Param>) -> Result<QueryResult, SqlError> {
        let (sql, _registered) = relations::rewrite_sql(self, sql).await?;
        self.driver
            .query(
                Statement {
                    sql,
                    params: values,
                },
                self.ctx(),
            )
            .await
            .map_err(engine_error)
    }

    /// A query, streamed from the engine.
    async fn query(&self, sql: &str, values: Vec<Param>) -> Result<Output, SqlError> {
        let result = self.engine_query(sql, values).await?;
        Ok(Output {
            schema: result.schema,
            batches: result.batches.map(|b| b.map_err(engine_error)).boxed(),
        })
    }

    /// A query's DataFrame (for a write's source): `sql` is part of a statement numbered by
    /// [`params::number`], `values` all of the statement's values.
    async fn dataframe(
        &self,
        sql: String,
        values: &[Param],
    ) -> Result<datafusion::prelude::DataFrame, SqlError> {
        let (sql, values) = params::positional(&sql, values)?;
        self.engine_query(&sql, values)
            .await?
            .native
            .and_then(|n| n.downcast::<datafusion::prelude::DataFrame>().ok())
            .map(|df| *df)
            .ok_or_else(|| {
                SqlError::internal("the embedded engine gave no DataFrame for a write's source")
            })
    }

    /// Table DDL on the engine.
    async fn ddl(&self, sql: &str, values: &[Param]) -> Result<Output, SqlError> {
        if !values.is_empty() {
            return Err(SqlError::class(
                "UNSUPPORTED_FEATURE",
                "0A000",
                "Parameter markers are not allowed in DDL statements.",
            ));
        }
        let words = params::first_keywords(sql, 2);
        if words.get(1).map(String::as_str) != Some("TABLE")
            && !(words.first().map(String::as_str) == Some("CREATE")
                && matches!(words.get(1).map(String::as_str), Some("OR")))
        {
            return Err(SqlError::unsupported(format!("`{}`", words.join(" "))));
        }
        self.check_ddl_name(sql)?;
        self.driver
            .execute(ExecutionPlan::Exec(Statement::new(sql)), self.ctx())
            .await
            .map_err(engine_error)?;
        Ok(Output::empty())
    }

    /// Refuses DDL on a table of another catalog or schema (the engine addresses tables by
    /// their last name part).
    fn check_ddl_name(&self, sql: &str) -> Result<(), SqlError> {
        let Ok(tokens) = params::tokens(sql) else {
            return Ok(());
        };
        let words: Vec<&sqlparser::tokenizer::Token> = tokens
            .iter()
            .map(|(_, t)| t)
            .filter(|t| !params::is_space(t))
            .collect();
        // The name follows TABLE and an optional IF [NOT] EXISTS.
        let Some(start) = words.iter().position(|t| matches!(t, sqlparser::tokenizer::Token::Word(w) if w.value.eq_ignore_ascii_case("TABLE"))) else {
            return Ok(());
        };
        let mut i = start + 1;
        while let Some(sqlparser::tokenizer::Token::Word(w)) = words.get(i) {
            if w.quote_style.is_none()
                && ["IF", "NOT", "EXISTS"]
                    .iter()
                    .any(|k| w.value.eq_ignore_ascii_case(k))
            {
                i += 1;
            } else {
                break;
            }
        }
        let mut parts = Vec::new();
        while let Some(sqlparser::tokenizer::Token::Word(w)) = words.get(i) {
            parts.push(sqlparser::ast::Ident {
                value: w.value.clone(),
                quote_style: w.quote_style,
                span: sqlparser::tokenizer::Span::empty(),
            });
            if matches!(words.get(i + 1), Some(sqlparser::tokenizer::Token::Period)) {
                i += 2;
            } else {
                break;
            }
        }
        if parts.is_empty() {
            return Ok(());
        }
        self.table_name(&ObjectName::from(parts)).map(|_| ())
    }

    /// The lake table an object name refers to: `t`, `schema.t` or `catalog.schema.t` with the
    /// configured names.
    pub(crate) fn table_name(&self, name: &ObjectName) -> Result<String, SqlError> {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|p| match p {
                ObjectNamePart::Identifier(ident) if ident.quote_style.is_none() => {
                    ident.value.to_ascii_lowercase()
                }
                ObjectNamePart::Identifier(ident) => ident.value.clone(),
                other => other.to_string(),
            })
            .collect();
        let ours = |got: &str, want: &str| got.eq_ignore_ascii_case(want);
        let ok = match parts.as_slice() {
            [_] => true,
            [schema, _] => ours(schema, &self.schema),
            [catalog, schema, _] => {
                (ours(catalog, &self.catalog) || ours(catalog, "lakeorm"))
                    && ours(schema, &self.schema)
            }
            _ => false,
        };
        match (ok, parts.last()) {
            (true, Some(table)) => Ok(table.clone()),
            _ => Err(SqlError::table_not_found(&name.to_string())),
        }
    }

    /// The local path of a volume path (`/Volumes/…` or `dbfs:/Volumes/…`).
    pub(crate) fn volume_file(&self, path: &str) -> Result<PathBuf, SqlError> {
        let path = path.strip_prefix("dbfs:").unwrap_or(path);
        let not_found = || {
            SqlError::class(
                "PATH_NOT_FOUND",
                "42K03",
                format!("Path does not exist: {path}."),
            )
        };
        let rest = path
            .strip_prefix(&self.volume_path)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .ok_or_else(not_found)?;
        let relative = PathBuf::from(rest.trim_start_matches('/'));
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(not_found());
        }
        let local = self.volume_dir.join(relative);
        if !local.exists() {
            return Err(not_found());
        }
        Ok(local)
    }
}

/// A lakeorm engine error as a Databricks error class.
pub(crate) fn engine_error(error: lakeorm_core::Error) -> SqlError {
    use lakeorm_core::Error;
    match &error {
        Error::TableNotFound { table, .. } => SqlError::table_not_found(table),
        Error::DuplicateKey { table, .. } => SqlError::class(
            "USER_RAISED_EXCEPTION",
            "P0001",
            format!("a row with the same key already exists in {table}"),
        ),
        _ => {
            let text = error.to_string();
            classify(&text)
        }
    }
}

/// Sorts an engine message into the error class Databricks would report.
pub(crate) fn classify(text: &str) -> SqlError {
    let lower = text.to_ascii_lowercase();
    if lower.contains("parsererror")
        || lower.contains("sql parser error")
        || lower.contains("expected:")
    {
        SqlError::syntax(text)
    } else if lower.contains("table '") && lower.contains("not found") {
        SqlError::class("TABLE_OR_VIEW_NOT_FOUND", "42P01", text)
    } else if lower.contains("no field named")
        || lower.contains("column") && lower.contains("not found")
    {
        SqlError::class("UNRESOLVED_COLUMN.WITH_SUGGESTION", "42703", text)
    } else if lower.contains("invalid function")
        || lower.contains("function") && lower.contains("not found")
    {
        SqlError::class("UNRESOLVED_ROUTINE", "42883", text)
    } else if lower.contains("cast") {
        SqlError::class("CAST_INVALID_INPUT", "22018", text)
    } else if lower.contains("not implemented") || lower.contains("unsupported") {
        SqlError::class("UNSUPPORTED_FEATURE", "0A000", text)
    } else {
        SqlError {
            error_code: "BAD_REQUEST".into(),
            message: text.to_owned(),
            sql_state: Some("42000".into()),
        }
    }
}

/// A DataFusion error of a statement.
pub(crate) fn datafusion_error(error: datafusion::error::DataFusionError) -> SqlError {
    classify(&error.to_string())
}

/// A delta-rs error of a write on `table`.
pub(crate) fn delta_error(table: &str, error: deltalake::DeltaTableError) -> SqlError {
    match error {
        deltalake::DeltaTableError::Transaction { .. }
        | deltalake::DeltaTableError::VersionAlreadyExists(_) => SqlError::class(
            "DELTA_CONCURRENT_APPEND",
            "2D521",
            format!(
                "ConcurrentAppendException: a concurrent transaction committed to `{table}`: {error}"
            ),
        ),
        other => classify(&format!("on `{table}`: {other}")),
    }
}
