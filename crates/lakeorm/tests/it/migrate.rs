//! Migrations on the embedded engine: generated files applied to a real Delta lake, through three
//! model changes, with the data carried along.

use lakeorm::migrate::{MigrationState, Registry};
use lakeorm::{Client, Error, LocalBuilder, Query};

mod v1 {
    #[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
    #[lake(table = "users")]
    pub(super) struct User {
        #[lake(pk)]
        pub(super) id: i64,
        pub(super) email: Option<String>,
        pub(super) nickname: Option<String>,
        pub(super) age: i32,
    }
}

mod v2 {
    /// Renames `nickname`, widens `age`, adds `country`.
    #[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
    #[lake(table = "users")]
    pub(super) struct User {
        #[lake(pk)]
        pub(super) id: i64,
        pub(super) email: Option<String>,
        #[lake(renamed_from = "nickname")]
        pub(super) handle: Option<String>,
        pub(super) age: i64,
        pub(super) country: Option<String>,
    }
}

mod v3 {
    /// Drops `email`, makes `handle` required, partitions by `country`.
    #[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
    #[lake(table = "users")]
    pub(super) struct User {
        #[lake(pk)]
        pub(super) id: i64,
        #[lake(renamed_from = "nickname")]
        pub(super) handle: String,
        pub(super) age: i64,
        #[lake(partition = "identity")]
        pub(super) country: Option<String>,
    }
}

async fn users<T: lakeorm::Row>(client: &Client) -> Vec<T> {
    Query::<T>::sql("SELECT * FROM users ORDER BY id")
        .fetch_all(client)
        .await
        .unwrap()
}

#[tokio::test]
async fn three_model_changes_apply_once_and_keep_the_data() {
    let lake = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = LocalBuilder::new().path(lake.path()).open().await.unwrap();

    // v1: a fresh lake gets the table.
    let generated = client
        .migrate_generate(dir.path(), &Registry::new().model::<v1::User>().models)
        .unwrap();
    assert_eq!(generated.written.len(), 1);
    let migrator = client.migrator(dir.path());
    assert_eq!(migrator.up().await.unwrap().files.len(), 1);
    let status = migrator.status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert!(matches!(status[0].state, MigrationState::Applied { .. }));
    assert!(
        migrator.up().await.unwrap().files.is_empty(),
        "a second up applies nothing"
    );
    client.assert_schema::<v1::User>().await.unwrap();
    let rows: Vec<v1::User> = (1..=3)
        .map(|id| v1::User {
            id,
            email: Some(format!("u{id}@example.com")),
            nickname: Some(format!("nick{id}")),
            age: 30 + id as i32,
        })
        .collect();
    client.insert(&rows).await.unwrap();

    // The model changed but no migration was written: the check names each column.
    let Err(Error::SchemaMismatch(mismatch)) = client.assert_schema::<v2::User>().await else {
        panic!("v2 must not match the v1 table");
    };
    let mut named: Vec<&str> = mismatch.differences.iter().map(|d| d.column()).collect();
    named.sort_unstable();
    assert_eq!(
        named,
        ["age", "country", "handle", "nickname"],
        "{mismatch}"
    );
    assert!(mismatch.to_string().contains("`country`"), "{mismatch}");

    // v2: rename, widen, add — the rows come through.
    let generated = client
        .migrate_generate(dir.path(), &Registry::new().model::<v2::User>().models)
        .unwrap();
    assert_eq!(generated.written.len(), 1);
    assert_eq!(migrator.up().await.unwrap().files.len(), 1);
    client.assert_schema::<v2::User>().await.unwrap();
    let read: Vec<v2::User> = users(&client).await;
    assert_eq!(read.len(), 3);
    assert_eq!(read[0].handle.as_deref(), Some("nick1"));
    assert_eq!(read[0].age, 31);
    assert_eq!(read[0].country, None);

    // v3: drop, tighten, repartition (all destructive, all marked in the file).
    let generated = client
        .migrate_generate(dir.path(), &Registry::new().model::<v3::User>().models)
        .unwrap();
    assert_eq!(generated.written[0].destructive, 3);
    let text = std::fs::read_to_string(&generated.written[0].path).unwrap();
    let up = text.split("-- +goose Down").next().unwrap();
    assert_eq!(up.matches("-- DESTRUCTIVE:").count(), 3, "{text}");
    assert_eq!(migrator.up().await.unwrap().files.len(), 1);
    client.assert_schema::<v3::User>().await.unwrap();
    let read: Vec<v3::User> = users(&client).await;
    assert_eq!(read.len(), 3);
    assert_eq!(read[2].handle, "nick3");
    client
        .insert(&[v3::User {
            id: 4,
            handle: "new".into(),
            age: 1,
            country: Some("NZ".into()),
        }])
        .await
        .unwrap();
    assert!(
        lake.path().join("tables/users/country=NZ").is_dir(),
        "the table is partitioned by country"
    );

    // Three files, all applied, and generating again writes nothing.
    let status = migrator.status().await.unwrap();
    assert_eq!(status.len(), 3);
    assert!(
        status
            .iter()
            .all(|s| matches!(s.state, MigrationState::Applied { .. }))
    );
    let again = client
        .migrate_generate(dir.path(), &Registry::new().model::<v3::User>().models)
        .unwrap();
    assert!(again.written.is_empty());

    // Down reverts the newest file: back to the v2 shape, rows kept.
    let reverted = migrator.down(1).await.unwrap();
    assert_eq!(reverted.files.len(), 1);
    client.assert_schema::<v2::User>().await.unwrap();
    assert_eq!(users::<v2::User>(&client).await.len(), 4);
    let status = migrator.status().await.unwrap();
    assert_eq!(status[2].state, MigrationState::Pending);
}

