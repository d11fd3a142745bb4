//! Iceberg on the embedded engine, with nothing installed: a model partitioned by hidden
//! transforms, appends, copy-on-write upserts and deletes, a read of an earlier snapshot,
//! compaction and statistics. The table is left in the hadoop layout
//! (`tables/visits/metadata/vN.metadata.json` + `version-hint.text`) under `./lake` (or
//! `$LAKEORM_PATH`), where Spark's Hadoop catalog and Sail read it:
//! `SELECT * FROM iceberg.\`<lake>/tables/visits\``.
//!
//! Run with `cargo run --example iceberg`.

use chrono::{DateTime, Utc};
use lakeorm::iceberg::IcebergDialect;
use lakeorm::{AsOf, Lake, LocalBuilder, Query, Row, Statement};

#[derive(Lake, Debug, Clone)]
#[lake(table = "visits")]
struct Visit {
    /// Upserts merge on the key; a bucket of it spreads rows over 4 partitions.
    #[lake(pk, merge_key, partition = "bucket(4)")]
    id: i64,
    #[lake(validate = "email")]
    email: String,
    /// Partitioned by day, a hidden transform: queries filter on `at` itself.
    #[lake(partition = "day")]
    at: DateTime<Utc>,
    page: String,
    #[lake(auto = "create_time")]
    first_seen: Option<DateTime<Utc>>,
    #[lake(auto = "update_time")]
    last_seen: Option<DateTime<Utc>>,
}

fn visit(id: i64, page: &str) -> Visit {
    Visit {
        id,
        email: format!("visitor{id}@example.com"),
        at: DateTime::from_timestamp(1_764_547_200 + id * 600, 0).unwrap_or_default(),
        page: page.into(),
        first_seen: None,
        last_seen: None,
    }
}

#[derive(Row, Debug)]
struct PageCount {
    page: String,
    n: i64,
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let local = LocalBuilder::new().dialect(IcebergDialect::new());
    let lake = local.resolved_path();
    let db = local.open().await?;
    db.migrate::<Visit>().await?;

    // An append (the first write of these keys), then a copy-on-write upsert: 50 rows updated
    // in place of the files that held them, 50 inserted, in one overwrite snapshot.
    let first = db
        .insert(&(0..100).map(|id| visit(id, "/home")).collect::<Vec<_>>())
        .await?;
    let version = first.metrics.version.unwrap_or_default();
    println!("inserted {} visits (snapshot {version})", first.rows);
    let upsert = db
        .insert(
            &(50..150)
                .map(|id| visit(id, "/pricing"))
                .collect::<Vec<_>>(),
        )
        .await?;
    println!(
        "upsert: {} updated, {} inserted, {} files rewritten",
        upsert.metrics.rows_updated, upsert.metrics.rows_inserted, upsert.metrics.files_removed
    );
    let deleted = db
        .delete_where::<Visit>(Statement::new("id < ?").bind(10))
        .await?;
    println!("deleted {} visits", deleted.rows_deleted);

    let pages: Vec<PageCount> =
        Query::sql("SELECT page, COUNT(*) AS n FROM visits GROUP BY page ORDER BY page")
            .fetch_all(&db)
            .await?;
    for p in &pages {
        println!("  now   {:<9} {}", p.page, p.n);
    }
    // The table as of the first snapshot: every visit still on /home.
    let then: Vec<Visit> = db
        .query::<Visit>()
        .as_of(AsOf::Version(version))
        .fetch_all()
        .await?;
    let home = then.iter().filter(|v| v.page == "/home").count();
    println!(
        "as of snapshot {version}: {} visits, {home} on /home",
        then.len()
    );

    // Small writes leave small files; compaction rewrites each partition's into one.
    for batch in 0..5 {
        let ids = 150 + batch * 10..160 + batch * 10;
        db.insert(&ids.map(|id| visit(id, "/docs")).collect::<Vec<_>>())
            .await?;
    }
    let before = db.maintain().stats::<Visit>().await?;
    println!("after 5 small writes: {} files", before.files);

    let compacted = db.maintain().optimize::<Visit>().await?;
    println!(
        "optimize: {} files written in place of {}",
        compacted.files_added, compacted.files_removed
    );
    let stats = db.maintain().stats::<Visit>().await?;
    println!(
        "visits: snapshot {}, {} files, {} rows, {} bytes",
        stats.version, stats.files, stats.rows, stats.bytes
    );
    if let Some(lake) = lake {
        println!(
            "the Iceberg table is in {}",
            lake.join("tables/visits").display()
        );
    }
    Ok(())
}
