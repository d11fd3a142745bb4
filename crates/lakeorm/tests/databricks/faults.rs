//! Faults of the warehouse: starting, failing, links expiring mid-read, a cancelled read or
//! write. Each leaves the table as it was (or as the write made it) and a typed error.

use std::time::Duration;

use futures::TryStreamExt;
use lakeorm::databricks::StatementOptions;
use lakeorm::{Error, ErrorKind, Query};

use crate::workload::count;
use crate::{Account, Balance, statement_options, warehouse, warehouse_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starting_warehouse_is_the_retryable_cluster_not_ready() {
    let options = StatementOptions {
        start_timeout: Duration::from_millis(300),
        ..statement_options()
    };
    let w = warehouse_with(|c| c, options).await;
    w.client.migrate::<Account>().await.unwrap();
    w.server.faults().warehouse_starting(Duration::from_secs(2));
    let error = w.client.ping().await.unwrap_err();
    assert!(
        matches!(&error, Error::ClusterNotReady(n) if n.state == "PENDING"),
        "{error:?}"
    );
    assert!(error.is_retryable() && error.is_unapplied());
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    // The pending statement was cancelled, not left to run later.
    assert!(w.server.counters().cancels >= 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.client.ping().await.unwrap();
    // A write that waits it out, within the start timeout, just takes longer.
    w.server
        .faults()
        .warehouse_starting(Duration::from_millis(100));
    w.client.insert(&[Account::new(1)]).await.unwrap();
    assert_eq!(
        count(&w.client, "SELECT COUNT(*) AS n FROM accounts").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_statement_is_a_typed_error_and_changes_nothing() {
    let w = warehouse().await;
    w.client.migrate::<Account>().await.unwrap();
    w.client.insert(&[Account::new(1)]).await.unwrap();
    w.server
        .faults()
        .fail_next("INTERNAL_ERROR", "[INTERNAL_ERROR] the executor was lost");
    let error = w
        .client
        .insert(&[Account::new(2)])
        .direct()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Engine, "{error:?}");
    assert!(error.to_string().contains("executor was lost"), "{error}");
    assert_eq!(
        count(&w.client, "SELECT COUNT(*) AS n FROM accounts").await,
        1
    );
    // Malformed SQL: the warehouse's parse error, as a SQL error.
    let error = Query::<Account>::sql("SELEC * FROM accounts")
        .fetch_all(&w.client)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Sql, "{error:?}");
    let error = Query::<Account>::sql("SELECT * FROM no_such_table")
        .fetch_all(&w.client)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::TableNotFound { table, .. } if table == "no_such_table"),
        "{error:?}"
    );
}

/// Links are short-lived (here shorter than the margin the client renews them within): each
/// chunk's link is asked for again before its download, and a read of many chunks completes.
/// (A link refused as expired is renewed too: `lakeorm-databricks`' own test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_links_are_renewed_before_use() {
    let w = warehouse_with(
        |c| {
            c.with_chunk_rows(1_000)
                .with_link_lifetime(Duration::from_secs(5))
        },
        statement_options(),
    )
    .await;
    w.client.migrate::<Account>().await.unwrap();
    w.client
        .insert(&(0..10_000).map(Account::new).collect::<Vec<_>>())
        .await
        .unwrap();
    let before = w.server.counters();
    let rows: Vec<Balance> = Query::sql("SELECT id, balance FROM accounts")
        .fetch(&w.client)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 10_000);
    let c = w.server.counters();
    assert_eq!(c.link_fetches - before.link_fetches, 10, "{c:?}");
    assert_eq!(c.chunk_requests - before.chunk_requests, 10, "{c:?}");
    assert_eq!(c.links_expired, 0);
    assert_eq!(c.links_rejected_for_auth_header, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_read_or_write_cancels_its_statement() {
    let w = warehouse().await;
    w.client.migrate::<Account>().await.unwrap();
    w.client.insert(&[Account::new(1)]).await.unwrap();
    w.server.faults().statement_delay(Duration::from_secs(3));
    let read = Query::<Account>::sql("SELECT * FROM accounts").fetch_all(&w.client);
    assert!(
        tokio::time::timeout(Duration::from_millis(400), read)
            .await
            .is_err()
    );
    let two = [Account::new(2)];
    let write = w.client.insert(&two).direct();
    assert!(
        tokio::time::timeout(Duration::from_millis(400), write)
            .await
            .is_err()
    );
    // Cancels go out in the background.
    let mut cancels = 0;
    for _ in 0..100 {
        cancels = w.server.counters().cancels;
        if cancels >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cancels >= 2, "{cancels} statements cancelled");
    w.server.faults().clear();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The cancelled insert never landed.
    assert_eq!(
        count(&w.client, "SELECT COUNT(*) AS n FROM accounts").await,
        1
    );
}

/// Throttled requests (429 with `Retry-After`) are waited out: the statement was never accepted,
/// so sending it again cannot run it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_are_waited_out() {
    let w = warehouse().await;
    w.client.migrate::<Account>().await.unwrap();
    // Let the closes the migration sent in the background arrive, so the insert meets the
    // throttling.
    let mut closes = w.server.counters().closes;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = w.server.counters().closes;
        if now == closes {
            break;
        }
        closes = now;
    }
    w.server.faults().throttle_next(2);
    w.client.insert(&[Account::new(1)]).await.unwrap();
    // Both throttled answers were waited out: the insert landed, once.
    assert_eq!(w.server.counters().throttled, 2);
    assert_eq!(
        count(&w.client, "SELECT COUNT(*) AS n FROM accounts").await,
        1
    );
}
