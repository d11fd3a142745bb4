//! Golden files of every kind of change, per dialect, and the manifest's guarantees.

use chrono::{DateTime, TimeZone, Utc};
use lakeorm_core::{ColumnState, ColumnType, Dialect, LakeType, Partition, TableState};
use lakeorm_delta::DeltaDialect;
use lakeorm_iceberg::IcebergDialect;
use lakeorm_migrate::{Generator, MigrationDir, ModelSpec, Registry, Rename, SUM_FILE};

fn base() -> Vec<ColumnState> {
    vec![
        ColumnState::new("id", LakeType::String, false),
        ColumnState::new("age", LakeType::Int32, false),
        ColumnState::new("nickname", LakeType::String, true),
        ColumnState::new("signed_up", LakeType::Date, false),
    ]
}

fn spec(columns: Vec<ColumnState>, renames: &[(&str, &str)]) -> ModelSpec {
    ModelSpec {
        model: "User".into(),
        state: TableState::new("users", columns),
        renames: renames
            .iter()
            .map(|(from, to)| Rename {
                from: (*from).into(),
                to: (*to).into(),
            })
            .collect(),
        layout: Default::default(),
    }
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, hour, 0, 0).unwrap()
}

/// Generates the base table, then `changed`, and returns the second file's text.
fn second_file(dialect: &dyn Dialect, changed: ModelSpec) -> lakeorm_core::Result<String> {
    let dir = tempfile::tempdir().unwrap();
    Generator::new(dir.path(), dialect)
        .at(at(9))
        .generate(&[spec(base(), &[])])?;
    let report = Generator::new(dir.path(), dialect)
        .at(at(10))
        .generate(&[changed])?;
    assert_eq!(report.written.len(), 1);
    Ok(std::fs::read_to_string(&report.written[0].path).unwrap())
}

struct Case {
    name: &'static str,
    model: ModelSpec,
}

fn cases() -> Vec<Case> {
    let mut add_nullable = base();
    add_nullable.push(ColumnState::new("email", LakeType::String, true));
    let mut add_required = base();
    add_required.push(ColumnState::new("score", LakeType::Int64, false));
    let drop = base()
        .into_iter()
        .filter(|c| c.name != "nickname")
        .collect();
    let mut rename = base();
    rename[2].name = "handle".into();
    let mut widen = base();
    widen[1].ty = LakeType::Int64;
    let mut narrow = base();
    narrow[1].ty = LakeType::Int16;
    let mut relax = base();
    relax[1].nullable = true;
    let mut tighten = base();
    tighten[2].nullable = false;
    let mut partition = base();
    partition[3].partition = Some(Partition::Identity);
    let mut nested = base();
    nested.push(ColumnState::new(
        "tags",
        LakeType::List(Box::new(ColumnType::nullable(LakeType::String))),
        true,
    ));
    vec![
        Case {
            name: "add_nullable_column",
            model: spec(add_nullable, &[]),
        },
        Case {
            name: "add_required_column",
            model: spec(add_required, &[]),
        },
        Case {
            name: "drop_column",
            model: spec(drop, &[]),
        },
        Case {
            name: "rename_column",
            model: spec(rename, &[("nickname", "handle")]),
        },
        Case {
            name: "widen_type",
            model: spec(widen, &[]),
        },
        Case {
            name: "narrow_type",
            model: spec(narrow, &[]),
        },
        Case {
            name: "drop_not_null",
            model: spec(relax, &[]),
        },
        Case {
            name: "set_not_null",
            model: spec(tighten, &[]),
        },
        Case {
            name: "repartition",
            model: spec(partition, &[]),
        },
        Case {
            name: "add_list_column",
            model: spec(nested, &[]),
        },
    ]
}

fn golden(dialect: &dyn Dialect) {
    let dir = tempfile::tempdir().unwrap();
    let report = Generator::new(dir.path(), dialect)
        .at(at(9))
        .generate(&[spec(base(), &[])])
        .unwrap();
    insta::assert_snapshot!(
        format!("{}__create_table", dialect.name()),
        std::fs::read_to_string(&report.written[0].path).unwrap()
    );
    for case in cases() {
        let snapshot = format!("{}__{}", dialect.name(), case.name);
        match second_file(dialect, case.model) {
            Ok(text) => insta::assert_snapshot!(snapshot, text),
            // Changes the format cannot express are refused at authoring, by name.
            Err(e) => insta::assert_snapshot!(snapshot, format!("refused: {e}")),
        }
    }
}

#[test]
fn delta_golden_files() {
    golden(&DeltaDialect::new());
}

#[test]
fn iceberg_golden_files() {
    golden(&IcebergDialect::new());
}

