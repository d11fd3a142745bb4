//! Schema evolution as data: the recorded state of a table and the changes between two states.
//!
//! Migration authoring diffs a model ([`TableState::from_schema`]) against the state recorded in
//! the newest migration file of its table, producing [`SchemaChange`]s; each
//! [`Dialect`](crate::Dialect) classifies them ([`Safety`]) and renders them as SQL. Nothing here
//! touches storage, so migrations are authored without a running lake.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::schema::{LakeSchema, LakeType, Partition};

/// One column as a migration records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ColumnState {
    /// The column name.
    pub name: String,
    /// The logical type.
    #[serde(rename = "type")]
    pub ty: LakeType,
    /// Whether the column admits NULL.
    pub nullable: bool,
    /// The partition transform, when the table is partitioned by this column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
}

/// The shape of a table as of a migration: what the next migration is diffed against.
///
/// Keys, validators and layout intents are not part of it: lake tables do not enforce them, so
/// they never need a migration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableState {
    /// The table name (unqualified).
    pub table: String,
    /// The columns in declaration order, without the system column.
    pub columns: Vec<ColumnState>,
    /// The columns the table is liquid-clustered by (Delta `CLUSTER BY`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clustering: Vec<String>,
    /// The table's sort order (Iceberg's `WRITE ORDERED BY`), ascending, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sorted_by: Vec<String>,
    /// Table properties the layout asks for (Iceberg's bloom-filter columns), on top of the
    /// dialect's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

impl ColumnState {
    /// An unpartitioned column.
    pub fn new(name: impl Into<String>, ty: LakeType, nullable: bool) -> Self {
        ColumnState {
            name: name.into(),
            ty,
            nullable,
            partition: None,
        }
    }
}

