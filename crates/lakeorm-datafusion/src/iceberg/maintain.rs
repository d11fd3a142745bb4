//! Maintenance of Iceberg tables: compaction, snapshot expiry and orphan-file removal.

use std::collections::{BTreeMap, HashSet};

use futures::TryStreamExt as _;
use iceberg::expr::Predicate;
use iceberg::scan::FileScanTask;
use iceberg::spec::{ManifestList, TableMetadata};
use iceberg::table::Table;
use iceberg::{TableRequirement, TableUpdate};
use lakeorm_core::{Error, Result};
use object_store::ObjectStoreExt as _;

use super::errors::iceberg as iceberg_error;
use super::rewrite::Rewrite;

/// Plans a compaction of `table`: the rows of its small files (see [`small_files`]), to be
/// rewritten into as few files as `target_size` (default: the table's
/// `write.target-file-size-bytes`) allows. With `zorder` columns every file is rewritten,
/// Z-ordered by them, since ordering is what is asked of the rewrite. `filter` limits the
/// files to those that may hold matching rows.
pub(crate) async fn compaction(
    table: &Table,
    target_size: Option<u64>,
    zorder: &[String],
    filter: Option<Predicate>,
) -> Result<Rewrite> {
    let name = table.identifier().name();
    let target = match target_size {
        Some(size) => size,
        None => {
            table
                .metadata()
                .table_properties()
                .map_err(|e| iceberg_error(name, "reading table properties", e))?
                .write_target_file_size_bytes as u64
        }
    };
    let view = super::tables::current_view(table)?;
    let tasks = if zorder.is_empty() {
        small_files(&view, target, filter).await?
    } else {
        live_files(&view, filter).await?
    };
    let removed = tasks.iter().map(|t| t.data_file_path.clone()).collect();
    let unfiltered = tasks.into_iter().map(|mut t| {
        t.predicate = None;
        Ok(t)
    });
    let rows = view
        .reader_builder()
        .build()
        .read(Box::pin(futures::stream::iter(unfiltered)))
        .map_err(|e| iceberg_error(name, "reading files to compact", e))?
        .stream()
        .try_collect()
        .await
        .map_err(|e| iceberg_error(name, "reading files to compact", e))?;
    Ok(Rewrite {
        removed,
        rows,
        replace: true,
        zorder: zorder.to_vec(),
        target_size,
        ..Default::default()
    })
}

/// The live data files of `table` that may hold rows matching `filter`.
async fn live_files(table: &Table, filter: Option<Predicate>) -> Result<Vec<FileScanTask>> {
    let name = table.identifier().name();
    if table.metadata().current_snapshot().is_none() {
        return Ok(Vec::new());
    }
    let fail = |e| iceberg_error(name, "planning compaction", e);
    let mut scan = table.scan().select_all();
    if let Some(filter) = filter {
        scan = scan.with_filter(filter);
    }
    scan.build()
        .map_err(fail)?
        .plan_files()
        .await
        .map_err(fail)?
        .try_collect()
        .await
        .map_err(fail)
}

/// The files compaction rewrites: live data files smaller than `target`, in partitions holding
/// more than one of them (a lone small file is already as compact as its partition gets).
async fn small_files(
    table: &Table,
    target: u64,
    filter: Option<Predicate>,
) -> Result<Vec<FileScanTask>> {
    let tasks = live_files(table, filter).await?;
    let mut groups: BTreeMap<String, Vec<FileScanTask>> = BTreeMap::new();
    for task in tasks {
        if task.file_size_in_bytes < target || !task.deletes.is_empty() {
            let partition = format!("{:?}", task.partition);
            groups.entry(partition).or_default().push(task);
        }
    }
    Ok(groups
        .into_values()
        .filter(|group| group.len() > 1 || group.iter().any(|t| !t.deletes.is_empty()))
        .flatten()
        .collect())
}

/// The snapshot ids a table's branches and tags point at (the crate keeps refs private; the
/// metadata JSON names them).
fn referenced_snapshots(metadata: &TableMetadata) -> HashSet<i64> {
    let mut ids: HashSet<i64> = metadata.current_snapshot_id().into_iter().collect();
    if let Ok(json) = serde_json::to_value(metadata)
        && let Some(refs) = json.get("refs").and_then(|r| r.as_object())
    {
        ids.extend(
            refs.values()
                .filter_map(|r| r.get("snapshot-id").and_then(|v| v.as_i64())),
        );
    }
    ids
}

