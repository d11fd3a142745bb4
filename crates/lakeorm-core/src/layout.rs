//! What a model's layout intents ask of its table's files.
//!
//! `#[lake(sortable)]`, `#[lake(indexed)]` and merge keys say how the table is read; the
//! [`Layout`] derived from them says what each engine does about it:
//!
//! | intent | files written | `optimize` | Parquet | Iceberg table |
//! |---|---|---|---|---|
//! | `sortable` | sorted by it (embedded engine) | Z-ordered by it | — | sort order in the metadata |
//! | `indexed`, merge keys | — | Z-ordered by them | bloom filters | a merge key is bucket-partitioned when nothing else partitions the table |
//!
//! Merge keys count as indexed unless the model says `#[lake(index_keys = false)]`.

use serde::{Deserialize, Serialize};

use crate::migration::{PartitionField, TableState};
use crate::schema::{LakeSchema, LakeType, Partition};

/// The bucket count of a merge key's bucket partition on Iceberg, unless the model sets
/// `#[lake(key_buckets = N)]`.
pub const DEFAULT_KEY_BUCKETS: u32 = 16;

/// The prefix of the Iceberg table property that turns on Parquet bloom filters for a column
/// (`write.parquet.bloom-filter-enabled.column.<name>`), which Iceberg writers read.
pub const ICEBERG_BLOOM_FILTER_PROPERTY: &str = "write.parquet.bloom-filter-enabled.column.";

/// A model's layout choices beyond its fields' intents (container attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayoutOptions {
    /// How many buckets a merge key is split into when it partitions an Iceberg table.
    pub key_buckets: u32,
    /// Whether merge keys are laid out like `indexed` columns (Z-order, bloom filters, Iceberg
    /// bucketing).
    pub index_keys: bool,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            key_buckets: DEFAULT_KEY_BUCKETS,
            index_keys: true,
        }
    }
}

/// The layout a model's table gets, derived from its intents ([`LakeSchema::layout`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Layout {
    /// The `sortable` columns, in declaration order: what files are sorted by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort_by: Vec<String>,
    /// What `optimize` Z-orders by: the sort columns, then the indexed ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zorder_by: Vec<String>,
    /// The indexed columns whose Parquet column chunks carry bloom filters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bloom_filters: Vec<String>,
    /// The merge key a table partitioned by nothing else is bucketed by, where the format
    /// buckets keys (Iceberg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_bucket: Option<PartitionField>,
}

impl Layout {
    /// `state` with [`key_bucket`](Self::key_bucket) applied: the key column partitioned by its
    /// bucket, when no column of `state` is partitioned already.
    pub fn bucket_keys(&self, state: &TableState) -> TableState {
        let mut state = state.clone();
        if let Some(bucket) = &self.key_bucket
            && state.columns.iter().all(|c| c.partition.is_none())
            && let Some(column) = state.columns.iter_mut().find(|c| c.name == bucket.column)
        {
            column.partition = Some(bucket.transform);
        }
        state
    }
}

/// Whether min/max statistics and Z-order keys are meaningful for `ty` (ordered scalars).
fn orderable(ty: &LakeType) -> bool {
    !matches!(
        ty,
        LakeType::Json | LakeType::List(_) | LakeType::Struct(_) | LakeType::Boolean
    )
}

/// Whether an Iceberg bucket transform applies to `ty`.
fn bucketable(ty: &LakeType) -> bool {
    !matches!(
        ty,
        LakeType::Json
            | LakeType::List(_)
            | LakeType::Struct(_)
            | LakeType::Boolean
            | LakeType::Float32
            | LakeType::Float64
    )
}

impl LakeSchema {
    /// The layout the model's intents ask for (see the [module docs](crate::layout)).
    pub fn layout(&self) -> Layout {
        let options = self.layout_options();
        let fields = self.fields();
        let sort_by: Vec<String> = fields
            .iter()
            .filter(|f| f.sortable && orderable(&f.ty.ty))
            .map(|f| f.column.clone())
            .collect();
        let indexed: Vec<String> = fields
            .iter()
            .filter(|f| (f.indexed || (f.merge_key && options.index_keys)) && orderable(&f.ty.ty))
            .map(|f| f.column.clone())
            .collect();
        let mut zorder_by = sort_by.clone();
        zorder_by.extend(indexed.iter().filter(|c| !sort_by.contains(c)).cloned());
        let key_bucket = if options.index_keys && self.partitions().next().is_none() {
            self.merge_key()
                .find(|f| bucketable(&f.ty.ty))
                .map(|f| PartitionField {
                    column: f.column.clone(),
                    transform: Partition::Bucket(options.key_buckets),
                })
        } else {
            None
        };
        Layout {
            sort_by,
            zorder_by,
            bloom_filters: indexed,
            key_bucket,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ColumnType, LakeField};

    fn field(name: &'static str, ty: LakeType) -> LakeField {
        LakeField::new(name, name, ColumnType::required(ty))
    }

    fn model(options: LayoutOptions) -> LakeSchema {
        let mut id = field("id", LakeType::String);
        id.sortable = true;
        let mut email = field("email", LakeType::String);
        email.merge_key = true;
        let mut region = field("region", LakeType::String);
        region.indexed = true;
        let mut tags = field("tags", LakeType::Json);
        tags.indexed = true;
        LakeSchema::new("User", "users", vec![id, email, region, tags]).with_layout_options(options)
    }

    #[test]
    fn intents_become_a_layout() {
        let layout = model(LayoutOptions::default()).layout();
        assert_eq!(layout.sort_by, ["id"]);
        assert_eq!(layout.zorder_by, ["id", "email", "region"]);
        assert_eq!(layout.bloom_filters, ["email", "region"]);
        assert_eq!(
            layout.key_bucket,
            Some(PartitionField {
                column: "email".into(),
                transform: Partition::Bucket(DEFAULT_KEY_BUCKETS)
            })
        );
    }

    #[test]
    fn models_choose_the_buckets_or_opt_keys_out() {
        let eight = model(LayoutOptions {
            key_buckets: 8,
            index_keys: true,
        });
        let bucketed = eight.layout().bucket_keys(&TableState::from_schema(&eight));
        assert_eq!(
            bucketed.column("email").unwrap().partition,
            Some(Partition::Bucket(8))
        );
        let out = model(LayoutOptions {
            key_buckets: 8,
            index_keys: false,
        })
        .layout();
        assert_eq!(out.zorder_by, ["id", "region"]);
        assert_eq!(out.bloom_filters, ["region"]);
        assert_eq!(out.key_bucket, None);
    }

    #[test]
    fn a_declared_partition_wins_over_the_key_bucket() {
        let mut day = field("day", LakeType::Date);
        day.partition = Some(Partition::Identity);
        let mut key = field("key", LakeType::Int64);
        key.merge_key = true;
        let schema = LakeSchema::new("E", "events", vec![day, key]);
        assert_eq!(schema.layout().key_bucket, None);
        let state = TableState::from_schema(&schema);
        let bucketed = Layout {
            key_bucket: Some(PartitionField {
                column: "key".into(),
                transform: Partition::Bucket(4),
            }),
            ..Layout::default()
        };
        assert_eq!(bucketed.bucket_keys(&state), state);
    }
}
