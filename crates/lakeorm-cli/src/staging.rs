//! `lakeorm staging list|cleanup`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use lakeorm::Backend;
use lakeorm::backends::{CleanupEvent, ObjectStoreBackend, cleanup_staging_with};

fn age(time: SystemTime) -> String {
    let age = SystemTime::now().duration_since(time).unwrap_or_default();
    humantime::format_duration(Duration::from_secs(age.as_secs())).to_string()
}

pub(crate) async fn list(backend: &ObjectStoreBackend) -> Result<ExitCode> {
    let prefixes = backend.list_staging().await?;
    for prefix in &prefixes {
        match prefix.ingest_id {
            Some(id) => println!("{}\t{} old", prefix.location, age(id.system_time())),
            None => println!("{}\t(not an ingest id; never cleaned)", prefix.location),
        }
    }
    println!(
        "{} staging prefix(es) under {}",
        prefixes.len(),
        backend.root()
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn cleanup(
    backend: &ObjectStoreBackend,
    older_than: Duration,
    dry_run: bool,
    force: bool,
) -> Result<ExitCode> {
    if dry_run && !force && older_than < lakeorm::backends::MIN_STAGING_AGE {
        // The same refusal the cleanup itself gives, so a dry run previews it truly.
        cleanup_staging_with(backend, older_than, false, |_| {}).await?;
    }
    if dry_run {
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut would = 0;
        for prefix in backend.list_staging().await? {
            if let Some(id) = prefix.ingest_id.filter(|id| id.system_time() < cutoff) {
                println!(
                    "would delete {} ({} old)",
                    prefix.location,
                    age(id.system_time())
                );
                would += 1;
            }
        }
        println!(
            "dry run: {would} prefix(es) older than {} would be deleted",
            humantime::format_duration(older_than)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} prefixes {msg}")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    let report = cleanup_staging_with(backend, older_than, force, |event| match event {
        CleanupEvent::Listed(n) => bar.set_length(n as u64),
        CleanupEvent::Deleted(prefix, objects) => {
            bar.set_message(format!("deleted {prefix} ({objects} objects)"));
            bar.inc(1);
        }
        CleanupEvent::Failed(prefix, error) => {
            bar.println(format!("failed to delete {prefix}: {error}"));
            bar.inc(1);
        }
        _ => bar.inc(1),
    })
    .await?;
    bar.finish_and_clear();
    for prefix in &report.deleted {
        println!("deleted {prefix}");
    }
    println!(
        "scanned {}, deleted {} ({} objects), kept {} younger than {}, {} in use, skipped {} foreign, failed {}",
        report.scanned,
        report.deleted.len(),
        report.objects_deleted,
        report.kept.len(),
        humantime::format_duration(older_than),
        report.in_use.len(),
        report.skipped.len(),
        report.failed.len(),
    );
    for (prefix, error) in &report.failed {
        eprintln!("failed: {prefix}: {error}");
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