impl TableState {
    /// A table of `columns`, not clustered.
    pub fn new(table: impl Into<String>, columns: Vec<ColumnState>) -> Self {
        TableState {
            table: table.into(),
            columns,
            clustering: Vec::new(),
            sorted_by: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    /// The state a model declares.
    pub fn from_schema(schema: &LakeSchema) -> Self {
        TableState {
            table: schema.table().to_owned(),
            columns: schema
                .fields()
                .iter()
                .map(|f| ColumnState {
                    name: f.column.clone(),
                    ty: f.ty.ty.clone(),
                    nullable: f.ty.nullable,
                    partition: f.partition,
                })
                .collect(),
            clustering: Vec::new(),
            sorted_by: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnState> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The partition columns with their transforms, in column order.
    pub fn partitioning(&self) -> Vec<PartitionField> {
        self.columns
            .iter()
            .filter_map(|c| {
                c.partition.map(|transform| PartitionField {
                    column: c.name.clone(),
                    transform,
                })
            })
            .collect()
    }
}

/// A column with the transform that partitions its table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionField {
    /// The source column.
    pub column: String,
    /// The transform applied to it.
    pub transform: Partition,
}

impl fmt::Display for PartitionField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.column;
        match self.transform {
            Partition::Identity => f.write_str(c),
            Partition::Bucket(n) => write!(f, "bucket({n}, {c})"),
            Partition::Truncate(w) => write!(f, "truncate({w}, {c})"),
            other => write!(f, "{other}({c})"),
        }
    }
}

/// One step that takes a table from one state to the next.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaChange {
    /// Create the table.
    CreateTable(TableState),
    /// Drop the table and its data.
    DropTable(TableState),
    /// Add a column.
    AddColumn(ColumnState),
    /// Drop a column and its data.
    DropColumn(ColumnState),
    /// Rename a column, keeping its data.
    RenameColumn {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// Change a column's type.
    ChangeType {
        /// The column.
        column: String,
        /// Its current type.
        from: LakeType,
        /// Its new type.
        to: LakeType,
    },
    /// Let a column hold NULL.
    DropNotNull {
        /// The column.
        column: String,
    },
    /// Forbid NULL in a column.
    SetNotNull {
        /// The column.
        column: String,
    },
    /// Change how the table is partitioned.
    Repartition {
        /// The partitioning before.
        from: Vec<PartitionField>,
        /// The partitioning after.
        to: Vec<PartitionField>,
    },
}

impl SchemaChange {
    /// The change that undoes this one (for the Down half of a migration).
    pub fn inverse(&self) -> SchemaChange {
        match self {
            SchemaChange::CreateTable(state) => SchemaChange::DropTable(state.clone()),
            SchemaChange::DropTable(state) => SchemaChange::CreateTable(state.clone()),
            SchemaChange::AddColumn(column) => SchemaChange::DropColumn(column.clone()),
            SchemaChange::DropColumn(column) => SchemaChange::AddColumn(column.clone()),
            SchemaChange::RenameColumn { from, to } => SchemaChange::RenameColumn {
                from: to.clone(),
                to: from.clone(),
            },
            SchemaChange::ChangeType { column, from, to } => SchemaChange::ChangeType {
                column: column.clone(),
                from: to.clone(),
                to: from.clone(),
            },
            SchemaChange::DropNotNull { column } => SchemaChange::SetNotNull {
                column: column.clone(),
            },
            SchemaChange::SetNotNull { column } => SchemaChange::DropNotNull {
                column: column.clone(),
            },
            SchemaChange::Repartition { from, to } => SchemaChange::Repartition {
                from: to.clone(),
                to: from.clone(),
            },
        }
    }
}

impl fmt::Display for SchemaChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |fields: &[PartitionField]| {
            if fields.is_empty() {
                "unpartitioned".to_owned()
            } else {
                fields
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        match self {
            SchemaChange::CreateTable(state) => write!(f, "create table `{}`", state.table),
            SchemaChange::DropTable(state) => write!(f, "drop table `{}`", state.table),
            SchemaChange::AddColumn(c) => write!(
                f,
                "add column `{}` {}{}",
                c.name,
                c.ty,
                if c.nullable { "" } else { " not null" }
            ),
            SchemaChange::DropColumn(c) => write!(f, "drop column `{}`", c.name),
            SchemaChange::RenameColumn { from, to } => {
                write!(f, "rename column `{from}` to `{to}`")
            }
            SchemaChange::ChangeType { column, from, to } => {
                write!(f, "change column `{column}` from {from} to {to}")
            }
            SchemaChange::DropNotNull { column } => write!(f, "make column `{column}` nullable"),
            SchemaChange::SetNotNull { column } => write!(f, "make column `{column}` NOT NULL"),
            SchemaChange::Repartition { from, to } => {
                write!(f, "repartition from [{}] to [{}]", list(from), list(to))
            }
        }
    }
}

/// How a dialect judges a schema change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Safety {
    /// Keeps every existing value readable as before.
    Safe,
    /// Loses data, rewrites the table or can fail on existing rows; generated files mark the
    /// step with `-- DESTRUCTIVE: <reason>`.
    Destructive(String),
    /// The format cannot express the change at all.
    Unsupported(String),
}

