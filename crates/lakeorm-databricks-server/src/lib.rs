//! A local Databricks workspace for tests: the public SQL Statement Execution API, the Files API
//! on one Unity Catalog volume and OAuth machine-to-machine tokens, served on 127.0.0.1 over
//! lakeorm's embedded engine.
//!
//! [`DatabricksServer::start`] binds two ports: the workspace API (the `DATABRICKS_HOST` a client
//! uses) and a "cloud storage" port serving the presigned links of `EXTERNAL_LINKS` results,
//! which, like S3's, refuse requests that carry an `Authorization` header and expire.
//!
//! Statements run asynchronously, as on a SQL warehouse: a request waits up to its
//! `wait_timeout`, then the client polls. Results are spooled to files under the server's
//! directory chunk by chunk as the engine produces them, so a large result costs disk, not
//! memory. SQL runs on [`lakeorm_datafusion::EmbeddedDriver`] over Delta tables in
//! `<dir>/lake`; writes (`INSERT`, `MERGE`, `DELETE`, `UPDATE`) are carried out with delta-rs'
//! operations, since DataFusion has no DML on Delta tables.
//!
//! [`Faults`] injects a starting warehouse, slow statements, failures and expired links or
//! tokens at run time; [`Counters`] tells a test what the server saw.
//!
//! Each module's documentation says what it does not do. Notably there is one catalog, one
//! schema, one volume and one warehouse, and string literals follow sqlparser's Databricks
//! dialect (no backslash escapes, where Databricks has them).

mod errors;
mod faults;
mod files;
mod fixtures;
mod links;
mod oidc;
mod results;
mod sql;
mod statements;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use errors::SqlError;
pub use faults::{Counters, Faults};
pub use fixtures::{FIXTURES, fixture};

/// How to start a [`DatabricksServer`]; `Default` gives the values documented on each field.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Holds the lake (`lake/`: tables through the embedded engine), the volume
    /// (`volumes/<catalog>/<schema>/<volume>/`) and spooled results (`results/`). Empty (the
    /// default) means a temporary directory removed when the server stops.
    pub dir: PathBuf,
    /// The one catalog (`"main"`).
    pub catalog: String,
    /// The one schema (`"default"`).
    pub schema: String,
    /// The one Unity Catalog volume, `/Volumes/<catalog>/<schema>/<volume>/` (`"lakeorm"`).
    pub volume: String,
    /// The one SQL warehouse (`"lakeorm-warehouse"`).
    pub warehouse_id: String,
    /// The OAuth M2M service principal's client id (`"lakeorm-client"`).
    pub client_id: String,
    /// Its secret (`"lakeorm-secret"`).
    pub client_secret: String,
    /// A personal access token accepted as a bearer token too (none by default).
    pub personal_token: Option<String>,
    /// `expires_in` of issued OAuth tokens (1 hour, as Databricks issues them).
    pub token_lifetime: Duration,
    /// How long a presigned link is valid (15 minutes, Databricks' documented maximum).
    pub link_lifetime: Duration,
    /// Rows per result chunk (65,536).
    pub chunk_rows: usize,
    /// The workspace API port (0, the default: any free port).
    pub api_port: u16,
    /// The "cloud storage" port of presigned links (0: any free port).
    pub storage_port: u16,
    /// Whether `VACUUM … RETAIN n HOURS` below 168 hours is refused, as Databricks does while
    /// `spark.databricks.delta.retentionDurationCheck.enabled` is true (its default). `true`.
    pub retention_check: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            dir: PathBuf::new(),
            catalog: "main".into(),
            schema: "default".into(),
            volume: "lakeorm".into(),
            warehouse_id: "lakeorm-warehouse".into(),
            client_id: "lakeorm-client".into(),
            client_secret: "lakeorm-secret".into(),
            personal_token: None,
            token_lifetime: Duration::from_secs(3600),
            link_lifetime: Duration::from_secs(15 * 60),
            chunk_rows: 65_536,
            api_port: 0,
            storage_port: 0,
            retention_check: true,
        }
    }
}

