//! The Client on the embedded engine, against real Delta and Iceberg tables on the file and
//! memory backends: every test that takes `lakes()` runs for each format on each backend.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lakeorm::iceberg::IcebergDialect;
use lakeorm::{
    AsOf, Client, ConflictStrategy, Error, Lake, LocalBuilder, Order, Query, Row, Statement,
};

#[derive(Lake, Debug, Clone, PartialEq)]
struct Account {
    #[lake(pk)]
    id: i64,
    #[lake(validate = "email")]
    email: String,
    country: String,
    balance: i64,
    note: Option<String>,
    #[lake(auto = "update_time")]
    updated_at: Option<DateTime<Utc>>,
}

fn account(id: i64) -> Account {
    Account {
        id,
        email: format!("user{id}@example.com"),
        country: ["GB", "FR", "DE"][(id % 3) as usize].into(),
        balance: id * 10,
        note: None,
        updated_at: None,
    }
}

/// A model upserted on a composite merge key.
#[derive(Lake, Debug, Clone, PartialEq)]
struct Position {
    #[lake(merge_key)]
    account: i64,
    #[lake(merge_key)]
    symbol: String,
    quantity: i64,
}

#[derive(Row, Debug, PartialEq)]
struct CountryTotal {
    country: String,
    accounts: i64,
    total: i64,
}

