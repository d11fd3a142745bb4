//! Iceberg tables in the hadoop-style filesystem layout, on any Backend.
//!
//! A table directory holds `metadata/v<N>.metadata.json` (one file per committed version) and
//! `metadata/version-hint.text` (the newest `N`), which is what Spark's Hadoop catalog and Sail
//! write and read. The `iceberg` crate has no catalog for this layout, so it is here: a commit
//! writes `v<N+1>.metadata.json` with create-if-absent semantics (a conditional put, which is
//! an atomic create on local disk, in memory and on object stores), so of two writers on the
//! same `N` exactly one wins and the other gets the retryable [`Error::CommitConflict`].
//! The hint is written after the commit and is only a hint: loads probe past it.

use std::sync::Arc;

use bytes::Bytes;
use iceberg::io::FileIO;
use iceberg::spec::{TableMetadata, TableMetadataBuilder};
use iceberg::table::Table;
use iceberg::{NamespaceIdent, TableCreation, TableIdent, TableRequirement, TableUpdate};
use lakeorm_core::{Backend, Error, Location, Result};
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions};

use super::errors::{conflict, iceberg as iceberg_error};

/// The namespace embedded tables are named in (the layout itself has none: a table is its
/// directory under the Backend's `tables/`).
pub(crate) const NAMESPACE: &str = "default";

const METADATA_DIR: &str = "metadata";
const VERSION_HINT: &str = "version-hint.text";

/// A loaded table and the metadata version it was loaded at.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) table: Table,
    pub(crate) version: u64,
}

impl Loaded {
    pub(crate) fn metadata(&self) -> &TableMetadata {
        self.table.metadata()
    }
}

/// The hadoop-layout catalog of one lake.
#[derive(Debug, Clone)]
pub(crate) struct IcebergTables {
    backend: Arc<dyn Backend>,
    store: Arc<dyn ObjectStore>,
    file_io: FileIO,
}

fn metadata_file(version: u64) -> String {
    format!("v{version}.metadata.json")
}

/// The version of a metadata file name (`v12.metadata.json`, `v12.gz.metadata.json`).
fn parse_version(file: &str) -> Option<u64> {
    let rest = file.strip_prefix('v')?;
    let number = rest
        .strip_suffix(".gz.metadata.json")
        .or_else(|| rest.strip_suffix(".metadata.json"))?;
    number.parse().ok()
}

impl IcebergTables {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Self {
        let store = backend.object_store();
        let file_io = super::storage::file_io(&backend);
        IcebergTables {
            backend,
            store,
            file_io,
        }
    }

    pub(crate) fn file_io(&self) -> &FileIO {
        &self.file_io
    }

    fn key(&self, location: &Location) -> object_store::path::Path {
        self.backend.store_path(location)
    }

    async fn exists(&self, location: &Location) -> Result<bool> {
        match self.store.head(&self.key(location)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(Error::storage(location, e)),
        }
    }

    /// The metadata file of `version` that exists (plain or gzipped), if any.
    async fn version_file(&self, table: &Location, version: u64) -> Result<Option<Location>> {
        let dir = table.join(METADATA_DIR);
        for name in [
            metadata_file(version),
            format!("v{version}.gz.metadata.json"),
        ] {
            let file = dir.join(&name);
            if self.exists(&file).await? {
                return Ok(Some(file));
            }
        }
        Ok(None)
    }

    /// The newest committed version of the table at `location` and its metadata file, or `None`
    /// when there is no Iceberg table there.
    pub(crate) async fn latest(&self, location: &Location) -> Result<Option<(u64, Location)>> {
        let dir = location.join(METADATA_DIR);
        let hint = match self.store.get(&self.key(&dir.join(VERSION_HINT))).await {
            Ok(got) => {
                let bytes = got.bytes().await.map_err(|e| Error::storage(&dir, e))?;
                std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|t| t.trim().parse::<u64>().ok())
            }
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(Error::storage(&dir, e)),
        };
        let start = match hint {
            Some(version) => self
                .version_file(location, version)
                .await?
                .map(|f| (version, f)),
            None => None,
        };
        let mut found = match start {
            Some(found) => found,
            None => match self.highest_listed(&dir).await? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        // The hint is written after a commit: newer versions may exist.
        while let Some(next) = self.version_file(location, found.0 + 1).await? {
            found = (found.0 + 1, next);
        }
        Ok(Some(found))
    }

    async fn highest_listed(&self, dir: &Location) -> Result<Option<(u64, Location)>> {
        let listing = match self.store.list_with_delimiter(Some(&self.key(dir))).await {
            Ok(listing) => listing,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(Error::storage(dir, e)),
        };
        Ok(listing
            .objects
            .iter()
            .filter_map(|o| {
                let name = o.location.filename()?;
                Some((parse_version(name)?, dir.join(name)))
            })
            .max_by_key(|(v, _)| *v))
    }

