//! `Query<T>`: SQL with `?` parameters, decoded into `T` at the edge.

use std::marker::PhantomData;

use futures::{Stream, StreamExt};
use lakeorm_core::{Error, Param, Result, Row, Statement};

use crate::client::Client;
use crate::dataframe::decode_stream;

/// A typed query: one struct per query shape.
///
/// ```no_run
/// # use lakeorm::{Query, Row};
/// #[derive(Row, Debug)]
/// struct Adult { email: String, age: i32 }
///
/// # async fn demo(db: &lakeorm::Client) -> lakeorm::Result<()> {
/// let adults: Vec<Adult> = Query::<Adult>::sql("SELECT email, age FROM users WHERE country = ? AND age > ?")
///     .bind("GB")
///     .bind(17)
///     .fetch_all(db)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Query<T> {
    statement: Statement,
    _row: PhantomData<fn() -> T>,
}

impl<T: Row> Query<T> {
    /// A query from SQL text; bind one value per `?`, in order.
    pub fn sql(sql: impl Into<String>) -> Self {
        Query {
            statement: Statement::new(sql),
            _row: PhantomData,
        }
    }

    /// Binds the next `?` (values are sent as typed parameters, never spliced into the SQL).
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.statement.params.push(value.into());
        self
    }

    /// The statement as it will be sent.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// Every row.
    pub async fn fetch_all(self, client: &Client) -> Result<Vec<T>> {
        client
            .dataframe(&self.statement.sql, self.statement.params)
            .await?
            .collect_as()
            .await
    }

    /// The first row, or [`Error::NoRows`].
    pub async fn fetch_one(self, client: &Client) -> Result<T> {
        self.fetch_optional(client).await?.ok_or(Error::NoRows)
    }

    /// The first row, if any.
    pub async fn fetch_optional(self, client: &Client) -> Result<Option<T>> {
        let result = client.query_batches(self.statement).await?;
        let mut rows = std::pin::pin!(decode_stream::<T>(result.batches));
        rows.next().await.transpose()
    }

    /// The rows as a stream that holds one batch in memory at a time.
    pub fn fetch(self, client: &Client) -> impl Stream<Item = Result<T>> + Send + 'static {
        let client = client.clone();
        futures::stream::once(async move { client.query_batches(self.statement).await }).flat_map(
            |result| match result {
                Ok(result) => decode_stream::<T>(result.batches).boxed(),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            },
        )
    }
}
