//! New snapshots: appends, overwrites and rewrites as manifest, manifest list and table updates.
//!
//! The `iceberg` crate commits only fast appends through its `Transaction`, which cannot be
//! extended from outside; row-level writes need an `overwrite` snapshot that deletes the files
//! it rewrote. Both are produced here from the crate's public manifest and manifest-list
//! writers, the way the spec lays them out: manifests of the parent snapshot that lose no file
//! are carried over as they are, those that lose files are rewritten with the files marked
//! `DELETED` (and the rest `EXISTING`, keeping their sequence numbers), and the added files go
//! into one new manifest.

use std::collections::{HashMap, HashSet};

use iceberg::spec::{
    DataFile, FormatVersion, MAIN_BRANCH, ManifestContentType, ManifestFile, ManifestList,
    ManifestListWriter, ManifestWriterBuilder, Operation, PartitionSpecRef, Snapshot,
    SnapshotReference, SnapshotRetention, SnapshotSummaryCollector, Summary,
};
use iceberg::table::Table;
use iceberg::{TableRequirement, TableUpdate};
use lakeorm_core::{Error, Result};

use super::errors::iceberg as iceberg_error;

/// What one snapshot changes.
#[derive(Debug, Default)]
pub(crate) struct Change {
    /// New data files.
    pub(crate) added: Vec<DataFile>,
    /// Paths of live data files the snapshot removes.
    pub(crate) removed: HashSet<String>,
    /// Extra summary properties (the ingest id).
    pub(crate) properties: HashMap<String, String>,
    /// `Replace` when rows are unchanged (compaction); otherwise derived from the files.
    pub(crate) replace: bool,
}

/// A snapshot ready to commit, and the metadata files written for it (removed again when the
/// commit loses a race).
pub(crate) struct Produced {
    pub(crate) updates: Vec<TableUpdate>,
    pub(crate) requirements: Vec<TableRequirement>,
    pub(crate) written: Vec<String>,
}

const TOTALS: [(&str, &str, &str); 3] = [
    ("total-data-files", "added-data-files", "deleted-data-files"),
    ("total-records", "added-records", "deleted-records"),
    ("total-files-size", "added-files-size", "removed-files-size"),
];

fn unique_snapshot_id(table: &Table) -> i64 {
    loop {
        let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
        let id = ((high ^ low) & (i64::MAX as u64)) as i64;
        if id != 0 && table.metadata().snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

/// Produces the snapshot of `change` on top of `table`'s current snapshot of `main`.
pub(crate) async fn produce(table: &Table, change: Change) -> Result<Produced> {
    let name = table.identifier().name().to_owned();
    let fail = |what: &'static str| {
        let name = name.clone();
        move |e| iceberg_error(&name, what, e)
    };
    let metadata = table.metadata();
    if metadata.format_version() == FormatVersion::V1 {
        return Err(Error::unsupported(
            "writing to an Iceberg v1 table",
            "the embedded engine",
            "upgrade the table to format version 2 (`'format-version' = '2'`)",
        ));
    }
    let file_io = table.file_io();
    let parent = metadata.current_snapshot();
    let parent_id = parent.map(|s| s.snapshot_id());
    let snapshot_id = unique_snapshot_id(table);
    let sequence = metadata.next_sequence_number();
    let commit = uuid::Uuid::now_v7();
    let metadata_dir = format!("{}/metadata", metadata.location().trim_end_matches('/'));
    let mut written = Vec::new();
    let mut collector = SnapshotSummaryCollector::default();
    let schema = metadata.current_schema().clone();
    let spec_of = |id: i32| -> Result<PartitionSpecRef> {
        metadata.partition_spec_by_id(id).cloned().ok_or_else(|| {
            Error::data_invalid(
                format!("the metadata of `{name}`"),
                format!("a manifest names partition spec {id}, which the table does not have"),
            )
        })
    };

    let mut manifests: Vec<ManifestFile> = Vec::new();
    let mut removed_found = 0usize;
    if let Some(parent) = parent {
        let bytes = file_io
            .new_input(parent.manifest_list())
            .map_err(fail("reading the manifest list"))?
            .read()
            .await
            .map_err(fail("reading the manifest list"))?;
        let list = ManifestList::parse_with_version(&bytes, metadata.format_version())
            .map_err(fail("reading the manifest list"))?;
        for (index, manifest_file) in list.entries().iter().cloned().enumerate() {
            if change.removed.is_empty() || manifest_file.content != ManifestContentType::Data {
                manifests.push(manifest_file);
                continue;
            }
            let manifest = manifest_file
                .load_manifest(file_io)
                .await
                .map_err(fail("reading a manifest"))?;
            let hits = manifest
                .entries()
                .iter()
                .any(|e| e.is_alive() && change.removed.contains(e.file_path()));
            if !hits {
                manifests.push(manifest_file);
                continue;
            }
            let spec = spec_of(manifest_file.partition_spec_id)?;
            let path = format!("{metadata_dir}/{commit}-r{index}.avro");
            let mut writer = manifest_writer(file_io, &path, snapshot_id, &schema, &spec)
                .map_err(fail("writing a manifest"))?;
            for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
                let sequence_number = entry.sequence_number().unwrap_or(0);
                let file_sequence = entry.file_sequence_number;
                let data_file = entry.data_file().clone();
                if change.removed.contains(entry.file_path()) {
                    removed_found += 1;
                    collector.remove_file(&data_file, schema.clone(), spec.clone());
                    writer
                        .add_delete_file(data_file, sequence_number, file_sequence)
                        .map_err(fail("writing a manifest"))?;
                } else {
                    let added_by = entry
                        .snapshot_id()
                        .unwrap_or(manifest_file.added_snapshot_id);
                    writer
                        .add_existing_file(data_file, added_by, sequence_number, file_sequence)
                        .map_err(fail("writing a manifest"))?;
                }
            }
            written.push(path);
            manifests.push(
                writer
                    .write_manifest_file()
                    .await
                    .map_err(fail("writing a manifest"))?,
            );
        }
    }
    if removed_found != change.removed.len() {
        // A file this change read was removed by a concurrent commit: re-plan on the new state.
        return Err(super::errors::conflict(
            &name,
            "a data file being rewritten is no longer part of the table",
        ));
    }

    let spec = metadata.default_partition_spec().clone();
    if !change.added.is_empty() {
        let path = format!("{metadata_dir}/{commit}-m0.avro");
        let mut writer = manifest_writer(file_io, &path, snapshot_id, &schema, &spec)
            .map_err(fail("writing a manifest"))?;
        for file in change.added {
            collector.add_file(&file, schema.clone(), spec.clone());
            writer
                .add_file(file, sequence)
                .map_err(fail("writing a manifest"))?;
        }
        written.push(path);
        manifests.push(
            writer
                .write_manifest_file()
                .await
                .map_err(fail("writing a manifest"))?,
        );
    }

    let list_path = format!("{metadata_dir}/snap-{snapshot_id}-1-{commit}.avro");
    let list_writer = file_io
        .new_output(&list_path)
        .map_err(fail("writing the manifest list"))?
        .writer()
        .await
        .map_err(fail("writing the manifest list"))?;
    let mut list = ManifestListWriter::v2(list_writer, snapshot_id, parent_id, sequence);
    list.add_manifests(manifests.into_iter())
        .map_err(fail("writing the manifest list"))?;
    list.close()
        .await
        .map_err(fail("writing the manifest list"))?;
    written.push(list_path.clone());

    let mut properties = change.properties;
    properties.extend(collector.build());
    let previous = parent.map(|s| s.summary().additional_properties.clone());
    add_totals(&mut properties, previous.as_ref());
    let operation = if change.replace {
        Operation::Replace
    } else if change.removed.is_empty() {
        Operation::Append
    } else if count(&properties, "added-data-files") == 0 {
        Operation::Delete
    } else {
        Operation::Overwrite
    };
    let snapshot = Snapshot::builder()
        .with_manifest_list(list_path)
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(parent_id)
        .with_sequence_number(sequence)
        .with_summary(Summary {
            operation,
            additional_properties: properties,
        })
        .with_schema_id(metadata.current_schema_id())
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .build();
    Ok(Produced {
        updates: vec![
            TableUpdate::AddSnapshot { snapshot },
            TableUpdate::SetSnapshotRef {
                ref_name: MAIN_BRANCH.to_owned(),
                reference: SnapshotReference::new(
                    snapshot_id,
                    SnapshotRetention::branch(None, None, None),
                ),
            },
        ],
        requirements: vec![
            TableRequirement::UuidMatch {
                uuid: metadata.uuid(),
            },
            TableRequirement::RefSnapshotIdMatch {
                r#ref: MAIN_BRANCH.to_owned(),
                snapshot_id: parent_id,
            },
        ],
        written,
    })
}

