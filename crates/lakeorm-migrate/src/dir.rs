//! A directory of migration files, checked against its manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lakeorm_core::{Error, MigrationError, Result, TableState};

use crate::file::MigrationFile;
use crate::sum::{SUM_FILE, SumFile};

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::storage(path.display(), e)
}

/// The migration files of a directory, in version order.
#[derive(Debug, Clone)]
pub struct MigrationDir {
    path: PathBuf,
    files: Vec<MigrationFile>,
    sum: Option<SumFile>,
}

impl MigrationDir {
    /// Reads every `*.sql` file of `path` (a missing directory has none) and checks each file
    /// listed in `lakeorm.sum` against its hash.
    ///
    /// An edited or deleted file fails with its name; files not listed yet (written by hand)
    /// are accepted and listed the next time migrations are generated.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut files = Vec::new();
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(|e| io_error(&path, e))? {
                let entry = entry.map_err(|e| io_error(&path, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".sql") || !entry.path().is_file() {
                    continue;
                }
                let text = std::fs::read_to_string(entry.path())
                    .map_err(|e| io_error(&entry.path(), e))?;
                files.push(MigrationFile::parse(&name, &text)?);
            }
        }
        files.sort_by(|a, b| a.version.cmp(&b.version).then(a.name.cmp(&b.name)));
        if let Some(pair) = files.windows(2).find(|w| w[0].version == w[1].version) {
            return Err(MigrationError {
                file: pair[1].name.clone(),
                statement: None,
                reason: format!("has the same version as {}", pair[0].name),
                source: None,
            }
            .into());
        }
        let sum_path = path.join(SUM_FILE);
        let sum = if sum_path.is_file() {
            let text = std::fs::read_to_string(&sum_path).map_err(|e| io_error(&sum_path, e))?;
            Some(SumFile::parse(&text)?)
        } else {
            None
        };
        let dir = MigrationDir { path, files, sum };
        dir.verify()?;
        Ok(dir)
    }

    fn verify(&self) -> Result<()> {
        let Some(sum) = &self.sum else {
            return Ok(());
        };
        let by_name: BTreeMap<&str, &MigrationFile> =
            self.files.iter().map(|f| (f.name.as_str(), f)).collect();
        for (name, expected) in &sum.files {
            let reason = match by_name.get(name.as_str()) {
                None => {
                    "is listed in lakeorm.sum but missing; restore it (applied migrations are history)"
                }
                Some(file) if &file.checksum != expected => {
                    "was edited after it was generated (its hash no longer matches lakeorm.sum); revert the edit and change the model instead, so that a new migration carries the change"
                }
                Some(_) => continue,
            };
            return Err(MigrationError {
                file: self.path.join(name).display().to_string(),
                statement: None,
                reason: reason.into(),
                source: None,
            }
            .into());
        }
        Ok(())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files, oldest first.
    pub fn files(&self) -> &[MigrationFile] {
        &self.files
    }

    /// The file with `version`.
    pub fn file(&self, version: i64) -> Option<&MigrationFile> {
        self.files.iter().find(|f| f.version == version)
    }

    /// The newest recorded state of `table`.
    pub fn state_of(&self, table: &str) -> Option<&TableState> {
        self.files
            .iter()
            .rev()
            .find_map(|f| f.state.as_ref().filter(|s| s.table == table))
    }

    /// The manifest of the files as they are now.
    pub fn current_sum(&self) -> SumFile {
        SumFile {
            files: self
                .files
                .iter()
                .map(|f| (f.name.clone(), f.checksum.clone()))
                .collect(),
        }
    }

    /// The newest version, if any.
    pub fn latest_version(&self) -> Option<i64> {
        self.files.last().map(|f| f.version)
    }

    pub(crate) fn push(&mut self, file: MigrationFile) {
        self.files.push(file);
    }
}
