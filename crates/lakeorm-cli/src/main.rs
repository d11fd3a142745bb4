//! `lakeorm`: the command line of lakeorm.
//!
//! ```text
//! lakeorm [--lake URI] staging list
//! lakeorm [--lake URI] staging cleanup --older-than 72h [--dry-run]
//! lakeorm [--lake URI] verify
//! ```
//!
//! The lake is a path, `file://`, `s3://bucket/prefix` (configured by the standard `AWS_*`
//! variables, including `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP` for S3-compatible servers) or
//! `gs://bucket/prefix` (configured by the `GOOGLE_*` variables); by default `$LAKEORM_PATH`, else
//! `./lake`, as for `lakeorm::local()`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lakeorm::backends::{CleanupEvent, ObjectStoreBackend, cleanup_staging_with, from_uri};
use lakeorm::delta::DeltaDialect;
use lakeorm::embedded::EmbeddedDriver;
use lakeorm::{Backend, Client, ClientOptions, DEFAULT_LAKE_PATH, LAKE_PATH_ENV};

#[derive(Parser)]
#[command(name = "lakeorm", version, about = "The lakeorm command line")]
struct Cli {
    /// The lake: a path, file://, s3://bucket/prefix or gs://bucket/prefix.
    #[arg(long, global = true, env = LAKE_PATH_ENV, default_value = DEFAULT_LAKE_PATH)]
    lake: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The staging area of staged writes (`_staging/<ingest_id>/`).
    Staging {
        #[command(subcommand)]
        command: Staging,
    },
    /// Checks that the client and the embedded engine see the same storage: writes a probe
    /// Parquet file, reads it back through the engine, compares and removes it.
    Verify,
}

#[derive(Subcommand)]
enum Staging {
    /// Lists staging prefixes with their age.
    List,
    /// Deletes staging prefixes older than a cutoff, left behind by crashed writes. Prefixes
    /// younger than the cutoff or not named by an ingest id are never touched.
    Cleanup {
        /// The minimum age of a prefix to delete, e.g. `72h`, `3days`, `90m`.
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Duration,
        /// Only report what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let backend =
        from_uri(&cli.lake).with_context(|| format!("cannot open the lake at {}", cli.lake))?;
    match cli.command {
        Command::Staging {
            command: Staging::List,
        } => list(&backend).await,
        Command::Staging {
            command:
                Staging::Cleanup {
                    older_than,
                    dry_run,
                },
        } => cleanup(&backend, older_than, dry_run).await,
        Command::Verify => verify(backend).await,
    }
}

fn age(time: SystemTime) -> String {
    let age = SystemTime::now().duration_since(time).unwrap_or_default();
    humantime::format_duration(Duration::from_secs(age.as_secs())).to_string()
}

async fn list(backend: &ObjectStoreBackend) -> Result<ExitCode> {
    let prefixes = backend.list_staging().await?;
    for prefix in &prefixes {
        match prefix.ingest_id {
            Some(id) => println!("{}\t{} old", prefix.location, age(id.system_time())),
            None => println!("{}\t(not an ingest id; never cleaned)", prefix.location),
        }
    }
    println!(
        "{} staging prefix(es) under {}",
        prefixes.len(),
        backend.root()
    );
    Ok(ExitCode::SUCCESS)
}

async fn cleanup(
    backend: &ObjectStoreBackend,
    older_than: Duration,
    dry_run: bool,
) -> Result<ExitCode> {
    if dry_run {
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut would = 0;
        for prefix in backend.list_staging().await? {
            if let Some(id) = prefix.ingest_id.filter(|id| id.system_time() < cutoff) {
                println!(
                    "would delete {} ({} old)",
                    prefix.location,
                    age(id.system_time())
                );
                would += 1;
            }
        }
        println!(
            "dry run: {would} prefix(es) older than {} would be deleted",
            humantime::format_duration(older_than)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} prefixes {msg}")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    let report = cleanup_staging_with(backend, older_than, |event| match event {
        CleanupEvent::Listed(n) => bar.set_length(n as u64),
        CleanupEvent::Deleted(prefix, objects) => {
            bar.set_message(format!("deleted {prefix} ({objects} objects)"));
            bar.inc(1);
        }
        CleanupEvent::Failed(prefix, error) => {
            bar.println(format!("failed to delete {prefix}: {error}"));
            bar.inc(1);
        }
        _ => bar.inc(1),
    })
    .await?;
    bar.finish_and_clear();
    for prefix in &report.deleted {
        println!("deleted {prefix}");
    }
    println!(
        "scanned {}, deleted {} ({} objects), kept {} younger than {}, skipped {} foreign, failed {}",
        report.scanned,
        report.deleted.len(),
        report.objects_deleted,
        report.kept.len(),
        humantime::format_duration(older_than),
        report.skipped.len(),
        report.failed.len(),
    );
    for (prefix, error) in &report.failed {
        eprintln!("failed: {prefix}: {error}");
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn verify(backend: ObjectStoreBackend) -> Result<ExitCode> {
    let backend: Arc<dyn Backend> = Arc::new(backend);
    let driver = EmbeddedDriver::open(Arc::clone(&backend)).await?;
    let client = Client::with_options(
        Arc::new(driver),
        Arc::new(DeltaDialect::new()),
        backend,
        ClientOptions::default(),
    );
    let report = client.verify().await?;
    println!(
        "verified: the engine read the {}-row probe the client wrote at {} ({} ms)",
        report.rows,
        report.client_uri,
        report.elapsed.as_millis()
    );
    Ok(ExitCode::SUCCESS)
}
