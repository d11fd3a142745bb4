//! Project automation for lakeorm: `cargo xtask <command>`.
//!
//! - `ci`: everything a submission must pass — formatting, clippy with warnings denied, every
//!   test (unit, integration, compile-fail, doc tests), warning-free rustdoc and the one-arrow
//!   rule. The tests run against throwaway S3-compatible servers (moto's `moto_server`, see
//!   `servers.rs`) started on loopback for the test step and stopped after it.
//! - `with-s3 -- <command>...`: runs one command with those servers up and the tests'
//!   `LAKEORM_TEST_S3_*` variables set, then stops them and exits with the command's status; for
//!   focused runs such as `cargo xtask with-s3 -- cargo nextest run -p lakeorm-backends`.
//! - `e2e [-- <nextest args>]`: the end-to-end suite (`crates/lakeorm/tests/e2e`) against real
//!   servers: Sail and Apache Spark's Spark Connect server (installed from PyPI into a
//!   virtualenv under the target dir, see `spark.rs`) and the S3 servers, all on loopback and all
//!   stopped afterwards, pass or fail. `ci` runs the same suite as part of its test step.
//! - `bench`: every benchmark (criterion groups, memory cases, Spark ingest on Sail), each figure
//!   against its peer measured in the same run, written to `docs/benchmarks.md` (see
//!   `report.rs`); `bench <name>` runs one and prints it.
//! - `soak`: the fault, load, input and secrets tests with their iterations multiplied
//!   (`--factor`, default 50: 16 tasks × 200 upserts, 10,000 small inserts, 50,000,000
//!   generated inputs per decoder), servers up as for `ci`. Both `ci` and `soak` write what those tests
//!   counted to `docs/reliability.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod bench;
mod reliability;
mod report;
mod servers;
mod spark;

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
        /// Only this benchmark (`projection`, `wide`, `validation`, `client`, `iceberg`, `memory`,
        /// `spark`), printed; without one, every benchmark runs and `docs/benchmarks.md` is
        /// written. `spark` starts Sail and compares both write paths with pyspark.
        filter: Option<String>,
        /// Arguments for criterion, after `--` (e.g. `-- --measurement-time 15`).
        #[arg(last = true)]
        criterion: Vec<String>,
    },
    /// Run the end-to-end suite against Sail, Apache Spark and the S3 servers.
    E2e {
        /// Extra arguments for `cargo nextest run`, after `--` (e.g. a test filter).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Run the fault, load, input and secrets tests longer, and write docs/reliability.md.
    Soak {
        /// How many times the `ci` iterations.
        #[arg(long, default_value_t = 50)]
        factor: u64,
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
        Task::E2e { args } => e2e(&root, &args).map(|()| ExitCode::SUCCESS),
        Task::Soak { factor } => soak(&root, factor.max(1)).map(|()| ExitCode::SUCCESS),
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
    let mut child = Command::new(program);
    scrub_cargo_env(&mut child);
    let status = child
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
    let mut command = Command::new(cargo);
    scrub_cargo_env(&mut command);
    let status = command
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

/// Removes the variables `cargo run` sets for xtask itself from a child cargo's environment.
///
/// Build scripts such as `ring`'s declare `rerun-if-env-changed=CARGO_PKG_NAME`; inheriting
/// `CARGO_PKG_NAME=xtask` would make every `cargo xtask` rebuild them (and everything above
/// them: object_store, DataFusion, delta-rs), and a plain `cargo` run afterwards rebuild them
/// again.
pub(crate) fn scrub_cargo_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || matches!(
                key,
                "CARGO_PRIMARY_PACKAGE" | "CARGO_CRATE_NAME" | "CARGO_BIN_NAME"
            )
        {
            command.env_remove(key);
        }
    }
}

/// Runs `cargo <args>` in the workspace root and returns its standard output (its standard
/// error passes through), failing on a non-zero exit.
pub(crate) fn cargo_output(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("\n==> cargo {}", args.join(" "));
    let mut command = Command::new(cargo);
    scrub_cargo_env(&mut command);
    let output = command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    print!("{stdout}");
    if !output.status.success() {
        bail!("`cargo {}` failed ({})", args.join(" "), output.status);
    }
    Ok(stdout)
}

fn has_nextest() -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The features that `ci` turns on across the workspace: Spark Connect and Databricks everywhere
/// they are optional (the drivers, the e2e suite, the CLI's `--engine spark`, the Spark and
/// Databricks examples). The default builds leave them off (Spark's client needs `protoc`);
/// `.ci/run` proves that they do.
const ALL_FEATURES: &str = "lakeorm/spark,lakeorm/databricks,lakeorm-cli/spark,lakeorm-examples/spark,lakeorm-examples/databricks";

