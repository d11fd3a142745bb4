//! The commands that talk to a lake: migrations, verification and SQL.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
#[cfg(feature = "spark")]
use std::time::Duration;

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use indicatif::{ProgressBar, ProgressStyle};
use lakeorm::backends::{ObjectStoreBackend, from_uri};
use lakeorm::delta::DeltaDialect;
use lakeorm::embedded::EmbeddedDriver;
use lakeorm::iceberg::IcebergDialect;
use lakeorm::migrate::{Generator, MigrationState, Registry};
#[cfg(feature = "spark")]
use lakeorm::spark::{SparkDriver, SparkServer};
use lakeorm::{Backend, Client, ClientOptions, Dialect, Error};

#[cfg(feature = "spark")]
use crate::SparkServerKind;
use crate::{DialectKind, Engine, Format};

/// The chosen engine cannot run here (exit code 5).
#[derive(Debug)]
pub(crate) struct EngineUnavailable {
    engine: &'static str,
    detail: String,
}

impl std::fmt::Display for EngineUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--engine {} is not available: {}",
            self.engine, self.detail
        )
    }
}

impl std::error::Error for EngineUnavailable {}

/// Where commands run: the lake, the engine and the table format.
pub(crate) struct Target {
    pub(crate) lake: String,
    pub(crate) engine: Engine,
    #[cfg_attr(not(feature = "spark"), allow(dead_code))]
    pub(crate) spark_url: Option<String>,
    #[cfg_attr(not(feature = "spark"), allow(dead_code))]
    pub(crate) spark_server: crate::SparkServerKind,
    pub(crate) dialect: DialectKind,
}

impl Target {
    pub(crate) fn backend(&self) -> Result<ObjectStoreBackend> {
        from_uri(&self.lake).with_context(|| format!("cannot open the lake at {}", self.lake))
    }

    fn dialect(&self) -> Arc<dyn Dialect> {
        match self.dialect {
            DialectKind::Delta => Arc::new(DeltaDialect::new()),
            DialectKind::Iceberg => Arc::new(IcebergDialect::new()),
        }
    }

    async fn client(&self) -> Result<Client> {
        if self.engine == Engine::Spark {
            return self.spark_client().await;
        }
        let backend: Arc<dyn Backend> = Arc::new(self.backend()?);
        let driver = EmbeddedDriver::open(Arc::clone(&backend)).await?;
        Ok(Client::with_options(
            Arc::new(driver),
            self.dialect(),
            backend,
            ClientOptions::default(),
        ))
    }
}

impl Target {
    /// Without the `spark` feature the binary carries no Spark Connect client (it would need
    /// `protoc` to build), so `--engine spark` says how to get one.
    #[cfg(not(feature = "spark"))]
    async fn spark_client(&self) -> Result<Client> {
        Err(EngineUnavailable {
            engine: "spark",
            detail: "this lakeorm binary was built without Spark Connect support; reinstall it \
                     with `cargo install lakeorm-cli --features spark` (the build needs `protoc`)"
                .into(),
        }
        .into())
    }

    #[cfg(feature = "spark")]
    async fn spark_client(&self) -> Result<Client> {
        let Some(url) = &self.spark_url else {
            return Err(EngineUnavailable {
                engine: "spark",
                detail: "no Spark Connect server given: pass --spark-url sc://host:port/ \
                         (or set LAKEORM_SPARK_URL)"
                    .into(),
            }
            .into());
        };
        let server = match self.spark_server {
            SparkServerKind::Spark => SparkServer::Spark,
            SparkServerKind::SparkParquet => SparkServer::SparkParquet,
            SparkServerKind::Sail => SparkServer::Sail,
            SparkServerKind::Databricks => SparkServer::Databricks,
        };
        // Shown redacted from here on: the string may hold a token.
        let url = lakeorm::spark::ConnectionString::parse(url)?;
        let driver = SparkDriver::builder_for(url.clone())
            .server(server)
            .retries(1, Duration::from_millis(200), Duration::from_secs(1))
            .build();
        let backend: Arc<dyn Backend> = Arc::new(self.backend()?);
        let client = Client::with_options(
            Arc::new(driver),
            self.dialect(),
            backend,
            ClientOptions::default(),
        );
        // An unreachable server is "engine unavailable" (exit 5), not a failed command.
        if let Err(error) = client.ping().await {
            if error.is_retryable() {
                return Err(EngineUnavailable {
                    engine: "spark",
                    detail: url.redact(&format!("{url} does not answer: {error}")),
                }
                .into());
            }
            return Err(error.into());
        }
        Ok(client)
    }
}

