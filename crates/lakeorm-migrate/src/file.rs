//! One goose-format migration file: how lakeorm writes it and how any such file is read.
//!
//! ```sql
//! -- lakeorm:state {"table":"users","columns":[…]}
//!
//! -- +goose Up
//! -- add column `email` string
//! ALTER TABLE `users` ADD COLUMN `email` STRING;
//!
//! -- +goose Down
//! -- drop column `email`
//! -- DESTRUCTIVE: drops column `email` and its data
//! ALTER TABLE `users` DROP COLUMN `email`;
//! ```
//!
//! Statements end with a `;` at the end of a line, or are wrapped in
//! `-- +goose StatementBegin` / `-- +goose StatementEnd`. Hand-written goose files without a
//! state line are applied like generated ones; they just do not move a table's recorded state.

use lakeorm_core::{Error, MigrationError, Result, TableState};

/// The comment prefix of the machine-readable state line.
pub const STATE_MARKER: &str = "-- lakeorm:state ";

/// Marks a Down section that cannot undo its Up section.
pub(crate) const IRREVERSIBLE_MARKER: &str = "-- IRREVERSIBLE:";

/// A parsed migration file.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationFile {
    /// The version: the file name's leading number (a `YYYYMMDDHHMMSS` timestamp when lakeorm
    /// wrote it).
    pub version: i64,
    /// The file name.
    pub name: String,
    /// The table state after this migration, when lakeorm wrote the file.
    pub state: Option<TableState>,
    /// The statements of the Up section, in order, without their `;`.
    pub up: Vec<String>,
    /// The statements of the Down section.
    pub down: Vec<String>,
    /// Why the Down section cannot undo the Up section, when it cannot.
    pub irreversible: Option<String>,
    /// The SHA-256 of the file's bytes, as `sha256:<hex>`.
    pub checksum: String,
}

fn error(file: &str, reason: impl Into<String>) -> Error {
    MigrationError {
        file: file.to_owned(),
        statement: None,
        reason: reason.into(),
        source: None,
    }
    .into()
}

/// The version in a migration file name (`20261126101500_users.sql` → 20261126101500).
pub(crate) fn version_of(name: &str) -> Option<i64> {
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    let rest = &name[digits.len()..];
    if digits.is_empty() || !(rest.starts_with('_') || rest == ".sql") {
        return None;
    }
    digits.parse().ok()
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Header,
    Up,
    Down,
}

impl MigrationFile {
    /// Parses the file `name` with contents `text`.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let version = version_of(name).ok_or_else(|| {
            error(
                name,
                "the file name must start with a version number followed by `_` (e.g. 20261126101500_users.sql)",
            )
        })?;
        let mut state = None;
        let mut irreversible = None;
        let mut section = Section::Header;
        let mut seen_up = false;
        let (mut up, mut down) = (Vec::new(), Vec::new());
        let mut current = String::new();
        let mut in_block = false;
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            let at = |reason: &str| error(name, format!("line {}: {reason}", number + 1));
            if let Some(json) = trimmed.strip_prefix(STATE_MARKER.trim_end()) {
                let parsed: TableState = serde_json::from_str(json.trim())
                    .map_err(|e| at(&format!("unreadable state line: {e}")))?;
                state = Some(parsed);
                continue;
            }
            if let Some(directive) = trimmed.strip_prefix("-- +goose") {
                match directive.trim() {
                    "Up" => {
                        if seen_up {
                            return Err(at("a second `-- +goose Up`"));
                        }
                        seen_up = true;
                        section = Section::Up;
                    }
                    "Down" => {
                        if !seen_up {
                            return Err(at("`-- +goose Down` before `-- +goose Up`"));
                        }
                        section = Section::Down;
                    }
                    "StatementBegin" => in_block = true,
                    "StatementEnd" => {
                        in_block = false;
                        let target = if section == Section::Down {
                            &mut down
                        } else {
                            &mut up
                        };
                        push(target, &mut current);
                    }
                    // Goose's other annotations (e.g. NO TRANSACTION) mean nothing to lakes.
                    _ => {}
                }
                continue;
            }
            if let Some(reason) = trimmed.strip_prefix(IRREVERSIBLE_MARKER)
                && section == Section::Down
            {
                irreversible = Some(reason.trim().to_owned());
                continue;
            }
            if !in_block && (trimmed.starts_with("--") || trimmed.is_empty()) {
                continue;
            }
            if section == Section::Header {
                return Err(at("SQL before `-- +goose Up`"));
            }
            current.push_str(line);
            current.push('\n');
            if !in_block && trimmed.ends_with(';') {
                let target = if section == Section::Down {
                    &mut down
                } else {
                    &mut up
                };
                push(target, &mut current);
            }
        }
        if !seen_up {
            return Err(error(name, "no `-- +goose Up` section"));
        }
        if !current.trim().is_empty() {
            return Err(error(
                name,
                format!(
                    "the last statement does not end with `;`: {}",
                    current.trim()
                ),
            ));
        }
        Ok(MigrationFile {
            version,
            name: name.to_owned(),
            state,
            up,
            down,
            irreversible,
            checksum: crate::sum::checksum(text.as_bytes()),
        })
    }

    /// The table the file migrates, when lakeorm wrote it.
    pub fn table(&self) -> Option<&str> {
        self.state.as_ref().map(|s| s.table.as_str())
    }
}

fn push(target: &mut Vec<String>, current: &mut String) {
    let statement = current.trim().trim_end_matches(';').trim().to_owned();
    if !statement.is_empty() {
        target.push(statement);
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_goose_sections_blocks_and_state() {
        let text = "-- lakeorm:state {\"table\":\"t\",\"columns\":[]}\n\n-- +goose Up\n-- a comment\nCREATE TABLE t (a INT)\n  USING delta;\n-- +goose StatementBegin\nSELECT 1;\nSELECT 2;\n-- +goose StatementEnd\n\n-- +goose Down\n-- IRREVERSIBLE: data is gone\nDROP TABLE t;\n";
        let file = MigrationFile::parse("20260101000000_t.sql", text).unwrap();
        assert_eq!(file.version, 20260101000000);
        assert_eq!(file.table(), Some("t"));
        assert_eq!(
            file.up,
            [
                "CREATE TABLE t (a INT)\n  USING delta",
                "SELECT 1;\nSELECT 2"
            ]
        );
        assert_eq!(file.down, ["DROP TABLE t"]);
        assert_eq!(file.irreversible.as_deref(), Some("data is gone"));
        assert!(file.checksum.starts_with("sha256:"));
    }

    #[test]
    fn malformed_files_name_themselves() {
        let bad_name = MigrationFile::parse("users.sql", "-- +goose Up\n").unwrap_err();
        assert!(bad_name.to_string().contains("users.sql"), "{bad_name}");
        let unterminated = MigrationFile::parse("1_x.sql", "-- +goose Up\nSELECT 1\n").unwrap_err();
        assert!(
            unterminated.to_string().contains("does not end with `;`"),
            "{unterminated}"
        );
        let no_up = MigrationFile::parse("1_x.sql", "SELECT 1;\n").unwrap_err();
        assert!(no_up.to_string().contains("1_x.sql"), "{no_up}");
    }

    #[test]
    fn versions_come_from_file_names() {
        assert_eq!(version_of("20261126101500_users.sql"), Some(20261126101500));
        assert_eq!(version_of("3_add.sql"), Some(3));
        assert_eq!(version_of("v3_add.sql"), None);
        assert_eq!(version_of("3add.sql"), None);
    }
}
