//! The embedded, in-process engine of lakeorm: DataFusion for SQL, delta-rs for Delta tables and
//! iceberg-rust for Iceberg tables, with no server to run.
//!
//! This crate currently holds the engine's SQL front end: [`placeholders::bind_positional`], which
//! turns the `?` placeholders of lakeorm's query API into DataFusion's `$n` parameters with a real
//! SQL tokenizer, so that values are always bound and never spliced into SQL text. The `Driver`
//! implementation over DataFusion and delta-rs is built on top of it.

pub mod placeholders;
