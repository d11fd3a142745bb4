//! Databricks for lakeorm.
//!
//! - [`DatabricksSqlDriver`]: a lakeorm `Driver` for **SQL warehouses**, over the public SQL
//!   Statement Execution API (`/api/2.0/sql/statements`). Typed reads stream Arrow chunks from
//!   presigned links (`EXTERNAL_LINKS` + `ARROW_STREAM`) a few at a time; writes, upserts,
//!   updates and deletes run as the Delta dialect's SQL with rows sent as typed named
//!   parameters when they fit the API's 256, and staged as Parquet in a Unity Catalog volume
//!   otherwise; statements are polled with backoff inside a deadline and cancelled when the
//!   caller's future is dropped; a warehouse that is still starting is the retryable
//!   [`ClusterNotReady`](lakeorm_core::ClusterNotReady).
//! - [`VolumeBackend`]: a lakeorm `Backend` in a Unity Catalog volume, through the Files API
//!   (`/api/2.0/fs/files`), where staged writes and `verify` probes go.
//! - [`Credentials`] and [`TokenSource`]: personal access tokens and **OAuth
//!   machine-to-machine** (`/oidc/v1/token`, client credentials, scope `all-apis`), cached and
//!   refreshed before expiry, shared by the SQL driver and Databricks Connect (the Spark
//!   driver asks the same source for a token whenever it opens a session).
//!
//! Tables are Unity Catalog managed Delta tables: pair the driver with
//! `DeltaDialect::new().with_catalog(…).with_database(…).managed_tables()`.
//!
//! No credential is ever printed: `Debug` of every type here redacts tokens and secrets, and
//! errors quote neither them nor presigned links.

mod auth;
// Without `sql` (Databricks Connect's credentials only), the REST helpers go unused.
#[cfg_attr(not(feature = "sql"), allow(dead_code))]
mod errors;
#[cfg_attr(not(feature = "sql"), allow(dead_code))]
mod workspace;

pub use auth::{Credentials, DEFAULT_REFRESH_MARGIN, Secret, TokenSource};
pub use errors::{ApiError, StatementError};
pub use workspace::{Workspace, workspace_url};

#[cfg(feature = "sql")]
mod api;
#[cfg(feature = "sql")]
mod driver;
#[cfg(feature = "sql")]
mod params;
#[cfg(feature = "sql")]
mod results;
#[cfg(feature = "sql")]
mod statement;
#[cfg(feature = "sql")]
mod volume;

#[cfg(feature = "sql")]
pub use driver::{DatabricksSqlDriver, DatabricksSqlDriverBuilder};
#[cfg(feature = "sql")]
pub use params::MAX_PARAMETERS;
#[cfg(feature = "sql")]
pub use statement::StatementOptions;
#[cfg(feature = "sql")]
pub use volume::{Volume, VolumeBackend, VolumeStore};
