//! # lakeorm — the Rust ORM for data lakes
//!
//! Typed Rust structs are the schema contract. `#[derive(Lake)]` generates, at compile time, the
//! table schema, the validators, the Arrow projection and the row decoder. Records are validated
//! at the application boundary and written directly to the target Delta or Iceberg table; reads
//! are typed at the edge, one struct per query shape.
//!
//! ```
//! use lakeorm::{Lake, Row};
//!
//! #[derive(Lake, Debug, Clone, PartialEq)]
//! struct User {
//!     #[lake(pk)]
//!     id: i64,
//!     #[lake(validate = "email")]
//!     email: String,
//!     nickname: Option<String>,
//! }
//!
//! let users = vec![User { id: 1, email: "ada@example.com".into(), nickname: None }];
//! lakeorm::validate(&users)?;
//! let batch = User::to_record_batch(&users)?;
//! assert_eq!(batch.num_rows(), 1);
//! assert_eq!(User::from_record_batch(&batch)?, users);
//! # Ok::<(), lakeorm::Error>(())
//! ```
//!
//! A Client is composed of three seams: a [`Driver`] (how to connect and execute), a
//! [`Dialect`] (Delta or Iceberg semantics) and a [`Backend`] (where the bytes live).

mod client;
mod dataframe;
// The README's code blocks are doc tests: a README example that stops compiling or running is a
// failing test. Its Spark Connect block needs the `spark` feature, which `cargo xtask ci` enables.
#[cfg(all(doctest, feature = "spark"))]
#[doc = include_str!("../../../README.md")]
mod readme {}
mod idempotency;
#[cfg(feature = "embedded")]
mod local;
mod maintain;
mod metrics;
pub mod migrate;
mod options;
mod query;
mod query_builder;
pub mod raw;
#[cfg(feature = "spark")]
mod spark_session;
mod staging;
mod verify;

pub use arrow;
pub use client::{Client, WriteReport, open};
pub use dataframe::DataFrame;
pub use idempotency::IDEMPOTENCY_TABLE;
pub use lakeorm_backends::{CleanupReport, Compression, PartWriterOptions};
#[cfg(feature = "embedded")]
pub use local::{DEFAULT_LAKE_PATH, LAKE_PATH_ENV, LocalBuilder, local};
pub use maintain::Maintenance;
pub use migrate::{MigrateReport, MigrationState, MigrationStatus, Migrator};
pub use options::{ClientOptions, ConflictStrategy, InsertOptions, RetryPolicy, WritePath};
pub use query::Query;
pub use query_builder::{Order, QueryBuilder};
pub use raw::{MergeHandle, MergeOptions, RawInsert, RawReport};
pub use verify::{VerifyReport, verify};

pub use lakeorm_core::*;
pub use lakeorm_derive::{Lake, Row};

/// The storage backends ([`lakeorm_backends`]).
pub use lakeorm_backends as backends;

/// The embedded engine (DataFusion + delta-rs).
#[cfg(feature = "embedded")]
pub use lakeorm_datafusion as embedded;

/// The Delta Lake dialect.
#[cfg(feature = "delta")]
pub use lakeorm_delta as delta;

/// The Spark Connect driver.
#[cfg(feature = "spark")]
pub use lakeorm_spark as spark;

/// The Apache Iceberg dialect.
#[cfg(feature = "iceberg")]
pub use lakeorm_iceberg as iceberg;
