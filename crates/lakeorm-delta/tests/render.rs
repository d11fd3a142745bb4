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

/// A model whose layout columns are `id` (sortable), then `email` (merge key) and `region`.
#[derive(Lake)]
#[lake(table = "accounts")]
#[allow(dead_code)]
struct Account {
    #[lake(pk, sortable)]
    id: i64,
    #[lake(merge_key)]
    email: String,
    #[lake(indexed)]
    region: String,
}

fn account_spec(dialect: &DeltaDialect) -> TableSpec {
    TableSpec {
        table: dialect.table_ref("accounts"),
        format: dialect.format(),
        location: Some(Location::parse("s3://bucket/lake/tables/accounts").unwrap()),
        schema: Account::schema().clone(),
        properties: dialect.properties().clone(),
    }
}

fn optimize(zorder: &[&str], filter: Option<Statement>, target: Option<u64>) -> ExecutionPlan {
    let d = DeltaDialect::new();
    ExecutionPlan::Optimize {
        table: account_spec(&d),
        target_size: target,
        zorder: zorder.iter().map(|c| (*c).to_owned()).collect(),
        filter,
    }
}

#[test]
fn optimize_z_orders_within_a_bound_filter() {
    let d = DeltaDialect::new();
    let statements = d
        .render(&optimize(
            &["id", "email"],
            Some(Statement::new("region = ?").bind("eu")),
            None,
        ))
        .unwrap();
    assert_eq!(
        statements[0].sql,
        "OPTIMIZE `accounts` WHERE region = 'eu' ZORDER BY (`id`, `email`)"
    );
    assert!(statements[0].params.is_empty());
    assert_eq!(sql(&d, &optimize(&[], None, None)), "OPTIMIZE `accounts`");
    // Spark sizes OPTIMIZE's files from a session conf.
    let err = d.render(&optimize(&[], None, Some(1 << 20))).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("session_conf"), "{err}");
    // Delta tables record no sort order: the DDL has none of Iceberg's layout statements.
    let ddl = sql(
        &d,
        &ExecutionPlan::CreateTable {
            table: account_spec(&d),
        },
    );
    assert!(
        !ddl.contains("ORDERED") && !ddl.contains("CLUSTER"),
        "{ddl}"
    );
}

#[test]
fn liquid_clustering_is_a_dialect_option() {
    let d = DeltaDialect::new().with_liquid_clustering();
    let ddl = sql(
        &d,
        &ExecutionPlan::CreateTable {
            table: account_spec(&d),
        },
    );
    assert!(
        ddl.contains(" USING delta CLUSTER BY (`id`, `email`, `region`) LOCATION "),
        "{ddl}"
    );
    // Clustered tables are clustered by OPTIMIZE itself.
    let err = d.render(&optimize(&["id"], None, None)).unwrap_err();
    assert!(err.to_string().contains("clustered"), "{err}");
    // Partitions and clustering exclude each other.
    let mut partitioned = spec(&d);
    partitioned.schema = User::schema().clone();
    let err = d
        .render(&ExecutionPlan::CreateTable { table: partitioned })
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot also be partitioned"),
        "{err}"
    );
    // Migration files create the same clustered table.
    let state = d
        .table_state(
            lakeorm::TableState::from_schema(Account::schema()),
            &Account::schema().layout(),
        )
        .unwrap();
    let steps = d
        .render_change(
            &d.table_ref("accounts"),
            &lakeorm::SchemaChange::CreateTable(state),
        )
        .unwrap();
    assert!(
        steps[0].contains("CLUSTER BY (`id`, `email`, `region`)"),
        "{steps:?}"
    );
}
