//! Project automation for lakeorm: `cargo xtask <command>`.
//!
//! - `ci`: everything a submission must pass — formatting, clippy with warnings denied, every
//!   test (unit, integration, compile-fail, doc tests), warning-free rustdoc and the one-arrow
//!   rule.
//! - `bench`: the benchmarks, with their results printed as ratios against the peers measured in
//!   the same run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod bench;

#[derive(Parser)]
#[command(name = "xtask", about = "lakeorm project automation")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run every check CI runs.
    Ci {
        /// Skip formatting and clippy (for a quick test-only run).
        #[arg(long)]
        tests_only: bool,
    },
    /// Run the benchmarks and print ratios against their peers.
    Bench {
        /// Only this benchmark (`projection`, `client`) or the groups whose name contains this.
        filter: Option<String>,
        /// Arguments for criterion, after `--` (e.g. `-- --measurement-time 15`).
        #[arg(last = true)]
        criterion: Vec<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    match cli.command {
        Task::Ci { tests_only } => ci(&root, tests_only),
        Task::Bench { filter, criterion } => bench::run(&root, filter.as_deref(), &criterion),
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask lives one level below the workspace root")
}

/// Runs `cargo <args>` in the workspace root, failing on a non-zero exit.
pub(crate) fn cargo(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("\n==> cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn has_nextest() -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn ci(root: &Path, tests_only: bool) -> Result<()> {
    if !tests_only {
        cargo(root, &["fmt", "--all", "--check"], &[])?;
        cargo(
            root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )?;
    }
    if has_nextest() {
        cargo(
            root,
            &[
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
            ],
            &[],
        )?;
    } else {
        cargo(
            root,
            &[
                "test",
                "--workspace",
                "--locked",
                "--no-fail-fast",
                "--lib",
                "--bins",
                "--tests",
            ],
            &[],
        )?;
    }
    cargo(root, &["test", "--workspace", "--locked", "--doc"], &[])?;
    if !tests_only {
        cargo(
            root,
            &["doc", "--workspace", "--no-deps", "--locked"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )?;
        one_arrow(root)?;
    }
    eprintln!("\nxtask ci: all checks passed");
    Ok(())
}

/// Fails if the lockfile holds two versions of a crate that must be shared across the
/// workspace (two arrows cannot exchange a `RecordBatch`).
fn one_arrow(root: &Path) -> Result<()> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut duplicated = Vec::new();
    for name in [
        "arrow-array",
        "arrow-schema",
        "parquet",
        "datafusion",
        "object_store",
    ] {
        let needle = format!("name = \"{name}\"\n");
        let count = lock.matches(&needle).count();
        if count > 1 {
            duplicated.push(format!("{name} ({count} versions)"));
        }
    }
    if !duplicated.is_empty() {
        bail!(
            "Cargo.lock holds more than one version of: {}; align them on one version",
            duplicated.join(", ")
        );
    }
    eprintln!("==> one version each of arrow, parquet, datafusion and object_store");
    Ok(())
}
