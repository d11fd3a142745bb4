//! Whether a write committed: what makes a retry after a lost reply safe on Spark Connect.
//!
//! A Spark SQL statement cannot put the ingest id into the commit it makes on every server
//! (Sail ignores Delta's `commitInfo.userMetadata` session setting and Iceberg snapshot
//! properties alike), but every row a lakeorm write inserts or updates carries the write's
//! `_ingest_id`. A write therefore committed exactly when a version of the table made since
//! the id was minted holds a row stamped with it: in the version the write made, its rows are
//! there, whatever later writes did to them. The versions come from the table's own log, read
//! through the Backend (Delta's `_delta_log`, Iceberg's metadata file); commits that carry
//! the id in their metadata (those of the embedded engine) answer without a query.

use futures::TryStreamExt;
use lakeorm_core::{Backend, Error, INGEST_ID_COLUMN, IngestId, Result, Statement, TableFormat};
use lakeorm_core::{Location, TableSpec};
use object_store::ObjectStoreExt as _;
use serde_json::Value;

use crate::errors::ENGINE;

/// How far before an ingest id's timestamp the commit carrying it may be, for writers whose
/// clocks disagree.
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// The most versions looked at; beyond them the answer is not known (an error), never a
/// guess.
pub(crate) const MAX_VERSIONS: usize = 256;

/// The commit-info key (embedded engine) and user-metadata form of a Delta commit's ingest id.
const DELTA_COMMIT_KEY: &str = "lakeorm.ingestId";
/// The snapshot-summary key of an Iceberg commit's ingest id (embedded engine).
const ICEBERG_SUMMARY_KEY: &str = "lakeorm.ingest-id";

/// What the log says about a write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Logged {
    /// A commit's metadata carries the ingest id.
    Committed,
    /// No commit's metadata does; these versions (oldest first) were made since the id was
    /// minted, and their rows decide.
    Candidates(Vec<i64>),
}

fn storage(location: &Location, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Storage {
        location: location.to_string(),
        source: Box::new(e),
    }
}

async fn read_json(backend: &dyn Backend, location: &Location) -> Result<Option<Value>> {
    let store = backend.object_store();
    match store.get(&backend.store_path(location)).await {
        Ok(object) => {
            let bytes = object.bytes().await.map_err(|e| storage(location, e))?;
            Ok(Some(
                serde_json::from_slice(&bytes).map_err(|e| storage(location, e))?,
            ))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(storage(location, e)),
    }
}

/// Reads the log of `table` (at the client's `location`) for commits since `ingest_id`.
pub(crate) async fn logged(
    backend: &dyn Backend,
    table: &TableSpec,
    location: &Location,
    ingest_id: &IngestId,
) -> Result<Logged> {
    let since = ingest_id.timestamp().timestamp_millis() - CLOCK_SKEW_MS;
    match table.format {
        TableFormat::Delta => delta(backend, location, ingest_id, since).await,
        TableFormat::Iceberg => iceberg(backend, location, ingest_id, since).await,
        _ => Err(Error::unsupported(
            format!("looking up commits of `{}`", table.table),
            ENGINE,
            "the table format has no commit log lakeorm reads",
        )),
    }
}

async fn delta(
    backend: &dyn Backend,
    location: &Location,
    ingest_id: &IngestId,
    since: i64,
) -> Result<Logged> {
    let log = location.join("_delta_log");
    let store = backend.object_store();
    let prefix = backend.store_path(&log);
    let mut versions: Vec<i64> = store
        .list(Some(&prefix))
        .map_ok(|meta| meta.location.filename().map(str::to_owned))
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| storage(&log, e))?
        .into_iter()
        .flatten()
        .filter_map(|name| name.strip_suffix(".json")?.parse().ok())
        .collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    let wanted = ingest_id.to_string();
    let user_metadata = format!("{DELTA_COMMIT_KEY}={wanted}");
    let mut candidates = Vec::new();
    for version in versions {
        let commit = log.join(&format!("{version:020}.json"));
        let text = match store.get(&backend.store_path(&commit)).await {
            Ok(object) => object.bytes().await.map_err(|e| storage(&commit, e))?,
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(storage(&commit, e)),
        };
        let info = text
            .split(|b| *b == b'\n')
            .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
            .find_map(|action| action.get("commitInfo").cloned());
        let Some(info) = info else { continue };
        if info.get(DELTA_COMMIT_KEY).and_then(Value::as_str) == Some(wanted.as_str())
            || info.get("userMetadata").and_then(Value::as_str) == Some(user_metadata.as_str())
        {
            return Ok(Logged::Committed);
        }
        let timestamp = info
            .get("timestamp")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX);
        if timestamp < since {
            break;
        }
        candidates.push(version);
        if candidates.len() > MAX_VERSIONS {
            return Err(too_many(location));
        }
    }
    candidates.reverse();
    Ok(Logged::Candidates(candidates))
}

