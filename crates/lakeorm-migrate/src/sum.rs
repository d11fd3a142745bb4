//! `lakeorm.sum`: the hash of every migration file plus a total, so that an edited file is
//! caught before anyone generates from it or applies it.
//!
//! ```text
//! total sha256:…
//! 20261126101500_users.sql sha256:…
//! ```
//!
//! The total hashes the file lines, so that editing the manifest itself to hide an edit is
//! caught too.

use std::collections::BTreeMap;

use lakeorm_core::{Error, MigrationError, Result};
use sha2::{Digest, Sha256};

/// The manifest's file name, beside the migrations.
pub const SUM_FILE: &str = "lakeorm.sum";

/// `sha256:<hex>` of `bytes`.
pub(crate) fn checksum(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn error(reason: impl Into<String>) -> Error {
    MigrationError {
        file: SUM_FILE.to_owned(),
        statement: None,
        reason: reason.into(),
        source: None,
    }
    .into()
}

/// The manifest: file name → checksum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SumFile {
    /// Checksums by file name.
    pub files: BTreeMap<String, String>,
}

impl SumFile {
    fn lines(&self) -> String {
        self.files
            .iter()
            .map(|(name, sum)| format!("{name} {sum}\n"))
            .collect()
    }

    /// The manifest's text.
    pub fn render(&self) -> String {
        let lines = self.lines();
        format!("total {}\n{lines}", checksum(lines.as_bytes()))
    }

    /// Parses a manifest, checking its total.
    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = text.lines();
        let total = lines
            .next()
            .and_then(|l| l.strip_prefix("total "))
            .ok_or_else(|| error("the first line must be `total sha256:…`"))?
            .trim()
            .to_owned();
        let mut files = BTreeMap::new();
        for (i, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (name, sum) = line
                .rsplit_once(' ')
                .ok_or_else(|| error(format!("line {}: expected `<file> sha256:…`", i + 2)))?;
            files.insert(name.to_owned(), sum.to_owned());
        }
        let sum = SumFile { files };
        if checksum(sum.lines().as_bytes()) != total {
            return Err(error(
                "the manifest was edited by hand (its total does not match its lines); restore it from version control",
            ));
        }
        Ok(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_catches_edits() {
        let mut sum = SumFile::default();
        sum.files.insert("1_a.sql".into(), checksum(b"a"));
        sum.files.insert("2_b.sql".into(), checksum(b"b"));
        let text = sum.render();
        assert_eq!(SumFile::parse(&text).unwrap(), sum);
        let forged = text.replace(&checksum(b"b"), &checksum(b"c"));
        let e = SumFile::parse(&forged).unwrap_err();
        assert!(e.to_string().contains("lakeorm.sum"), "{e}");
    }
}
