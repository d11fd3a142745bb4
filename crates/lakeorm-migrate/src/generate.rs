//! Writing migration files from model changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use lakeorm_core::migration::diff;
use lakeorm_core::{Dialect, Error, MigrationError, Result, Safety, SchemaChange, TableState};

use crate::dir::MigrationDir;
use crate::file::{IRREVERSIBLE_MARKER, MigrationFile, STATE_MARKER};
use crate::model::{ModelSpec, Registry};
use crate::sum::SUM_FILE;

/// Writes migration files for models whose table state changed.
#[derive(Debug)]
pub struct Generator<'a> {
    dir: PathBuf,
    dialect: &'a dyn Dialect,
    now: Option<DateTime<Utc>>,
}

/// One file written by [`Generator::generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Where it was written.
    pub path: PathBuf,
    /// The table it migrates.
    pub table: String,
    /// Its version.
    pub version: i64,
    /// The changes it carries, in order.
    pub changes: Vec<SchemaChange>,
    /// How many of them are destructive.
    pub destructive: usize,
}

/// What a generation run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerateReport {
    /// Files written (none when every model matches its recorded state).
    pub written: Vec<Generated>,
    /// Tables whose models match their recorded state.
    pub unchanged: Vec<String>,
}

impl<'a> Generator<'a> {
    /// A generator writing `dialect` SQL into `dir`.
    pub fn new(dir: impl AsRef<Path>, dialect: &'a dyn Dialect) -> Self {
        Generator {
            dir: dir.as_ref().to_path_buf(),
            dialect,
            now: None,
        }
    }

    /// Fixes the clock that versions new files (for reproducible output).
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// Diffs every model against the newest state recorded for its table and writes one file per
    /// changed table, then the updated `lakeorm.sum`.
    ///
    /// Refuses to run, naming the file, when a file listed in `lakeorm.sum` was edited; refuses,
    /// naming the table and change, when the dialect cannot express a change. Nothing is written
    /// unless every model can be migrated.
    pub fn generate(&self, models: &[ModelSpec]) -> Result<GenerateReport> {
        Registry::check(models)?;
        let mut dir = MigrationDir::load(&self.dir)?;
        let now = self.now.unwrap_or_else(Utc::now);
        let mut version = now
            .format("%Y%m%d%H%M%S")
            .to_string()
            .parse::<i64>()
            .map_err(|e| MigrationError {
                file: "migrations".into(),
                statement: None,
                reason: format!("the clock reads {now}, which names no migration version"),
                source: Some(Box::new(e)),
            })?;
        let mut report = GenerateReport::default();
        let mut pending = Vec::new();
        for model in models {
            // The table as this dialect creates it for the model, as `migrate::<T>()` would.
            let state = self
                .dialect
                .table_state(model.state.clone(), &model.layout)?;
            let changes = diff(dir.state_of(model.table()), &state, &model.rename_pairs());
            if changes.is_empty() {
                report.unchanged.push(model.table().to_owned());
                continue;
            }
            if let Some(latest) = dir.latest_version() {
                version = version.max(latest + 1);
            }
            let name = format!("{version}_{}.sql", model.table());
            let text = self.render(&state, &changes)?;
            let file = MigrationFile::parse(&name, &text)?;
            let destructive = changes
                .iter()
                .filter(|c| matches!(self.dialect.classify(c), Safety::Destructive(_)))
                .count();
            report.written.push(Generated {
                path: self.dir.join(&name),
                table: model.table().to_owned(),
                version,
                changes,
                destructive,
            });
            pending.push((name, text));
            dir.push(file);
            version += 1;
        }
        if pending.is_empty() {
            return Ok(report);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::storage(self.dir.display(), e))?;
        for (name, text) in &pending {
            let path = self.dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::storage(path.display(), e))?;
        }
        let sum_path = self.dir.join(SUM_FILE);
        std::fs::write(&sum_path, dir.current_sum().render())
            .map_err(|e| Error::storage(sum_path.display(), e))?;
        Ok(report)
    }

    /// The text of the file that takes a table to `state` through `changes`.
    pub fn render(&self, state: &TableState, changes: &[SchemaChange]) -> Result<String> {
        let table = self.dialect.table_ref(&state.table);
        let state_json = serde_json::to_string(state).map_err(|e| MigrationError {
            file: state.table.clone(),
            statement: None,
            reason: "the table state does not serialise as JSON".into(),
            source: Some(Box::new(e)),
        })?;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "-- lakeorm migration of table `{}` ({} dialect).",
            state.table,
            self.dialect.name()
        );
        let _ = writeln!(
            out,
            "-- Generated by `lakeorm migrate generate`; lakeorm.sum holds its hash, so change the model, not this file."
        );
        let _ = writeln!(out, "{STATE_MARKER}{state_json}");
        let _ = writeln!(out, "\n-- +goose Up");
        for change in changes {
            self.step(&mut out, &table, change, false)?;
        }
        let _ = writeln!(out, "\n-- +goose Down");
        for change in changes.iter().rev() {
            self.step(&mut out, &table, &change.inverse(), true)?;
        }
        Ok(out)
    }

    fn step(
        &self,
        out: &mut String,
        table: &lakeorm_core::TableRef,
        change: &SchemaChange,
        down: bool,
    ) -> Result<()> {
        let _ = writeln!(out, "-- {change}");
        match self.dialect.classify(change) {
            Safety::Unsupported(reason) if down => {
                let _ = writeln!(out, "{IRREVERSIBLE_MARKER} {change}: {reason}");
                return Ok(());
            }
            Safety::Unsupported(reason) => {
                return Err(Error::unsupported(
                    format!("{change} on `{table}`"),
                    format!("the {} dialect", self.dialect.name()),
                    reason,
                ));
            }
            Safety::Destructive(reason) => {
                let _ = writeln!(out, "-- DESTRUCTIVE: {reason}");
            }
            Safety::Safe => {}
        }
        if down
            && matches!(
                change,
                SchemaChange::AddColumn(_) | SchemaChange::CreateTable(_)
            )
        {
            let _ = writeln!(out, "-- NOTE: data removed by the Up step is not restored");
        }
        let statements = self.dialect.render_change(table, change)?;
        if statements.is_empty() {
            let _ = writeln!(
                out,
                "-- (no statement: {} tables store both alike)",
                self.dialect.name()
            );
        }
        for statement in statements {
            let _ = writeln!(out, "{statement};");
        }
        Ok(())
    }
}