/// The updates that expire the snapshots older than `older_than_ms` (never the current one or
/// one a branch or tag points at), or `None` when there is nothing to expire.
pub(crate) fn expire(
    metadata: &TableMetadata,
    older_than_ms: i64,
) -> Option<(Vec<TableRequirement>, Vec<TableUpdate>)> {
    let keep = referenced_snapshots(metadata);
    let expired: Vec<i64> = metadata
        .snapshots()
        .filter(|s| s.timestamp_ms() < older_than_ms && !keep.contains(&s.snapshot_id()))
        .map(|s| s.snapshot_id())
        .collect();
    if expired.is_empty() {
        return None;
    }
    Some((
        vec![
            TableRequirement::UuidMatch {
                uuid: metadata.uuid(),
            },
            TableRequirement::RefSnapshotIdMatch {
                r#ref: iceberg::spec::MAIN_BRANCH.to_owned(),
                snapshot_id: metadata.current_snapshot_id(),
            },
        ],
        vec![TableUpdate::RemoveSnapshots {
            snapshot_ids: expired,
        }],
    ))
}

/// Every file the table's snapshots reach: manifest lists, manifests, data and delete files.
async fn reachable(table: &Table) -> Result<HashSet<String>> {
    let name = table.identifier().name();
    let fail = |e| iceberg_error(name, "listing the table's files", e);
    let metadata = table.metadata();
    let file_io = table.file_io();
    let mut files = HashSet::new();
    for snapshot in metadata.snapshots() {
        files.insert(snapshot.manifest_list().to_owned());
        let bytes = file_io
            .new_input(snapshot.manifest_list())
            .map_err(fail)?
            .read()
            .await
            .map_err(fail)?;
        let list =
            ManifestList::parse_with_version(&bytes, metadata.format_version()).map_err(fail)?;
        for manifest_file in list.entries() {
            if !files.insert(manifest_file.manifest_path.clone()) {
                continue;
            }
            let manifest = manifest_file.load_manifest(file_io).await.map_err(fail)?;
            for entry in manifest.entries() {
                files.insert(entry.file_path().to_owned());
            }
        }
    }
    Ok(files)
}

/// Deletes the files under the table's location that no snapshot reaches and that were
/// last modified before `older_than` (younger ones may belong to a write in flight). Metadata
/// JSON files and the version hint are the table's history and are kept.
pub(crate) async fn remove_orphans(
    table: &Table,
    backend: &dyn lakeorm_core::Backend,
    older_than: chrono::DateTime<chrono::Utc>,
) -> Result<u64> {
    // Writers spell URIs differently (`file:/x` and `file:///x`, bare paths): compare them
    // normalised, and remove nothing when one cannot be understood.
    let reachable = reachable(table)
        .await?
        .into_iter()
        .map(|path| {
            lakeorm_core::Location::parse(&path)
                .or_else(|e| {
                    if path.starts_with('/') {
                        lakeorm_core::Location::from_path(&path)
                    } else {
                        Err(e)
                    }
                })
                .map(|l| l.as_str().to_owned())
                .map_err(|_| {
                    Error::data_invalid(
                        format!("the manifests of `{}`", table.identifier().name()),
                        format!("`{path}` is not a URI; no orphan files were removed"),
                    )
                })
        })
        .collect::<Result<HashSet<String>>>()?;
    let location = lakeorm_core::Location::parse(table.metadata().location())?;
    let store = backend.object_store();
    let prefix = backend.store_path(&location);
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| Error::storage(&location, e))?;
    let mut removed = 0;
    for object in listed {
        let file = object.location.filename().unwrap_or_default();
        if file.ends_with(".metadata.json") || file == "version-hint.text" {
            continue;
        }
        let relative = object
            .location
            .as_ref()
            .strip_prefix(prefix.as_ref())
            .unwrap_or(object.location.as_ref())
            .trim_start_matches('/');
        let uri = location.join(relative);
        if reachable.contains(uri.as_str()) || object.last_modified >= older_than {
            continue;
        }
        match store.delete(&object.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
            Err(e) => return Err(Error::storage(&uri, e)),
        }
    }
    Ok(removed)
}
