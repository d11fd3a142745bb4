//! Configuring a [`SparkDriver`]: the server kind, the pool, request sizes and retries.

use std::sync::Arc;
use std::time::Duration;

use lakeorm_core::{DriverCapabilities, EngineFlavor, Result};
use spark_connect_core::retries::RetryPolicy;

use crate::commits::CommitQueue;
use crate::connection::ConnectionString;
use crate::driver::{Inner, SparkDriver};
use crate::ingest::DEFAULT_MAX_REQUEST_BYTES;
use crate::pool::Pool;
use crate::server::SparkServer;

/// The default number of pooled sessions.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// How long a call waits for a free session by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);

/// Configures a [`SparkDriver`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SparkDriverBuilder {
    url: ConnectionString,
    server: SparkServer,
    pool_size: usize,
    capabilities: Option<DriverCapabilities>,
    flavor: Option<EngineFlavor>,
    max_request_bytes: usize,
    acquire_timeout: Duration,
    retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    tokens: Option<Arc<lakeorm_databricks::TokenSource>>,
    session_confs: Vec<(String, String)>,
}

impl SparkDriverBuilder {
    /// Sets a Spark SQL configuration on every session the pool opens, before its first use
    /// (e.g. `spark.sql.shuffle.partitions`, `spark.databricks.delta.optimize.maxFileSize`).
    /// Later calls with the same key win.
    ///
    /// The one way to configure sessions: `exec("SET …")` is refused, since it would change
    /// the one pooled session that happened to run it.
    pub fn session_conf(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.session_confs.retain(|(k, _)| *k != key);
        self.session_confs.push((key, value.into()));
        self
    }

    /// The kind of server (default: [`SparkServer::Spark`]).
    pub fn server(mut self, server: SparkServer) -> Self {
        self.server = server;
        self
    }

    /// How many sessions concurrent calls share (default [`DEFAULT_POOL_SIZE`]).
    pub fn pool_size(mut self, sessions: usize) -> Self {
        self.pool_size = sessions.max(1);
        self
    }

    /// How long a call waits for a free session before it fails with
    /// [`Error::SessionTimeout`](lakeorm_core::Error::SessionTimeout) (default
    /// [`DEFAULT_ACQUIRE_TIMEOUT`]): a call nested in a stream that holds the last session
    /// would otherwise wait forever.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Overrides what the server can do (default: from [`server`](Self::server)).
    pub fn capabilities(mut self, capabilities: DriverCapabilities) -> Self {
        self.capabilities = Some(capabilities);
        self
    }

    /// Overrides how the server addresses storage (default: from [`server`](Self::server)).
    pub fn flavor(mut self, flavor: EngineFlavor) -> Self {
        self.flavor = Some(flavor);
        self
    }

    /// Caps the Arrow bytes of one direct-ingest request (default
    /// [`DEFAULT_MAX_REQUEST_BYTES`]; servers fail requests much above 80 MB).
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes.max(1024);
        self
    }

    /// How often, and how patiently, an unavailable server is retried before the call fails
    /// (default: 4 retries, backoff from 200 ms doubling up to 5 s).
    pub fn retries(
        mut self,
        retries: u32,
        initial_backoff: Duration,
        max_backoff: Duration,
    ) -> Self {
        self.retries = retries;
        self.initial_backoff = initial_backoff;
        self.max_backoff = max_backoff;
        self
    }

    /// Bearer tokens that expire (OAuth): each new session asks `tokens` for a current one, and
    /// sessions opened with a token since replaced are retired when next lent, so a run longer
    /// than a token's lifetime keeps working. Overrides the connection string's `token`.
    pub fn tokens(mut self, tokens: Arc<lakeorm_databricks::TokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Builds the driver. No connection is made until the first call.
    pub fn build(self) -> SparkDriver {
        let retry = RetryPolicy {
            max_retries: Some(self.retries),
            initial_backoff_ms: self.initial_backoff.as_millis() as u64,
            max_backoff_ms: Some(self.max_backoff.as_millis() as u64),
            ..RetryPolicy::default()
        };
        SparkDriver {
            inner: Arc::new(Inner {
                pool: Arc::new(Pool::new(
                    self.url,
                    self.pool_size,
                    retry,
                    self.acquire_timeout,
                    self.tokens,
                    self.session_confs,
                )),
                commits: CommitQueue::default(),
                capabilities: self
                    .capabilities
                    .unwrap_or_else(|| self.server.capabilities()),
                flavor: self.flavor.unwrap_or_else(|| self.server.flavor()),
                server: self.server,
                max_request_bytes: self.max_request_bytes,
            }),
        }
    }
}

impl SparkDriver {
    /// A driver for `sc://host:port/;token=…;user_id=…` with the default options.
    pub fn remote(url: &str) -> Result<Self> {
        Ok(Self::builder(url)?.build())
    }

    /// A builder for `sc://host:port/;…`.
    pub fn builder(url: &str) -> Result<SparkDriverBuilder> {
        Ok(Self::builder_for(ConnectionString::parse(url)?))
    }

    /// A builder for a parsed connection string.
    pub fn builder_for(url: ConnectionString) -> SparkDriverBuilder {
        SparkDriverBuilder {
            url,
            server: SparkServer::default(),
            pool_size: DEFAULT_POOL_SIZE,
            capabilities: None,
            flavor: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            retries: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            tokens: None,
            session_confs: Vec::new(),
        }
    }

    /// A driver for a Databricks cluster (Databricks Connect): workspace host, personal access
    /// token and cluster id.
    pub fn databricks(host: &str, token: &str, cluster_id: &str) -> Result<Self> {
        Ok(
            Self::builder_for(ConnectionString::databricks(host, token, cluster_id)?)
                .server(SparkServer::Databricks)
                .build(),
        )
    }

    /// A driver for a Databricks cluster whose sessions authenticate with the tokens of
    /// `workspace` (OAuth machine-to-machine credentials are refreshed before they expire, and
    /// the same token cache serves the workspace's SQL-warehouse driver).
    pub fn databricks_with(
        workspace: &lakeorm_databricks::Workspace,
        cluster_id: &str,
    ) -> Result<SparkDriverBuilder> {
        let host = workspace.host().host_str().unwrap_or_default();
        Ok(
            Self::builder_for(ConnectionString::databricks_cluster(host, cluster_id)?)
                .server(SparkServer::Databricks)
                .tokens(Arc::clone(workspace.tokens())),
        )
    }

    /// A Databricks Connect driver from the standard variables: `DATABRICKS_HOST`,
    /// `DATABRICKS_CLUSTER_ID`, and `DATABRICKS_CLIENT_ID` with `DATABRICKS_CLIENT_SECRET`
    /// (OAuth machine-to-machine) or `DATABRICKS_TOKEN` (a personal access token).
    pub fn databricks_from_env() -> Result<Self> {
        let workspace = lakeorm_databricks::Workspace::from_env()?;
        let cluster = std::env::var("DATABRICKS_CLUSTER_ID")
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                lakeorm_core::Error::Config(
                    "environment variable DATABRICKS_CLUSTER_ID is not set".into(),
                )
            })?;
        Ok(Self::databricks_with(&workspace, &cluster)?.build())
    }
}
