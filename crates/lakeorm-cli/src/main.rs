//! `lakeorm`: the command line of lakeorm.
//!
//! ```text
//! lakeorm migrate generate --dir migrations --models 'cargo run -q --bin models'
//! lakeorm [--lake URI] migrate up|down [--steps N]|status --dir migrations
//! lakeorm [--lake URI] verify [--models CMD]
//! lakeorm [--lake URI] sql 'SELECT …' [--format table|csv|json]
//! lakeorm [--lake URI] staging list
//! lakeorm [--lake URI] staging cleanup --older-than 72h [--dry-run]
//! ```
//!
//! The lake is a path, `file://`, `s3://bucket/prefix` (configured by the standard `AWS_*`
//! variables, including `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP` for S3-compatible servers) or
//! `gs://bucket/prefix` (configured by the `GOOGLE_*` variables); by default `$LAKEORM_PATH`, else
//! `./lake`, as for `lakeorm::local()`.
//!
//! Exit codes: 0 success, 1 error, 2 usage error, 3 verification failed (a schema mismatch or a
//! storage probe that did not round-trip), 4 a migration file problem (edited, malformed or a
//! failed statement), 5 the chosen engine is not available.

mod commands;
mod staging;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use lakeorm::{DEFAULT_LAKE_PATH, Error, LAKE_PATH_ENV};

#[derive(Parser)]
#[command(name = "lakeorm", version, about = "The lakeorm command line")]
struct Cli {
    /// The lake: a path, file://, s3://bucket/prefix or gs://bucket/prefix.
    #[arg(long, global = true, env = LAKE_PATH_ENV, default_value = DEFAULT_LAKE_PATH)]
    lake: String,
    /// The engine that executes statements.
    #[arg(long, global = true, env = "LAKEORM_ENGINE", value_enum, default_value_t = Engine::Local)]
    engine: Engine,
    /// The Spark Connect server for `--engine spark` (`sc://host:port/;token=…`).
    // The URL may hold a token: `--help` must not print the variable's value.
    #[arg(long, global = true, env = "LAKEORM_SPARK_URL", hide_env_values = true)]
    spark_url: Option<String>,
    /// What kind of Spark Connect server `--spark-url` is (sets its capabilities).
    #[arg(long, global = true, env = "LAKEORM_SPARK_SERVER", value_enum, default_value_t = SparkServerKind::Spark)]
    spark_server: SparkServerKind,
    /// The table format migrations are written for.
    #[arg(long, global = true, env = "LAKEORM_DIALECT", value_enum, default_value_t = DialectKind::Delta)]
    dialect: DialectKind,
    #[command(subcommand)]
    command: Command,
}

/// Which engine runs statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Engine {
    /// The embedded engine (DataFusion and delta-rs), in this process.
    Local,
    /// A Spark Connect server.
    Spark,
}

/// Which kind of Spark Connect server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SparkServerKind {
    /// Apache Spark 4 with Delta Lake or Iceberg.
    Spark,
    /// Apache Spark 4 without table-format jars (Parquet tables).
    SparkParquet,
    /// Sail.
    Sail,
    /// Databricks Connect.
    Databricks,
}

/// Which table format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DialectKind {
    /// Delta Lake.
    Delta,
    /// Apache Iceberg.
    Iceberg,
}