impl ServerConfig {
    /// A configuration over `dir`, other fields at their defaults.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            dir: dir.into(),
            ..Default::default()
        }
    }

    /// Sets [`ServerConfig::dir`].
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// Sets the catalog, schema and volume names.
    pub fn with_volume(
        mut self,
        catalog: impl Into<String>,
        schema: impl Into<String>,
        volume: impl Into<String>,
    ) -> Self {
        self.catalog = catalog.into();
        self.schema = schema.into();
        self.volume = volume.into();
        self
    }

    /// Sets [`ServerConfig::warehouse_id`].
    pub fn with_warehouse_id(mut self, id: impl Into<String>) -> Self {
        self.warehouse_id = id.into();
        self
    }

    /// Sets the service principal's credentials.
    pub fn with_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = id.into();
        self.client_secret = secret.into();
        self
    }

    /// Accepts `token` as a personal access token.
    pub fn with_personal_token(mut self, token: impl Into<String>) -> Self {
        self.personal_token = Some(token.into());
        self
    }

    /// Sets [`ServerConfig::token_lifetime`].
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Sets [`ServerConfig::link_lifetime`].
    pub fn with_link_lifetime(mut self, lifetime: Duration) -> Self {
        self.link_lifetime = lifetime;
        self
    }

    /// Sets [`ServerConfig::chunk_rows`] (at least 1).
    pub fn with_chunk_rows(mut self, rows: usize) -> Self {
        self.chunk_rows = rows.max(1);
        self
    }

    /// Sets the two ports (0: any free port).
    pub fn with_ports(mut self, api: u16, storage: u16) -> Self {
        self.api_port = api;
        self.storage_port = storage;
        self
    }

    /// Sets [`ServerConfig::retention_check`].
    pub fn with_retention_check(mut self, enabled: bool) -> Self {
        self.retention_check = enabled;
        self
    }
}

/// Why the server could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A directory under `dir` could not be created, or a port could not be bound.
    Io(std::io::Error),
    /// The embedded engine refused to open the lake.
    Engine(lakeorm_core::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Io(e) => write!(f, "starting the local Databricks server: {e}"),
            StartError::Engine(e) => {
                write!(f, "opening the lake of the local Databricks server: {e}")
            }
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Io(e) => Some(e),
            StartError::Engine(e) => Some(e),
        }
    }
}

impl From<std::io::Error> for StartError {
    fn from(e: std::io::Error) -> Self {
        StartError::Io(e)
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    /// `http://127.0.0.1:PORT` of the workspace API.
    pub(crate) host: String,
    /// `http://127.0.0.1:PORT` of the presigned links.
    pub(crate) storage_url: String,
    pub(crate) faults: Faults,
    pub(crate) counters: faults::CounterCells,
    pub(crate) tokens: oidc::Tokens,
    pub(crate) links: links::Signer,
    pub(crate) statements: statements::Registry,
    pub(crate) engine: Arc<sql::Engine>,
    /// The local directory of `/Volumes/<catalog>/<schema>/<volume>`.
    pub(crate) volume_dir: PathBuf,
    /// Where results are spooled, one directory per statement.
    pub(crate) results_dir: PathBuf,
}

/// A running local Databricks workspace. Stops on [`DatabricksServer::stop`] or when dropped.
pub struct DatabricksServer {
    shared: Arc<Shared>,
    shutdown: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
    /// The temporary directory when none was configured.
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for DatabricksServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabricksServer")
            .field("host", &self.shared.host)
            .field("storage", &self.shared.storage_url)
            .field("dir", &self.shared.config.dir)
            .finish_non_exhaustive()
    }
}

