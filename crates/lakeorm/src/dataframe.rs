//! `DataFrame`: the untyped result of a query, consumed lazily, with typed exits.

use std::any::Any;
use std::fmt;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, SchemaRef};
use futures::{Stream, TryStreamExt};
use lakeorm_core::{BatchStream, Error, Param, QueryResult, Result, Row, Statement};

use crate::client::Client;
use crate::query::{collect_rows, decode_stream, first_row};

/// The result of a query: its schema up front, its batches streamed on demand.
///
/// Consume it once: as Arrow with [`collect`](Self::collect) or [`stream`](Self::stream), or
/// decoded into a row type with the same terminals as [`Query`](crate::Query):
/// [`fetch_all`](Self::fetch_all), [`fetch_one`](Self::fetch_one),
/// [`fetch_optional`](Self::fetch_optional), [`fetch`](Self::fetch).
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

impl Client {
    /// The untyped, lazily consumed result of a query: `db.dataframe("SELECT …")`, or with
    /// parameters `db.dataframe(Statement::new("SELECT … WHERE id = ?").bind(7))`.
    ///
    /// On the Spark Connect driver, [`native`](DataFrame::native) is the official client's
    /// `spark_connect::DataFrame` of the same query.
    pub async fn dataframe(&self, statement: impl Into<Statement>) -> Result<DataFrame> {
        let statement = statement.into();
        #[allow(unused_mut)]
        let mut result = self.query_statement(statement.clone()).await?;
        #[cfg(feature = "spark")]
        if result.native.is_none()
            && let Some(spark) = self
                .driver()
                .as_any()
                .downcast_ref::<lakeorm_spark::SparkDriver>()
        {
            result.native = Some(Box::new(spark.native_frame(&statement).await?));
        }
        Ok(DataFrame::new(self.clone(), statement, result))
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
        // A Spark DataFrame read with `read_spark` lives in its session: Spark counts it there.
        #[cfg(feature = "spark")]
        if let Some(df) = self.native::<lakeorm_spark::spark_connect::DataFrame>() {
            return lakeorm_spark::count_frame(df).await;
        }
        let sql = format!(
            "SELECT COUNT(*) AS n FROM ({}) AS counted",
            self.statement.sql
        );
        let result = self
            .client
            .query_statement(Statement {
                sql,
                params: self.statement.params.clone(),
            })
            .await?;
        let batches: Vec<RecordBatch> = result.batches.try_collect().await?;
        let counts = batches
            .first()
            .filter(|b| b.num_rows() == 1 && b.num_columns() == 1)
            .and_then(|b| b.column(0).as_primitive_opt::<Int64Type>())
            .filter(|c| !c.is_null(0))
            .ok_or_else(|| {
                Error::data_invalid("the engine's answer to COUNT(*)", "not one BIGINT")
            })?;
        u64::try_from(counts.value(0)).map_err(|_| {
            Error::data_invalid(
                "the engine's answer to COUNT(*)",
                format!("{} rows", counts.value(0)),
            )
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

    /// Every row, decoded into `T`.
    pub async fn fetch_all<T: Row>(self) -> Result<Vec<T>> {
        collect_rows(self.batches).await
    }

    /// The first row decoded into `T`, or [`Error::NoRows`].
    pub async fn fetch_one<T: Row>(self) -> Result<T> {
        self.fetch_optional().await?.ok_or(Error::NoRows)
    }

    /// The first row decoded into `T`, if any.
    pub async fn fetch_optional<T: Row>(self) -> Result<Option<T>> {
        first_row(self.batches).await
    }

    /// The rows decoded into `T`, one batch in memory at a time.
    pub fn fetch<T: Row>(self) -> impl Stream<Item = Result<T>> + Send {
        decode_stream(self.batches)
    }

    /// The parameters bound to the query.
    pub fn params(&self) -> &[Param] {
        &self.statement.params
    }
}
