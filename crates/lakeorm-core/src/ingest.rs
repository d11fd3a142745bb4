//! The ingest id: one UUIDv7 per write.
//!
//! Every row a write produces carries it in the `_ingest_id` column, and staged files live under
//! `_staging/<ingest_id>/`. Because a UUIDv7 starts with its creation time, ids sort by time and
//! the staging janitor can tell an orphan's age from its name alone.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A write's identity: a UUIDv7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IngestId(Uuid);

impl IngestId {
    /// A fresh id for a write starting now.
    pub fn new() -> Self {
        IngestId(Uuid::now_v7())
    }

    /// An id stamped with another time than now: for backfills that must sort at their own
    /// time, and for tests of age-based cleanup.
    pub fn at(time: SystemTime) -> Self {
        let since = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, since.as_secs(), since.subsec_nanos());
        IngestId(Uuid::new_v7(ts))
    }

    /// Wraps an existing UUID if it is a version 7 UUID.
    pub fn from_uuid(uuid: Uuid) -> Option<Self> {
        (uuid.get_version_num() == 7).then_some(IngestId(uuid))
    }

    /// The UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// When the id was made (millisecond precision).
    pub fn timestamp(&self) -> DateTime<Utc> {
        let millis = self.unix_millis();
        DateTime::from_timestamp_millis(i64::try_from(millis).unwrap_or(i64::MAX))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// When the id was made, as a `SystemTime`.
    pub fn system_time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.unix_millis())
    }

    fn unix_millis(&self) -> u64 {
        // The first 48 bits of a UUIDv7 are the Unix time in milliseconds.
        let bytes = self.0.as_bytes();
        bytes[..6]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    }
}

impl Default for IngestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for IngestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// The text is not a UUIDv7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lakeorm: `{0}` is not a UUIDv7 ingest id")]
pub struct ParseIngestIdError(String);

impl FromStr for IngestId {
    type Err = ParseIngestIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(s)
            .ok()
            .and_then(IngestId::from_uuid)
            .ok_or_else(|| ParseIngestIdError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_sortable_and_timestamped() {
        let before = Utc::now() - chrono::Duration::milliseconds(1);
        let a = IngestId::new();
        let b = IngestId::new();
        assert!(a < b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        let at = a.timestamp();
        assert!(at >= before && at <= Utc::now());
        assert_eq!(a.to_string().parse::<IngestId>().unwrap(), a);
        let old = SystemTime::now() - Duration::from_secs(3 * 24 * 3600);
        let backdated = IngestId::at(old);
        let drift = old
            .duration_since(backdated.system_time())
            .unwrap_or_default();
        assert!(drift < Duration::from_millis(1), "{drift:?}");
        assert!(backdated < a);
        assert!(
            "0b6e6d52-3d3e-4f3a-8f3e-2a4d3c2b1a09"
                .parse::<IngestId>()
                .is_err()
        );
    }
}
