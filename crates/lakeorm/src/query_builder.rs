//! A builder for queries whose shape is only known at run time, started from a model.

use std::marker::PhantomData;

use futures::Stream;
use lakeorm_core::{AsOf, Lake, Param, Result, Row, Statement};

use crate::client::Client;
use crate::dataframe::DataFrame;
use crate::query::Query;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// A query of one model's table, built at run time and decoded into `T`:
///
/// ```no_run
/// # use lakeorm::{Lake, Order, Row, Statement};
/// # #[derive(Lake, Debug)]
/// # struct User { #[lake(pk)] id: i64, email: String, country: String, age: i32 }
/// #[derive(Row, Debug)]
/// struct Email { email: String }
///
/// # async fn demo(db: &lakeorm::Client) -> lakeorm::Result<()> {
/// let newest: Vec<User> = db
///     .query::<User>()
///     .filter(Statement::new("country = ? AND age > ?").bind("GB").bind(17))
///     .order_by("id", Order::Desc)
///     .limit(10)
///     .fetch_all()
///     .await?;
/// let emails: Vec<Email> = db.query::<User>().select_as::<Email>().fetch_all().await?;
/// # Ok(()) }
/// ```
///
/// Identifiers are quoted by the dialect; filter values are bound, never spliced.
#[derive(Debug, Clone)]
pub struct QueryBuilder<T> {
    client: Client,
    table: String,
    as_of: Option<AsOf>,
    columns: Vec<String>,
    filter: Option<Statement>,
    order: Vec<(String, Order)>,
    limit: Option<u64>,
    offset: Option<u64>,
    _row: PhantomData<fn() -> T>,
}

impl Client {
    /// A query of `M`'s table, decoded into `M`; see [`QueryBuilder`].
    pub fn query<M: Lake>(&self) -> QueryBuilder<M> {
        QueryBuilder {
            client: self.clone(),
            table: M::schema().table().to_owned(),
            as_of: None,
            columns: Vec::new(),
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: None,
            _row: PhantomData,
        }
    }
}

impl<T: Row> QueryBuilder<T> {
    /// Reads only the columns of `R` and decodes rows into it: a projection typed by its
    /// struct.
    pub fn select_as<R: Row>(self) -> QueryBuilder<R> {
        QueryBuilder {
            client: self.client,
            table: self.table,
            as_of: self.as_of,
            columns: R::schema()
                .fields()
                .iter()
                .map(|f| f.column.clone())
                .collect(),
            filter: self.filter,
            order: self.order,
            limit: self.limit,
            offset: self.offset,
            _row: PhantomData,
        }
    }

    /// Reads the table as it was at a version or an instant (time travel): a version is a
    /// Delta commit version or an Iceberg snapshot id, as write reports and `stats` give them.
    ///
    /// ```no_run
    /// # use lakeorm::{AsOf, Lake};
    /// # #[derive(Lake, Debug)]
    /// # struct User { #[lake(pk)] id: i64, email: String }
    /// # async fn demo(db: &lakeorm::Client) -> lakeorm::Result<()> {
    /// let report = db.insert(&[User { id: 1, email: "a@example.com".into() }]).await?;
    /// let version = report.metrics.version.expect("the engine reports versions");
    /// let then: Vec<User> = db.query::<User>().as_of(AsOf::Version(version)).fetch_all().await?;
    /// # Ok(()) }
    /// ```
    pub fn as_of(mut self, as_of: AsOf) -> Self {
        self.as_of = Some(as_of);
        self
    }

    /// A SQL boolean expression, with its `?` parameters bound. Replaces an earlier filter.
    pub fn filter(mut self, predicate: impl Into<Statement>) -> Self {
        self.filter = Some(predicate.into());
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
    pub fn to_statement(&self) -> Statement {
        let dialect = self.client.dialect();
        let columns = if self.columns.is_empty() {
            "*".to_owned()
        } else {
            self.columns
                .iter()
                .map(|c| dialect.quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut sql = format!(
            "SELECT {columns} FROM {}",
            self.client.sql_table_name(&self.table)
        );
        let mut params = Vec::new();
        match self.as_of {
            Some(AsOf::Version(version)) => sql.push_str(&format!(" VERSION AS OF {version}")),
            Some(AsOf::Timestamp(at)) => {
                sql.push_str(" TIMESTAMP AS OF ?");
                params.push(Param::Timestamp(at));
            }
            None => {}
        }
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
        Statement { sql, params }
    }

    /// The builder as the typed query it describes, and the client to run it on.
    fn into_query(self) -> (Client, Query<T>) {
        let query = Query::from_statement(self.to_statement());
        (self.client, query)
    }

    /// Every row.
    pub async fn fetch_all(self) -> Result<Vec<T>> {
        let (client, query) = self.into_query();
        query.fetch_all(&client).await
    }

    /// The first row, or [`Error::NoRows`](crate::Error::NoRows).
    pub async fn fetch_one(self) -> Result<T> {
        let (client, query) = self.into_query();
        query.fetch_one(&client).await
    }

    /// The first row, if any.
    pub async fn fetch_optional(self) -> Result<Option<T>> {
        let (client, query) = self.into_query();
        query.fetch_optional(&client).await
    }

    /// The rows as a stream that holds one batch in memory at a time.
    pub fn fetch(self) -> impl Stream<Item = Result<T>> + Send + 'static {
        let (client, query) = self.into_query();
        query.fetch(&client)
    }

    /// The result untyped, as a [`DataFrame`].
    pub async fn dataframe(self) -> Result<DataFrame> {
        let statement = self.to_statement();
        self.client.dataframe(statement).await
    }
}
