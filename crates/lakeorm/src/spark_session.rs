//! The Spark escape hatch on the Client: a pooled session for native DataFrame work, and
//! typed reads of what is built there.

use lakeorm_core::{Error, Result, Statement};
use lakeorm_spark::spark_connect::DataFrame as SparkDataFrame;
use lakeorm_spark::{SessionLease, SparkDriver};

use crate::client::Client;
use crate::dataframe::DataFrame;

impl Client {
    /// Lends one of the Spark Connect driver's pooled sessions (back to the pool on drop).
    ///
    /// Fails with [`Error::Unsupported`] when the Client runs on another engine.
    pub async fn session(&self) -> Result<SessionLease> {
        self.spark_driver()?.session().await
    }

    /// Reads a Spark DataFrame built on `session` through lakeorm's typed terminals
    /// ([`fetch_all`](DataFrame::fetch_all), [`fetch_one`](DataFrame::fetch_one),
    /// [`fetch_optional`](DataFrame::fetch_optional), [`fetch`](DataFrame::fetch)), streamed
    /// batch by batch.
    ///
    /// [`DataFrame::native`] is `df` itself, and [`DataFrame::count`] has Spark count it in
    /// its own session.
    pub async fn read_spark(&self, session: SessionLease, df: SparkDataFrame) -> Result<DataFrame> {
        let result = session.read(df).await?;
        Ok(DataFrame::new(
            self.clone(),
            Statement::new("-- a Spark DataFrame"),
            result,
        ))
    }

    fn spark_driver(&self) -> Result<&SparkDriver> {
        self.driver()
            .as_any()
            .downcast_ref::<SparkDriver>()
            .ok_or_else(|| {
                Error::unsupported(
                    "lending a Spark session",
                    self.driver().name(),
                    "only the Spark Connect driver has sessions",
                )
            })
    }
}
