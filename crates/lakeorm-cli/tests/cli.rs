//! The `lakeorm` binary, run as users run it.

use std::process::Command;
use std::time::{Duration, SystemTime};

use lakeorm::backends::ObjectStoreBackend;
use lakeorm::{Backend, IngestId};
use object_store::{ObjectStoreExt as _, PutPayload};

fn lakeorm(lake: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lakeorm"))
        .arg("--lake")
        .arg(lake)
        .args(args)
        .env_remove("LAKEORM_PATH")
        .output()
        .expect("the lakeorm binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn staging_cleanup_deletes_old_orphans_only() {
    let dir = tempfile::tempdir().unwrap();
    let backend = ObjectStoreBackend::file(dir.path()).unwrap();
    let orphan = IngestId::at(SystemTime::now() - Duration::from_secs(100 * 3600));
    let fresh = IngestId::new();
    for id in [orphan, fresh] {
        let part = backend.staging_location(&id).join("part-00000.parquet");
        backend
            .object_store()
            .put(&backend.store_path(&part), PutPayload::from_static(b"x"))
            .await
            .unwrap();
    }

    let listed = lakeorm(dir.path(), &["staging", "list"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(
        text(&listed.stdout).contains("2 staging prefix(es)"),
        "{}",
        text(&listed.stdout)
    );

    let dry = lakeorm(
        dir.path(),
        &["staging", "cleanup", "--older-than", "72h", "--dry-run"],
    );
    assert!(dry.status.success());
    assert!(text(&dry.stdout).contains(&format!(
        "would delete {}",
        backend.staging_location(&orphan)
    )));
    assert_eq!(
        backend.list_staging().await.unwrap().len(),
        2,
        "a dry run deletes nothing"
    );

    let run = lakeorm(dir.path(), &["staging", "cleanup", "--older-than", "72h"]);
    let out = text(&run.stdout);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        out.contains("scanned 2, deleted 1 (1 objects), kept 1"),
        "{out}"
    );
    let left: Vec<_> = backend
        .list_staging()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.ingest_id)
        .collect();
    assert_eq!(left, vec![Some(fresh)]);
}

#[test]
fn bad_durations_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = lakeorm(
        dir.path(),
        &["staging", "cleanup", "--older-than", "three days"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--older-than"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn verify_round_trips_a_probe() {
    let dir = tempfile::tempdir().unwrap();
    let out = lakeorm(dir.path(), &["verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("verified: the engine read the 3-row probe"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn unknown_schemes_fail_clearly() {
    let out = Command::new(env!("CARGO_BIN_EXE_lakeorm"))
        .args(["--lake", "ftp://host/lake", "staging", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unknown lake scheme `ftp`"),
        "{}",
        text(&out.stderr)
    );
}
