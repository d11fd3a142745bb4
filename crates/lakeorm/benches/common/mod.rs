//! The record the embedded-engine benchmarks write and read, shared by their binaries.

// Each benchmark binary compiles this module and uses part of it.
#![allow(dead_code)]

use lakeorm::Lake;

/// Six fields: a key, two strings, an integer, a float and a timestamp.
#[derive(Lake, Clone, Debug)]
#[lake(table = "events")]
pub(crate) struct Event {
    #[lake(pk)]
    pub(crate) id: i64,
    pub(crate) email: String,
    pub(crate) country: String,
    pub(crate) age: i32,
    pub(crate) score: f64,
    pub(crate) created_at: chrono::DateTime<chrono::Utc>,
}

/// The `i`th record.
pub(crate) fn event(i: usize) -> Event {
    Event {
        id: i as i64,
        email: format!("user{i}@example.com"),
        country: ["GB", "FR", "DE", "US"][i % 4].into(),
        age: (i % 90) as i32,
        score: i as f64 * 0.5,
        created_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_000 + i as i64)
            .unwrap(),
    }
}

/// The records with the ids in `ids`.
pub(crate) fn events(ids: std::ops::Range<usize>) -> Vec<Event> {
    ids.map(event).collect()
}
