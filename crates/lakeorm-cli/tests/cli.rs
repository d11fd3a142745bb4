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
        .env_remove("LAKEORM_DIALECT")
        .output()
        .expect("the lakeorm binary runs")
}

/// The binary with `--dialect <dialect>`.
fn lakeorm_as(dialect: &str, lake: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--dialect", dialect];
    all.extend_from_slice(args);
    lakeorm(lake, &all)
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

    // A cutoff below the safe minimum deletes nothing unless forced.
    for args in [
        &["staging", "cleanup", "--older-than", "5m"][..],
        &["staging", "cleanup", "--older-than", "0s", "--dry-run"][..],
    ] {
        let refused = lakeorm(dir.path(), args);
        assert!(!refused.status.success(), "{args:?}");
        assert!(
            text(&refused.stderr).contains("safe minimum"),
            "{}",
            text(&refused.stderr)
        );
    }
    assert_eq!(backend.list_staging().await.unwrap().len(), 1);
    let forced = lakeorm(
        dir.path(),
        &["staging", "cleanup", "--older-than", "0s", "--force"],
    );
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(backend.list_staging().await.unwrap().is_empty());
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

/// Writes a registry where a models command can `cat` it.
fn models_command(
    dir: &std::path::Path,
    name: &str,
    registry: &lakeorm::migrate::Registry,
) -> String {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, registry.to_json().unwrap()).unwrap();
    format!("cat '{}'", path.display())
}

mod v1 {
    #[derive(lakeorm::Lake, Debug, Clone)]
    #[lake(table = "accounts")]
    pub(super) struct Account {
        #[lake(pk)]
        pub(super) id: i64,
        pub(super) name: String,
    }
}

mod v2 {
    #[derive(lakeorm::Lake, Debug, Clone)]
    #[lake(table = "accounts")]
    pub(super) struct Account {
        #[lake(pk)]
        pub(super) id: i64,
        pub(super) name: String,
        pub(super) plan: Option<String>,
    }
}

#[test]
fn migrate_generate_up_status_verify_and_sql() {
    let work = migrate_cycle("delta");
    assert!(work.path().join("lake/tables/accounts/_delta_log").is_dir());
}

/// The same cycle with `--dialect iceberg` on the local engine: Iceberg tables in the hadoop
/// layout, altered by schema evolution.
#[test]
fn migrate_generate_up_status_verify_and_sql_on_iceberg() {
    let work = migrate_cycle("iceberg");
    let metadata = work.path().join("lake/tables/accounts/metadata");
    assert!(metadata.join("v1.metadata.json").is_file());
    assert!(metadata.join("version-hint.text").is_file());
    assert!(!work.path().join("lake/tables/accounts/_delta_log").exists());
}