/// Runs the user's models command and reads the registry it prints.
fn registry(command: &str) -> Result<Registry> {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run the models command `{command}`"))?;
    if !output.status.success() {
        bail!("the models command `{command}` failed ({})", output.status);
    }
    let text = String::from_utf8(output.stdout).context("the models command printed non-UTF-8")?;
    Ok(Registry::from_json(&text)?)
}

pub(crate) fn generate(target: &Target, dir: &Path, models: &str) -> Result<ExitCode> {
    let registry = registry(models)?;
    let dialect = target.dialect();
    let report = Generator::new(dir, dialect.as_ref()).generate(&registry.models)?;
    for file in &report.written {
        println!(
            "wrote {} ({} change(s){})",
            file.path.display(),
            file.changes.len(),
            if file.destructive > 0 {
                format!(", {} DESTRUCTIVE: review before applying", file.destructive)
            } else {
                String::new()
            }
        );
        for change in &file.changes {
            println!("  - {change}");
        }
    }
    if report.written.is_empty() {
        println!(
            "no changes: {} model(s) match their migrations",
            report.unchanged.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(verb: &'static str) -> Result<ProgressBar> {
    Ok(ProgressBar::new(0).with_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {verb} [{{bar:30}}] {{pos}}/{{len}} {{msg}}"
        ))
        .context("progress bar template")?
        .progress_chars("=> "),
    ))
}

/// Which way `migrate up|down` runs.
#[derive(Clone, Copy)]
pub(crate) enum Direction {
    Up,
    Down(usize),
}

pub(crate) async fn migrate(target: &Target, dir: &Path, direction: Direction) -> Result<ExitCode> {
    let client = target.client().await?;
    let (verb, done) = match direction {
        Direction::Up => ("applying", "applied"),
        Direction::Down(_) => ("reverting", "reverted"),
    };
    let bar = progress_bar(verb)?;
    let migrator = client.migrator(dir).on_progress(|file, index, total| {
        bar.set_length(total as u64);
        bar.set_position(index as u64);
        bar.set_message(file.name.clone());
    });
    let report = match direction {
        Direction::Up => migrator.up().await,
        Direction::Down(steps) => migrator.down(steps).await,
    };
    bar.finish_and_clear();
    let report = report?;
    for run in &report.files {
        println!(
            "{done} {} ({} statement(s), {} ms)",
            run.name,
            run.statements,
            run.duration.as_millis()
        );
    }
    println!("{} migration(s) {done}", report.files.len());
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn status(target: &Target, dir: &Path) -> Result<ExitCode> {
    let client = target.client().await?;
    let status = client.migrator(dir).status().await?;
    let mut pending = 0;
    for line in &status {
        let state = match &line.state {
            MigrationState::Applied { at } => {
                format!("applied {}", at.format("%Y-%m-%d %H:%M:%S UTC"))
            }
            MigrationState::Missing { at } => format!(
                "applied {} but the file is missing",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            MigrationState::Pending => {
                pending += 1;
                "pending".to_owned()
            }
            other => format!("{other:?}"),
        };
        println!("{:<40} {state}", line.name);
    }
    println!(
        "{} migration(s): {} applied, {pending} pending",
        status.len(),
        status.len() - pending
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn verify(target: &Target, models: Option<&str>) -> Result<ExitCode> {
    let client = target.client().await?;
    let report = client.verify().await?;
    println!(
        "verified: the engine read the {}-row probe the client wrote at {} ({} ms)",
        report.rows,
        report.client_uri,
        report.elapsed.as_millis()
    );
    let Some(models) = models else {
        return Ok(ExitCode::SUCCESS);
    };
    let registry = registry(models)?;
    let mut failures = Vec::new();
    for model in &registry.models {
        match client.assert_model_schema(model).await {
            Ok(()) => println!("schema of `{}` matches {}", model.table(), model.model),
            Err(e @ Error::SchemaMismatch(_)) => {
                eprintln!("{e}");
                failures.push(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    match failures.into_iter().next() {
        None => Ok(ExitCode::SUCCESS),
        Some(first) => Err(anyhow::Error::from(first).context("schema verification failed")),
    }
}

pub(crate) async fn sql(target: &Target, query: &str, format: Format) -> Result<ExitCode> {
    let client = target.client().await?;
    let df = client.dataframe(query).await?;
    let schema = df.schema().clone();
    let batches: Vec<RecordBatch> = df.collect().await?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => {
            let table = arrow::util::pretty::pretty_format_batches(&batches)?;
            use std::io::Write as _;
            writeln!(out, "{table}")?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            writeln!(out, "({rows} row(s))")?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            if batches.is_empty() {
                writer.write(&RecordBatch::new_empty(schema))?;
            }
            for batch in &batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs)?;
            writer.finish()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
