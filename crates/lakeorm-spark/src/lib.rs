//! The Spark Connect driver of lakeorm: Apache Spark 4, Databricks Connect and Sail.
//!
//! This crate currently holds the connection layer: [`ConnectionString`] parses the standard
//! `sc://host:port/;key=value` form that every Spark Connect client accepts, and
//! [`ConnectionString::databricks`] builds one for a Databricks cluster (from arguments or the
//! `DATABRICKS_*` environment variables) with the headers Databricks requires. The `Driver`
//! implementation over the official `apache-spark-connect` client is built on top of it.

pub mod connection;

pub use connection::ConnectionString;
