//! Project automation for lakeorm: `cargo xtask <command>`.
//!
//! - `ci`: everything a submission must pass — formatting, clippy with warnings denied, every
//!   test (unit, integration, compile-fail, doc tests), warning-free rustdoc and the one-arrow
//!   rule. The tests run against two throwaway S3-compatible servers (moto's `moto_server`, see
//!   `servers.rs`) started on loopback for the test step and stopped after it.
//! - `with-s3 -- <command>...`: runs one command with those two servers up and the tests'
//!   `LAKEORM_TEST_S3_*` variables set, then stops them and exits with the command's status; for
//!   focused runs such as `cargo xtask with-s3 -- cargo nextest run -p lakeorm-backends`.
//! - `bench`: the benchmarks, with their results printed as ratios against the peers measured in
//!   the same run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod bench;
mod servers;

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
    /// Run a command with the tests' S3 servers up and `LAKEORM_TEST_S3_*` set.
    #[command(name = "with-s3")]
    WithS3 {
        /// The command and its arguments, after `--`
        /// (e.g. `-- cargo nextest run -p lakeorm-backends`).
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    match cli.command {
        Task::Ci { tests_only } => ci(&root, tests_only).map(|()| ExitCode::SUCCESS),
        Task::Bench { filter, criterion } => {
            bench::run(&root, filter.as_deref(), &criterion).map(|()| ExitCode::SUCCESS)
        }
        Task::WithS3 { command } => with_s3(&command),
    }
}

/// Runs `command` (inheriting stdio and the working directory) with the tests' S3 servers up,
/// stops them, and returns the command's exit status as the task's.
fn with_s3(command: &[String]) -> Result<ExitCode> {
    let (program, args) = command
        .split_first()
        .context("no command given after `--`")?;
    let s3 = servers::TestS3::start()?;
    eprintln!("\n==> {}", command.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(s3.env())
        .status()
        .with_context(|| format!("cannot run `{}`", command.join(" ")));
    drop(s3);
    Ok(exit_code(status?))
}

/// The exit code to pass on for a child's `status` (128 + the signal if a signal ended it, as a
/// shell does).
fn exit_code(status: ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        // 0..=255 on Unix; a code outside that range (Windows) still reports failure.
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return ExitCode::from(u8::try_from(128 + signal).unwrap_or(1));
        }
    }
    ExitCode::FAILURE
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
    // The S3 servers live for the test step only; dropping `s3` stops them, pass or fail.
    let s3 = servers::TestS3::start()?;
    let s3_env = s3.env();
    let s3_env: Vec<(&str, &str)> = s3_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let tests = if has_nextest() {
        cargo(
            root,
            &[
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
            ],
            &s3_env,
        )
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
            &s3_env,
        )
    };
    drop(s3);
    tests?;
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