#[tokio::test]
async fn a_failed_statement_names_file_and_statement_and_records_nothing() {
    let lake = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = LocalBuilder::new().path(lake.path()).open().await.unwrap();
    std::fs::write(
        dir.path().join("1_create.sql"),
        "-- +goose Up\nCREATE TABLE things (id BIGINT NOT NULL) USING delta;\n-- +goose Down\nDROP TABLE things;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2_broken.sql"),
        "-- +goose Up\nALTER TABLE things ADD COLUMN note STRING;\nALTER TABLE things RENAME COLUMN missing TO other;\n-- +goose Down\n",
    )
    .unwrap();
    let migrator = client.migrator(dir.path());
    let Err(Error::Migration(e)) = migrator.up().await else {
        panic!("the second file must fail");
    };
    assert_eq!(e.file, "2_broken.sql");
    assert_eq!(
        e.statement.as_deref(),
        Some("ALTER TABLE things RENAME COLUMN missing TO other")
    );
    assert!(e.to_string().contains("statement 2 of 2"), "{e}");
    assert!(e.to_string().contains("missing"), "{e}");
    let status = migrator.status().await.unwrap();
    assert!(matches!(status[0].state, MigrationState::Applied { .. }));
    assert_eq!(status[1].state, MigrationState::Pending);
}

#[tokio::test]
async fn an_edited_file_is_refused_before_anything_applies() {
    let lake = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = LocalBuilder::new().path(lake.path()).open().await.unwrap();
    let generated = client
        .migrate_generate(dir.path(), &Registry::new().model::<v1::User>().models)
        .unwrap();
    let path = &generated.written[0].path;
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, text.replace("`age` INT", "`age` BIGINT")).unwrap();
    let e = client.migrator(dir.path()).up().await.unwrap_err();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(e.to_string().contains(&name), "{e}");
    let Err(Error::SchemaMismatch(m)) = client.assert_schema::<v1::User>().await else {
        panic!("nothing may have been created");
    };
    assert_eq!(m.differences.len(), 4);
}

#[tokio::test]
async fn narrowing_fails_on_a_value_that_does_not_fit_and_keeps_the_table() {
    let lake = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = LocalBuilder::new().path(lake.path()).open().await.unwrap();
    std::fs::write(
        dir.path().join("1_t.sql"),
        "-- +goose Up\nCREATE TABLE t (n BIGINT, s STRING) USING delta;\n-- +goose Down\n",
    )
    .unwrap();
    client.migrator(dir.path()).up().await.unwrap();
    #[derive(lakeorm::Lake, Debug, Clone, PartialEq)]
    #[lake(table = "t")]
    struct T {
        n: Option<i64>,
        s: Option<String>,
    }
    client
        .insert(&[T {
            n: Some(5_000_000_000),
            s: Some("x".into()),
        }])
        .await
        .unwrap();
    let before: Vec<T> = Query::sql("SELECT * FROM t")
        .fetch_all(&client)
        .await
        .unwrap();
    assert_eq!(before.len(), 1);
    std::fs::write(
        dir.path().join("2_narrow.sql"),
        "-- +goose Up\nALTER TABLE t ALTER COLUMN n TYPE INT;\n-- +goose Down\n",
    )
    .unwrap();
    let e = client.migrator(dir.path()).up().await.unwrap_err();
    assert!(e.to_string().contains("2_narrow.sql"), "{e}");
    assert!(e.to_string().contains("does not convert"), "{e}");
    let after: Vec<T> = Query::sql("SELECT * FROM t")
        .fetch_all(&client)
        .await
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn tables_get_the_dialect_properties() {
    let lake = tempfile::tempdir().unwrap();
    let client = LocalBuilder::new()
        .path(lake.path())
        .dialect(lakeorm::delta::DeltaDialect::new().with_property("lakeorm.owner", "team-a"))
        .open()
        .await
        .unwrap();
    client.migrate::<v1::User>().await.unwrap();
    let log = std::fs::read_to_string(
        lake.path()
            .join("tables/users/_delta_log/00000000000000000000.json"),
    )
    .unwrap();
    assert!(log.contains(r#""lakeorm.owner":"team-a""#), "{log}");
}

#[tokio::test]
async fn down_checks_every_file_before_reverting_any() {
    let lake = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = LocalBuilder::new().path(lake.path()).open().await.unwrap();
    std::fs::write(
        dir.path().join("1_a.sql"),
        "-- +goose Up\nCREATE TABLE a (id BIGINT) USING delta;\n-- +goose Down\nDROP TABLE a;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2_b.sql"),
        "-- +goose Up\nCREATE TABLE b (id BIGINT) USING delta;\n-- +goose Down\n-- IRREVERSIBLE: b holds history\n",
    )
    .unwrap();
    let migrator = client.migrator(dir.path());
    migrator.up().await.unwrap();
    let Err(Error::Migration(e)) = migrator.down(2).await else {
        panic!("an irreversible file must stop down");
    };
    assert_eq!(e.file, "2_b.sql");
    assert!(e.reason.contains("b holds history"), "{e}");
    let status = migrator.status().await.unwrap();
    assert!(
        status
            .iter()
            .all(|s| matches!(s.state, MigrationState::Applied { .. })),
        "nothing was reverted: {status:?}"
    );
}
