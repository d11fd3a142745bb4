//! A builder for queries whose shape is only known at run time.

use lakeorm_core::{Error, Param, QueryResult, Result, Row, Statement};

use crate::client::Client;
use crate::dataframe::DataFrame;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// `client.query().from("users").filter("country = ?", vec!["GB".into()]).order_by("created_at",
/// Order::Desc).limit(10)` — identifiers are quoted by the dialect; filter values are bound.
#[derive(Debug, Clone)]
pub struct QueryBuilder {
    client: Client,
    table: Option<String>,
    columns: Vec<String>,
    filter: Option<Statement>,
    order: Vec<(String, Order)>,
    limit: Option<u64>,
    offset: Option<u64>,
}

impl QueryBuilder {
    pub(crate) fn new(client: Client) -> Self {
        QueryBuilder {
            client,
            table: None,
            columns: Vec::new(),
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: None,
        }
    }

    /// The table to read.
    pub fn from(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }

    /// The columns to return (default: all). Replaces earlier selections.
    pub fn select<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// A SQL boolean expression with `?` parameters. Replaces an earlier filter.
    pub fn filter(mut self, predicate: impl Into<String>, params: Vec<Param>) -> Self {
        self.filter = Some(Statement::with_params(predicate, params));
        self
    }

    /// Adds a sort key.
    pub fn order_by(mut self, column: impl Into<String>, order: Order) -> Self {
        self.order.push((column.into(), order));
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// The statement the builder describes.
    pub fn to_statement(&self) -> Result<Statement> {
        let table = self.table.as_deref().ok_or_else(|| Error::Sql {
            message: "the query builder needs a table: call .from(\"table\")".into(),
        })?;
        let dialect = self.client.dialect();
        let quoted_table = self.client.sql_table_name(table);
        let columns = if self.columns.is_empty() {
            "*".to_owned()
        } else {
            self.columns
                .iter()
                .map(|c| dialect.quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut sql = format!("SELECT {columns} FROM {quoted_table}");
        let mut params = Vec::new();
        if let Some(filter) = &self.filter {
            sql.push_str(&format!(" WHERE {}", filter.sql));
            params.extend(filter.params.iter().cloned());
        }
        if !self.order.is_empty() {
            let keys: Vec<String> = self
                .order
                .iter()
                .map(|(c, o)| {
                    format!(
                        "{} {}",
                        dialect.quote_ident(c),
                        if *o == Order::Desc { "DESC" } else { "ASC" }
                    )
                })
                .collect();
            sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
        }
        if let Some(limit) = self.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        if let Some(offset) = self.offset {
            sql.push_str(&format!(" OFFSET {offset}"));
        }
        Ok(Statement::with_params(sql, params))
    }

    /// Runs the query and returns its batches.
    pub async fn batches(self) -> Result<QueryResult> {
        let statement = self.to_statement()?;
        self.client.query_batches(statement).await
    }

    /// Runs the query as a [`DataFrame`].
    pub async fn dataframe(self) -> Result<DataFrame> {
        let statement = self.to_statement()?;
        self.client
            .dataframe(&statement.sql, statement.params)
            .await
    }

    /// Runs the query and decodes every row into `T`.
    pub async fn collect_as<T: Row>(self) -> Result<Vec<T>> {
        self.dataframe().await?.collect_as().await
    }
}
