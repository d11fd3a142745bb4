//! `cargo xtask bench`: runs the criterion benchmarks and reads their estimates back to print
//! each result as a ratio against the peers measured in the same run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// A comparison to report: in `group`, `subject` against each of `peers`.
struct Comparison {
    bench: &'static str,
    package: &'static str,
    group: &'static str,
    subject: &'static str,
    peers: &'static [&'static str],
}

const COMPARISONS: &[Comparison] = &[
    Comparison {
        bench: "client",
        package: "lakeorm",
        group: "client-insert",
        subject: "lakeorm",
        peers: &["delta-rs"],
    },
    Comparison {
        bench: "client",
        package: "lakeorm",
        group: "client-insert",
        subject: "lakeorm-staged",
        peers: &["delta-rs"],
    },
    Comparison {
        bench: "client",
        package: "lakeorm",
        group: "client-query",
        subject: "lakeorm",
        peers: &["datafusion"],
    },
    Comparison {
        bench: "projection",
        package: "lakeorm-core",
        group: "encode",
        subject: "lakeorm",
        peers: &["hand-written", "serde_arrow"],
    },
    Comparison {
        bench: "projection",
        package: "lakeorm-core",
        group: "decode",
        subject: "lakeorm",
        peers: &["hand-written", "serde_arrow"],
    },
];

fn target_dir(root: &Path) -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .context("cargo metadata")?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata has no target_directory")
}

/// The mean time per iteration, in nanoseconds, of one criterion benchmark.
fn mean_ns(target: &Path, group: &str, function: &str) -> Result<f64> {
    let path = target
        .join("criterion")
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    json["mean"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no mean in {}", path.display()))
}

pub(crate) fn run(root: &Path, filter: Option<&str>, criterion: &[String]) -> Result<()> {
    // A filter names a benchmark (`projection`, `client`) or a group (`encode`, `client-insert`).
    let selected: Vec<&Comparison> = COMPARISONS
        .iter()
        .filter(|c| filter.is_none_or(|f| c.bench == f || c.group.contains(f)))
        .collect();
    let mut benches: Vec<(&str, &str)> = selected.iter().map(|c| (c.package, c.bench)).collect();
    benches.dedup();
    for (package, bench) in benches {
        let mut args = vec!["bench", "--locked", "-p", package, "--bench", bench, "--"];
        args.extend(criterion.iter().map(String::as_str));
        crate::cargo(root, &args, &[])?;
    }
    let target = target_dir(root)?;
    println!("\nRatios (time per batch; lower is faster):");
    for c in selected {
        let subject = mean_ns(&target, c.group, c.subject)?;
        for peer in c.peers {
            let other = mean_ns(&target, c.group, peer)?;
            println!(
                "  {:<14} {} = {:>8.2} ms, {} = {:>8.2} ms  →  {} takes {:.2}× the time of {} ({:.2}× as fast)",
                c.group,
                c.subject,
                subject / 1e6,
                peer,
                other / 1e6,
                c.subject,
                subject / other,
                peer,
                other / subject
            );
        }
    }
    Ok(())
}
