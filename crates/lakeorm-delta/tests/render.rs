//! Golden SQL for every plan the Delta dialect renders.

use chrono::{DateTime, Utc};
use lakeorm::delta::DeltaDialect;
use lakeorm::{
    Dialect, Error, ExecutionPlan, IngestId, Lake, Location, MergeAction, Predicate, Row,
    Statement, TableSpec, WriteSource,
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
    #[lake(partition = "day")]
    at: DateTime<Utc>,
}

#[derive(Lake)]
#[allow(dead_code)]
struct BucketedByTime {
    #[lake(partition = "bucket(16)")]
    at: DateTime<Utc>,
}

fn spec(dialect: &DeltaDialect) -> TableSpec {
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

fn sql(dialect: &DeltaDialect, plan: &ExecutionPlan) -> String {
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
    let d = DeltaDialect::new()
        .with_database("analytics")
        .with_deletion_vectors(true);
    insta::assert_snapshot!(sql(&d, &ExecutionPlan::CreateTable { table: spec(&d) }));
}

#[test]
fn appends() {
    let d = DeltaDialect::new();
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
    let d = DeltaDialect::new();
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
    let d = DeltaDialect::new();
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

#[test]
fn transforms_are_generated_partition_columns() {
    let d = DeltaDialect::new();
    let table = TableSpec {
        table: d.table_ref("bucketeds"),
        format: d.format(),
        location: None,
        schema: Bucketed::schema().clone(),
        properties: Default::default(),
    };
    let digit = |i| {
        format!("(INSTR('0123456789abcdef', SUBSTRING(MD5(CAST(`id` AS STRING)), {i}, 1)) - 1)")
    };
    assert_eq!(
        sql(&d, &ExecutionPlan::CreateTable { table }),
        format!(
            "CREATE TABLE IF NOT EXISTS `bucketeds` (`id` BIGINT NOT NULL, `at` TIMESTAMP NOT NULL, \
             `_ingest_id` STRING, `id_bucket` INT GENERATED ALWAYS AS (({} * 4096 + {} * 256 + {} * 16 + {}) % 16), \
             `at_day` DATE GENERATED ALWAYS AS (CAST(`at` AS DATE))) USING delta PARTITIONED BY (`id_bucket`, `at_day`)",
            digit(1),
            digit(2),
            digit(3),
            digit(4)
        )
    );
}

#[test]
fn transforms_delta_cannot_express_are_typed_errors() {
    let d = DeltaDialect::new();
    match d.check_schema(BucketedByTime::schema()) {
        Err(Error::Unsupported {
            operation,
            by,
            reason,
        }) => {
            assert!(operation.contains("bucketed_by_times"), "{operation}");
            assert_eq!(by, "the delta dialect");
            assert!(
                reason.contains("bucket(16)") && reason.contains("`at`"),
                "{reason}"
            );
            assert!(reason.contains("Iceberg"));
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
