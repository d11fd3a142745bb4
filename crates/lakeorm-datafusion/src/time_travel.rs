//! `FROM t VERSION AS OF n` and `FROM t TIMESTAMP AS OF ts` on the embedded engine.
//!
//! DataFusion parses these clauses (Databricks dialect) and then ignores them, reading the
//! current table: a silent wrong answer. So before planning, the engine finds every table
//! reference with a version clause, resolves the table's state at that version into a
//! provider of its own (registered under a one-off name in a private schema), and points the
//! reference at it. Queries without a clause are not touched.

use std::ops::ControlFlow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use lakeorm_core::{AsOf, Error, Param, Result};
use sqlparser::ast::{
    Expr, Ident, ObjectName, ObjectNamePart, TableAlias, TableFactor, TableVersion, Value,
    VisitMut, VisitorMut,
};
use sqlparser::dialect::DatabricksDialect;
use sqlparser::parser::Parser;

/// The schema of the engine's catalog holding the providers of past versions while a query is
/// planned.
pub(crate) const AS_OF_SCHEMA: &str = "__lakeorm_as_of";

/// One table reference read at a past version.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Travel {
    /// The one-off name the reference now points at (in [`AS_OF_SCHEMA`]).
    pub(crate) name: String,
    /// The table as the query named it (its last name part).
    pub(crate) table: String,
    pub(crate) at: AsOf,
}

/// `sql` with its time-travel references pointed at one-off names, and what each one reads;
/// `None` when the query has none. `params` are the statement's values (for `$n` in a clause).
pub(crate) fn rewrite(sql: &str, params: &[Param]) -> Result<Option<(String, Vec<Travel>)>> {
    if !has_word(sql, "of") {
        return Ok(None);
    }
    // What does not parse here is left for DataFusion to report.
    let Ok(mut statements) = Parser::parse_sql(&DatabricksDialect {}, sql) else {
        return Ok(None);
    };
    let mut visitor = Rewriter {
        params,
        travels: Vec::new(),
    };
    if let ControlFlow::Break(error) = statements.visit(&mut visitor) {
        return Err(error);
    }
    if visitor.travels.is_empty() {
        return Ok(None);
    }
    let text = statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";\n");
    Ok(Some((text, visitor.travels)))
}

/// Whether `sql` holds `word` as a whole word, in any case: a cheap test before parsing, which
/// every query would otherwise pay. (`AS OF` may be split by any whitespace or a comment, so
/// the test is on `OF` alone, a word SQL rarely uses elsewhere.)
fn has_word(sql: &str, word: &str) -> bool {
    let bytes = sql.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    bytes.windows(word.len()).enumerate().any(|(i, w)| {
        w.eq_ignore_ascii_case(word.as_bytes())
            && (i == 0 || !is_ident(bytes[i - 1]))
            && bytes.get(i + word.len()).is_none_or(|b| !is_ident(*b))
    })
}

struct Rewriter<'a> {
    params: &'a [Param],
    travels: Vec<Travel>,
}

impl VisitorMut for Rewriter<'_> {
    type Break = Error;

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<Error> {
        let TableFactor::Table {
            name,
            alias,
            version,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let Some(clause) = version.take() else {
            return ControlFlow::Continue(());
        };
        let at = match self.at(&clause) {
            Ok(at) => at,
            Err(e) => return ControlFlow::Break(e),
        };
        let Some(table) = name.0.last().and_then(ObjectNamePart::as_ident).cloned() else {
            return ControlFlow::Break(Error::sql(format!("`{name}` is not a table name")));
        };
        let one_off = format!("t{}", uuid::Uuid::new_v4().simple());
        // Column references qualified by the table's name keep working.
        if alias.is_none() {
            *alias = Some(TableAlias {
                explicit: true,
                name: table.clone(),
                columns: Vec::new(),
            });
        }
        *name = ObjectName::from(vec![Ident::new(AS_OF_SCHEMA), Ident::new(&one_off)]);
        self.travels.push(Travel {
            name: one_off,
            table: table.value,
            at,
        });
        ControlFlow::Continue(())
    }
}

