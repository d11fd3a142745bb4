//! `lakeorm::local()`: a lake on this machine with no server — the embedded engine, the file
//! backend and Delta tables (or Iceberg tables, with [`LocalBuilder::dialect`]).

use std::path::PathBuf;
use std::sync::Arc;

use lakeorm_backends::ObjectStoreBackend;
use lakeorm_core::{Backend, Dialect, Result};
use lakeorm_datafusion::EmbeddedDriver;
use lakeorm_delta::DeltaDialect;

use crate::client::Client;
use crate::options::ClientOptions;

/// The environment variable that overrides where [`local`] keeps the lake.
pub const LAKE_PATH_ENV: &str = "LAKEORM_PATH";

/// Where [`local`] keeps the lake when neither a path nor [`LAKE_PATH_ENV`] is given.
pub const DEFAULT_LAKE_PATH: &str = "./lake";

/// Opens the lake at `$LAKEORM_PATH`, or `./lake`, with the embedded engine and Delta tables.
///
/// ```no_run
/// # async fn demo() -> lakeorm::Result<()> {
/// let db = lakeorm::local().await?;
/// db.ping().await?;
/// # Ok(()) }
/// ```
pub async fn local() -> Result<Client> {
    LocalBuilder::new().open().await
}

/// The table format of a local lake, as its dialect.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LocalDialect {
    /// Delta tables (the default).
    Delta(DeltaDialect),
    /// Iceberg tables in the hadoop layout (`metadata/vN.metadata.json`), which Spark's Hadoop
    /// catalog and Sail read.
    #[cfg(feature = "iceberg")]
    Iceberg(lakeorm_iceberg::IcebergDialect),
}

impl Default for LocalDialect {
    fn default() -> Self {
        LocalDialect::Delta(DeltaDialect::default())
    }
}

impl From<DeltaDialect> for LocalDialect {
    fn from(dialect: DeltaDialect) -> Self {
        LocalDialect::Delta(dialect)
    }
}

#[cfg(feature = "iceberg")]
impl From<lakeorm_iceberg::IcebergDialect> for LocalDialect {
    fn from(dialect: lakeorm_iceberg::IcebergDialect) -> Self {
        LocalDialect::Iceberg(dialect)
    }
}

impl LocalDialect {
    fn into_dialect(self) -> Arc<dyn Dialect> {
        match self {
            LocalDialect::Delta(dialect) => Arc::new(dialect),
            #[cfg(feature = "iceberg")]
            LocalDialect::Iceberg(dialect) => Arc::new(dialect),
        }
    }
}

/// Configures [`local`]: the path, an in-memory lake, the dialect and client options.
#[derive(Debug, Clone, Default)]
pub struct LocalBuilder {
    path: Option<PathBuf>,
    memory: bool,
    dialect: LocalDialect,
    options: ClientOptions,
}

impl LocalBuilder {
    /// The defaults: `$LAKEORM_PATH` or `./lake`, Delta, default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the lake in `path` (created if missing).
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self.memory = false;
        self
    }

    /// Keeps the lake in memory, gone when the client is dropped (tests, examples).
    pub fn in_memory(mut self) -> Self {
        self.memory = true;
        self
    }

    /// The dialect, and so the table format: a `DeltaDialect` (the default) or an
    /// `IcebergDialect`, with its table properties and naming.
    ///
    /// ```no_run
    /// # async fn demo() -> lakeorm::Result<()> {
    /// use lakeorm::iceberg::IcebergDialect;
    /// let db = lakeorm::LocalBuilder::new().dialect(IcebergDialect::new()).open().await?;
    /// # Ok(()) }
    /// ```
    pub fn dialect(mut self, dialect: impl Into<LocalDialect>) -> Self {
        self.dialect = dialect.into();
        self
    }

    /// Client options.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The directory the lake will be kept in (`None` for an in-memory lake).
    pub fn resolved_path(&self) -> Option<PathBuf> {
        if self.memory {
            return None;
        }
        Some(self.path.clone().unwrap_or_else(|| {
            std::env::var_os(LAKE_PATH_ENV)
                .filter(|p| !p.is_empty())
                .map_or_else(|| PathBuf::from(DEFAULT_LAKE_PATH), PathBuf::from)
        }))
    }

    /// Opens the lake, registering the tables it already holds.
    pub async fn open(self) -> Result<Client> {
        let backend = match self.resolved_path() {
            Some(path) => ObjectStoreBackend::file(path)?,
            None => ObjectStoreBackend::memory(),
        };
        let backend: Arc<dyn Backend> = Arc::new(backend);
        let driver = EmbeddedDriver::open(Arc::clone(&backend)).await?;
        Ok(Client::with_options(
            Arc::new(driver),
            self.dialect.into_dialect(),
            backend,
            self.options,
        ))
    }
}
