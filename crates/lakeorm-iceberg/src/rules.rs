//! Which schema changes Iceberg takes, which are destructive, and which it cannot express.
//!
//! Iceberg evolves schemas in metadata only: it widens `int` to `bigint`, `float` to `double`
//! and decimal precision (same scale), relaxes required columns to optional, and evolves
//! partition specs without rewriting files. It cannot narrow a type, add a required column to
//! existing rows, or make an optional column required.

use lakeorm_core::{LakeType, Partition, Safety, SchemaChange};

/// Whether Iceberg's schema evolution widens `from` to `to`.
pub(crate) fn widens(from: &LakeType, to: &LakeType) -> bool {
    use LakeType::*;
    match (from, to) {
        (Int8 | Int16 | Int32, Int64) | (Float32, Float64) => true,
        (
            Decimal {
                precision: p1,
                scale: s1,
            },
            Decimal {
                precision: p2,
                scale: s2,
            },
        ) => s1 == s2 && p2 > p1,
        _ => false,
    }
}

/// The width of the integer types Iceberg stores alike as `int`.
fn int_width(ty: &LakeType) -> u8 {
    match ty {
        LakeType::Int8 => 8,
        LakeType::Int16 => 16,
        LakeType::Int32 => 32,
        _ => 0,
    }
}

/// The Iceberg rule table. `type_sql` tells which logical types Iceberg stores alike, and
/// `fits` whether a partition transform applies to a column type.
pub(crate) fn classify(
    change: &SchemaChange,
    type_sql: impl Fn(&LakeType) -> String,
    fits: impl Fn(Partition, &LakeType) -> bool,
) -> Safety {
    match change {
        SchemaChange::CreateTable(state) => state
            .columns
            .iter()
            .find_map(|c| {
                c.partition.filter(|p| !fits(*p, &c.ty)).map(|p| {
                    Safety::Unsupported(format!(
                        "the transform `{p}` does not apply to column `{}` ({})",
                        c.name, c.ty
                    ))
                })
            })
            .unwrap_or(Safety::Safe),
        SchemaChange::DropTable(state) => {
            Safety::Destructive(format!("drops table `{}` and all of its data", state.table))
        }
        SchemaChange::AddColumn(c) if c.nullable => Safety::Safe,
        SchemaChange::AddColumn(c) => Safety::Unsupported(format!(
            "Iceberg cannot add the required column `{}` to existing rows; declare the field as an Option and backfill it",
            c.name
        )),
        SchemaChange::DropColumn(c) => Safety::Destructive(format!(
            "drops column `{}`; its data is no longer readable",
            c.name
        )),
        SchemaChange::RenameColumn { from, to } => Safety::Destructive(format!(
            "queries and writers using the old name `{from}` break once it is `{to}`"
        )),
        SchemaChange::ChangeType { column, from, to } => {
            if type_sql(from) == type_sql(to) && int_width(to) < int_width(from) {
                Safety::Destructive(format!(
                    "the table keeps storing `{column}` as {}; rows holding values outside {to} fail to decode",
                    type_sql(from)
                ))
            } else if type_sql(from) == type_sql(to) || widens(from, to) {
                Safety::Safe
            } else {
                Safety::Unsupported(format!(
                    "Iceberg only widens int to bigint, float to double and decimal precision; `{column}` cannot change from {from} to {to} in place (add a new column and backfill it)"
                ))
            }
        }
        SchemaChange::DropNotNull { .. } => Safety::Safe,
        SchemaChange::SetNotNull { column } => Safety::Unsupported(format!(
            "Iceberg cannot make the optional column `{column}` required"
        )),
        // Partition evolution rewrites nothing: new files follow the new spec. The transforms'
        // fit to their column types is checked when the model's table is checked.
        SchemaChange::Repartition { .. } => Safety::Safe,
        _ => Safety::Unsupported(format!("{change} has no Iceberg rule")),
    }
}

#[cfg(test)]
mod tests {
    use lakeorm_core::{ColumnState, Dialect, PartitionField, TableState};