impl DatabricksServer {
    /// Opens the lake under `config.dir` and starts serving on 127.0.0.1.
    pub async fn start(mut config: ServerConfig) -> Result<Self, StartError> {
        let temp = if config.dir.as_os_str().is_empty() {
            let temp = tempfile::tempdir()?;
            config.dir = temp.path().to_path_buf();
            Some(temp)
        } else {
            None
        };
        config.chunk_rows = config.chunk_rows.max(1);
        std::fs::create_dir_all(&config.dir)?;
        let dir = std::fs::canonicalize(&config.dir)?;
        config.dir = dir.clone();
        let volume_dir = dir
            .join("volumes")
            .join(&config.catalog)
            .join(&config.schema)
            .join(&config.volume);
        std::fs::create_dir_all(&volume_dir)?;
        let results_dir = dir.join("results");
        // Spooled results do not outlive the server that made them.
        if results_dir.exists() {
            std::fs::remove_dir_all(&results_dir)?;
        }
        std::fs::create_dir_all(&results_dir)?;
        let engine = sql::Engine::open(&dir.join("lake"), &config, volume_dir.clone())
            .await
            .map_err(StartError::Engine)?;

        let api =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.api_port)))
                .await?;
        let storage =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.storage_port)))
                .await?;
        let host = format!("http://{}", api.local_addr()?);
        let storage_url = format!("http://{}", storage.local_addr()?);

        let shared = Arc::new(Shared {
            config,
            host,
            storage_url,
            faults: Faults::default(),
            counters: faults::CounterCells::default(),
            tokens: oidc::Tokens::default(),
            links: links::Signer::new(),
            statements: statements::Registry::default(),
            engine: Arc::new(engine),
            volume_dir,
            results_dir,
        });

        let mut shutdown = Vec::new();
        let mut tasks = Vec::new();
        for (listener, router) in [
            (api, workspace_router(Arc::clone(&shared))),
            (storage, links::router(Arc::clone(&shared))),
        ] {
            let (tx, rx) = oneshot::channel::<()>();
            shutdown.push(tx);
            tasks.push(tokio::spawn(async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::warn!(error = %e, "the local Databricks server stopped serving");
                }
            }));
        }
        tracing::debug!(host = %shared.host, storage = %shared.storage_url, "local Databricks server started");
        Ok(DatabricksServer {
            shared,
            shutdown,
            tasks,
            _temp: temp,
        })
    }

    /// The workspace URL, `http://127.0.0.1:PORT` (a client's `DATABRICKS_HOST`).
    pub fn host(&self) -> String {
        self.shared.host.clone()
    }

    /// The base URL presigned links point at.
    pub fn storage_url(&self) -> String {
        self.shared.storage_url.clone()
    }

    /// The one SQL warehouse's id.
    pub fn warehouse_id(&self) -> &str {
        &self.shared.config.warehouse_id
    }

    /// The configuration the server runs with (`dir` resolved to an absolute path).
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// The local directory holding `/Volumes/<catalog>/<schema>/<volume>`.
    pub fn volume_dir(&self) -> &std::path::Path {
        &self.shared.volume_dir
    }

    /// The runtime fault knobs.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot()
    }

    /// The `DATABRICKS_*` environment a client (or an example) uses to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let c = &self.shared.config;
        let mut env = vec![
            ("DATABRICKS_HOST", self.host()),
            ("DATABRICKS_WAREHOUSE_ID", c.warehouse_id.clone()),
            ("DATABRICKS_CLIENT_ID", c.client_id.clone()),
            ("DATABRICKS_CLIENT_SECRET", c.client_secret.clone()),
            ("DATABRICKS_CATALOG", c.catalog.clone()),
            ("DATABRICKS_SCHEMA", c.schema.clone()),
            ("DATABRICKS_VOLUME", c.volume.clone()),
        ];
        if let Some(token) = &c.personal_token {
            env.push(("DATABRICKS_TOKEN", token.clone()));
        }
        env
    }

    /// Stops serving (in-flight requests finish) and cancels running statements.
    pub async fn stop(mut self) {
        self.signal_stop();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }

    fn signal_stop(&mut self) {
        for tx in self.shutdown.drain(..) {
            let _ = tx.send(());
        }
        self.shared.statements.abort_all();
    }
}

impl Drop for DatabricksServer {
    fn drop(&mut self) {
        self.signal_stop();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The workspace API: OIDC without a token, everything else behind one.
fn workspace_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/2.0/sql/statements", post(statements::execute))
        .route("/api/2.0/sql/statements/", post(statements::execute))
        .route(
            "/api/2.0/sql/statements/{statement_id}",
            get(statements::get).delete(statements::close),
        )
        .route(
            "/api/2.0/sql/statements/{statement_id}/cancel",
            post(statements::cancel),
        )
        .route(
            "/api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index}",
            get(statements::chunk),
        )
        .route(
            "/api/2.0/fs/files/{*path}",
            get(files::download)
                .head(files::metadata)
                .put(files::upload)
                .delete(files::delete),
        )
        .route(
            "/api/2.0/fs/directories/{*path}",
            get(files::list)
                .head(files::directory_metadata)
                .put(files::create_directory)
                .delete(files::delete_directory),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            oidc::require_token,
        ))
        .route("/oidc/v1/token", post(oidc::token))
        .route(
            "/oidc/.well-known/oauth-authorization-server",
            get(oidc::metadata),
        )
        .route(
            "/oidc/.well-known/openid-configuration",
            get(oidc::metadata),
        )
        .fallback(not_found)
        // Statement texts reach 16 MiB; the limit is checked with Databricks' error below this.
        .layer(DefaultBodyLimit::max(
            statements::MAX_STATEMENT_BYTES + (4 << 20),
        ))
        .with_state(shared)
}

async fn not_found(uri: axum::http::Uri) -> errors::ApiError {
    errors::ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        format!("No API found for '{}'", uri.path()),
    )
}
