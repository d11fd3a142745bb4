//! The Spark Connect driver of lakeorm: Apache Spark 4, Databricks Connect and Sail.
//!
//! [`SparkDriver`] implements lakeorm's `Driver` over the official `apache-spark-connect`
//! client: plans run as the Dialect's Spark SQL with `?` parameters bound as positional
//! arguments, results stream back as Arrow batches, and in-memory rows travel inside the plan
//! as a `LocalRelation` (chunked by bytes, see [`DEFAULT_MAX_REQUEST_BYTES`]). Large writes go
//! through staged Parquet instead, which the Client chooses by size.
//!
//! ```no_run
//! # async fn demo() -> lakeorm_core::Result<()> {
//! use lakeorm_spark::{SparkDriver, SparkServer};
//!
//! let driver = SparkDriver::builder("sc://127.0.0.1:15002/")?
//!     .server(SparkServer::Sail)
//!     .pool_size(4)
//!     .build();
//! # Ok(()) }
//! ```
//!
//! A server that is still starting (Databricks `PENDING`) fails calls with the retryable
//! `Error::ClusterNotReady`; an unreachable one with a retryable `Error::Engine` after the
//! configured retries.

mod builder;
mod commands;
mod commits;
pub mod connection;
mod driver;
mod errors;
mod exec_sql;
mod ingest;
mod params;
mod parquet;
mod pool;
mod server;
mod session;
mod stats;
mod stream;
mod witness;

pub use builder::{DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_POOL_SIZE, SparkDriverBuilder};
pub use connection::ConnectionString;
pub use driver::SparkDriver;
pub use ingest::DEFAULT_MAX_REQUEST_BYTES;
pub use parquet::ParquetDialect;
pub use pool::PoolStats;
pub use server::SparkServer;
pub use session::{SessionLease, count_frame};
/// The official client, for native DataFrame work through [`SessionLease`].
pub use spark_connect;
