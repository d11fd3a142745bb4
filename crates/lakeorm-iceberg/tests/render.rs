//! Golden SQL for every plan the Iceberg dialect renders.

use chrono::{DateTime, Utc};
use lakeorm::iceberg::IcebergDialect;
use lakeorm::{
    Dialect, ExecutionPlan, IngestId, Lake, Location, MergeAction, Predicate, Row, Statement,
    TableSpec, WriteSource,
};

#[derive(Lake)]
#[allow(dead_code)]
struct User {
    #[lake(pk)]
    id: uuid::Uuid,
    #[lake(merge_key)]
    email: String,
    #[lake(partition = "identity")]
    country: String,
    tags: Vec<String>,
    #[lake(decimal(12, 2))]
    balance: Option<rust_decimal::Decimal>,
    created_at: DateTime<Utc>,
}

#[derive(Lake)]
#[allow(dead_code)]
struct Bucketed {
    #[lake(partition = "bucket(16)")]
    id: i64,
}

fn spec(dialect: &IcebergDialect) -> TableSpec {
    TableSpec {
        table: dialect.table_ref("users"),
        format: dialect.format(),
        location: Some(Location::parse("s3://bucket/lake/tables/users").unwrap()),
        schema: User::schema().clone(),
        properties: dialect.properties().clone(),
    }
}

fn id() -> IngestId {
    "01936b2e-5f00-7000-8000-000000000001".parse().unwrap()
}

fn sql(dialect: &IcebergDialect, plan: &ExecutionPlan) -> String {
    dialect
        .render(plan)
        .unwrap()
        .into_iter()
        .map(|s| s.sql)
        .collect::<Vec<_>>()
        .join(";\n")
}

#[test]
fn create_table() {
    let d = IcebergDialect::new()
        .with_database("analytics")
        .with_property("format-version", "2");
    let bucketed = TableSpec {
        schema: Bucketed::schema().clone(),
        table: d.table_ref("bucketed"),
        ..spec(&d)
    };
    insta::assert_snapshot!(format!(
        "{}\n{}\n{}",
        d.create_namespace_sql(),
        sql(&d, &ExecutionPlan::CreateTable { table: spec(&d) }),
        sql(&d, &ExecutionPlan::CreateTable { table: bucketed })
    ));
}

#[test]
fn appends() {
    let d = IcebergDialect::new();
    let direct = ExecutionPlan::Append {
        table: spec(&d),
        source: WriteSource::Batches(vec![]),
        ingest_id: id(),
    };
    let staged = ExecutionPlan::Append {
        table: spec(&d),
        source: WriteSource::Staged {
            location: Location::parse("s3a://bucket/lake/_staging/x").unwrap(),
            rows: 10,
        },
        ingest_id: id(),
    };
    insta::assert_snapshot!(format!("{}\n{}", sql(&d, &direct), sql(&d, &staged)));
}

#[test]
fn merges() {
    let d = IcebergDialect::new();
    let merge = |on_match, keys: &[&str]| ExecutionPlan::Merge {
        table: spec(&d),
        source: WriteSource::Batches(vec![]),
        keys: keys.iter().map(|k| k.to_string()).collect(),
        on_match,
        ingest_id: id(),
    };
    insta::assert_snapshot!(
        [
            sql(&d, &merge(MergeAction::Update, &["email"])),
            sql(&d, &merge(MergeAction::Ignore, &["id", "email"])),
            sql(&d, &merge(MergeAction::Error, &["id"])),
        ]
        .join("\n")
    );
}

#[test]
fn updates_and_deletes() {
    let d = IcebergDialect::new();
    let update = ExecutionPlan::Update {
        table: spec(&d),
        source: WriteSource::Batches(vec![]),
        keys: vec!["id".into()],
        ingest_id: id(),
    };
    let by_key = ExecutionPlan::Delete {
        table: spec(&d),
        predicate: Predicate::Keys {
            columns: vec!["id".into()],
            values: arrow_empty(),
        },
    };
    let by_sql = ExecutionPlan::Delete {
        table: spec(&d),
        predicate: Predicate::Sql(Statement::new("country = ?").bind("GB")),
    };
    let rendered = d.render(&by_sql).unwrap();
    assert_eq!(
        rendered[0].params,
        vec![lakeorm::Param::String("GB".into())]
    );
    insta::assert_snapshot!([sql(&d, &update), sql(&d, &by_key), sql(&d, &by_sql)].join("\n"));
}

fn arrow_empty() -> lakeorm::__private::arrow::array::RecordBatch {
    lakeorm::__private::arrow::array::RecordBatch::new_empty(User::schema().arrow_schema().clone())
}

#[derive(Lake)]
#[allow(dead_code)]
struct HourlyDate {
    #[lake(partition = "bucket(4)")]
    id: i64,
    #[lake(partition = "day")]
    at: DateTime<Utc>,
}

#[test]
fn every_transform_renders() {
    let d = IcebergDialect::new();
    let spec = TableSpec {
        schema: HourlyDate::schema().clone(),
        table: d.table_ref("events"),
        ..spec(&d)
    };
    let ddl = sql(&d, &ExecutionPlan::CreateTable { table: spec });
    assert!(
        ddl.contains("PARTITIONED BY (bucket(4, `id`), days(`at`))"),
        "{ddl}"
    );
    assert!(
        !ddl.contains("LOCATION"),
        "the catalog chooses locations by default"
    );
}
