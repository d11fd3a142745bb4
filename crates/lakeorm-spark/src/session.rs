//! The escape hatch: a pooled session lent for native Spark DataFrame work.

// The official client's `SparkError` is large (the client itself allows this lint); it is
// classified into a lakeorm error as soon as it crosses back from the blocking thread.
#![allow(clippy::result_large_err)]

use std::fmt;

use lakeorm_core::{Error, QueryResult, Result, Statement};
use spark_connect::{DataFrame, SparkSession};

use crate::errors::{ENGINE, classify};
use crate::pool::Lease;
use crate::stream::stream_query;

/// A pooled Spark Connect session on loan, with the official client's
/// [`SparkSession`](spark_connect::SparkSession) attached to it.
///
/// The `SparkSession` API is synchronous (it blocks on its own runtime): call it from
/// [`with_spark`](Self::with_spark), which runs it on a blocking thread, never directly from
/// an async task. DataFrames built there are read typed with [`read`](Self::read) (and
/// lakeorm's `fetch_all` / `fetch_one` / `fetch_optional` / `fetch`). Dropping the lease
/// returns the session to the pool; temporary views created in it stay until the driver
/// closes.
pub struct SessionLease {
    lease: Lease,
    spark: SparkSession,
}

impl fmt::Debug for SessionLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLease")
            .field("session_id", &self.spark.session_id())
            .finish_non_exhaustive()
    }
}

impl SessionLease {
    pub(crate) async fn new(mut lease: Lease) -> Result<Self> {
        let spark = spark_session(&mut lease).await?;
        Ok(SessionLease { lease, spark })
    }

    /// The session (same server-side session as the lease: it sees the same temporary views
    /// and, on Sail, the same catalog). Its methods block: see [`with_spark`](Self::with_spark).
    pub fn spark(&self) -> &SparkSession {
        &self.spark
    }

    /// Runs `work` with the session on a blocking thread and returns its result.
    pub async fn with_spark<R, F>(&self, work: F) -> Result<R>
    where
        F: FnOnce(&SparkSession) -> spark_connect::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let spark = self.spark.clone();
        tokio::task::spawn_blocking(move || work(&spark))
            .await
            .map_err(|e| Error::engine(ENGINE, "native Spark work", false, e))?
            .map_err(|e| classify(e, "native Spark work"))
    }

    /// A DataFrame over `query` on this session. Building it sends nothing (Spark plans are
    /// lazy), so this is safe on an async task; run actions through [`read`](Self::read) or
    /// [`with_spark`](Self::with_spark).
    pub fn sql(&self, query: &str) -> Result<DataFrame> {
        self.spark
            .sql(query)
            .map_err(|e| classify(e, "planning a Spark DataFrame"))
    }

    /// Streams a DataFrame built on this session as Arrow batches, for lakeorm's typed
    /// decoders. The DataFrame is registered as a temporary view of the session and read
    /// through the same streaming path as every query.
    ///
    /// The result's native handle is `df` itself, so it can still be counted or used.
    pub async fn read(self, df: DataFrame) -> Result<QueryResult> {
        let view = format!("__lakeorm_df_{}", uuid::Uuid::new_v4().simple());
        let name = view.clone();
        let native = df.clone();
        self.with_spark(move |_| df.create_or_replace_temp_view(&name))
            .await?;
        let mut result = stream_query(
            self.lease,
            &Statement::new(format!("SELECT * FROM `{view}`")),
        )
        .await?;
        result.native = Some(Box::new(native));
        Ok(result)
    }
}

/// The official client's `SparkSession` on the lent session, opened on first use and kept
/// with the pooled session.
pub(crate) async fn spark_session(lease: &mut Lease) -> Result<SparkSession> {
    if let Some(spark) = &lease.session().spark {
        return Ok(spark.clone());
    }
    let mut url = lease.pool().url().clone();
    url.session_id = Some(lease.session().id().to_owned());
    let url = url.to_url();
    let spark =
        tokio::task::spawn_blocking(move || SparkSession::builder().remote(&url).get_or_create())
            .await
            .map_err(|e| Error::engine(ENGINE, "opening a Spark session", false, e))?
            .map_err(|e| classify(e, "opening a Spark session"))?;
    lease.session_mut().spark = Some(spark.clone());
    Ok(spark)
}

/// The official client's `DataFrame` of `statement` on the lent session (parameters written
/// as literals: the client's `sql` takes none). Building it sends nothing beyond opening the
/// session's `SparkSession` once.
pub(crate) async fn native_frame(lease: &mut Lease, statement: &Statement) -> Result<DataFrame> {
    let spark = spark_session(lease).await?;
    let sql = statement.inline()?;
    spark
        .sql(&sql)
        .map_err(|e| classify(e, "planning a Spark DataFrame"))
}

/// Counts `df`'s rows in its own session (the official client's `count`, off the async
/// executor).
pub async fn count_frame(df: &DataFrame) -> Result<u64> {
    let df = df.clone();
    let n = tokio::task::spawn_blocking(move || df.count())
        .await
        .map_err(|e| Error::engine(ENGINE, "counting a DataFrame", false, e))?
        .map_err(|e| classify(e, "counting a DataFrame"))?;
    u64::try_from(n)
        .map_err(|_| Error::data_invalid("Spark's count of a DataFrame", format!("{n} rows")))
}