impl Rewriter<'_> {
    fn at(&self, clause: &TableVersion) -> Result<AsOf> {
        match clause {
            TableVersion::VersionAsOf(expr) => match self.value(expr)? {
                Literal::Int(version) => Ok(AsOf::Version(version)),
                other => Err(Error::sql(format!(
                    "VERSION AS OF takes an integer version, not {other:?}"
                ))),
            },
            TableVersion::TimestampAsOf(expr) | TableVersion::ForSystemTimeAsOf(expr) => {
                match self.value(expr)? {
                    Literal::Timestamp(at) => Ok(AsOf::Timestamp(at)),
                    Literal::Text(text) => parse_instant(&text).map(AsOf::Timestamp),
                    other => Err(Error::sql(format!(
                        "TIMESTAMP AS OF takes a timestamp, not {other:?}"
                    ))),
                }
            }
            TableVersion::Function(expr) => Err(Error::sql(format!(
                "the time-travel clause `{expr}` is not supported; use VERSION AS OF or TIMESTAMP AS OF"
            ))),
        }
    }

    fn value(&self, expr: &Expr) -> Result<Literal> {
        let unsupported = || {
            Error::sql(format!(
                "a time-travel clause takes a literal or a bound parameter, not `{expr}`"
            ))
        };
        let value = match expr {
            Expr::Value(v) => &v.value,
            Expr::TypedString(typed) => &typed.value.value,
            _ => return Err(unsupported()),
        };
        match value {
            Value::Number(n, _) => n.parse().map(Literal::Int).map_err(|_| unsupported()),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Ok(Literal::Text(s.clone()))
            }
            Value::Placeholder(p) => {
                let index = p
                    .strip_prefix('$')
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| i.checked_sub(1))
                    .ok_or_else(unsupported)?;
                match self.params.get(index) {
                    Some(Param::Int(v)) => Ok(Literal::Int(*v)),
                    Some(Param::Timestamp(t)) => Ok(Literal::Timestamp(*t)),
                    Some(Param::TimestampNtz(t)) => Ok(Literal::Timestamp(t.and_utc())),
                    Some(Param::String(s)) => Ok(Literal::Text(s.clone())),
                    Some(other) => Err(Error::sql(format!(
                        "a time-travel parameter must be an integer or a timestamp, not {other:?}"
                    ))),
                    None => Err(Error::sql(format!("no value bound for `{p}`"))),
                }
            }
            _ => Err(unsupported()),
        }
    }
}

#[derive(Debug)]
enum Literal {
    Int(i64),
    Text(String),
    Timestamp(DateTime<Utc>),
}

/// An instant written as RFC 3339, or as a date and time (or a date) taken as UTC.
fn parse_instant(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(at.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(Error::sql(format!(
        "`{text}` is not a timestamp (expected RFC 3339)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_without_a_clause_are_untouched() {
        assert_eq!(
            rewrite("SELECT * FROM t WHERE x = 'AS OF'", &[]).unwrap(),
            None
        );
        assert_eq!(rewrite("SELECT 1", &[]).unwrap(), None);
    }

    #[test]
    fn clauses_split_over_lines_are_found() {
        let (_, travels) = rewrite("SELECT * FROM t VERSION AS\n  of 2", &[])
            .unwrap()
            .expect("a time-travel clause");
        assert_eq!(travels[0].at, AsOf::Version(2));
        assert!(!has_word("SELECT offset, profile FROM t", "of"));
    }

    #[test]
    fn versions_and_instants_are_resolved() {
        let (sql, travels) = rewrite(
            "SELECT a.id FROM users VERSION AS OF 3 a JOIN orders TIMESTAMP AS OF $1 ON a.id = orders.id",
            &[Param::String("2026-01-02 03:04:05".into())],
        )
        .unwrap()
        .unwrap();
        assert_eq!(travels.len(), 2);
        assert_eq!(
            (travels[0].table.as_str(), travels[0].at),
            ("users", AsOf::Version(3))
        );
        assert_eq!(travels[1].table, "orders");
        assert_eq!(
            travels[1].at,
            AsOf::Timestamp("2026-01-02T03:04:05Z".parse().unwrap())
        );
        assert!(!sql.contains("AS OF"), "{sql}");
        assert!(
            sql.contains(&format!("{AS_OF_SCHEMA}.{} a ", travels[0].name)),
            "{sql}"
        );
        assert!(
            sql.contains(&format!("{} AS orders", travels[1].name)),
            "{sql}"
        );
    }

    #[test]
    fn bad_clauses_are_sql_errors() {
        assert!(matches!(
            rewrite(
                "SELECT * FROM t VERSION AS OF $1",
                &[Param::String("x".into())]
            ),
            Err(Error::Sql { .. })
        ));
        assert!(matches!(
            rewrite("SELECT * FROM t VERSION AS OF $2", &[Param::Int(1)]),
            Err(Error::Sql { .. })
        ));
        assert!(matches!(
            rewrite("SELECT * FROM t TIMESTAMP AS OF 'not a time'", &[]),
            Err(Error::Sql { .. })
        ));
    }
}
