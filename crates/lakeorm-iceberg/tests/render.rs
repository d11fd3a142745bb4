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
        "{}\n{}",
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

#[test]
fn maintenance_uses_icebergs_procedures() {
    let d = IcebergDialect::new();
    let optimize = sql(
        &d,
        &ExecutionPlan::Optimize {
            table: spec(&d),
            target_size: Some(134_217_728),
            zorder: Vec::new(),
            filter: None,
        },
    );
    assert_eq!(
        optimize,
        "CALL `lakeorm`.system.rewrite_data_files(table => 'default.users', options => map('target-file-size-bytes', '134217728'))"
    );
    let vacuum = sql(
        &d,
        &ExecutionPlan::Vacuum {
            table: spec(&d),
            retention: std::time::Duration::from_secs(7 * 24 * 3600),
            force: false,
        },
    );
    let lines: Vec<&str> = vacuum.lines().collect();
    assert_eq!(lines.len(), 2, "{vacuum}");
    assert!(
        lines[0].starts_with("CALL `lakeorm`.system.expire_snapshots(table => 'default.users', older_than => TIMESTAMP '"),
        "{vacuum}"
    );
    assert!(
        lines[1].starts_with("CALL `lakeorm`.system.remove_orphan_files(table => 'default.users', older_than => TIMESTAMP '"),
        "{vacuum}"
    );
    assert!(lines[0].ends_with("+00:00');"), "{vacuum}");
    // Unqualified tables are maintained through the session catalog.
    let session = IcebergDialect::new().with_catalog(None);
    assert!(
        sql(
            &session,
            &ExecutionPlan::Optimize {
                table: spec(&session),
                target_size: None,
                zorder: Vec::new(),
                filter: None,
            }
        )
        .starts_with("CALL `spark_catalog`.system.rewrite_data_files(table => 'default.users')")
    );
}

#[test]
fn create_table_creates_the_namespace_first() {
    let d = IcebergDialect::new();
    let statements = d
        .render(&ExecutionPlan::CreateTable { table: spec(&d) })
        .unwrap();
    assert_eq!(
        statements[0].sql,
        "CREATE NAMESPACE IF NOT EXISTS `lakeorm`.`default`"
    );
    assert!(
        statements[1].sql.starts_with("CREATE TABLE IF NOT EXISTS"),
        "{}",
        statements[1].sql
    );
}

/// A model whose intents shape the table: a sort order, a bucketed merge key, bloom filters.
#[derive(Lake)]
#[lake(table = "accounts", key_buckets = 8)]
#[allow(dead_code)]
struct Account {
    #[lake(pk, sortable)]
    id: i64,
    #[lake(merge_key)]
    email: String,
    #[lake(indexed)]
    region: String,
    #[lake(sortable)]
    opened: DateTime<Utc>,
}

fn account_spec(dialect: &IcebergDialect) -> TableSpec {
    TableSpec {
        table: dialect.table_ref("accounts"),
        format: dialect.format(),
        location: None,
        schema: Account::schema().clone(),
        properties: dialect.properties().clone(),
    }
}

#[test]
fn layout_intents_are_stated_in_the_ddl() {
    let d = IcebergDialect::new();
    let statements: Vec<String> = d
        .render(&ExecutionPlan::CreateTable {
            table: account_spec(&d),
        })
        .unwrap()
        .into_iter()
        .map(|s| s.sql)
        .collect();
    assert_eq!(
        statements[1],
        "CREATE TABLE IF NOT EXISTS `lakeorm`.`default`.`accounts` (`id` BIGINT NOT NULL, \
         `email` STRING NOT NULL, `region` STRING NOT NULL, `opened` TIMESTAMP NOT NULL, \
         `_ingest_id` STRING) USING iceberg PARTITIONED BY (bucket(8, `email`)) TBLPROPERTIES \
         ('write.parquet.bloom-filter-enabled.column.email' = 'true', \
         'write.parquet.bloom-filter-enabled.column.region' = 'true')"
    );
    assert_eq!(
        statements[2],
        "ALTER TABLE `lakeorm`.`default`.`accounts` WRITE ORDERED BY `id`, `opened`"
    );
    assert_eq!(statements.len(), 3);
    // A declared partition wins: `User` is partitioned by country, so its key is not bucketed.
    let user = sql(&d, &ExecutionPlan::CreateTable { table: spec(&d) });
    assert!(user.contains("PARTITIONED BY (`country`)"), "{user}");
    assert!(!user.contains("bucket("), "{user}");
    // Migration files create the same table.
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
    assert_eq!(steps, statements[1..]);
}

#[test]
fn optimize_z_orders_sorts_and_filters() {
    let d = IcebergDialect::new();
    let optimize = |zorder: &[&str], filter: Option<Statement>| {
        sql(
            &d,
            &ExecutionPlan::Optimize {
                table: account_spec(&d),
                target_size: None,
                zorder: zorder.iter().map(|c| (*c).to_owned()).collect(),
                filter,
            },
        )
    };
    assert_eq!(
        optimize(&["id", "email"], None),
        "CALL `lakeorm`.system.rewrite_data_files(table => 'default.accounts', strategy => 'sort', sort_order => 'zorder(`id`, `email`)')"
    );
    assert_eq!(
        optimize(&["id"], Some(Statement::new("region = ?").bind("e'u"))),
        "CALL `lakeorm`.system.rewrite_data_files(table => 'default.accounts', strategy => 'sort', sort_order => '`id` ASC NULLS FIRST', where => 'region = \\'e\\\\\\'u\\'')"
    );
}