    use super::*;
    use crate::IcebergDialect;

    fn judge(change: SchemaChange) -> Safety {
        IcebergDialect::new().classify(&change)
    }

    fn destructive(safety: &Safety) -> bool {
        matches!(safety, Safety::Destructive(_))
    }

    fn unsupported(safety: &Safety) -> bool {
        matches!(safety, Safety::Unsupported(_))
    }

    #[test]
    fn creating_a_table_checks_transforms_against_types() {
        let mut state = TableState::new(
            "t",
            vec![ColumnState::new("ts", LakeType::Timestamp, false)],
        );
        state.columns[0].partition = Some(Partition::Hour);
        assert_eq!(
            judge(SchemaChange::CreateTable(state.clone())),
            Safety::Safe
        );
        state.columns[0].ty = LakeType::Date;
        assert!(unsupported(&judge(SchemaChange::CreateTable(state))));
    }

    #[test]
    fn dropping_a_table_or_column_and_renaming_are_destructive() {
        let state = TableState::new("t", vec![]);
        assert!(destructive(&judge(SchemaChange::DropTable(state))));
        assert!(destructive(&judge(SchemaChange::DropColumn(
            ColumnState::new("a", LakeType::Int32, true)
        ))));
        assert!(destructive(&judge(SchemaChange::RenameColumn {
            from: "a".into(),
            to: "b".into()
        })));
    }

    #[test]
    fn only_optional_columns_can_be_added() {
        assert_eq!(
            judge(SchemaChange::AddColumn(ColumnState::new(
                "a",
                LakeType::Int32,
                true
            ))),
            Safety::Safe
        );
        assert!(unsupported(&judge(SchemaChange::AddColumn(
            ColumnState::new("a", LakeType::Int32, false)
        ))));
    }

    #[test]
    fn types_only_widen() {
        use LakeType::*;
        let change = |from, to| SchemaChange::ChangeType {
            column: "c".into(),
            from,
            to,
        };
        for (from, to) in [
            (Int32, Int64),
            (Float32, Float64),
            (Int8, Int32),
            (
                Decimal {
                    precision: 10,
                    scale: 2,
                },
                Decimal {
                    precision: 12,
                    scale: 2,
                },
            ),
        ] {
            assert_eq!(
                judge(change(from.clone(), to.clone())),
                Safety::Safe,
                "{from} -> {to}"
            );
        }
        for (from, to) in [
            (Int64, Int32),
            (Int32, Float64),
            (
                Decimal {
                    precision: 10,
                    scale: 2,
                },
                Decimal {
                    precision: 12,
                    scale: 4,
                },
            ),
            (Date, TimestampNtz),
        ] {
            assert!(
                unsupported(&judge(change(from.clone(), to.clone()))),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn narrowing_a_type_stored_alike_is_destructive() {
        let change = SchemaChange::ChangeType {
            column: "c".into(),
            from: LakeType::Int32,
            to: LakeType::Int16,
        };
        assert!(destructive(&judge(change)));
    }

    #[test]
    fn nullability_only_relaxes() {
        assert_eq!(
            judge(SchemaChange::DropNotNull { column: "a".into() }),
            Safety::Safe
        );
        assert!(unsupported(&judge(SchemaChange::SetNotNull {
            column: "a".into()
        })));
    }

    #[test]
    fn partition_evolution_is_metadata_only() {
        let change = SchemaChange::Repartition {
            from: vec![PartitionField {
                column: "id".into(),
                transform: Partition::Bucket(8),
            }],
            to: vec![PartitionField {
                column: "id".into(),
                transform: Partition::Bucket(16),
            }],
        };
        assert_eq!(judge(change.clone()), Safety::Safe);
        let sql = IcebergDialect::new()
            .render_change(&lakeorm_core::TableRef::new("t"), &change)
            .unwrap();
        assert_eq!(
            sql,
            [
                "ALTER TABLE `t` DROP PARTITION FIELD bucket(8, `id`)",
                "ALTER TABLE `t` ADD PARTITION FIELD bucket(16, `id`)"
            ]
        );
    }
}