/// generate → up → status → verify → sql → down through the binary, with `--dialect`.
fn migrate_cycle(dialect: &str) -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let dir = work.path().join("migrations");
    let dir_arg = dir.to_str().unwrap();
    let v1 = models_command(
        work.path(),
        "v1",
        &lakeorm::migrate::Registry::new().model::<v1::Account>(),
    );

    let out = lakeorm_as(
        dialect,
        &lake,
        &["migrate", "generate", "--dir", dir_arg, "--models", &v1],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("create table `accounts`"),
        "{}",
        text(&out.stdout)
    );
    let again = lakeorm_as(
        dialect,
        &lake,
        &["migrate", "generate", "--dir", dir_arg, "--models", &v1],
    );
    assert!(
        text(&again.stdout).contains("no changes"),
        "{}",
        text(&again.stdout)
    );

    let status = lakeorm_as(dialect, &lake, &["migrate", "status", "--dir", dir_arg]);
    assert!(
        text(&status.stdout).contains("0 applied, 1 pending"),
        "{}",
        text(&status.stdout)
    );
    let up = lakeorm_as(dialect, &lake, &["migrate", "up", "--dir", dir_arg]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert!(
        text(&up.stdout).contains("1 migration(s) applied"),
        "{}",
        text(&up.stdout)
    );
    let up = lakeorm_as(dialect, &lake, &["migrate", "up", "--dir", dir_arg]);
    assert!(
        text(&up.stdout).contains("0 migration(s) applied"),
        "{}",
        text(&up.stdout)
    );
    let status = lakeorm_as(dialect, &lake, &["migrate", "status", "--dir", dir_arg]);
    assert!(
        text(&status.stdout).contains("1 applied, 0 pending"),
        "{}",
        text(&status.stdout)
    );

    let verified = lakeorm_as(dialect, &lake, &["verify", "--models", &v1]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    assert!(text(&verified.stdout).contains("schema of `accounts` matches Account"));

    // A changed model without its migration: verification fails with exit code 3, naming the column.
    let v2 = models_command(
        work.path(),
        "v2",
        &lakeorm::migrate::Registry::new().model::<v2::Account>(),
    );
    let failed = lakeorm_as(dialect, &lake, &["verify", "--models", &v2]);
    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stderr));
    assert!(
        text(&failed.stderr).contains("`plan`"),
        "{}",
        text(&failed.stderr)
    );

    // An edited migration stops generation with its name and exit code 4.
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sql"))
        .unwrap();
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replace("`name` STRING", "`name` BINARY")).unwrap();
    let refused = lakeorm_as(
        dialect,
        &lake,
        &["migrate", "generate", "--dir", dir_arg, "--models", &v2],
    );
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused.stderr));
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        text(&refused.stderr).contains(&name),
        "{}",
        text(&refused.stderr)
    );
    std::fs::write(&file, original).unwrap();

    let generated = lakeorm_as(
        dialect,
        &lake,
        &["migrate", "generate", "--dir", dir_arg, "--models", &v2],
    );
    assert!(
        text(&generated.stdout).contains("add column `plan`"),
        "{}",
        text(&generated.stdout)
    );
    assert!(
        lakeorm_as(dialect, &lake, &["migrate", "up", "--dir", dir_arg])
            .status
            .success()
    );
    assert!(
        lakeorm_as(dialect, &lake, &["verify", "--models", &v2])
            .status
            .success()
    );

    let csv = lakeorm_as(
        dialect,
        &lake,
        &[
            "sql",
            "SELECT version FROM _lakeorm_migrations ORDER BY version",
            "--format",
            "csv",
        ],
    );
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    assert_eq!(
        text(&csv.stdout).lines().count(),
        3,
        "{}",
        text(&csv.stdout)
    );
    let table = lakeorm_as(
        dialect,
        &lake,
        &["sql", "SELECT count(*) AS n FROM accounts"],
    );
    assert!(
        text(&table.stdout).contains("(1 row(s))"),
        "{}",
        text(&table.stdout)
    );
    let json = lakeorm_as(
        dialect,
        &lake,
        &["sql", "SELECT 1 AS one", "--format", "json"],
    );
    assert_eq!(text(&json.stdout).trim(), r#"{"one":1}"#);

    let down = lakeorm_as(dialect, &lake, &["migrate", "down", "--dir", dir_arg]);
    assert!(down.status.success(), "{}", text(&down.stderr));
    let verified = lakeorm_as(dialect, &lake, &["verify", "--models", &v1]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    work
}

#[cfg(feature = "spark")]
#[test]
fn an_unreachable_spark_engine_is_reported_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let out = lakeorm(dir.path(), &["--engine", "spark", "migrate", "status"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--spark-url"),
        "{}",
        text(&out.stderr)
    );

    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("sc://127.0.0.1:{port}/");
    let out = lakeorm(
        dir.path(),
        &["--engine", "spark", "--spark-url", &url, "sql", "SELECT 1"],
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("does not answer"),
        "{}",
        text(&out.stderr)
    );
}

/// Without the `spark` feature (the default, so that the build needs no `protoc`), `--engine
/// spark` is "engine unavailable" and says how to get it.
#[cfg(not(feature = "spark"))]
#[test]
fn the_spark_engine_needs_the_spark_feature() {
    let dir = tempfile::tempdir().unwrap();
    let out = lakeorm(
        dir.path(),
        &[
            "--engine",
            "spark",
            "--spark-url",
            "sc://127.0.0.1:1/",
            "sql",
            "SELECT 1",
        ],
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--features spark"),
        "{}",
        text(&out.stderr)
    );
}

/// The SQL shell on Sail, when `cargo xtask ci` / `e2e` runs one.
#[cfg(feature = "spark")]
#[test]
fn sql_runs_on_a_spark_connect_server() {
    let Ok(url) = std::env::var("LAKEORM_TEST_SAIL_URL") else {
        assert!(
            std::env::var_os("LAKEORM_TEST_E2E_REQUIRED").is_none(),
            "LAKEORM_TEST_E2E_REQUIRED is set but LAKEORM_TEST_SAIL_URL is not"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = lakeorm(
        dir.path(),
        &[
            "--engine",
            "spark",
            "--spark-server",
            "sail",
            "--spark-url",
            &url,
            "sql",
            "SELECT 40 + 2 AS answer",
            "--format",
            "csv",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("42"), "{}", text(&out.stdout));
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["migrate", "--help"],
        vec!["migrate", "generate", "--help"],
        vec!["migrate", "up", "--help"],
        vec!["migrate", "down", "--help"],
        vec!["migrate", "status", "--help"],
        vec!["verify", "--help"],
        vec!["sql", "--help"],
        vec!["staging", "cleanup", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_lakeorm"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{args:?}");
    }
}

/// No token reaches the terminal: not in `--help` (clap prints the values of `env`
/// arguments), not in the message of a server that does not answer.
#[test]
fn secrets_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "dapi-SEKRIT/with=odd;chars";
    let url = format!(
        "sc://127.0.0.1:1/;token={};x-api-key=K3Y-SEKRIT",
        secret
            .replace('/', "%2F")
            .replace('=', "%3D")
            .replace(';', "%3B")
    );
    let help = Command::new(env!("CARGO_BIN_EXE_lakeorm"))
        .arg("--help")
        .env("LAKEORM_SPARK_URL", &url)
        .output()
        .unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_lakeorm"))
        .args(["--lake"])
        .arg(dir.path())
        .args(["--engine", "spark", "--spark-url", &url, "sql", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(5), "{}", text(&refused.stderr));
    for out in [&help, &refused] {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("SEKRIT"), "{all}");
    }
}
