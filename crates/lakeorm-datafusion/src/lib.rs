//! The embedded, in-process engine of lakeorm: DataFusion for SQL and delta-rs for Delta tables,
//! with no server to run.
//!
//! [`EmbeddedDriver`] implements lakeorm's `Driver`: it executes every plan natively on Delta
//! tables (appends, merges for upserts, updates and key deletes, predicate deletes, compaction,
//! vacuum, statistics) and answers SQL through DataFusion, with tables visible by name. The `?`
//! placeholders of lakeorm's query API are rewritten to DataFusion's `$n` on SQL tokens
//! ([`lakeorm_core::placeholders`]), so values are always bound, never spliced.
//!
//! Writes of the staged path (Parquet parts the client uploaded under `_staging/<ingest_id>/`)
//! are read back through the engine's own object store before the commit, and every write
//! records its ingest id in the Delta commit log, which is how a retried idempotent insert
//! knows whether its first attempt committed. Lakes on S3 or GCS work like local ones: the
//! engine commits through the Backend's store with conditional puts.
//!
//! A Delta table partitioned by a transform is partitioned by a generated column, which
//! delta-rs computes on every write; filters on the source column are turned into partition
//! filters on the generated one, so they prune partitions (`pruning.rs`).
//!
//! SQL is parsed with DataFusion's Databricks dialect, so Spark SQL such as backtick identifiers
//! runs unchanged. What differs from Spark: `MERGE`, `UPDATE` and `DELETE` statements are not
//! available as SQL (use the Client's `upsert`, `update` and `delete`), and functions DataFusion
//! lacks fail at planning time with the function named.

mod alter;
mod catalog;
mod ddl;
mod delta;
mod driver;
mod errors;
mod iceberg;
mod layout;
mod logstores;
mod params;
pub mod placeholders;
mod pruning;
mod source;
mod table_ops;
mod time_travel;

/// Rows per Parquet row group in the files lakeorm writes.
///
/// A reader holds the row group it is decoding (every projected column chunk of it), one per
/// partition it scans in parallel; at Parquet's default of 1,048,576 rows that is most of a
/// million-row file per partition, so a stream over a large table held several times what one
/// over a small table did. At 128 Ki rows the held memory is bounded and small whatever the
/// table's size, and row-group statistics prune eight times finer, for the price of a few
/// more footer entries.
pub(crate) const ROW_GROUP_ROWS: usize = 128 * 1024;

pub use driver::EmbeddedDriver;

/// The DataFusion version the engine runs on, for users who reach its native handles.
pub use datafusion;