enum Store {
    File(tempfile::TempDir),
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Format {
    Delta,
    Iceberg,
}

impl Format {
    pub(crate) fn builder(self) -> LocalBuilder {
        match self {
            Format::Delta => LocalBuilder::new(),
            Format::Iceberg => LocalBuilder::new().dialect(IcebergDialect::new()),
        }
    }
}

/// One lake of the matrix: a store and a table format.
struct Kind {
    store: Store,
    format: Format,
}

async fn open(kind: &Kind) -> Client {
    let builder = kind.format.builder();
    match &kind.store {
        Store::File(dir) => builder.path(dir.path()).open().await.unwrap(),
        Store::Memory => builder.in_memory().open().await.unwrap(),
    }
}

/// Every format on every local backend.
fn backends() -> Vec<Kind> {
    [Format::Delta, Format::Iceberg]
        .into_iter()
        .flat_map(|format| {
            [
                Kind {
                    store: Store::File(tempfile::tempdir().unwrap()),
                    format,
                },
                Kind {
                    store: Store::Memory,
                    format,
                },
            ]
        })
        .collect()
}

/// `SELECT COUNT(*)` of `table` (which may carry a `WHERE` clause).
pub(crate) async fn count(db: &Client, table: &str) -> i64 {
    #[derive(Row)]
    struct N {
        n: i64,
    }
    Query::<N>::sql(format!("SELECT COUNT(*) AS n FROM {table}"))
        .fetch_one(db)
        .await
        .unwrap()
        .n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_read_update_delete_on_every_backend() {
    for kind in backends() {
        eprintln!("{:?}", kind.format);
        let db = open(&kind).await;
        db.ping().await.unwrap();
        db.migrate::<Account>().await.unwrap();
        db.migrate::<Account>().await.unwrap(); // idempotent

        let accounts: Vec<Account> = (1..=30).map(account).collect();
        let report = db.insert(&accounts).await.unwrap();
        assert_eq!(report.rows, 30);
        assert_eq!(report.metrics.rows_inserted, 30);
        assert_eq!(count(&db, "accounts").await, 30);

        // Typed reads with bound parameters.
        let gb: Vec<Account> =
            Query::sql("SELECT * FROM accounts WHERE country = ? AND balance > ? ORDER BY id")
                .bind("GB")
                .bind(100)
                .fetch_all(&db)
                .await
                .unwrap();
        assert!(gb.iter().all(|a| a.country == "GB" && a.balance > 100));
        assert_eq!(gb.len(), 7);
        assert!(
            gb.iter().all(|a| a.updated_at.is_some()),
            "auto fields are stamped"
        );

        let one: Account = Query::sql("SELECT * FROM accounts WHERE id = ?")
            .bind(7)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(one.email, "user7@example.com");
        let none = Query::<Account>::sql("SELECT * FROM accounts WHERE id = ?")
            .bind(999)
            .fetch_optional(&db)
            .await
            .unwrap();
        assert!(none.is_none());
        match Query::<Account>::sql("SELECT * FROM accounts WHERE id = ?")
            .bind(999)
            .fetch_one(&db)
            .await
        {
            Err(Error::NoRows) => {}
            other => panic!("expected NoRows, got {other:?}"),
        }

        // Aggregates decode into projection structs that are not tables.
        let totals: Vec<CountryTotal> = Query::sql(
            "SELECT country, COUNT(*) AS accounts, SUM(balance) AS total FROM accounts GROUP BY country ORDER BY country",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        assert_eq!(totals.len(), 3);
        assert_eq!(totals.iter().map(|t| t.accounts).sum::<i64>(), 30);

        // Update by primary key.
        let mut changed = account(5);
        changed.balance = -1;
        changed.note = Some("frozen".into());
        let report = db.update(&[changed.clone(), account(999)]).await.unwrap();
        assert_eq!(report.metrics.rows_updated, 1);
        assert_eq!(count(&db, "accounts").await, 30, "update never inserts");
        let back: Account = Query::sql("SELECT * FROM accounts WHERE id = 5")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!((back.balance, back.note.as_deref()), (-1, Some("frozen")));

        // Upsert by primary key: one update, one insert.
        let report = db
            .insert(&[account(6), account(31)])
            .on_conflict(ConflictStrategy::Update)
            .await
            .unwrap();
        assert_eq!(
            (report.metrics.rows_updated, report.metrics.rows_inserted),
            (1, 1)
        );
        assert_eq!(count(&db, "accounts").await, 31);

        // Delete by key and by predicate.
        let deleted = db
            .delete(&[account(1), account(2), account(999)])
            .await
            .unwrap();
        assert_eq!(deleted.rows_deleted, 2);
        assert_eq!(count(&db, "accounts").await, 29);
        let deleted = db
            .delete_where::<Account>(
                Statement::new("country = ? AND balance >= ?")
                    .bind("DE")
                    .bind(200),
            )
            .await
            .unwrap();
        assert!(deleted.rows_deleted > 0);
        let left: Vec<Account> = Query::sql("SELECT * FROM accounts WHERE country = 'DE'")
            .fetch_all(&db)
            .await
            .unwrap();
        assert!(left.iter().all(|a| a.balance < 200));

        // Maintenance.
        let before = db.maintain().stats::<Account>().await.unwrap();
        assert!(before.files >= 1 && before.rows >= 1 && before.version >= 1);
        db.maintain().optimize::<Account>().await.unwrap();
        // Below the format's minimum, a vacuum is refused before it deletes anything: the
        // version before compaction stays readable.
        let refused = db
            .maintain()
            .vacuum::<Account>(std::time::Duration::from_secs(3600))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, Error::RetentionTooShort { .. }),
            "{refused:?}"
        );
        assert_eq!(refused.kind(), lakeorm::ErrorKind::Config);
        let old = db
            .query::<Account>()
            .as_of(AsOf::Version(before.version))
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(old.len() as i64, count(&db, "accounts").await);
        db.maintain()
            .vacuum::<Account>(std::time::Duration::ZERO)
            .force()
            .await
            .unwrap();
        let after = db.maintain().stats::<Account>().await.unwrap();
        assert_eq!(after.files, 1, "compaction leaves one file");
        // Delta versions count commits (compaction and vacuum commit); Iceberg versions are
        // snapshot ids, and copy-on-write left one file, so there was nothing to compact.
        if kind.format == Format::Delta {
            assert!(after.version > before.version);
        }
        assert_eq!(
            count(&db, "accounts").await,
            i64::try_from(after.rows).unwrap()
        );

        db.close().await.unwrap();
        assert!(db.ping().await.is_err());
        let closed = db.insert(&[account(99)]).await.unwrap_err();
        assert_eq!(closed.kind(), lakeorm::ErrorKind::Closed, "{closed:?}");
        assert!(matches!(closed, Error::Closed { .. }), "{closed:?}");
    }
}

/// Reads of an earlier version, by the version a write reported and by instant, through the
/// query builder and in SQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_reads_earlier_versions() {
    for kind in backends() {
        let db = open(&kind).await;
        assert!(db.driver().capabilities().time_travel);
        db.migrate::<Account>().await.unwrap();
        let first = db
            .insert(&[account(1), account(2), account(3)])
            .await
            .unwrap();
        let version = first.metrics.version.expect("a version");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let between = chrono::Utc::now();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut changed = account(2);
        changed.balance = 999;
        db.update(&[changed]).await.unwrap();
        db.delete(&[account(1)]).await.unwrap();
        db.insert(&[account(4)]).await.unwrap();

        let mut then: Vec<Account> = db
            .query::<Account>()
            .as_of(AsOf::Version(version))
            .fetch_all()
            .await
            .unwrap();
        then.sort_by_key(|a| a.id);
        assert_eq!(
            then.iter().map(|a| (a.id, a.balance)).collect::<Vec<_>>(),
            [(1, 10), (2, 20), (3, 30)],
            "{:?}",
            kind.format
        );
        let at_instant: Vec<Account> = db
            .query::<Account>()
            .as_of(AsOf::Timestamp(between))
            .filter(Statement::new("id = ?").bind(2))
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(at_instant.len(), 1);
        assert_eq!(at_instant[0].balance, 20);
        assert_eq!(
            count(&db, &format!("accounts VERSION AS OF {version}")).await,
            3
        );
        assert_eq!(
            count(&db, "accounts").await,
            3,
            "the current table is untouched"
        );

        let missing = db
            .query::<Account>()
            .as_of(AsOf::Version(version + 1_000_000))
            .fetch_all()
            .await
            .unwrap_err();
        assert!(matches!(missing, Error::Sql { .. }), "{missing:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_merge_keys_upsert() {
    for kind in backends() {
        let db = open(&kind).await;
        db.migrate::<Position>().await.unwrap();
        let p = |account, symbol: &str, quantity| Position {
            account,
            symbol: symbol.into(),
            quantity,
        };
        db.insert(&[p(1, "AAPL", 10), p(1, "MSFT", 5), p(2, "AAPL", 7)])
            .await
            .unwrap();
        // Same account, same symbol → update; same account, new symbol → insert.
        let report = db
            .insert(&[p(1, "AAPL", 11), p(1, "GOOG", 1)])
            .await
            .unwrap();
        assert_eq!(
            (report.metrics.rows_updated, report.metrics.rows_inserted),
            (1, 1)
        );
        let mut all: Vec<Position> = Query::sql("SELECT * FROM positions")
            .fetch_all(&db)
            .await
            .unwrap();
        all.sort_by(|a, b| (a.account, &a.symbol).cmp(&(b.account, &b.symbol)));
        assert_eq!(
            all,
            [
                p(1, "AAPL", 11),
                p(1, "GOOG", 1),
                p(1, "MSFT", 5),
                p(2, "AAPL", 7)
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invalid_record_writes_nothing() {
    for kind in backends() {
        let db = open(&kind).await;
        db.migrate::<Account>().await.unwrap();
        let mut batch: Vec<Account> = (0..1000).map(account).collect();
        batch[637].email = "not-an-email".into();
        match db.insert(&batch).await {
            Err(Error::Validation(e)) => {
                assert_eq!(e.errors().len(), 1);
                assert_eq!(e.errors()[0].field, "email");
                assert_eq!(e.errors()[0].row, Some(637));
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
        assert_eq!(count(&db, "accounts").await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_parameters_are_bound_not_spliced() {
    for kind in backends() {
        let db = open(&kind).await;
        db.migrate::<Account>().await.unwrap();
        let evil = "'; DROP TABLE accounts; --";
        let mut a = account(1);
        a.note = Some(evil.into());
        db.insert(&[a]).await.unwrap();
        let found: Account = Query::sql("SELECT * FROM accounts WHERE note = ?")
            .bind(evil)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(found.note.as_deref(), Some(evil));
        let quoted: Vec<Account> =
            Query::sql("SELECT * FROM accounts WHERE note = ? AND '?' = '?'")
                .bind(evil)
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(quoted.len(), 1, "a ? inside a literal is not a placeholder");
        assert_eq!(count(&db, "accounts").await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_strategies() {
    for kind in backends() {
        let db = open(&kind).await;
        db.migrate::<Account>().await.unwrap();
        db.insert(&[account(1)]).await.unwrap();
        let mut again = account(1);
        again.balance = 777;

        match db
            .insert(&[again.clone(), account(2)])
            .on_conflict(ConflictStrategy::Error)
            .await
        {
            Err(Error::DuplicateKey { rows, .. }) => assert_eq!(rows, 1),
            other => panic!("expected DuplicateKey, got {other:?}"),
        }
        assert_eq!(count(&db, "accounts").await, 1, "nothing was written");

        db.insert(&[again.clone(), account(2)])
            .on_conflict(ConflictStrategy::Ignore)
            .await
            .unwrap();
        let kept: Account = Query::sql("SELECT * FROM accounts WHERE id = 1")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(kept.balance, 10);
        assert_eq!(count(&db, "accounts").await, 2);

        db.insert(&[again])
            .on_conflict(ConflictStrategy::Update)
            .await
            .unwrap();
        let updated: Account = Query::sql("SELECT * FROM accounts WHERE id = 1")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(updated.balance, 777);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataframes_and_the_query_builder() {
    for kind in backends() {
        let db = open(&kind).await;
        db.migrate::<Account>().await.unwrap();
        db.insert(&(1..=20).map(account).collect::<Vec<_>>())
            .await
            .unwrap();

        let df = db
            .dataframe(
                Statement::new("SELECT id, email FROM accounts WHERE country = ?").bind("FR"),
            )
            .await
            .unwrap();
        assert_eq!(df.schema().fields().len(), 2);
        assert_eq!(df.count().await.unwrap(), 7);
        assert!(df.native::<datafusion_dataframe::DataFrame>().is_some());
        let batches = df.collect().await.unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 7);

        #[derive(Row, Debug)]
        struct Email {
            id: i64,
            email: String,
        }
        let first: Email = db
            .dataframe("SELECT id, email FROM accounts ORDER BY id")
            .await
            .unwrap()
            .fetch_one()
            .await
            .unwrap();
        assert_eq!((first.id, first.email.as_str()), (1, "user1@example.com"));

        let page: Vec<Email> = db
            .query::<Account>()
            .select_as::<Email>()
            .filter(Statement::new("country = ?").bind("GB"))
            .order_by("id", Order::Desc)
            .limit(3)
            .offset(1)
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [15, 12, 9]);

        let streamed: Vec<Account> = db
            .dataframe("SELECT * FROM accounts")
            .await
            .unwrap()
            .fetch::<Account>()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(streamed.len(), 20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_rows_stream_in_batches() {
    #[derive(Lake, Debug, Clone)]
    struct Tick {
        seq: i64,
        value: f64,
    }
    let db = LocalBuilder::new().in_memory().open().await.unwrap();
    db.migrate::<Tick>().await.unwrap();
    for chunk in 0..4 {
        let ticks: Vec<Tick> = (0..250_000)
            .map(|i| Tick {
                seq: chunk * 250_000 + i,
                value: i as f64,
            })
            .collect();
        db.insert(&ticks).await.unwrap();
    }
    let mut stream = std::pin::pin!(Query::<Tick>::sql("SELECT * FROM ticks").fetch(&db));
    let (mut n, mut sum) = (0u64, 0i64);
    while let Some(tick) = stream.try_next().await.unwrap() {
        n += 1;
        sum += tick.seq;
    }
    assert_eq!(n, 1_000_000);
    assert_eq!(sum, (0..1_000_000i64).sum::<i64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_upserts_all_land_once() {
    for kind in backends() {
        let db = open(&kind).await;
        db.migrate::<Position>().await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let db = db.clone();
                tokio::spawn(async move {
                    let rows: Vec<Position> = (0..50)
                        .map(|i| Position {
                            account: i,
                            symbol: format!("T{task}"),
                            quantity: i,
                        })
                        .collect();
                    db.insert(&rows).on_conflict(ConflictStrategy::Update).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(count(&db, "positions").await, 8 * 50);
        #[derive(Row)]
        struct Dup {
            #[allow(dead_code)]
            c: i64,
        }
        let duplicates: Vec<Dup> = Query::sql(
            "SELECT COUNT(*) AS c FROM positions GROUP BY account, symbol HAVING COUNT(*) > 1",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(duplicates.is_empty(), "every row is there exactly once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_are_real_delta_tables_visible_to_a_new_client() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = LocalBuilder::new().path(dir.path()).open().await.unwrap();
        db.migrate::<Account>().await.unwrap();
        db.insert(&[account(1), account(2)]).await.unwrap();
    }
    assert!(
        dir.path()
            .join("tables/accounts/_delta_log/00000000000000000000.json")
            .exists()
    );
    let reopened = LocalBuilder::new().path(dir.path()).open().await.unwrap();
    assert_eq!(count(&reopened, "accounts").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_refusals_are_typed() {
    let db = LocalBuilder::new().in_memory().open().await.unwrap();
    let missing = Query::<Account>::sql("SELECT * FROM no_such_table")
        .fetch_all(&db)
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, Error::TableNotFound { table, .. } if table == "no_such_table"),
        "{missing:?}"
    );
    assert_eq!(missing.kind(), lakeorm::ErrorKind::NotFound);

    let malformed = db.exec("SELEKT 1").await.unwrap_err();
    assert!(matches!(malformed, Error::Sql { .. }), "{malformed:?}");
    assert!(
        std::error::Error::source(&malformed).is_some(),
        "the engine's own error is kept: {malformed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_operations_rows_and_errors() {
    let db = LocalBuilder::new().in_memory().open().await.unwrap();
    db.migrate::<Account>().await.unwrap();
    db.insert(&[account(1), account(2), account(3)])
        .await
        .unwrap();
    let _ = db.exec("SELECT * FROM no_such_table").await;
    let families = db.metrics_registry().gather();
    let value = |name: &str, label: &str| -> f64 {
        families
            .iter()
            .filter(|f| f.name() == name)
            .flat_map(|f| f.get_metric())
            .filter(|m| m.get_label().iter().any(|l| l.value() == label))
            .map(|m| m.get_counter().get_value())
            .sum()
    };
    assert_eq!(value("lakeorm_rows_written_total", "accounts"), 3.0);
    assert!(value("lakeorm_bytes_written_total", "accounts") > 0.0);
    assert_eq!(value("lakeorm_operations_total", "append"), 1.0);
    assert_eq!(value("lakeorm_errors_total", "exec"), 1.0);
}

mod datafusion_dataframe {
    pub(crate) use lakeorm::embedded::datafusion::prelude::DataFrame;
}

/// Records the fields of every `lakeorm` span.
#[derive(Clone, Default)]
struct SpanFields(std::sync::Arc<std::sync::Mutex<Vec<std::collections::HashMap<String, String>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanFields {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Visit<'a>(&'a mut std::collections::HashMap<String, String>);
        impl tracing::field::Visit for Visit<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.insert(field.name().to_owned(), format!("{value:?}"));
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.insert(field.name().to_owned(), value.to_owned());
            }
        }
        if attrs.metadata().name() == "lakeorm" {
            let mut fields = std::collections::HashMap::new();
            attrs.record(&mut Visit(&mut fields));
            self.0.lock().unwrap().push(fields);
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn writes_run_in_spans_carrying_table_and_ingest_id() {
    use tracing_subscriber::layer::SubscriberExt;

    let spans = SpanFields::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let db = LocalBuilder::new().in_memory().open().await.unwrap();
    db.migrate::<Account>().await.unwrap();
    let report = db.insert(&[account(1), account(2)]).await.unwrap();
    let recorded = spans.0.lock().unwrap().clone();
    let append = recorded
        .iter()
        .find(|f| f.get("operation").map(String::as_str) == Some("append"))
        .expect("an append span");
    assert_eq!(append["table"], "accounts");
    assert_eq!(append["ingest_id"], report.ingest_id.to_string());
    assert_eq!(append["rows"], "2");
    assert!(
        recorded
            .iter()
            .any(|f| f.get("operation").map(String::as_str) == Some("create_table"))
    );
}
