//! Runnable examples of lakeorm; see the `[[example]]` entries in this package's manifest and run
//! them with `cargo run --example <name>`.
