//! The lake's tables as DataFusion sees them.
//!
//! A [`LakeSchemaProvider`] is the default schema of the engine's session. It maps table names to
//! the Delta and Iceberg tables under the Backend's `tables/` prefix (a directory with a
//! `_delta_log` is Delta, one with Iceberg `metadata/` is Iceberg): a name it has not seen is
//! looked up there on first use (so tables written by another process are visible by name), and
//! a table whose log or metadata has moved on since its provider was built is refreshed before
//! the query is planned. Swaps happen inside the provider's own map, so a concurrent query never
//! sees a table missing.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::DataFusionError;
use deltalake::{DeltaTable, DeltaTableBuilder};
use lakeorm_core::backend::TABLES_DIR;
use lakeorm_core::{Backend, Error, Location, Result};
use object_store::ObjectStore;
use url::Url;

use crate::errors;
use crate::iceberg::{IcebergTables, Loaded};

/// The table behind a registered name.
#[derive(Clone)]
enum Handle {
    Delta(DeltaTable),
    Iceberg(Loaded),
}

/// A registered table: its handle and the provider built from its current snapshot.
#[derive(Clone)]
struct Entry {
    handle: Handle,
    provider: Arc<dyn TableProvider>,
}

pub(crate) struct LakeSchemaProvider {
    backend: Arc<dyn Backend>,
    store: Arc<dyn ObjectStore>,
    iceberg: IcebergTables,
    tables: RwLock<HashMap<String, Entry>>,
}

impl fmt::Debug for LakeSchemaProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LakeSchemaProvider")
            .field("root", &self.backend.root().as_str())
            .field("tables", &self.table_names())
            .finish()
    }
}

/// The `Url` delta-rs expects for a table directory (with a trailing slash).
pub(crate) fn table_url(location: &Location) -> Result<Url> {
    let mut text = location.as_str().to_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    Url::parse(&text).map_err(|e| Error::Config(format!("`{text}` is not a table URL: {e}")))
}

impl LakeSchemaProvider {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Self {
        let store = backend.object_store();
        let iceberg = IcebergTables::new(Arc::clone(&backend));
        LakeSchemaProvider {
            backend,
            store,
            iceberg,
            tables: RwLock::new(HashMap::new()),
        }
    }

    /// The Backend the lake lives on.
    pub(crate) fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The lake's Iceberg tables (the hadoop-layout catalog).
    pub(crate) fn iceberg(&self) -> &IcebergTables {
        &self.iceberg
    }

    /// An unloaded handle on the Delta table at `location`, on the backend's store.
    pub(crate) fn handle(&self, location: &Location) -> Result<DeltaTable> {
        let url = table_url(location)?;
        DeltaTableBuilder::from_url(url.clone())
            .and_then(|b| b.with_storage_backend(Arc::clone(&self.store), url).build())
            .map_err(|e| errors::delta(location.as_str(), "open", e))
    }

    /// Loads the table at `location`, or `None` if there is no Delta table there.
    pub(crate) async fn load(&self, location: &Location) -> Result<Option<DeltaTable>> {
        // The kernel reports a missing local directory as a generic kernel error; a directory
        // without a log is simply not a table yet.
        if let Some(dir) = location.to_file_path()
            && !dir.join("_delta_log").is_dir()
        {
            return Ok(None);
        }
        let mut table = self.handle(location)?;
        match table.load().await {
            Ok(()) => Ok(Some(table)),
            Err(deltalake::DeltaTableError::NotATable(_))
            | Err(deltalake::DeltaTableError::InvalidTableLocation(_)) => Ok(None),
            Err(e) => Err(errors::delta(location.as_str(), "load", e)),
        }
    }

    /// The latest state of a registered or discoverable table.
    pub(crate) async fn latest(
        &self,
        name: &str,
        location: &Location,
    ) -> Result<Option<DeltaTable>> {
        let known = self.read().get(name).and_then(|e| match &e.handle {
            Handle::Delta(table) => Some(table.clone()),
            Handle::Iceberg(_) => None,
        });
        match known {
            Some(mut table) => {
                table
                    .update_state()
                    .await
                    .map_err(|e| errors::delta(name, "refresh", e))?;
                Ok(Some(table))
            }
            None => self.load(location).await,
        }
    }

    /// Registers (or replaces) `name` with the state in `table`.
    pub(crate) async fn register(&self, name: &str, table: DeltaTable) -> Result<()> {
        let provider = table
            .table_provider()
            .await
            .map_err(|e| errors::datafusion(&format!("registering `{name}`"), e))?;
        let provider = crate::pruning::GeneratedPruning::wrap(provider, &table);
        self.insert(name, Handle::Delta(table), provider);
        Ok(())
    }

    /// Registers (or replaces) `name` with the Iceberg table in `table`, unless a newer version
    /// of it is registered already (concurrent writers publish in any order).
    pub(crate) async fn register_iceberg(&self, name: &str, table: Loaded) -> Result<()> {
        if let Some(Entry {
            handle: Handle::Iceberg(known),
            ..
        }) = self.read().get(name)
            && known.version > table.version
            && known.metadata().uuid() == table.metadata().uuid()
        {
            return Ok(());
        }
        let provider = crate::iceberg::provider(&table).await?;
        self.insert(name, Handle::Iceberg(table), provider);
        Ok(())
    }

