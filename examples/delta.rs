//! Delta maintenance on the embedded engine: many small writes, then compaction (`optimize`),
//! `vacuum`, and table statistics before and after.
//!
//! Run with `cargo run --example delta`.

use lakeorm::{Lake, LocalBuilder};

#[derive(Lake, Debug, Clone)]
struct Event {
    #[lake(pk)]
    id: i64,
    #[lake(partition = "identity")]
    kind: String,
    #[lake(json)]
    payload: serde_json::Value,
}

#[tokio::main]
async fn main() -> lakeorm::Result<()> {
    let dir = std::env::temp_dir().join(format!("lakeorm-delta-{}", std::process::id()));
    let db = LocalBuilder::new().path(&dir).open().await?;
    db.migrate::<Event>().await?;
    for i in 0..20 {
        let kind = if i % 2 == 0 { "click" } else { "view" };
        db.insert(&[Event {
            id: i,
            kind: kind.into(),
            payload: serde_json::json!({ "n": i }),
        }])
        .await?;
    }
    let before = db.maintain().stats::<Event>().await?;
    println!(
        "after 20 small writes: version {}, {} files, {} rows",
        before.version, before.files, before.rows
    );

    let compacted = db.maintain().optimize::<Event>().await?;
    println!(
        "optimize: {} files added, {} removed",
        compacted.files_added, compacted.files_removed
    );
    let vacuumed = db
        .maintain()
        .vacuum::<Event>(std::time::Duration::ZERO)
        // A lone example process: nothing else reads or writes the table.
        .force()
        .await?;
    println!(
        "vacuum: {} unreferenced files deleted",
        vacuumed.files_removed
    );

    let after = db.maintain().stats::<Event>().await?;
    println!(
        "now: version {}, {} files, {} rows, {} bytes",
        after.version, after.files, after.rows, after.bytes
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
