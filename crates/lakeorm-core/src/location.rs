//! `Location`: an absolute storage address (`file:///…`, `memory:///…`, `s3://bucket/…`,
//! `gs://bucket/…`).
//!
//! Backends hand out locations for tables and staging prefixes; the same object may need a
//! different scheme for the engine than for the client (`s3a://` for JVM Spark), which
//! [`Location::with_scheme`] expresses.

use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::error::{Error, Result};

/// An absolute storage URI, always without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location(Url);

impl Location {
    /// Parses an absolute URI.
    pub fn parse(uri: &str) -> Result<Self> {
        let url = Url::parse(uri)
            .map_err(|e| Error::Config(format!("`{uri}` is not an absolute URI: {e}")))?;
        Ok(Self::normalized(url))
    }

    /// The location of a local directory (made absolute against the current directory).
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let absolute = std::path::absolute(path).map_err(|e| Error::storage(path.display(), e))?;
        let url = Url::from_directory_path(&absolute).map_err(|()| {
            Error::Config(format!(
                "`{}` cannot be expressed as a file URI",
                absolute.display()
            ))
        })?;
        Ok(Self::normalized(url))
    }

    fn normalized(mut url: Url) -> Self {
        let trimmed = url.path().trim_end_matches('/').to_owned();
        url.set_path(&trimmed);
        Location(url)
    }

    /// The scheme (`file`, `s3`, …).
    pub fn scheme(&self) -> &str {
        self.0.scheme()
    }

    /// The bucket or host, if any.
    pub fn host(&self) -> Option<&str> {
        self.0.host_str().filter(|h| !h.is_empty())
    }

    /// The path below the bucket, without a leading slash.
    pub fn path(&self) -> &str {
        self.0.path().trim_start_matches('/')
    }

    /// A child location; `segment` may contain `/`.
    pub fn join(&self, segment: &str) -> Location {
        let mut url = self.0.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        let segment = segment.trim_matches('/');
        url.set_path(&format!("{base}/{segment}"));
        Location(url)
    }

    /// The same object under another scheme (e.g. `s3` → `s3a` for JVM Spark).
    pub fn with_scheme(&self, scheme: &str) -> Result<Location> {
        let text = format!("{scheme}{}", &self.0.as_str()[self.0.scheme().len()..]);
        Location::parse(&text)
    }

    /// The local path of a `file://` location.
    pub fn to_file_path(&self) -> Option<std::path::PathBuf> {
        (self.scheme() == "file")
            .then(|| self.0.to_file_path().ok())
            .flatten()
    }

    /// The URI text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl FromStr for Location {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Location::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_translates_schemes() {
        let root = Location::parse("s3://bucket/lake/").unwrap();
        assert_eq!(root.as_str(), "s3://bucket/lake");
        let table = root.join("tables/users");
        assert_eq!(table.as_str(), "s3://bucket/lake/tables/users");
        assert_eq!(table.host(), Some("bucket"));
        assert_eq!(table.path(), "lake/tables/users");
        assert_eq!(
            table.with_scheme("s3a").unwrap().as_str(),
            "s3a://bucket/lake/tables/users"
        );
        assert!(Location::parse("relative/path").is_err());
    }

    #[test]
    fn file_locations() {
        let dir = std::env::temp_dir().join("lakeorm-location-test");
        let loc = Location::from_path(&dir).unwrap();
        assert_eq!(loc.scheme(), "file");
        assert_eq!(loc.join("t").to_file_path().unwrap(), dir.join("t"));
    }
}