async fn iceberg(
    backend: &dyn Backend,
    location: &Location,
    ingest_id: &IngestId,
    since: i64,
) -> Result<Logged> {
    let dir = location.join("metadata");
    let hint = backend
        .object_store()
        .get(&backend.store_path(&dir.join("version-hint.text")))
        .await;
    let newest = match hint {
        Ok(object) => {
            let bytes = object.bytes().await.map_err(|e| storage(&dir, e))?;
            String::from_utf8_lossy(&bytes).trim().parse::<u64>().ok()
        }
        Err(_) => None,
    };
    let newest = match newest {
        Some(n) => n,
        None => newest_metadata(backend, &dir).await?,
    };
    // The hint may lag a commit that has just landed: look one step past it.
    let mut metadata = None;
    for n in [newest + 1, newest] {
        if let Some(m) = read_json(backend, &dir.join(&format!("v{n}.metadata.json"))).await? {
            metadata = Some(m);
            break;
        }
    }
    let Some(metadata) = metadata else {
        return Err(Error::unsupported(
            format!("looking up commits of the Iceberg table at {location}"),
            ENGINE,
            "its metadata is not in the hadoop layout (metadata/vN.metadata.json) on the lake's storage",
        ));
    };
    let wanted = ingest_id.to_string();
    let mut candidates = Vec::new();
    for snapshot in metadata
        .get("snapshots")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let summary = snapshot.get("summary");
        if summary
            .and_then(|s| s.get(ICEBERG_SUMMARY_KEY))
            .and_then(Value::as_str)
            == Some(wanted.as_str())
        {
            return Ok(Logged::Committed);
        }
        let timestamp = snapshot
            .get("timestamp-ms")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX);
        if let Some(id) = snapshot.get("snapshot-id").and_then(Value::as_i64)
            && timestamp >= since
        {
            candidates.push((timestamp, id));
        }
    }
    if candidates.len() > MAX_VERSIONS {
        return Err(too_many(location));
    }
    candidates.sort_unstable();
    Ok(Logged::Candidates(
        candidates.into_iter().map(|(_, id)| id).collect(),
    ))
}