    fn insert(&self, name: &str, handle: Handle, provider: Arc<dyn TableProvider>) {
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), Entry { handle, provider });
    }

    /// Forgets `name` (after its files were deleted by someone else's hand, e.g. a drop).
    pub(crate) fn forget(&self, name: &str) {
        self.tables
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// Finds the table `name` in the lake, whichever its format, and registers it.
    async fn discover_one(&self, name: &str, location: &Location) -> Result<bool> {
        if let Some(table) = self.load(location).await? {
            self.register(name, table).await?;
            return Ok(true);
        }
        if let Some(table) = self.iceberg.load(name, location).await? {
            self.register_iceberg(name, table).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// A provider of the table `name` as it was at `at` (time travel), whichever its format.
    pub(crate) async fn provider_as_of(
        &self,
        name: &str,
        at: lakeorm_core::AsOf,
    ) -> Result<Arc<dyn TableProvider>> {
        let location = self.location_of(name);
        if self.load(&location).await?.is_some() {
            let mut table = self.handle(&location)?;
            let loaded = match at {
                lakeorm_core::AsOf::Version(version) => {
                    let latest = table
                        .get_latest_version()
                        .await
                        .map_err(|e| errors::delta(name, "time travel", e))?;
                    let version = u64::try_from(version)
                        .ok()
                        .filter(|v| *v <= latest)
                        .ok_or_else(|| {
                            Error::sql(format!(
                                "`{name}` has no version {version} (the latest is {latest})"
                            ))
                        })?;
                    table.load_version(version).await
                }
                lakeorm_core::AsOf::Timestamp(instant) => table.load_with_datetime(instant).await,
            };
            loaded.map_err(|e| match e {
                deltalake::DeltaTableError::InvalidVersion(_)
                | deltalake::DeltaTableError::InvalidDateTimeString { .. } => {
                    Error::sql(format!("`{name}` has no version {at:?}: {e}"))
                }
                e => errors::delta(name, "time travel", e),
            })?;
            let provider = table
                .table_provider()
                .await
                .map_err(|e| errors::datafusion(&format!("reading `{name}` at {at:?}"), e))?;
            return Ok(crate::pruning::GeneratedPruning::wrap(provider, &table));
        }
        match self.iceberg.load(name, &location).await? {
            Some(table) => crate::iceberg::provider_as_of(&table, at).await,
            None => Err(Error::TableNotFound {
                table: name.to_owned(),
                location: Some(location.to_string()),
            }),
        }
    }

    /// Where the table `name` lives (the Backend's `tables/<name>`).
    pub(crate) fn location_of(&self, name: &str) -> Location {
        self.backend.table_location(name)
    }

    /// Deletes the table `name` and its files, whichever its format; `false` when there was
    /// none.
    pub(crate) async fn drop_table(&self, name: &str) -> Result<bool> {
        let location = self.location_of(name);
        let existed =
            self.load(&location).await?.is_some() || self.iceberg.is_table(&location).await?;
        self.forget(name);
        if existed {
            self.backend.delete_prefix(&location).await?;
        }
        Ok(existed)
    }

    /// Registers every Delta and Iceberg table under the backend's `tables/` prefix.
    pub(crate) async fn discover(&self) -> Result<Vec<String>> {
        let prefix = self.backend.root().join(TABLES_DIR);
        let listing = match self
            .store
            .list_with_delimiter(Some(&self.backend.store_path(&prefix)))
            .await
        {
            Ok(listing) => listing,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(Error::storage(&prefix, e)),
        };
        let mut found = Vec::new();
        for dir in listing.common_prefixes {
            let Some(name) = dir.filename().map(str::to_owned) else {
                continue;
            };
            if self.discover_one(&name, &prefix.join(&name)).await? {
                found.push(name);
            }
        }
        Ok(found)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The provider for `name`, refreshed if the table has new commits.
    async fn fresh_provider(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let entry = self.read().get(name).cloned();
        let Some(entry) = entry else {
            // Not seen yet: maybe another process created it.
            let location = self.backend.table_location(name);
            if self.discover_one(name, &location).await? {
                return Ok(self.read().get(name).map(|e| Arc::clone(&e.provider)));
            }
            return Ok(None);
        };
        let table = match entry.handle {
            Handle::Delta(table) => table,
            Handle::Iceberg(loaded) => {
                let location = self.backend.table_location(name);
                return match self.iceberg.latest(&location).await? {
                    Some((version, _)) if version == loaded.version => Ok(Some(entry.provider)),
                    Some(_) => {
                        if let Some(table) = self.iceberg.load(name, &location).await? {
                            self.register_iceberg(name, table).await?;
                        }
                        Ok(self.read().get(name).map(|e| Arc::clone(&e.provider)))
                    }
                    None => {
                        self.forget(name);
                        Ok(None)
                    }
                };
            }
        };
        let latest = table
            .get_latest_version()
            .await
            .map_err(|e| errors::delta(name, "refresh", e))?;
        if Some(latest) == table.version() {
            return Ok(Some(entry.provider));
        }
        let mut table = table;
        table
            .update_state()
            .await
            .map_err(|e| errors::delta(name, "refresh", e))?;
        self.register(name, table).await?;
        Ok(self.read().get(name).map(|e| Arc::clone(&e.provider)))
    }
}

#[async_trait]
impl SchemaProvider for LakeSchemaProvider {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().keys().cloned().collect();
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        self.fresh_provider(name)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.read().contains_key(name)
    }
}