#[test]
fn iceberg_evolves_partition_transforms() {
    let mut bucketed = base();
    bucketed[0].partition = Some(Partition::Bucket(16));
    bucketed[3].partition = Some(Partition::Month);
    let text = second_file(&IcebergDialect::new(), spec(bucketed, &[])).unwrap();
    insta::assert_snapshot!("iceberg__partition_transforms", text);
    let mut bucketed = base();
    bucketed[0].partition = Some(Partition::Bucket(16));
    let e = second_file(&DeltaDialect::new(), spec(bucketed, &[])).unwrap_err();
    assert!(e.to_string().contains("bucket(16)"), "{e}");
}

#[test]
fn created_tables_carry_the_dialect_properties() {
    let dir = tempfile::tempdir().unwrap();
    let dialect = DeltaDialect::new().with_deletion_vectors(true);
    let report = Generator::new(dir.path(), &dialect)
        .generate(&[spec(base(), &[])])
        .unwrap();
    let text = std::fs::read_to_string(&report.written[0].path).unwrap();
    assert!(
        text.contains("USING delta TBLPROPERTIES ('delta.enableDeletionVectors' = 'true');"),
        "{text}"
    );
}

#[test]
fn generating_twice_without_changes_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dialect = DeltaDialect::new();
    let first = Generator::new(dir.path(), &dialect)
        .generate(&[spec(base(), &[])])
        .unwrap();
    assert_eq!(first.written.len(), 1);
    let sum_before = std::fs::read_to_string(dir.path().join(SUM_FILE)).unwrap();
    let second = Generator::new(dir.path(), &dialect)
        .generate(&[spec(base(), &[])])
        .unwrap();
    assert!(second.written.is_empty());
    assert_eq!(second.unchanged, ["users"]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(SUM_FILE)).unwrap(),
        sum_before
    );
}

#[test]
fn an_edited_file_stops_generation_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let dialect = DeltaDialect::new();
    let report = Generator::new(dir.path(), &dialect)
        .at(at(9))
        .generate(&[spec(base(), &[])])
        .unwrap();
    let path = &report.written[0].path;
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(
        path,
        text.replace("`age` INT NOT NULL", "`age` BIGINT NOT NULL"),
    )
    .unwrap();
    let mut changed = base();
    changed.push(ColumnState::new("email", LakeType::String, true));
    let e = Generator::new(dir.path(), &dialect)
        .generate(&[spec(changed, &[])])
        .unwrap_err();
    let message = e.to_string();
    assert!(message.contains("20261126090000_users.sql"), "{message}");
    assert!(message.contains("edited"), "{message}");
    assert!(matches!(e, lakeorm_core::Error::Migration(_)));
    // Nothing new was written.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn versions_increase_and_states_chain() {
    let dir = tempfile::tempdir().unwrap();
    let dialect = DeltaDialect::new();
    let orders = ModelSpec {
        model: "Order".into(),
        state: TableState::new(
            "orders",
            vec![ColumnState::new("id", LakeType::Int64, false)],
        ),
        renames: vec![],
        layout: Default::default(),
    };
    // The same clock for two tables and a later run: versions stay unique and ordered.
    let first = Generator::new(dir.path(), &dialect)
        .at(at(9))
        .generate(&[spec(base(), &[]), orders.clone()])
        .unwrap();
    let versions: Vec<i64> = first.written.iter().map(|g| g.version).collect();
    assert_eq!(versions, [20261126090000, 20261126090001]);
    let mut changed = base();
    changed.push(ColumnState::new("email", LakeType::String, true));
    let second = Generator::new(dir.path(), &dialect)
        .at(at(9))
        .generate(&[spec(changed.clone(), &[]), orders])
        .unwrap();
    assert_eq!(second.written[0].version, 20261126090002);
    let loaded = MigrationDir::load(dir.path()).unwrap();
    assert_eq!(loaded.files().len(), 3);
    assert_eq!(loaded.state_of("users").unwrap().columns, changed);
}

#[test]
fn two_models_on_one_table_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = Generator::new(dir.path(), &DeltaDialect::new())
        .generate(&[spec(base(), &[]), spec(base(), &[])])
        .unwrap_err();
    assert!(e.to_string().contains("users"), "{e}");
}

#[derive(lakeorm_derive::Lake)]
#[lake(crate = "lakeorm_core")]
#[allow(dead_code)]
struct Account {
    #[lake(pk)]
    id: String,
    #[lake(renamed_from = "nick")]
    handle: Option<String>,
}

#[test]
fn specs_come_from_derived_models() {
    let registry = Registry::new().model::<Account>();
    let spec = &registry.models[0];
    assert_eq!(spec.model, "Account");
    assert_eq!(spec.table(), "accounts");
    assert_eq!(
        spec.renames,
        [Rename {
            from: "nick".into(),
            to: "handle".into()
        }]
    );
    assert_eq!(
        Registry::from_json(&registry.to_json().unwrap()).unwrap(),
        registry
    );
    assert!(Registry::from_json("not json").is_err());
}
