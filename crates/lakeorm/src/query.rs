//! `Query<T>`: SQL with `?` parameters, decoded into `T` at the edge.

use std::marker::PhantomData;

use futures::{Stream, StreamExt};
use lakeorm_core::{BatchStream, Error, Param, Result, Row, Statement};

use crate::client::Client;

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
        Query::from_statement(Statement::new(sql))
    }

    pub(crate) fn from_statement(statement: Statement) -> Self {
        Query {
            statement,
            _row: PhantomData,
        }
    }

    /// Binds the next `?` (values are sent as typed parameters, never spliced into the SQL).
    #[must_use]
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.statement = self.statement.bind(value);
        self
    }

    /// The statement as it will be sent.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// Every row.
    pub async fn fetch_all(self, client: &Client) -> Result<Vec<T>> {
        let result = client.query_statement(self.statement).await?;
        collect_rows(result.batches).await
    }

    /// The first row, or [`Error::NoRows`].
    pub async fn fetch_one(self, client: &Client) -> Result<T> {
        self.fetch_optional(client).await?.ok_or(Error::NoRows)
    }

    /// The first row, if any.
    pub async fn fetch_optional(self, client: &Client) -> Result<Option<T>> {
        let result = client.query_statement(self.statement).await?;
        first_row(result.batches).await
    }

    /// The rows as a stream that holds one batch in memory at a time.
    pub fn fetch(self, client: &Client) -> impl Stream<Item = Result<T>> + Send + use<T> {
        let client = client.clone();
        futures::stream::once(async move { client.query_statement(self.statement).await }).flat_map(
            |result| match result {
                Ok(result) => decode_stream::<T>(result.batches).boxed(),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            },
        )
    }
}

/// Every row of `batches`, decoded into `T`.
pub(crate) async fn collect_rows<T: Row>(mut batches: BatchStream) -> Result<Vec<T>> {
    let mut rows = Vec::new();
    while let Some(batch) = batches.next().await {
        rows.extend(T::from_record_batch(&batch?)?);
    }
    Ok(rows)
}

/// The first row of `batches`, if any; the rest is not read.
pub(crate) async fn first_row<T: Row>(batches: BatchStream) -> Result<Option<T>> {
    let mut rows = std::pin::pin!(decode_stream::<T>(batches));
    rows.next().await.transpose()
}

/// Decodes a stream of batches into a stream of rows, batch by batch.
pub(crate) fn decode_stream<T: Row>(batches: BatchStream) -> impl Stream<Item = Result<T>> + Send {
    batches.flat_map(|batch| {
        let rows: Vec<Result<T>> = match batch.and_then(|b| T::from_record_batch(&b)) {
            Ok(rows) => rows.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(rows)
    })
}
