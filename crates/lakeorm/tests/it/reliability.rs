//! What the fault, load and input tests count, for `docs/reliability.md`.
//!
//! A test that passes records its class, case, how many times it ran and what it counted
//! (rows lost, rows duplicated, panics, secrets found, …) as one JSON line in the file named
//! by `LAKEORM_RELIABILITY_OUT`; `cargo xtask ci` and `cargo xtask soak` set it and render the
//! lines into the report. Without it, recording does nothing. `LAKEORM_SOAK_FACTOR` scales the
//! iterations of the tests that loop (`soak` sets it).

use std::io::Write as _;

/// How many times longer than in `ci` the looping tests run.
pub(crate) fn factor() -> u64 {
    std::env::var("LAKEORM_SOAK_FACTOR")
        .ok()
        .and_then(|f| f.parse().ok())
        .filter(|f| *f >= 1)
        .unwrap_or(1)
}

/// Records one case: its `class` (fault, load, input, secrets), what it is, how many times
/// it ran, and its counts.
pub(crate) fn record(class: &str, case: &str, runs: u64, counts: &[(&str, u64)]) {
    let Some(path) = std::env::var_os("LAKEORM_RELIABILITY_OUT") else {
        return;
    };
    let counts: serde_json::Map<String, serde_json::Value> = counts
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).into()))
        .collect();
    let line = serde_json::json!({
        "class": class,
        "case": case,
        "runs": runs,
        "counts": counts,
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("the reliability record opens");
    // One write per line: appends of whole lines from parallel tests do not interleave.
    file.write_all(format!("{line}\n").as_bytes())
        .expect("the reliability record is written");
}

/// Rows missing and rows too many, from what a table should hold and what it holds.
pub(crate) fn lost_and_duplicated(expected: i64, actual: i64) -> [(&'static str, u64); 2] {
    [
        ("rows lost", (expected - actual).max(0) as u64),
        ("rows duplicated", (actual - expected).max(0) as u64),
    ]
}