fn ci(root: &Path, tests_only: bool) -> Result<()> {
    if !tests_only {
        cargo(root, &["fmt", "--all", "--check"], &[])?;
        cargo(
            root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                ALL_FEATURES,
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )?;
    }
    // The servers live for the test step only; dropping them stops them, pass or fail.
    let servers = TestServers::start(root)?;
    let (records, env) = reliability_env(root, &servers)?;
    let s3_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let tests = if has_nextest() {
        cargo(
            root,
            &[
                "nextest",
                "run",
                "--workspace",
                "--features",
                ALL_FEATURES,
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
                "--features",
                ALL_FEATURES,
                "--locked",
                "--no-fail-fast",
                "--lib",
                "--bins",
                "--tests",
            ],
            &s3_env,
        )
    };
    drop(servers);
    tests?;
    reliability::render(root, &records, "ci", 1)?;
    // With Spark on, as the README's Spark Connect block needs it (the README is a doc test).
    cargo(
        root,
        &[
            "test",
            "--workspace",
            "--features",
            ALL_FEATURES,
            "--locked",
            "--doc",
        ],
        &[],
    )?;
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

/// The tests that count what `docs/reliability.md` reports.
const RELIABILITY_TESTS: &str =
    "test(exactly_once) | test(bad_input) | test(load::) | test(killed) | test(secrets)";

/// The servers' variables and a fresh reliability record file for the tests to write to.
fn reliability_env(root: &Path, servers: &TestServers) -> Result<(PathBuf, Vec<(String, String)>)> {
    let records = reliability::fresh_records(&bench::target_dir(root)?)?;
    let mut env = servers.env();
    env.push((
        "LAKEORM_RELIABILITY_OUT".to_owned(),
        records.display().to_string(),
    ));
    Ok((records, env))
}

/// `soak`: the reliability tests with their iterations multiplied, then the report.
fn soak(root: &Path, factor: u64) -> Result<()> {
    let servers = TestServers::start(root)?;
    let (records, mut env) = reliability_env(root, &servers)?;
    env.push(("LAKEORM_SOAK_FACTOR".to_owned(), factor.to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let tests = cargo(
        root,
        &[
            "nextest",
            "run",
            "--workspace",
            "--features",
            ALL_FEATURES,
            "--locked",
            "--no-fail-fast",
            "-E",
            RELIABILITY_TESTS,
        ],
        &env,
    );
    drop(servers);
    tests?;
    reliability::render(root, &records, "soak", factor)
}

/// Every server the tests talk to: the S3 servers, Sail and Apache Spark.
struct TestServers {
    s3: servers::TestS3,
    sail: spark::SparkServer,
    spark: spark::SparkServer,
    venv: spark::Venv,
    work: PathBuf,
}

impl TestServers {
    fn start(root: &Path) -> Result<Self> {
        let target = bench::target_dir(root)?;
        let venv = spark::Venv::ensure(&target)?;
        let work = target
            .join("e2e")
            .join(format!("run-{}", std::process::id()));
        std::fs::create_dir_all(&work)?;
        let s3 = servers::TestS3::start()?;
        let sail = spark::SparkServer::sail(&venv, &work, &sail_env(&s3))?;
        let spark = spark::SparkServer::spark(&venv, &work)?;
        Ok(TestServers {
            s3,
            sail,
            spark,
            venv,
            work,
        })
    }

    /// What the tests read to find the servers; `LAKEORM_TEST_E2E_REQUIRED` makes a missing
    /// server a failure rather than a skip.
    fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .s3
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        env.extend([
            ("LAKEORM_TEST_SAIL_URL".to_owned(), self.sail.url()),
            ("LAKEORM_TEST_SPARK_URL".to_owned(), self.spark.url()),
            (
                "LAKEORM_TEST_SAIL_BIN".to_owned(),
                self.venv.sail_bin().display().to_string(),
            ),
            ("LAKEORM_TEST_E2E_REQUIRED".to_owned(), "1".to_owned()),
        ]);
        eprintln!(
            "==> Sail (pid {}) and Spark (pid {}) up",
            self.sail.pid(),
            self.spark.pid()
        );
        env
    }
}

impl Drop for TestServers {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// The environment that points Sail's object store at the primary S3 test server (Sail
/// needs all five variables).
fn sail_env(s3: &servers::TestS3) -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL".into(), s3.primary_endpoint()),
        ("AWS_ACCESS_KEY_ID".into(), "lakeorm".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "lakeorm".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ALLOW_HTTP".into(), "true".into()),
    ]
}

/// `cargo xtask e2e`: the end-to-end suite with every server up.
fn e2e(root: &Path, args: &[String]) -> Result<()> {
    let servers = TestServers::start(root)?;
    let env = servers.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut command: Vec<&str> = if has_nextest() {
        vec![
            "nextest",
            "run",
            "--locked",
            "-p",
            "lakeorm",
            "--features",
            "spark",
            "--test",
            "e2e",
        ]
    } else {
        vec![
            "test",
            "--locked",
            "-p",
            "lakeorm",
            "--features",
            "spark",
            "--test",
            "e2e",
        ]
    };
    if !args.is_empty() {
        if !has_nextest() {
            command.push("--");
        }
        command.extend(args.iter().map(String::as_str));
    }
    let result = cargo(root, &command, &env);
    drop(servers);
    result
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
