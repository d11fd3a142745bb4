//! `read_files('/Volumes/…', format => 'parquet')` and `` parquet.`/Volumes/…` ``: Parquet
//! files of the volume read as a relation.
//!
//! DataFusion has neither, so before a statement is planned every such reference is pointed at
//! a one-off name in a private schema of the engine's catalog, where the files (one file, or
//! every `.parquet` file of a directory) are registered for as long as the statement is
//! planned. Only Parquet is read; other formats and options are refused by name.

use std::ops::ControlFlow;
use std::path::PathBuf;

use datafusion::catalog::SchemaProvider as _;
use datafusion::prelude::ParquetReadOptions;
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator, Ident, ObjectName, ObjectNamePart,
    TableFactor, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::DatabricksDialect;
use sqlparser::parser::Parser;

use super::{Engine, READ_FILES_SCHEMA};
use crate::errors::SqlError;

/// One relation to register: its one-off name and its files.
struct Source {
    name: String,
    path: PathBuf,
}

/// Deregisters a statement's sources when dropped.
pub(crate) struct Registered<'a> {
    engine: &'a Engine,
    names: Vec<String>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = self.engine.read_files.deregister_table(name);
        }
    }
}

/// `sql` with its file relations pointed at registered sources (unchanged when it has none).
pub(crate) async fn rewrite_sql<'a>(
    engine: &'a Engine,
    sql: &str,
) -> Result<(String, Registered<'a>), SqlError> {
    let lower = sql.to_ascii_lowercase();
    if !lower.contains("read_files") && !lower.contains("parquet.") {
        return Ok((
            sql.to_owned(),
            Registered {
                engine,
                names: Vec::new(),
            },
        ));
    }
    let mut statements = Parser::parse_sql(&DatabricksDialect {}, sql)
        .map_err(|e| SqlError::syntax(e.to_string()))?;
    let mut visitor = Rewriter {
        engine,
        sources: Vec::new(),
    };
    if let ControlFlow::Break(e) = statements.visit(&mut visitor) {
        return Err(e);
    }
    let registered = register(engine, visitor.sources).await?;
    let text = statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";\n");
    Ok((text, registered))
}

async fn register(engine: &Engine, sources: Vec<Source>) -> Result<Registered<'_>, SqlError> {
    let mut registered = Registered {
        engine,
        names: Vec::new(),
    };
    for source in sources {
        let url = if source.path.is_dir() {
            url::Url::from_directory_path(&source.path)
        } else {
            url::Url::from_file_path(&source.path)
        }
        .map_err(|()| {
            SqlError::internal(format!(
                "`{}` is not an absolute path",
                source.path.display()
            ))
        })?;
        let df = engine
            .driver
            .session()
            .read_parquet(url.as_str(), ParquetReadOptions::default())
            .await
            .map_err(|e| {
                SqlError::class(
                    "FAILED_READ_FILE",
                    "KD001",
                    format!(
                        "Error while reading the Parquet files at {}: {e}",
                        source.path.display()
                    ),
                )
            })?;
        engine
            .read_files
            .register_table(source.name.clone(), df.into_view())
            .map_err(super::datafusion_error)?;
        registered.names.push(source.name);
    }
    Ok(registered)
}

struct Rewriter<'a> {
    engine: &'a Engine,
    sources: Vec<Source>,
}

fn literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

impl Rewriter<'_> {
    /// The path of `read_files(<path>, format => 'parquet')`.
    fn read_files_path(args: &[FunctionArg]) -> Result<String, SqlError> {
        let mut path = None;
        let mut format = None;
        for arg in args {
            match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) if path.is_none() => {
                    path = literal(e).map(str::to_owned);
                }
                FunctionArg::Named {
                    name,
                    arg: FunctionArgExpr::Expr(e),
                    operator: FunctionArgOperator::RightArrow | FunctionArgOperator::Assignment,
                } if name.value.eq_ignore_ascii_case("format") => {
                    format = literal(e).map(str::to_ascii_lowercase);
                }
                other => {
                    return Err(SqlError::unsupported(format!(
                        "The read_files argument `{other}`"
                    )));
                }
            }
        }
        match format.as_deref() {
            Some("parquet") => {}
            Some(other) => {
                return Err(SqlError::unsupported(format!(
                    "read_files with format => '{other}'"
                )));
            }
            None => {
                return Err(SqlError::unsupported(
                    "read_files without format => 'parquet' (schema inference of other formats)",
                ));
            }
        }
        path.ok_or_else(|| {
            SqlError::class(
                "REQUIRED_PARAMETER_NOT_FOUND",
                "4274K",
                "read_files needs the path of the files as its first argument.",
            )
        })
    }
}

impl VisitorMut for Rewriter<'_> {
    type Break = SqlError;

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<SqlError> {
        let TableFactor::Table {
            name, args, alias, ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let parts: Vec<&Ident> = name.0.iter().filter_map(ObjectNamePart::as_ident).collect();
        let path = match (parts.as_slice(), args.as_ref()) {
            ([f], Some(a)) if f.value.eq_ignore_ascii_case("read_files") => {
                match Self::read_files_path(&a.args) {
                    Ok(path) => path,
                    Err(e) => return ControlFlow::Break(e),
                }
            }
            ([format, path], None)
                if format.quote_style.is_none()
                    && format.value.eq_ignore_ascii_case("parquet")
                    && path.quote_style.is_some() =>
            {
                path.value.clone()
            }
            _ => return ControlFlow::Continue(()),
        };
        let local = match self.engine.volume_file(&path) {
            Ok(local) => local,
            Err(e) => return ControlFlow::Break(e),
        };
        let one_off = format!("f{}", uuid::Uuid::new_v4().simple());
        if alias.is_none() {
            *alias = Some(sqlparser::ast::TableAlias {
                explicit: true,
                name: Ident::new("read_files"),
                columns: Vec::new(),
            });
        }
        *name = ObjectName::from(vec![Ident::new(READ_FILES_SCHEMA), Ident::new(&one_off)]);
        *args = None;
        self.sources.push(Source {
            name: one_off,
            path: local,
        });
        ControlFlow::Continue(())
    }
}
