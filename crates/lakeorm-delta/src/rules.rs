//! Which schema changes Delta takes in place, which are destructive, and which it cannot express.
//!
//! Type changes follow Delta's type-widening feature: integers widen to larger integers, to
//! `DOUBLE` and to decimals with room for their digits; floats to doubles; decimals to decimals
//! that keep their integer and fractional digits; dates to `TIMESTAMP_NTZ`.

use lakeorm_core::{LakeType, Partition, Safety, SchemaChange};

/// Decimal digits an integer type needs.
fn integer_digits(ty: &LakeType) -> Option<u8> {
    match ty {
        LakeType::Int8 => Some(3),
        LakeType::Int16 => Some(5),
        LakeType::Int32 => Some(10),
        LakeType::Int64 => Some(20),
        _ => None,
    }
}

fn rank(ty: &LakeType) -> Option<u8> {
    match ty {
        LakeType::Int8 => Some(1),
        LakeType::Int16 => Some(2),
        LakeType::Int32 => Some(3),
        LakeType::Int64 => Some(4),
        _ => None,
    }
}

/// Whether Delta widens `from` to `to` keeping every value.
pub(crate) fn widens(from: &LakeType, to: &LakeType) -> bool {
    use LakeType::*;
    match (from, to) {
        (a, b) if rank(a).is_some() && rank(b).is_some() => rank(a) < rank(b),
        (Int8 | Int16 | Int32, Float64) => true,
        (a, Decimal { precision, scale }) if integer_digits(a).is_some() => {
            i16::from(*precision) - i16::from(*scale) >= i16::from(integer_digits(a).unwrap_or(0))
        }
        (Float32, Float64) => true,
        (
            Decimal {
                precision: p1,
                scale: s1,
            },
            Decimal {
                precision: p2,
                scale: s2,
            },
        ) => s2 >= s1 && i16::from(*p2) - i16::from(*s2) >= i16::from(*p1) - i16::from(*s1),
        (Date, TimestampNtz) => true,
        _ => false,
    }
}

/// `Unsupported` for the first transform of an existing table's new partitioning: Delta cannot
/// add the generated column that a transform partitions by to a table that exists.
fn identity_only(transforms: impl IntoIterator<Item = Partition>) -> Option<Safety> {
    transforms
        .into_iter()
        .find(|p| *p != Partition::Identity)
        .map(|p| {
            Safety::Unsupported(format!(
                "Delta partitions an existing table by plain column values only, not by `{p}`: \
                 the generated column a transform needs cannot be added to a table that exists; \
                 create a new table partitioned by `{p}` and copy the rows, or partition by identity"
            ))
        })
}

/// The Delta rule table. `type_sql` tells which logical types Delta stores alike.
pub(crate) fn classify(change: &SchemaChange, type_sql: impl Fn(&LakeType) -> String) -> Safety {
    match change {
        SchemaChange::CreateTable(state) => match lakeorm_core::generated::generated_columns(state)
        {
            Ok(_) => Safety::Safe,
            Err(reason) => Safety::Unsupported(reason),
        },
        SchemaChange::DropTable(state) => {
            Safety::Destructive(format!("drops table `{}` and all of its data", state.table))
        }
        SchemaChange::AddColumn(c) if c.nullable => Safety::Safe,
        SchemaChange::AddColumn(c) => Safety::Destructive(format!(
            "existing rows have no value for the new NOT NULL column `{}`; the step fails on a non-empty table unless it is backfilled first",
            c.name
        )),
        SchemaChange::DropColumn(c) => Safety::Destructive(format!(
            "drops column `{}` and its data; enables column mapping, which readers older than Delta 1.2 cannot read",
            c.name
        )),
        SchemaChange::RenameColumn { from, to } => Safety::Destructive(format!(
            "queries and writers using the old name `{from}` break once it is `{to}`; enables column mapping, which readers older than Delta 1.2 cannot read"
        )),
        SchemaChange::ChangeType { column, from, to } => {
            if type_sql(from) == type_sql(to) || widens(from, to) {
                Safety::Safe
            } else {
                Safety::Destructive(format!(
                    "narrows or converts `{column}` from {from} to {to}: existing values may not fit; carried out by rewriting the table, which fails on the first value that does not convert"
                ))
            }
        }
        SchemaChange::DropNotNull { .. } => Safety::Safe,
        SchemaChange::SetNotNull { column } => Safety::Destructive(format!(
            "tightens `{column}` to NOT NULL; fails if any existing row holds NULL there"
        )),
        SchemaChange::Repartition { to, .. } => identity_only(to.iter().map(|p| p.transform))
            .unwrap_or_else(|| {
                Safety::Destructive(
                    "rewrites every data file of the table under the new partitioning".into(),
                )
            }),
        _ => Safety::Unsupported(format!("{change} has no Delta rule")),
    }
}