    /// Whether an Iceberg table lives at `location`.
    pub(crate) async fn is_table(&self, location: &Location) -> Result<bool> {
        Ok(self.latest(location).await?.is_some())
    }

    fn table(
        &self,
        name: &str,
        metadata: TableMetadata,
        metadata_location: &Location,
    ) -> Result<Table> {
        // The table's background work (reads, deletes) runs on the caller's tokio runtime.
        let runtime = iceberg::Runtime::try_current()
            .map_err(|e| iceberg_error(name, "opening the table", e))?;
        Table::builder()
            .identifier(ident(name))
            .runtime(runtime)
            .metadata(metadata)
            .metadata_location(metadata_location.as_str())
            .file_io(self.file_io.clone())
            .build()
            .map_err(|e| iceberg_error(name, "opening the table", e))
    }

    /// Loads the newest version of the table `name` at `location`.
    pub(crate) async fn load(&self, name: &str, location: &Location) -> Result<Option<Loaded>> {
        let Some((version, file)) = self.latest(location).await? else {
            return Ok(None);
        };
        let metadata = TableMetadata::read_from(&self.file_io, file.as_str())
            .await
            .map_err(|e| iceberg_error(name, "reading table metadata", e))?;
        Ok(Some(Loaded {
            table: self.table(name, metadata, &file)?,
            version,
        }))
    }