#[derive(Subcommand)]
enum Command {
    /// Authors and applies schema migrations (goose-format files with a lakeorm.sum manifest).
    Migrate {
        #[command(subcommand)]
        command: Migrate,
    },
    /// Checks that the client and the engine see the same storage (writes a probe Parquet file,
    /// reads it back through the engine, compares and removes it) and, with --models, that every
    /// model's table matches the model.
    Verify {
        /// A command printing the model registry (see `migrate generate --models`).
        #[arg(long, env = "LAKEORM_MODELS")]
        models: Option<String>,
    },
    /// Runs a SQL query on the lake and prints its result.
    Sql {
        /// The query.
        query: String,
        /// How to print the rows.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The staging area of staged writes (`_staging/<ingest_id>/`).
    Staging {
        #[command(subcommand)]
        command: Staging,
    },
}

#[derive(Subcommand)]
enum Migrate {
    /// Writes a migration file for every model whose table changed since its newest migration.
    /// Needs no lake: the state is read from the files.
    Generate {
        #[command(flatten)]
        dir: DirArg,
        /// A command that prints the model registry as JSON: a small binary of your project
        /// ending with `lakeorm::migrate::Registry::new().model::<User>().print()` (printing JSON).
        #[arg(long, env = "LAKEORM_MODELS")]
        models: String,
    },
    /// Applies every pending migration, oldest first.
    Up {
        #[command(flatten)]
        dir: DirArg,
    },
    /// Reverts the newest applied migrations.
    Down {
        #[command(flatten)]
        dir: DirArg,
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1)]
        steps: usize,
    },
    /// Lists every migration with whether it is applied.
    Status {
        #[command(flatten)]
        dir: DirArg,
    },
}

#[derive(clap::Args)]
struct DirArg {
    /// The migrations directory.
    #[arg(long = "dir", env = "LAKEORM_MIGRATIONS", default_value = "migrations")]
    path: PathBuf,
}

#[derive(Subcommand)]
enum Staging {
    /// Lists staging prefixes with their age.
    List,
    /// Deletes staging prefixes older than a cutoff, left behind by crashed writes. Prefixes
    /// younger than the cutoff or not named by an ingest id are never touched; a cutoff below
    /// one hour is refused unless forced.
    Cleanup {
        /// The minimum age of a prefix to delete, e.g. `72h`, `3days`, `90m`.
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Duration,
        /// Only report what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Take a cutoff below one hour: only when nothing else writes to the lake.
        #[arg(long)]
        force: bool,
    },
}

/// How `sql` prints rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Json,
}

/// Exit codes scripts can rely on.
mod exit {
    pub(crate) const ERROR: u8 = 1;
    pub(crate) const VERIFY_FAILED: u8 = 3;
    pub(crate) const MIGRATION: u8 = 4;
    pub(crate) const ENGINE_UNAVAILABLE: u8 = 5;
}

fn exit_code(error: &anyhow::Error) -> u8 {
    if error.is::<commands::EngineUnavailable>() {
        return exit::ENGINE_UNAVAILABLE;
    }
    match error.downcast_ref::<Error>() {
        Some(Error::SchemaMismatch(_) | Error::UriMismatch(_) | Error::DriverRead(_)) => {
            exit::VERIFY_FAILED
        }
        Some(Error::Migration(_)) => exit::MIGRATION,
        _ => exit::ERROR,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let target = commands::Target {
        lake: cli.lake,
        engine: cli.engine,
        spark_url: cli.spark_url,
        spark_server: cli.spark_server,
        dialect: cli.dialect,
    };
    match cli.command {
        Command::Migrate { command } => match command {
            Migrate::Generate { dir, models } => commands::generate(&target, &dir.path, &models),
            Migrate::Up { dir } => {
                commands::migrate(&target, &dir.path, commands::Direction::Up).await
            }
            Migrate::Down { dir, steps } => {
                commands::migrate(&target, &dir.path, commands::Direction::Down(steps)).await
            }
            Migrate::Status { dir } => commands::status(&target, &dir.path).await,
        },
        Command::Verify { models } => commands::verify(&target, models.as_deref()).await,
        Command::Sql { query, format } => commands::sql(&target, &query, format).await,
        Command::Staging { command } => {
            let backend = target.backend()?;
            match command {
                Staging::List => staging::list(&backend).await,
                Staging::Cleanup {
                    older_than,
                    dry_run,
                    force,
                } => staging::cleanup(&backend, older_than, dry_run, force).await,
            }
        }
    }
}
