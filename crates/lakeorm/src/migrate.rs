//! Schema migrations: authoring goose-format files from models, applying them to the lake, and
//! asserting that live tables match their models.
//!
//! ```no_run
//! # async fn run() -> lakeorm::Result<()> {
//! # #[derive(lakeorm::Lake, Clone)] struct User { #[lake(pk)] id: i64 }
//! use lakeorm::migrate::Registry;
//!
//! let client = lakeorm::local().await?;
//! // At development time: write a migration for every changed model.
//! let models = Registry::new().model::<User>();
//! client.migrate_generate("migrations", &models.models)?;
//! // At deploy time: apply what is pending, then check the tables at service start.
//! client.migrator("migrations").up().await?;
//! client.assert_schema::<User>().await?;
//! # Ok(()) }
//! ```
//!
//! Applied versions are recorded in the lake itself, in the [`MIGRATIONS_TABLE`] table. Lake DDL
//! is not transactional: when a statement fails, the statements before it in the same file stay
//! applied and the file's version is not recorded; the error names the file and the statement.
//! Run migrations from one process at a time (a deploy step), not from every replica.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::datatypes::{DataType, Field, SchemaRef};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use lakeorm_core::{
    ColumnDifference, Error, Lake, MigrationError, Result, SchemaMismatch, Statement, TableState,
};
pub use lakeorm_migrate::{
    GenerateReport, Generated, Generator, MigrationDir, MigrationFile, ModelSpec, Registry, Rename,
    SUM_FILE, SumFile,
};
use tokio::sync::OnceCell;

use crate::client::Client;
use crate::query::Query;

/// The lake table recording applied migrations.
pub const MIGRATIONS_TABLE: &str = "_lakeorm_migrations";

/// One applied migration, as recorded in the lake.
#[derive(lakeorm_derive::Lake, Debug, Clone, PartialEq)]
#[lake(crate = "lakeorm_core", table = "_lakeorm_migrations")]
pub(crate) struct AppliedMigration {
    #[lake(pk)]
    version: i64,
    name: String,
    checksum: String,
    applied_at: DateTime<Utc>,
}

/// Where a migration file stands against the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationState {
    /// Not applied yet.
    Pending,
    /// Applied at this time.
    Applied {
        /// When.
        at: DateTime<Utc>,
    },
    /// Recorded as applied, but the file is no longer in the directory.
    Missing {
        /// When it was applied.
        at: DateTime<Utc>,
    },
}

/// One line of `migrate status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The version.
    pub version: i64,
    /// The file name (as recorded, for a missing file).
    pub name: String,
    /// Where it stands.
    pub state: MigrationState,
}

/// A file applied or reverted by [`Migrator::up`] or [`Migrator::down`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRun {
    /// The version.
    pub version: i64,
    /// The file name.
    pub name: String,
    /// Statements executed.
    pub statements: usize,
    /// Wall time.
    pub duration: Duration,
}

/// What [`Migrator::up`] or [`Migrator::down`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrateReport {
    /// Files applied (up) or reverted (down), in order.
    pub files: Vec<MigrationRun>,
}

type Progress<'a> = Box<dyn Fn(&MigrationFile, usize, usize) + Send + Sync + 'a>;

/// Applies and reverts the migration files of a directory on a Client's lake.
pub struct Migrator<'a> {
    client: &'a Client,
    dir: PathBuf,
    progress: Option<Progress<'a>>,
    table_ready: OnceCell<()>,
}

