//! Integration tests of the facade on the embedded engine: the derive, the projection, the
//! decoder, validation and strict JSON; the Client on real Delta tables (writes, reads, partition
//! transforms, staging, migrations).

mod bad_input;
mod client;
mod decode;
mod exactly_once;
mod faults;
mod iceberg;
mod json;
mod layout;
mod load;
mod migrate;
mod models;
mod partitions;
mod reliability;
mod roundtrip;
mod schema;
mod staging;
mod validation;
mod workload;
