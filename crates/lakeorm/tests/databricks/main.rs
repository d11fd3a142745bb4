//! The Client on the Databricks SQL-warehouse driver, against the protocol-faithful local
//! server (`lakeorm-databricks-server`): the Statement Execution API, the Files API of a
//! volume and the OIDC token endpoint as the public API reference documents them, executing
//! the SQL on the embedded engine. No Databricks workspace is reachable from here; what was
//! and was not tried against a real one is in the README.

mod faults;
#[path = "../support/log.rs"]
mod log;
mod oauth;
mod workload;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use lakeorm::databricks::{Credentials, StatementOptions, TokenSource, Volume, Workspace};
use lakeorm::{Client, Lake, Row};
use lakeorm_databricks_server::{DatabricksServer, ServerConfig};

#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "accounts")]
pub(crate) struct Account {
    #[lake(pk)]
    pub(crate) id: i64,
    #[lake(validate = "email")]
    pub(crate) email: String,
    pub(crate) name: Option<String>,
    #[lake(decimal(18, 2))]
    pub(crate) balance: rust_decimal::Decimal,
    pub(crate) active: bool,
    pub(crate) score: f64,
    pub(crate) opened_on: chrono::NaiveDate,
    pub(crate) updated_at: DateTime<Utc>,
}

impl Account {
    pub(crate) fn new(id: i64) -> Self {
        Account {
            id,
            email: format!("user{id}@example.com"),
            name: (id % 3 != 0).then(|| format!("User {id}")),
            balance: rust_decimal::Decimal::new(id * 125, 2),
            active: id % 2 == 0,
            score: id as f64 / 4.0,
            opened_on: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
                + chrono::Duration::days(id % 365),
            updated_at: Utc.timestamp_opt(1_700_000_000 + id, 0).unwrap(),
        }
    }
}

/// A wide read shape: a subset of the columns, by name.
#[derive(Row, Debug, Clone, PartialEq)]
pub(crate) struct Balance {
    pub(crate) id: i64,
    #[lake(decimal(18, 2))]
    pub(crate) balance: rust_decimal::Decimal,
}

/// A server and a Client on it.
pub(crate) struct Warehouse {
    pub(crate) server: DatabricksServer,
    pub(crate) client: Client,
    pub(crate) tokens: Arc<TokenSource>,
    _dir: tempfile::TempDir,
}

pub(crate) fn statement_options() -> StatementOptions {
    StatementOptions {
        first_poll: Duration::from_millis(5),
        max_poll: Duration::from_millis(100),
        ..StatementOptions::default()
    }
}

/// A server configured by `config` and a Client authenticated with OAuth M2M.
pub(crate) async fn warehouse_with(
    config: impl FnOnce(ServerConfig) -> ServerConfig,
    options: StatementOptions,
) -> Warehouse {
    let dir = tempfile::tempdir().unwrap();
    let server = DatabricksServer::start(config(ServerConfig::new(dir.path())))
        .await
        .expect("the local Databricks server starts");
    let c = server.config().clone();
    let workspace = Workspace::new(
        &server.host(),
        Credentials::oauth_m2m(c.client_id.clone(), c.client_secret.clone()),
    )
    .unwrap();
    let tokens = Arc::clone(workspace.tokens());
    let client = lakeorm::databricks_sql(workspace, server.warehouse_id(), &c.catalog, &c.schema)
        .volume(Volume::new(&c.catalog, &c.schema, &c.volume))
        .statement_options(options)
        .open()
        .unwrap();
    Warehouse {
        server,
        client,
        tokens,
        _dir: dir,
    }
}

pub(crate) async fn warehouse() -> Warehouse {
    warehouse_with(|c| c, statement_options()).await
}

/// Every file left in the volume (staging must leave none).
pub(crate) fn volume_files(server: &DatabricksServer) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(server.volume_dir(), &mut out);
    out
}