impl std::fmt::Debug for Migrator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrator")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl<'a> Migrator<'a> {
    pub(crate) fn new(client: &'a Client, dir: impl AsRef<Path>) -> Self {
        Migrator {
            client,
            dir: dir.as_ref().to_path_buf(),
            progress: None,
            table_ready: OnceCell::new(),
        }
    }

    /// Calls `progress(file, index, total)` before each file is applied or reverted.
    pub fn on_progress(
        mut self,
        progress: impl Fn(&MigrationFile, usize, usize) + Send + Sync + 'a,
    ) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }

    async fn applied(&self) -> Result<Vec<AppliedMigration>> {
        self.table_ready
            .get_or_try_init(|| async {
                self.client.migrate::<AppliedMigration>().await?;
                Ok::<_, Error>(())
            })
            .await?;
        let mut applied = Query::<AppliedMigration>::sql(format!(
            "SELECT * FROM {}",
            self.client.sql_table_name(MIGRATIONS_TABLE)
        ))
        .fetch_all(self.client)
        .await?;
        applied.sort_by_key(|a| a.version);
        Ok(applied)
    }

    /// Every file and every recorded version, oldest first.
    pub async fn status(&self) -> Result<Vec<MigrationStatus>> {
        let dir = MigrationDir::load(&self.dir)?;
        let applied = self.applied().await?;
        let mut out: Vec<MigrationStatus> = dir
            .files()
            .iter()
            .map(|f| MigrationStatus {
                version: f.version,
                name: f.name.clone(),
                state: applied
                    .iter()
                    .find(|a| a.version == f.version)
                    .map_or(MigrationState::Pending, |a| MigrationState::Applied {
                        at: a.applied_at,
                    }),
            })
            .collect();
        for a in applied.iter().filter(|a| dir.file(a.version).is_none()) {
            out.push(MigrationStatus {
                version: a.version,
                name: a.name.clone(),
                state: MigrationState::Missing { at: a.applied_at },
            });
        }
        out.sort_by_key(|s| s.version);
        Ok(out)
    }

    /// Applies every pending file, oldest first; each file applies once.
    pub async fn up(&self) -> Result<MigrateReport> {
        let dir = MigrationDir::load(&self.dir)?;
        let applied = self.applied().await?;
        let pending: Vec<&MigrationFile> = dir
            .files()
            .iter()
            .filter(|f| !applied.iter().any(|a| a.version == f.version))
            .collect();
        let mut report = MigrateReport::default();
        for (i, file) in pending.iter().enumerate() {
            if let Some(progress) = &self.progress {
                progress(file, i, pending.len());
            }
            let run = self.run(file, &file.up).await?;
            self.client
                .insert(&[AppliedMigration {
                    version: file.version,
                    name: file.name.clone(),
                    checksum: file.checksum.clone(),
                    applied_at: Utc::now(),
                }])
                .await?;
            tracing::info!(file = %file.name, "migration applied");
            report.files.push(run);
        }
        Ok(report)
    }

    /// Reverts the newest `steps` applied files, newest first, by running their Down sections.
    pub async fn down(&self, steps: usize) -> Result<MigrateReport> {
        let dir = MigrationDir::load(&self.dir)?;
        let applied = self.applied().await?;
        let mut report = MigrateReport::default();
        // Every file to revert is checked before the first is touched, so that an irreversible
        // or missing one stops the command with nothing reverted.
        let targets = applied
            .iter()
            .rev()
            .take(steps)
            .map(|record| {
                let file = dir.file(record.version).ok_or_else(|| MigrationError {
                    file: record.name.clone(),
                    statement: None,
                    reason: "is recorded as applied but missing from the directory, so it cannot be reverted".into(),
                    source: None,
                })?;
                match &file.irreversible {
                    Some(reason) => Err(MigrationError {
                        file: file.name.clone(),
                        statement: None,
                        reason: format!("cannot be reverted: {reason}"),
                        source: None,
                    }),
                    None => Ok(file),
                }
            })
            .collect::<Result<Vec<&MigrationFile>, MigrationError>>()?;
        for (i, file) in targets.iter().enumerate() {
            if let Some(progress) = &self.progress {
                progress(file, i, targets.len());
            }
            let run = self.run(file, &file.down).await?;
            self.client
                .delete_where::<AppliedMigration>(Statement::new("version = ?").bind(file.version))
                .await?;
            tracing::info!(file = %file.name, "migration reverted");
            report.files.push(run);
        }
        Ok(report)
    }

    /// Executes one section of `file`, naming the file and statement on failure.
    async fn run(&self, file: &MigrationFile, statements: &[String]) -> Result<MigrationRun> {
        let started = Instant::now();
        for (i, statement) in statements.iter().enumerate() {
            let placed = self.client.placed(statement)?;
            match self.client.exec(placed.as_str()).await {
                Ok(_) => {}
                // A sort order is a layout hint: a server that cannot record one still gets
                // the table, as `migrate::<T>()` gives it.
                Err(Error::Unsupported { .. })
                    if lakeorm_core::statement_words::is_write_order(statement) =>
                {
                    tracing::warn!(file = %file.name, %statement, "the engine records no sort order; skipped");
                }
                Err(e) => {
                    let reason = if i == 0 {
                        "failed; nothing of this file was applied".to_owned()
                    } else {
                        format!(
                            "failed at statement {} of {}; the statements before it were applied (lake DDL is not transactional) and the version was not recorded",
                            i + 1,
                            statements.len()
                        )
                    };
                    return Err(MigrationError {
                        file: file.name.clone(),
                        statement: Some(statement.clone()),
                        reason: format!("{reason}: {e}"),
                        source: Some(Box::new(e)),
                    }
                    .into());
                }
            }
        }
        Ok(MigrationRun {
            version: file.version,
            name: file.name.clone(),
            statements: statements.len(),
            duration: started.elapsed(),
        })
    }
}

