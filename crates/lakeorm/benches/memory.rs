//! Peak memory of the embedded engine's writes and typed reads, one case per process (the
//! peak resident set is per process; `cargo xtask bench` runs each case in its own):
//! - `insert:N`: the growth of the resident set's peak while `client.insert` writes N rows,
//!   against the Arrow size of the batch those rows encode to;
//! - `stream:N`: the growth of the peak while a typed stream (`Query::fetch`) reads N rows;
//! - `databricks-stream:N` (feature `databricks`): the same stream through the Databricks
//!   SQL-warehouse driver from the local server (`lakeorm-databricks-server`, in this process,
//!   spooling result chunks to disk), whose reader holds a few Arrow chunks at a time.
//!
//! Set `LAKEORM_BENCH_MEMORY_CASE` to the case; prints one line,
//! `lakeorm-memory case=… rows=… arrow_bytes=… growth_bytes=…`.

use futures::TryStreamExt as _;
use lakeorm::{Lake, LocalBuilder, Query};

mod common;
use common::{Event, events};

/// A field of `/proc/self/status`, in bytes.
fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
        .expect("a /proc/self/status field")
        * 1024
}

/// Resets the peak resident set to the current one (Linux's `clear_refs` 5), so that what
/// follows is measured from here.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak resident set");
}

#[tokio::main]
async fn main() {
    let Ok(case) = std::env::var("LAKEORM_BENCH_MEMORY_CASE") else {
        eprintln!(
            "LAKEORM_BENCH_MEMORY_CASE is not set (insert:N or stream:N); run through `cargo xtask bench`"
        );
        return;
    };
    let (kind, rows) = case.split_once(':').expect("case is KIND:ROWS");
    let rows: usize = rows.parse().expect("a row count");
    let dir = tempfile::tempdir().unwrap();
    // The server must outlive the client's reads.
    #[cfg(feature = "databricks")]
    let mut _server = None;
    let db = match kind {
        #[cfg(feature = "databricks")]
        "databricks-stream" => {
            let (server, db) = databricks(dir.path()).await;
            _server = Some(server);
            db
        }
        _ => LocalBuilder::new().path(dir.path()).open().await.unwrap(),
    };
    db.migrate::<Event>().await.unwrap();
    let records = events(0..rows);
    let arrow_bytes = Event::to_table_batch(&records, &lakeorm::IngestId::new())
        .unwrap()
        .get_array_memory_size() as u64;
    let growth = match kind {
        "insert" => {
            reset_peak();
            let before = status("VmRSS");
            db.insert(&records).await.unwrap();
            status("VmHWM").saturating_sub(before)
        }
        "stream" | "databricks-stream" => {
            db.insert(&records).await.unwrap();
            drop(records);
            reset_peak();
            let before = status("VmRSS");
            let n = Query::<Event>::sql("SELECT * FROM events")
                .fetch(&db)
                .try_fold(0usize, |n, row| {
                    std::hint::black_box(row);
                    futures::future::ready(Ok(n + 1))
                })
                .await
                .unwrap();
            assert_eq!(n, rows);
            status("VmHWM").saturating_sub(before)
        }
        other => panic!("unknown case kind `{other}`"),
    };
    println!(
        "lakeorm-memory case={kind} rows={rows} arrow_bytes={arrow_bytes} growth_bytes={growth}"
    );
}

/// A local Databricks server over `dir` and a Client on it (OAuth M2M, as a service would).
#[cfg(feature = "databricks")]
async fn databricks(
    dir: &std::path::Path,
) -> (lakeorm_databricks_server::DatabricksServer, lakeorm::Client) {
    use lakeorm::databricks::{Credentials, Volume, Workspace};
    let server = lakeorm_databricks_server::DatabricksServer::start(
        lakeorm_databricks_server::ServerConfig::new(dir),
    )
    .await
    .unwrap();
    let c = server.config().clone();
    let workspace = Workspace::new(
        &server.host(),
        Credentials::oauth_m2m(c.client_id.clone(), c.client_secret.clone()),
    )
    .unwrap();
    let db = lakeorm::databricks_sql(workspace, server.warehouse_id(), &c.catalog, &c.schema)
        .volume(Volume::new(&c.catalog, &c.schema, &c.volume))
        .open()
        .unwrap();
    (server, db)
}
