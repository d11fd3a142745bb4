//! `DataFrame`: the untyped result of a query, consumed lazily, with typed exits.

use std::any::Any;
use std::fmt;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, SchemaRef};
use futures::{Stream, StreamExt, TryStreamExt};
use lakeorm_core::{BatchStream, Error, Param, QueryResult, Result, Row, Statement};

use crate::client::Client;

/// The result of a query: its schema up front, its batches streamed on demand.
///
/// Consume it once: [`collect`](Self::collect), [`stream`](Self::stream) or one of the typed
/// exits [`collect_as`](Self::collect_as), [`stream_as`](Self::stream_as),
/// [`first_as`](Self::first_as).
pub struct DataFrame {
    client: Client,
    statement: Statement,
    schema: SchemaRef,
    batches: BatchStream,
    native: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for DataFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataFrame")
            .field("sql", &self.statement.sql)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl DataFrame {
    pub(crate) fn new(client: Client, statement: Statement, result: QueryResult) -> Self {
        DataFrame {
            client,
            statement,
            schema: result.schema,
            batches: result.batches,
            native: result.native,
        }
    }

    /// The result's Arrow schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The engine's own handle on this query, e.g. `datafusion::dataframe::DataFrame` for the
    /// embedded engine: `df.native::<datafusion::dataframe::DataFrame>()`.
    pub fn native<N: Any>(&self) -> Option<&N> {
        self.native.as_ref().and_then(|n| n.downcast_ref::<N>())
    }

    /// Counts the result's rows (the engine counts; no rows are fetched).
    pub async fn count(&self) -> Result<u64> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM ({}) AS counted",
            self.statement.sql
        );
        let result = self
            .client
            .query_batches(Statement::with_params(sql, self.statement.params.clone()))
            .await?;
        let batches: Vec<RecordBatch> = result.batches.try_collect().await?;
        let counts = batches
            .first()
            .filter(|b| b.num_rows() == 1 && b.num_columns() == 1)
            .and_then(|b| b.column(0).as_primitive_opt::<Int64Type>())
            .filter(|c| !c.is_null(0))
            .ok_or_else(|| Error::Sql {
                message: "COUNT(*) did not return one BIGINT".into(),
            })?;
        u64::try_from(counts.value(0)).map_err(|_| Error::Sql {
            message: format!("the engine counted {} rows", counts.value(0)),
        })
    }

    /// All batches.
    pub async fn collect(self) -> Result<Vec<RecordBatch>> {
        self.batches.try_collect().await
    }

    /// The batches, one at a time.
    pub fn stream(self) -> BatchStream {
        self.batches
    }

    /// All rows, decoded into `T`.
    pub async fn collect_as<T: Row>(self) -> Result<Vec<T>> {
        let mut rows = Vec::new();
        let mut batches = self.batches;
        while let Some(batch) = batches.next().await {
            rows.extend(T::from_record_batch(&batch?)?);
        }
        Ok(rows)
    }

    /// The rows decoded into `T`, one batch in memory at a time.
    pub fn stream_as<T: Row>(self) -> impl Stream<Item = Result<T>> + Send {
        decode_stream(self.batches)
    }

    /// The first row decoded into `T`, or [`Error::NoRows`].
    pub async fn first_as<T: Row>(self) -> Result<T> {
        let mut rows = std::pin::pin!(self.stream_as::<T>());
        rows.next().await.unwrap_or(Err(Error::NoRows))
    }

    /// The parameters bound to the query.
    pub fn params(&self) -> &[Param] {
        &self.statement.params
    }
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