#[cfg(test)]
mod tests {
    use lakeorm_core::{ColumnState, Dialect, PartitionField, TableState};

    use super::*;
    use crate::DeltaDialect;

    fn judge(change: SchemaChange) -> Safety {
        DeltaDialect::new().classify(&change)
    }

    fn destructive(safety: &Safety) -> bool {
        matches!(safety, Safety::Destructive(_))
    }

    #[test]
    fn creating_a_table_is_safe_unless_partitioned_by_a_transform_delta_cannot_express() {
        let mut state = TableState::new("t", vec![ColumnState::new("d", LakeType::Date, false)]);
        assert_eq!(
            judge(SchemaChange::CreateTable(state.clone())),
            Safety::Safe
        );
        state.columns[0].partition = Some(Partition::Identity);
        assert_eq!(
            judge(SchemaChange::CreateTable(state.clone())),
            Safety::Safe
        );
        state.columns[0].partition = Some(Partition::Day);
        assert_eq!(
            judge(SchemaChange::CreateTable(state.clone())),
            Safety::Safe,
            "a generated partition column"
        );
        state.columns[0].partition = Some(Partition::Hour);
        assert!(matches!(
            judge(SchemaChange::CreateTable(state)),
            Safety::Unsupported(r) if r.contains("`hour`") && r.contains("Iceberg dialect")
        ));
    }

    #[test]
    fn dropping_a_table_is_destructive() {
        let state = TableState::new("t", vec![]);
        assert!(destructive(&judge(SchemaChange::DropTable(state))));
    }

    #[test]
    fn adding_a_nullable_column_is_safe_and_a_required_one_is_not() {
        assert_eq!(
            judge(SchemaChange::AddColumn(ColumnState::new(
                "a",
                LakeType::Int32,
                true
            ))),
            Safety::Safe
        );
        assert!(destructive(&judge(SchemaChange::AddColumn(
            ColumnState::new("a", LakeType::Int32, false)
        ))));
    }

    #[test]
    fn drops_and_renames_are_destructive() {
        assert!(destructive(&judge(SchemaChange::DropColumn(
            ColumnState::new("a", LakeType::Int32, true)
        ))));
        assert!(destructive(&judge(SchemaChange::RenameColumn {
            from: "a".into(),
            to: "b".into()
        })));
    }

    #[test]
    fn widening_is_safe_and_narrowing_destructive() {
        use LakeType::*;
        let change = |from, to| SchemaChange::ChangeType {
            column: "c".into(),
            from,
            to,
        };
        let safe = [
            (Int8, Int16),
            (Int16, Int64),
            (Int32, Int64),
            (Int32, Float64),
            (Float32, Float64),
            (
                Int32,
                Decimal {
                    precision: 10,
                    scale: 0,
                },
            ),
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
            (Uuid, String),
        ];
        for (from, to) in safe {
            assert_eq!(
                judge(change(from.clone(), to.clone())),
                Safety::Safe,
                "{from} -> {to}"
            );
        }
        let narrowing = [
            (Int64, Int32),
            (Float64, Float32),
            (Int64, Float64),
            (
                Int64,
                Decimal {
                    precision: 10,
                    scale: 0,
                },
            ),
            (
                Decimal {
                    precision: 12,
                    scale: 4,
                },
                Decimal {
                    precision: 12,
                    scale: 2,
                },
            ),
            (String, Int64),
            (Timestamp, Date),
        ];
        for (from, to) in narrowing {
            assert!(
                destructive(&judge(change(from.clone(), to.clone()))),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn relaxing_nullability_is_safe_and_tightening_destructive() {
        assert_eq!(
            judge(SchemaChange::DropNotNull { column: "a".into() }),
            Safety::Safe
        );
        assert!(destructive(&judge(SchemaChange::SetNotNull {
            column: "a".into()
        })));
    }

    #[test]
    fn repartitioning_rewrites_and_transforms_are_refused() {
        let field = |transform| PartitionField {
            column: "d".into(),
            transform,
        };
        assert!(destructive(&judge(SchemaChange::Repartition {
            from: vec![],
            to: vec![field(Partition::Identity)],
        })));
        assert!(matches!(
            judge(SchemaChange::Repartition {
                from: vec![],
                to: vec![field(Partition::Bucket(4))],
            }),
            Safety::Unsupported(_)
        ));
    }
}