async fn newest_metadata(backend: &dyn Backend, dir: &Location) -> Result<u64> {
    let names: Vec<String> = backend
        .object_store()
        .list(Some(&backend.store_path(dir)))
        .map_ok(|meta| meta.location.filename().unwrap_or_default().to_owned())
        .try_collect()
        .await
        .map_err(|e| storage(dir, e))?;
    Ok(names
        .iter()
        .filter_map(|n| {
            n.strip_prefix('v')?
                .strip_suffix(".metadata.json")?
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0))
}

fn too_many(location: &Location) -> Error {
    Error::unsupported(
        format!("looking up commits of the table at {location}"),
        ENGINE,
        format!(
            "more than {MAX_VERSIONS} versions were committed since the write; its outcome cannot be read cheaply"
        ),
    )
}

/// Whether the files Delta `version` of the table at `location` added hold a row stamped with
/// `ingest_id`, read through the Backend rather than asked of the server.
///
/// The rows a write inserts or updates are in the files its commit adds, so this answers
/// for the write's own version whatever later commits did. It is asked instead of a
/// `VERSION AS OF` query because Sail can refuse time travel on a table other writers are
/// committing to (`Missing commit file: expected version 0, found 1`), which would leave
/// every contended write's outcome unknown. Files whose `_ingest_id` statistics exclude the
/// id are not opened (ids are time-ordered, so most are excluded); of the others only the
/// `_ingest_id` column is read.
pub(crate) async fn delta_version_holds(
    backend: &dyn Backend,
    location: &Location,
    version: i64,
    ingest_id: &IngestId,
) -> Result<bool> {
    let commit = location
        .join("_delta_log")
        .join(&format!("{version:020}.json"));
    let store = backend.object_store();
    let text = match store.get(&backend.store_path(&commit)).await {
        Ok(object) => object.bytes().await.map_err(|e| storage(&commit, e))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(false),
        Err(e) => return Err(storage(&commit, e)),
    };
    let wanted = ingest_id.to_string();
    for action in text
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
    {
        let Some(add) = action.get("add") else {
            continue;
        };
        let Some(path) = add.get("path").and_then(Value::as_str) else {
            continue;
        };
        if !stats_admit(add, &wanted) {
            continue;
        }
        if path.contains("://") {
            return Err(Error::unsupported(
                format!("looking up commits of the table at {location}"),
                ENGINE,
                "a commit adds a file outside the table's directory",
            ));
        }
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        let file = location.join(&decoded);
        if file_holds(backend, &file, &wanted).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether an `add` action's statistics allow a row whose `_ingest_id` is `wanted`. Delta
/// truncates string statistics (to 32 characters by default), so the maximum is compared
/// with as much of the id as it holds.
fn stats_admit(add: &Value, wanted: &str) -> bool {
    let Some(stats) = add
        .get("stats")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    else {
        return true;
    };
    let bound = |key: &str| {
        stats
            .get(key)
            .and_then(|v| v.get(INGEST_ID_COLUMN))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(min) = bound("minValues")
        && wanted < min.as_str()
    {
        return false;
    }
    if let Some(max) = bound("maxValues") {
        let prefix = wanted.get(..max.len().min(wanted.len())).unwrap_or(wanted);
        if prefix > max.as_str() {
            return false;
        }
    }
    true
}

/// Whether the Parquet file at `file` holds a row whose `_ingest_id` is `wanted`.
async fn file_holds(backend: &dyn Backend, file: &Location, wanted: &str) -> Result<bool> {
    use arrow::array::{Array, AsArray};
    use parquet::arrow::ParquetRecordBatchStreamBuilder;
    use parquet::arrow::async_reader::ParquetObjectReader;

    let read = |e: parquet::errors::ParquetError| storage(file, e);
    let reader = ParquetObjectReader::new(backend.object_store(), backend.store_path(file));
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(read)?;
    let Some(column) = builder
        .parquet_schema()
        .columns()
        .iter()
        .position(|c| c.name() == INGEST_ID_COLUMN)
    else {
        return Ok(false);
    };
    let mask = parquet::arrow::ProjectionMask::leaves(builder.parquet_schema(), [column]);
    let mut batches = builder.with_projection(mask).build().map_err(read)?;
    while let Some(batch) = batches.try_next().await.map_err(read)? {
        let ids = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
            .map_err(|e| storage(file, e))?;
        let ids = ids.as_string::<i32>();
        if (0..ids.len()).any(|i| ids.is_valid(i) && ids.value(i) == wanted) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The query that finds a row of the write in `version` of `table` (the current version
/// for `None`).
pub(crate) fn probe(qualified: &str, version: Option<i64>, ingest_id: &IngestId) -> Statement {
    let at = version
        .map(|v| format!(" VERSION AS OF {v}"))
        .unwrap_or_default();
    Statement::new(format!(
        "SELECT 1 AS hit FROM {qualified}{at} WHERE `{INGEST_ID_COLUMN}` = ? LIMIT 1"
    ))
    .bind(ingest_id.to_string())
}