/// A v2 data-manifest writer at `path` for files of `spec`, entries added by `snapshot_id`.
fn manifest_writer(
    file_io: &iceberg::io::FileIO,
    path: &str,
    snapshot_id: i64,
    schema: &iceberg::spec::SchemaRef,
    spec: &PartitionSpecRef,
) -> iceberg::Result<iceberg::spec::ManifestWriter> {
    let output = file_io.new_output(path)?;
    Ok(ManifestWriterBuilder::new(
        output,
        Some(snapshot_id),
        schema.clone(),
        spec.as_ref().clone(),
    )
    .build_v2_data())
}

fn count(properties: &HashMap<String, String>, key: &str) -> u64 {
    properties
        .get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The `total-*` properties: the parent's totals moved by what this snapshot adds and removes.
/// A parent without totals (some writers omit them) leaves them out, as Iceberg's own writers do.
fn add_totals(
    properties: &mut HashMap<String, String>,
    previous: Option<&HashMap<String, String>>,
) {
    for (total, added, removed) in TOTALS {
        let base = match previous {
            None => Some(0),
            Some(previous) => previous.get(total).and_then(|v| v.parse::<u64>().ok()),
        };
        if let Some(base) = base {
            let value =
                (base + count(properties, added)).saturating_sub(count(properties, removed));
            properties.insert(total.to_owned(), value.to_string());
        }
    }
    for total in [
        "total-delete-files",
        "total-position-deletes",
        "total-equality-deletes",
    ] {
        let base = match previous {
            None => Some("0".to_owned()),
            Some(previous) => previous.get(total).cloned(),
        };
        if let Some(base) = base {
            properties.insert(total.to_owned(), base);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_follow_the_parent() {
        let mut props: HashMap<String, String> = [
            ("added-data-files", "2"),
            ("deleted-data-files", "1"),
            ("added-records", "10"),
            ("deleted-records", "4"),
            ("added-files-size", "100"),
            ("removed-files-size", "40"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let previous: HashMap<String, String> = [
            ("total-data-files", "3"),
            ("total-records", "30"),
            ("total-files-size", "300"),
            ("total-delete-files", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        add_totals(&mut props, Some(&previous));
        assert_eq!(props["total-data-files"], "4");
        assert_eq!(props["total-records"], "36");
        assert_eq!(props["total-files-size"], "360");
        assert_eq!(props["total-delete-files"], "0");
        assert!(!props.contains_key("total-position-deletes"));
    }
}