/// The changes that take `old` (the recorded state; `None` for a table never migrated) to
/// `new` (the model), in the order they apply.
///
/// `renames` holds `(old name, new name)` pairs declared with `#[lake(renamed_from = "…")]`;
/// a pair applies only when the old column exists in `old` and the new one does not.
pub fn diff(
    old: Option<&TableState>,
    new: &TableState,
    renames: &[(String, String)],
) -> Vec<SchemaChange> {
    let Some(old) = old else {
        return vec![SchemaChange::CreateTable(new.clone())];
    };
    let mut changes = Vec::new();
    // Renames first, so that every later step uses the new names.
    let mut renamed: Vec<(&str, &str)> = Vec::new();
    for (from, to) in renames {
        if old.column(from).is_some() && old.column(to).is_none() && new.column(to).is_some() {
            renamed.push((from, to));
            changes.push(SchemaChange::RenameColumn {
                from: from.clone(),
                to: to.clone(),
            });
        }
    }
    let old_name_of = |new_name: &str| -> String {
        renamed
            .iter()
            .find(|(_, to)| *to == new_name)
            .map_or(new_name, |(from, _)| from)
            .to_owned()
    };
    let survives = |old_name: &str| -> bool {
        renamed.iter().any(|(from, _)| *from == old_name) || new.column(old_name).is_some()
    };
    for column in &old.columns {
        if !survives(&column.name) {
            changes.push(SchemaChange::DropColumn(column.clone()));
        }
    }
    for column in &new.columns {
        let Some(before) = old.column(&old_name_of(&column.name)) else {
            changes.push(SchemaChange::AddColumn(column.clone()));
            continue;
        };
        if before.ty != column.ty {
            changes.push(SchemaChange::ChangeType {
                column: column.name.clone(),
                from: before.ty.clone(),
                to: column.ty.clone(),
            });
        }
        match (before.nullable, column.nullable) {
            (false, true) => changes.push(SchemaChange::DropNotNull {
                column: column.name.clone(),
            }),
            (true, false) => changes.push(SchemaChange::SetNotNull {
                column: column.name.clone(),
            }),
            _ => {}
        }
    }
    let before: Vec<PartitionField> = old
        .partitioning()
        .into_iter()
        .map(|mut p| {
            if let Some((_, to)) = renamed.iter().find(|(from, _)| *from == p.column) {
                p.column = (*to).to_owned();
            }
            p
        })
        .collect();
    let after = new.partitioning();
    if before != after {
        changes.push(SchemaChange::Repartition {
            from: before,
            to: after,
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(columns: Vec<ColumnState>) -> TableState {
        TableState::new("users", columns)
    }

    #[test]
    fn a_new_table_is_created() {
        let new = state(vec![ColumnState::new("id", LakeType::String, false)]);
        assert_eq!(
            diff(None, &new, &[]),
            vec![SchemaChange::CreateTable(new.clone())]
        );
        assert!(diff(Some(&new), &new, &[]).is_empty());
    }

    #[test]
    fn columns_are_added_dropped_retyped_and_relaxed() {
        let old = state(vec![
            ColumnState::new("id", LakeType::String, false),
            ColumnState::new("age", LakeType::Int32, false),
            ColumnState::new("nick", LakeType::String, true),
        ]);
        let new = state(vec![
            ColumnState::new("id", LakeType::String, false),
            ColumnState::new("age", LakeType::Int64, true),
            ColumnState::new("email", LakeType::String, true),
        ]);
        assert_eq!(
            diff(Some(&old), &new, &[]),
            vec![
                SchemaChange::DropColumn(ColumnState::new("nick", LakeType::String, true)),
                SchemaChange::ChangeType {
                    column: "age".into(),
                    from: LakeType::Int32,
                    to: LakeType::Int64
                },
                SchemaChange::DropNotNull {
                    column: "age".into()
                },
                SchemaChange::AddColumn(ColumnState::new("email", LakeType::String, true)),
            ]
        );
    }

    #[test]
    fn renames_apply_only_when_declared_and_pending() {
        let old = state(vec![ColumnState::new("nick", LakeType::String, true)]);
        let new = state(vec![ColumnState::new("handle", LakeType::String, true)]);
        let renames = [("nick".to_owned(), "handle".to_owned())];
        assert_eq!(
            diff(Some(&old), &new, &renames),
            vec![SchemaChange::RenameColumn {
                from: "nick".into(),
                to: "handle".into()
            }]
        );
        // Without the attribute it is a drop and an add.
        assert_eq!(diff(Some(&old), &new, &[]).len(), 2);
        // Once applied, the attribute left on the model is a no-op.
        assert!(diff(Some(&new), &new, &renames).is_empty());
    }

    #[test]
    fn partition_changes_are_one_step() {
        let old = state(vec![ColumnState::new("day", LakeType::Date, false)]);
        let mut new = old.clone();
        new.columns[0].partition = Some(Partition::Identity);
        let changes = diff(Some(&old), &new, &[]);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].to_string(),
            "repartition from [unpartitioned] to [day]"
        );
        assert_eq!(changes[0].inverse().inverse(), changes[0]);
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut s = state(vec![
            ColumnState::new(
                "id",
                LakeType::Decimal {
                    precision: 20,
                    scale: 0,
                },
                false,
            ),
            ColumnState::new(
                "tags",
                LakeType::List(Box::new(crate::ColumnType::nullable(LakeType::String))),
                true,
            ),
        ]);
        s.columns[0].partition = Some(Partition::Bucket(16));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<TableState>(&json).unwrap(), s);
        assert!(json.contains(r#""partition":{"bucket":16}"#), "{json}");
    }
}