    /// Creates the table at `location` as `v1` (a table already there is loaded instead: two
    /// migrations racing both succeed, on whichever table won).
    pub(crate) async fn create(
        &self,
        name: &str,
        location: &Location,
        creation: TableCreation,
    ) -> Result<Loaded> {
        if let Some(existing) = self.load(name, location).await? {
            return Ok(existing);
        }
        let metadata = TableMetadataBuilder::from_table_creation(creation)
            .and_then(|b| b.build())
            .map_err(|e| iceberg_error(name, "creating the table", e))?
            .metadata;
        match self.put_version(name, location, 1, &metadata).await {
            Ok(loaded) => Ok(loaded),
            Err(Error::CommitConflict { .. }) => {
                self.load(name, location).await?.ok_or_else(|| {
                    Error::engine(
                        crate::errors::ENGINE,
                        format!("creating `{name}`"),
                        true,
                        "another writer created the table and it vanished before it could be read",
                    )
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Commits `updates` on top of `base`: checks `requirements` against it and writes the next
    /// version. A concurrent commit on the same version is an [`Error::CommitConflict`].
    pub(crate) async fn commit(
        &self,
        base: &Loaded,
        requirements: &[TableRequirement],
        updates: Vec<TableUpdate>,
    ) -> Result<Loaded> {
        let name = base.table.identifier().name().to_owned();
        for requirement in requirements {
            requirement
                .check(Some(base.metadata()))
                .map_err(|e| iceberg_error(&name, "checking the commit", e))?;
        }
        let mut builder = TableMetadataBuilder::new_from_metadata(
            base.metadata().clone(),
            base.table.metadata_location().map(str::to_owned),
        );
        for update in updates {
            builder = update
                .apply(builder)
                .map_err(|e| iceberg_error(&name, "applying the commit", e))?;
        }
        let metadata = builder
            .build()
            .map_err(|e| iceberg_error(&name, "building table metadata", e))?
            .metadata;
        let location = Location::parse(metadata.location())?;
        self.put_version(&name, &location, base.version + 1, &metadata)
            .await
    }

    async fn put_version(
        &self,
        name: &str,
        location: &Location,
        version: u64,
        metadata: &TableMetadata,
    ) -> Result<Loaded> {
        let dir = location.join(METADATA_DIR);
        let file = dir.join(&metadata_file(version));
        let json = serde_json::to_vec(metadata).map_err(|e| {
            Error::engine(
                crate::errors::ENGINE,
                format!("serialising `{name}`"),
                false,
                e,
            )
        })?;
        let create = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&self.key(&file), Bytes::from(json).into(), create)
            .await
        {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                return Err(conflict(
                    name,
                    format!("version {version} of `{name}` was committed by another writer"),
                ));
            }
            Err(e) => return Err(Error::storage(&file, e)),
        }
        // Best effort: readers probe past a stale hint.
        if let Err(e) = self
            .store
            .put(
                &self.key(&dir.join(VERSION_HINT)),
                Bytes::from(version.to_string()).into(),
            )
            .await
        {
            tracing::warn!(table = name, error = %e, "could not update version-hint.text");
        }
        Ok(Loaded {
            table: self.table(name, metadata.clone(), &file)?,
            version,
        })
    }
}

/// `table` as reads of its current state must see it: with the current schema.
///
/// The `iceberg` crate scans a snapshot with the schema the snapshot was written with, so after
/// a metadata-only schema change (a rename, an added column) the current snapshot would still
/// be read with the old names, and rewritten rows would lose renamed columns. Iceberg projects
/// old files onto the current schema by field id, so the current snapshot is read here through
/// a read-only copy of the metadata in which it carries the current schema id.
pub(crate) fn current_view(table: &Table) -> Result<Table> {
    let metadata = table.metadata();
    let name = table.identifier().name();
    let Some(snapshot) = metadata.current_snapshot() else {
        return Ok(table.clone());
    };
    if snapshot.schema_id() == Some(metadata.current_schema_id()) {
        return Ok(table.clone());
    }
    let fail = |e: serde_json::Error| {
        Error::engine(crate::errors::ENGINE, format!("reading `{name}`"), false, e)
    };
    let mut json = serde_json::to_value(metadata).map_err(fail)?;
    let schema_id = serde_json::Value::from(metadata.current_schema_id());
    let snapshot_id = serde_json::Value::from(snapshot.snapshot_id());
    if let Some(snapshots) = json.get_mut("snapshots").and_then(|s| s.as_array_mut()) {
        for s in snapshots
            .iter_mut()
            .filter(|s| s["snapshot-id"] == snapshot_id)
        {
            s["schema-id"] = schema_id.clone();
        }
    }
    let viewed: TableMetadata = serde_json::from_value(json).map_err(fail)?;
    let runtime =
        iceberg::Runtime::try_current().map_err(|e| iceberg_error(name, "opening the table", e))?;
    let mut builder = Table::builder()
        .identifier(table.identifier().clone())
        .runtime(runtime)
        .metadata(viewed)
        .file_io(table.file_io().clone())
        .readonly(true);
    if let Some(location) = table.metadata_location() {
        builder = builder.metadata_location(location);
    }
    builder
        .build()
        .map_err(|e| iceberg_error(name, "opening the table", e))
}

fn ident(name: &str) -> TableIdent {
    TableIdent::new(NamespaceIdent::new(NAMESPACE.to_owned()), name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_file_names() {
        assert_eq!(parse_version("v1.metadata.json"), Some(1));
        assert_eq!(parse_version("v12.gz.metadata.json"), Some(12));
        assert_eq!(parse_version("00001-abc.metadata.json"), None);
        assert_eq!(parse_version("version-hint.text"), None);
        assert_eq!(metadata_file(3), "v3.metadata.json");
    }

    /// Commits race on the next version (one wins, the other conflicts); a load finds the
    /// newest version past a stale hint, and by listing when the hint is gone or wrong.
    #[tokio::test]
    async fn commits_and_loads_follow_the_hadoop_layout() {
        use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};

        let backend = crate::iceberg::test_support::memory_lake();
        let tables = IcebergTables::new(Arc::clone(&backend));
        let location = backend.root().join("tables/t");
        let schema = Schema::builder()
            .with_fields(vec![Arc::new(NestedField::required(
                1,
                "id",
                Type::Primitive(PrimitiveType::Long),
            ))])
            .build()
            .unwrap();
        let creation = || {
            TableCreation::builder()
                .name("t".into())
                .location(location.to_string())
                .schema(schema.clone())
                .build()
        };
        let v1 = tables.create("t", &location, creation()).await.unwrap();
        assert_eq!(v1.version, 1);
        // Creating again loads the table that is there.
        let again = tables.create("t", &location, creation()).await.unwrap();
        assert_eq!(again.metadata().uuid(), v1.metadata().uuid());

        let property = |value: &str| TableUpdate::SetProperties {
            updates: [("k".to_owned(), value.to_owned())].into(),
        };
        let v2 = tables.commit(&v1, &[], vec![property("a")]).await.unwrap();
        assert_eq!(v2.version, 2);
        let lost = tables
            .commit(&v1, &[], vec![property("b")])
            .await
            .unwrap_err();
        assert!(matches!(lost, Error::CommitConflict { .. }), "{lost:?}");
        assert!(lost.is_retryable());

        let store = backend.object_store();
        let hint = |text: &str| {
            let store = Arc::clone(&store);
            let key = backend.store_path(&location.join("metadata/version-hint.text"));
            let text = text.to_owned();
            async move { store.put(&key, Bytes::from(text).into()).await.unwrap() }
        };
        hint("1").await;
        assert_eq!(
            tables.latest(&location).await.unwrap().unwrap().0,
            2,
            "past a stale hint"
        );
        hint("9").await;
        assert_eq!(
            tables.latest(&location).await.unwrap().unwrap().0,
            2,
            "a hint to nothing"
        );
        store
            .delete(&backend.store_path(&location.join("metadata/version-hint.text")))
            .await
            .unwrap();
        let loaded = tables.load("t", &location).await.unwrap().unwrap();
        assert_eq!(loaded.version, 2, "no hint: the highest listed");
        assert_eq!(
            loaded.metadata().properties().get("k").map(String::as_str),
            Some("a")
        );
        assert!(
            !tables
                .is_table(&backend.root().join("tables/none"))
                .await
                .unwrap()
        );
    }
}
