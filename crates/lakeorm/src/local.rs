//! `lakeorm::local()`: a lake on this machine with no server — the embedded engine, the Delta
//! dialect and the file backend.

use std::path::PathBuf;
use std::sync::Arc;

use lakeorm_backends::ObjectStoreBackend;
use lakeorm_core::{Backend, Result};
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

/// Configures [`local`]: the path, an in-memory lake, the dialect and client options.
#[derive(Debug, Clone, Default)]
pub struct LocalBuilder {
    path: Option<PathBuf>,
    memory: bool,
    dialect: DeltaDialect,
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

    /// The Delta dialect to use (table properties, naming).
    pub fn dialect(mut self, dialect: DeltaDialect) -> Self {
        self.dialect = dialect;
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
            Arc::new(self.dialect),
            backend,
            self.options,
        ))
    }
}