/// An Arrow type with the differences that do not change what is stored taken out: string and
/// binary representations, dictionary encoding, the spelling of UTC, and list element names.
fn normalized(ty: &DataType) -> DataType {
    match ty {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        // Engines scan partition values dictionary-encoded.
        DataType::Dictionary(_, value) => normalized(value),
        DataType::Timestamp(unit, Some(tz))
            if matches!(tz.as_ref(), "UTC" | "+00:00" | "Etc/UTC" | "Z") =>
        {
            DataType::Timestamp(*unit, Some("UTC".into()))
        }
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => {
            DataType::List(Field::new("element", normalized(f.data_type()), f.is_nullable()).into())
        }
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| Field::new(f.name(), normalized(f.data_type()), f.is_nullable()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The differences between a model's state and a live table's schema.
pub fn schema_differences(model: &TableState, table: &SchemaRef) -> Vec<ColumnDifference> {
    let mut differences = Vec::new();
    for column in &model.columns {
        let Ok(field) = table.field_with_name(&column.name) else {
            differences.push(ColumnDifference::Missing {
                column: column.name.clone(),
            });
            continue;
        };
        let expected = normalized(&column.ty.to_arrow());
        let actual = normalized(field.data_type());
        if expected != actual {
            differences.push(ColumnDifference::Type {
                column: column.name.clone(),
                model: format!("{} ({expected})", column.ty),
                table: actual.to_string(),
            });
        }
        if field.is_nullable() != column.nullable {
            differences.push(ColumnDifference::Nullability {
                column: column.name.clone(),
                model_nullable: column.nullable,
            });
        }
    }
    for field in table.fields() {
        if field.name() != lakeorm_core::INGEST_ID_COLUMN && model.column(field.name()).is_none() {
            differences.push(ColumnDifference::Extra {
                column: field.name().clone(),
            });
        }
    }
    differences
}

impl Client {
    /// A migrator for the files in `dir`.
    pub fn migrator(&self, dir: impl AsRef<Path>) -> Migrator<'_> {
        Migrator::new(self, dir)
    }

    /// Writes a migration file into `dir` for every model whose table differs from the state
    /// recorded in its newest migration, in this Client's dialect; see [`Generator`].
    pub fn migrate_generate(
        &self,
        dir: impl AsRef<Path>,
        models: &[ModelSpec],
    ) -> Result<GenerateReport> {
        Generator::new(dir, self.dialect().as_ref()).generate(models)
    }

    /// Checks that the live table of `T` has exactly the model's columns, types and
    /// nullability; the error lists every differing column. Call it at service start.
    pub async fn assert_schema<T: Lake>(&self) -> Result<()> {
        self.assert_model_schema(&ModelSpec::of::<T>()).await
    }

    /// [`assert_schema`](Self::assert_schema) for a model spec (as the CLI reads them).
    pub async fn assert_model_schema(&self, model: &ModelSpec) -> Result<()> {
        let table = self.sql_table_name(model.table());
        let result = self
            .query_statement(Statement::new(format!("SELECT * FROM {table} LIMIT 0")))
            .await;
        let schema = match result {
            Ok(result) => {
                // Drain the (empty) stream so the engine releases the query.
                let mut batches = result.batches;
                while let Some(batch) = batches.next().await {
                    batch?;
                }
                result.schema
            }
            Err(Error::TableNotFound { .. }) => {
                return Err(SchemaMismatch {
                    table: model.table().to_owned(),
                    model: model.model.clone(),
                    differences: model
                        .state
                        .columns
                        .iter()
                        .map(|c| ColumnDifference::Missing {
                            column: c.name.clone(),
                        })
                        .collect(),
                }
                .into());
            }
            Err(e) => return Err(e),
        };
        let mut differences = schema_differences(&model.state, &schema);
        // The columns a dialect generates from the model's (Delta's partition transforms) are
        // the model's too.
        let generated = self.dialect().generated_columns(&model.state)?;
        differences.retain(|d| {
            !matches!(d, ColumnDifference::Extra { column } if generated.iter().any(|g| &g.name == column))
        });
        if differences.is_empty() {
            return Ok(());
        }
        Err(SchemaMismatch {
            table: model.table().to_owned(),
            model: model.model.clone(),
            differences,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Schema, TimeUnit};
    use lakeorm_core::{ColumnState, LakeType};

    use super::*;

    #[test]
    fn differences_name_each_column() {
        let model = TableState {
            table: "t".into(),
            columns: vec![
                ColumnState::new("id", LakeType::Int64, false),
                ColumnState::new("at", LakeType::Timestamp, true),
                ColumnState::new("email", LakeType::String, true),
                ColumnState::new("gone", LakeType::String, true),
            ],
            clustering: Vec::new(),
            sorted_by: Vec::new(),
            properties: Default::default(),
        };
        let table: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
                true,
            ),
            Field::new("email", DataType::Utf8View, true),
            Field::new("extra", DataType::Utf8, true),
            Field::new(lakeorm_core::INGEST_ID_COLUMN, DataType::Utf8, true),
        ]));
        let differences = schema_differences(&model, &table);
        let columns: Vec<&str> = differences.iter().map(|d| d.column()).collect();
        assert_eq!(columns, ["id", "id", "gone", "extra"], "{differences:?}");
        assert!(matches!(differences[0], ColumnDifference::Type { .. }));
        assert!(matches!(
            differences[1],
            ColumnDifference::Nullability {
                model_nullable: false,
                ..
            }
        ));
    }
}
