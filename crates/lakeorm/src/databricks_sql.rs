//! `lakeorm::databricks_sql()`: a Client on a Databricks SQL warehouse — the Statement
//! Execution API driver, Unity Catalog managed Delta tables, staging in a volume.

use std::sync::Arc;

use lakeorm_core::{Error, Result};
use lakeorm_databricks::{DatabricksSqlDriver, Volume, VolumeBackend, Workspace};
use lakeorm_delta::DeltaDialect;

use crate::client::Client;
use crate::options::ClientOptions;

/// The volume staged writes go to when `DATABRICKS_VOLUME` is not set: `lakeorm` in the
/// client's catalog and schema.
pub const DEFAULT_VOLUME: &str = "lakeorm";

/// Configures [`databricks_sql`]: the workspace, warehouse, namespace, volume and options.
#[derive(Debug, Clone)]
#[must_use]
pub struct DatabricksSqlBuilder {
    workspace: Workspace,
    warehouse_id: String,
    catalog: String,
    schema: String,
    volume: Option<Volume>,
    options: ClientOptions,
    statements: Option<lakeorm_databricks::StatementOptions>,
}

/// A builder for a Client on the SQL warehouse `warehouse_id` of `workspace`, with tables in
/// `catalog`.`schema`.
///
/// ```no_run
/// # async fn demo() -> lakeorm::Result<()> {
/// use lakeorm::databricks::{Credentials, Workspace};
/// let workspace = Workspace::new(
///     "adb-1234567890123456.7.azuredatabricks.net",
///     Credentials::oauth_m2m("client-id", "client-secret"),
/// )?;
/// let db = lakeorm::databricks_sql(workspace, "abcdef1234567890", "main", "default").open()?;
/// db.ping().await?;
/// # Ok(()) }
/// ```
pub fn databricks_sql(
    workspace: Workspace,
    warehouse_id: impl Into<String>,
    catalog: impl Into<String>,
    schema: impl Into<String>,
) -> DatabricksSqlBuilder {
    DatabricksSqlBuilder {
        workspace,
        warehouse_id: warehouse_id.into(),
        catalog: catalog.into(),
        schema: schema.into(),
        volume: None,
        options: ClientOptions::default(),
        statements: None,
    }
}

/// The Client the standard variables describe: `DATABRICKS_HOST`; `DATABRICKS_TOKEN`, or
/// `DATABRICKS_CLIENT_ID` and `DATABRICKS_CLIENT_SECRET`; `DATABRICKS_WAREHOUSE_ID`;
/// `DATABRICKS_CATALOG` (default `main`), `DATABRICKS_SCHEMA` (default `default`) and
/// `DATABRICKS_VOLUME` (`catalog.schema.volume`, or a volume's name in that schema; default
/// [`DEFAULT_VOLUME`]).
pub fn databricks_sql_from_env() -> Result<Client> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let warehouse = var("DATABRICKS_WAREHOUSE_ID").ok_or_else(|| {
        Error::Config("environment variable DATABRICKS_WAREHOUSE_ID is not set".into())
    })?;
    let catalog = var("DATABRICKS_CATALOG").unwrap_or_else(|| "main".into());
    let schema = var("DATABRICKS_SCHEMA").unwrap_or_else(|| "default".into());
    let volume = var("DATABRICKS_VOLUME")
        .map(|v| Volume::parse_in(&v, &catalog, &schema))
        .transpose()?;
    let mut builder = databricks_sql(Workspace::from_env()?, warehouse, catalog, schema);
    if let Some(volume) = volume {
        builder = builder.volume(volume);
    }
    builder.open()
}

impl DatabricksSqlBuilder {
    /// The volume staged writes and `verify` probes go to (default [`DEFAULT_VOLUME`] in the
    /// client's catalog and schema).
    pub fn volume(mut self, volume: Volume) -> Self {
        self.volume = Some(volume);
        self
    }

    /// Client options (retries, staging threshold, metrics).
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Deadlines and polling of statements.
    pub fn statement_options(mut self, options: lakeorm_databricks::StatementOptions) -> Self {
        self.statements = Some(options);
        self
    }

    /// The Client. Nothing is requested until the first call.
    pub fn open(self) -> Result<Client> {
        let volume = self
            .volume
            .unwrap_or_else(|| Volume::new(&self.catalog, &self.schema, DEFAULT_VOLUME));
        let backend = VolumeBackend::new(self.workspace.clone(), volume, "")?;
        let mut driver = DatabricksSqlDriver::builder(self.workspace, self.warehouse_id)
            .catalog(&self.catalog)
            .schema(&self.schema);
        if let Some(statements) = self.statements {
            driver = driver.statement_options(statements);
        }
        let dialect = DeltaDialect::new()
            .with_catalog(self.catalog)
            .with_database(self.schema)
            .managed_tables();
        Ok(Client::with_options(
            Arc::new(driver.build()),
            Arc::new(dialect),
            Arc::new(backend),
            self.options,
        ))
    }
}
