//! Typed reads, writes, upserts, updates, deletes, verify and stats through the Client.

use futures::TryStreamExt;
use lakeorm::{ConflictStrategy, Error, Query, Statement, WritePath};

use crate::{Account, Balance, volume_files, warehouse};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_reads_and_small_writes_go_inline() {
    let w = warehouse().await;
    let db = &w.client;
    db.migrate::<Account>().await.unwrap();
    let accounts: Vec<Account> = (1..=20).map(Account::new).collect();
    let report = db.insert(&accounts).await.unwrap();
    assert_eq!(report.rows, 20);
    assert_eq!(report.write_path, Some(WritePath::Direct));
    // 20 rows × 8 columns + the ingest id fit the API's 256 parameters: nothing was staged.
    assert_eq!(w.server.counters().files_put, 0);

    let one: Account = Query::sql("SELECT * FROM accounts WHERE id = ?")
        .bind(7_i64)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(one, accounts[6]);
    let all: Vec<Account> = Query::sql("SELECT * FROM accounts ORDER BY id")
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(all, accounts);
    // A read shape of its own, with parameters of several types.
    let rich: Vec<Balance> = Query::sql(
        "SELECT id, balance FROM accounts WHERE active = ? AND opened_on >= ? AND email <> ? ORDER BY id",
    )
    .bind(true)
    .bind(chrono::NaiveDate::from_ymd_opt(2024, 1, 5).unwrap())
    .bind("O'Brien'; DROP TABLE accounts; --")
    .fetch_all(db)
    .await
    .unwrap();
    let expected: Vec<i64> = accounts
        .iter()
        .filter(|a| a.active && a.opened_on >= chrono::NaiveDate::from_ymd_opt(2024, 1, 5).unwrap())
        .map(|a| a.id)
        .collect();
    assert_eq!(rich.iter().map(|b| b.id).collect::<Vec<_>>(), expected);
    let streamed: Vec<Account> = Query::sql("SELECT * FROM accounts ORDER BY id")
        .fetch(db)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 20);
    let none = Query::<Account>::sql("SELECT * FROM accounts WHERE id = ?")
        .bind(999_i64)
        .fetch_one(db)
        .await
        .unwrap_err();
    assert!(matches!(none, Error::NoRows), "{none:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_updates_and_deletes() {
    let w = warehouse().await;
    let db = &w.client;
    db.migrate::<Account>().await.unwrap();
    db.insert(&(1..=10).map(Account::new).collect::<Vec<_>>())
        .await
        .unwrap();

    // Upsert: two rows change, two are new.
    let mut changed: Vec<Account> = [3, 4, 11, 12].into_iter().map(Account::new).collect();
    changed[0].name = Some("Changed".into());
    changed[1].balance = rust_decimal::Decimal::new(1, 0);
    let report = db
        .insert(&changed)
        .on_conflict(ConflictStrategy::Update)
        .await
        .unwrap();
    assert_eq!(report.metrics.rows_inserted, 2, "{report:?}");
    assert_eq!(report.metrics.rows_updated, 2, "{report:?}");
    let three: Account = Query::sql("SELECT * FROM accounts WHERE id = 3")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(three.name.as_deref(), Some("Changed"));

    // Insert-only: an existing key fails the whole write, writing nothing.
    let clash = [Account::new(5), Account::new(50)];
    let error = db
        .insert(&clash)
        .on_conflict(ConflictStrategy::Error)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::DuplicateKey { table, rows, .. } if table.ends_with("accounts") && *rows == 1),
        "{error:?}"
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) AS n FROM accounts WHERE id = 50").await,
        0
    );
    // Ignore: the new one lands, the existing one is kept.
    let mut kept = Account::new(5);
    kept.name = Some("ignored".into());
    db.insert(&[kept, Account::new(50)])
        .on_conflict(ConflictStrategy::Ignore)
        .await
        .unwrap();
    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM accounts").await, 13);
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) AS n FROM accounts WHERE name = 'ignored'"
        )
        .await,
        0
    );

    // Update by key: only existing rows change.
    let mut updated = Account::new(6);
    updated.score = 99.5;
    let report = db.update(&[updated, Account::new(777)]).await.unwrap();
    assert_eq!(report.metrics.rows_updated, 1);
    assert_eq!(
        count(db, "SELECT COUNT(*) AS n FROM accounts WHERE id = 777").await,
        0
    );

    // Delete by key, and by a predicate with a bound value.
    let gone = db
        .delete(&[Account::new(1), Account::new(2)])
        .await
        .unwrap();
    assert_eq!(gone.rows_deleted, 2);
    let gone = db
        .delete_where::<Account>(Statement::new("score > ?").bind(50.0))
        .await
        .unwrap();
    assert_eq!(gone.rows_deleted, 1);
    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM accounts").await, 10);

    // Maintenance through the Delta dialect's SQL.
    db.maintain().optimize::<Account>().await.unwrap();
    db.maintain()
        .vacuum::<Account>(std::time::Duration::from_secs(7 * 24 * 3600))
        .await
        .unwrap();
    let stats = db.maintain().stats::<Account>().await.unwrap();
    assert_eq!(stats.rows, 10);
    assert!(stats.files >= 1 && stats.bytes > 0, "{stats:?}");
    assert!(stats.version >= 6, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_writes_are_staged_in_the_volume_and_removed() {
    let w = warehouse().await;
    let db = &w.client;
    db.migrate::<Account>().await.unwrap();
    // Past 256 parameters: staged as Parquet in the volume, committed by one statement.
    let accounts: Vec<Account> = (1..=5_000).map(Account::new).collect();
    db.insert(&accounts).await.unwrap();
    let before = w.server.counters();
    assert!(before.files_put >= 1, "{before:?}");
    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM accounts").await, 5_000);
    // An upsert of as many rows goes the same way.
    let mut again = accounts.clone();
    for a in &mut again {
        a.score += 1.0;
    }
    let report = db
        .insert(&again)
        .on_conflict(ConflictStrategy::Update)
        .await
        .unwrap();
    assert_eq!(report.metrics.rows_updated, 5_000);
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) AS n FROM accounts WHERE score = id / 4.0 + 1"
        )
        .await,
        5_000
    );
    // An insert-only write of as many rows meeting existing keys: nothing written, the clashes
    // counted from the staged rows before the staging goes.
    let clash: Vec<Account> = (4_999..5_400).map(Account::new).collect();
    let error = db
        .insert(&clash)
        .on_conflict(ConflictStrategy::Error)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::DuplicateKey { rows: 2, .. }),
        "{error:?}"
    );
    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM accounts").await, 5_000);
    // Forced through the Client's staging too (the Backend's own staged path).
    db.insert(&(6_000..6_010).map(Account::new).collect::<Vec<_>>())
        .staged()
        .await
        .unwrap();
    assert_eq!(count(db, "SELECT COUNT(*) AS n FROM accounts").await, 5_010);
    assert_eq!(volume_files(&w.server), Vec::<std::path::PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_runs_its_three_legs_against_the_volume() {
    let w = warehouse().await;
    let report = w.client.verify().await.unwrap();
    assert_eq!(report.rows, 3);
    assert!(
        report
            .client_uri
            .as_str()
            .starts_with("dbfs:/Volumes/main/default/lakeorm/")
    );
    assert_eq!(volume_files(&w.server), Vec::<std::path::PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_rows_staged_in_and_streamed_out_chunk_by_chunk() {
    let w = crate::warehouse_with(|c| c.with_chunk_rows(50_000), crate::statement_options()).await;
    let db = &w.client;
    db.migrate::<Account>().await.unwrap();
    const ROWS: i64 = 1_000_000;
    let accounts: Vec<Account> = (0..ROWS).map(Account::new).collect();
    let report = db.insert(&accounts).await.unwrap();
    assert_eq!(report.rows, ROWS as u64);
    drop(accounts);
    assert_eq!(volume_files(&w.server), Vec::<std::path::PathBuf>::new());

    let before = w.server.counters();
    let stream = Query::<Balance>::sql("SELECT id, balance FROM accounts").fetch(db);
    futures::pin_mut!(stream);
    let first = stream.try_next().await.unwrap().expect("rows");
    // The reader is a few chunks ahead, not the whole result (20 chunks of 50,000 rows).
    let fetched = w.server.counters().link_fetches - before.link_fetches;
    assert!(
        fetched <= 4,
        "{fetched} chunks downloaded before the first row was read"
    );
    let mut rows = 1u64;
    let mut sum = first.id;
    while let Some(row) = stream.try_next().await.unwrap() {
        rows += 1;
        sum += row.id;
    }
    assert_eq!(rows, ROWS as u64);
    assert_eq!(sum, ROWS * (ROWS - 1) / 2);
    let after = w.server.counters();
    assert_eq!(after.link_fetches - before.link_fetches, 20);
    assert_eq!(after.links_rejected_for_auth_header, 0);
}

pub(crate) async fn count(db: &lakeorm::Client, sql: &str) -> i64 {
    #[derive(lakeorm::Row)]
    struct N {
        n: i64,
    }
    Query::<N>::sql(sql).fetch_one(db).await.unwrap().n
}
