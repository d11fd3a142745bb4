//! The end-to-end suite: the same scenarios on every engine that can run them — the embedded
//! engine, Sail (Delta and Iceberg) and Apache Spark (plain Parquet tables) — plus tables
//! written by one engine and read by another.
//!
//! The servers are started by `cargo xtask e2e` (and `cargo xtask ci`), which sets
//! `LAKEORM_TEST_SAIL_URL`, `LAKEORM_TEST_SPARK_URL` and `LAKEORM_TEST_SAIL_BIN`. Without them
//! the server scenarios are skipped with a note, unless `LAKEORM_TEST_E2E_REQUIRED` is set, in
//! which case a missing server fails the test.

mod databricks_connect;
mod engines;
mod exactly_once;
// The fault-injecting driver of the integration tests, here around a Spark Connect driver.
#[path = "../it/faults.rs"]
#[allow(dead_code)]
mod faults;
mod iceberg_interop;
mod interop;
mod load;
#[path = "../support/log.rs"]
mod log;
mod parity;
#[path = "../it/reliability.rs"]
#[allow(dead_code)]
mod reliability;
mod scenarios;
mod volume;
#[path = "../it/workload.rs"]
mod workload;
