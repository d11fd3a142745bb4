//! The generated Arrow projection and decoder against the two peers a user would otherwise
//! pick: `serde_arrow` (serde-driven) and a hand-written loop over arrow's builders.
//!
//! It lives in the core crate so that it builds without an engine. Same rows, same Arrow schema,
//! batches of 64k rows of a six-field record. The targets are ≥ 2× serde_arrow and ≤ 1.1× the
//! hand-written loop. After criterion's report, the binary prints the ratios from paired rounds
//! (see [`paired`]), which are what the targets are judged on; `cargo xtask bench` adds the
//! ratios of criterion's estimates.
//!
//! Decoding is timed without dropping its output: the 131k `String`s freed afterwards cost the
//! same whichever decoder made them (about 2.5 ms of a 6 ms round trip here) and are not the
//! decoder's work. Each output is dropped untimed right after its round, so the allocator reuses
//! the same memory as a service decoding batch after batch does.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use chrono::{DateTime, Utc};

use criterion::{Criterion, criterion_group};
use lakeorm_core::{Lake, Row};
use serde::{Deserialize, Serialize};

mod peers;

const ROWS: usize = 65_536;

#[derive(lakeorm_derive::Lake, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[lake(crate = "lakeorm_core")]
struct Event {
    #[lake(pk)]
    id: i64,
    email: String,
    country: String,
    age: i32,
    score: f64,
    #[serde(with = "chrono::serde::ts_microseconds")]
    created_at: DateTime<Utc>,
}

fn rows() -> Vec<Event> {
    (0..ROWS)
        .map(|i| {
            let n = i as i64;
            Event {
                id: n,
                email: format!("user{i}@example.com"),
                country: ["GB", "FR", "DE", "US"][i % 4].to_string(),
                age: (i % 90) as i32,
                score: i as f64 * 0.5,
                created_at: DateTime::from_timestamp_micros(1_700_000_000_000_000 + n).unwrap(),
            }
        })
        .collect()
}

fn hand_written_encode(rows: &[Event]) -> RecordBatch {
    let mut id = Int64Builder::with_capacity(rows.len());
    let mut email = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
    let mut country = StringBuilder::with_capacity(rows.len(), rows.len() * 2);
    let mut age = Int32Builder::with_capacity(rows.len());
    let mut score = Float64Builder::with_capacity(rows.len());
    let mut created = TimestampMicrosecondBuilder::with_capacity(rows.len()).with_timezone("UTC");
    for r in rows {
        id.append_value(r.id);
        email.append_value(&r.email);
        country.append_value(&r.country);
        age.append_value(r.age);
        score.append_value(r.score);
        created.append_value(r.created_at.timestamp_micros());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(email.finish()),
        Arc::new(country.finish()),
        Arc::new(age.finish()),
        Arc::new(score.finish()),
        Arc::new(created.finish()),
    ];
    RecordBatch::try_new(Event::schema().arrow_schema().clone(), columns).unwrap()
}

fn hand_written_decode(batch: &RecordBatch) -> Vec<Event> {
    let id = batch.column(0).as_primitive::<Int64Type>();
    let email = batch.column(1).as_string::<i32>();
    let country = batch.column(2).as_string::<i32>();
    let age = batch.column(3).as_primitive::<Int32Type>();
    let score = batch.column(4).as_primitive::<Float64Type>();
    let created = batch.column(5).as_primitive::<TimestampMicrosecondType>();
    (0..batch.num_rows())
        .map(|i| {
            assert!(!email.is_null(i) && !country.is_null(i));
            Event {
                id: id.value(i),
                email: email.value(i).to_owned(),
                country: country.value(i).to_owned(),
                age: age.value(i),
                score: score.value(i),
                created_at: DateTime::from_timestamp_micros(created.value(i)).unwrap(),
            }
        })
        .collect()
}

fn projection(c: &mut Criterion) {
    let hand = peers::HandWritten {
        encode: hand_written_encode,
        decode: hand_written_decode,
    };
    peers::compare(c, "", &rows(), hand);
}

/// Rounds of the paired comparison.
const ROUNDS: usize = 101;

/// Times `work`, then drops its output untimed.
fn timed<R>(work: impl FnOnce() -> R) -> f64 {
    let start = Instant::now();
    let output = black_box(work());
    let elapsed = start.elapsed().as_secs_f64();
    drop(output);
    elapsed
}

/// The ratios the targets are judged on, taken so that drift on a shared machine cancels out.
///
/// Criterion measures each contender in its own window of seconds, and a neighbour that wakes
/// during one window moves that ratio by ±10 % from run to run here. In a paired round every
/// contender runs once, back to back in a rotating order, and the ratio is taken within the
/// round; the median over the rounds is what is printed.
fn paired(group: &str, contenders: &[(&str, &dyn Fn() -> f64)]) {
    let mut times = vec![Vec::with_capacity(ROUNDS); contenders.len()];
    for round in 0..ROUNDS {
        for offset in 0..contenders.len() {
            let k = (round + offset) % contenders.len();
            times[k].push((contenders[k].1)());
        }
    }
    let (subject, subject_times) = (contenders[0].0, &times[0]);
    for ((peer, _), peer_times) in contenders.iter().zip(&times).skip(1) {
        let mut ratios: Vec<f64> = subject_times
            .iter()
            .zip(peer_times)
            .map(|(s, p)| s / p)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let ratio = ratios[ROUNDS / 2];
        println!(
            "  {group:<7} {subject} takes {ratio:.2}× the time of {peer} ({:.2}× as fast)",
            1.0 / ratio
        );
    }
}

fn paired_rounds(filter: Option<&str>) {
    let rows = rows();
    let fields = Event::schema().arrow_schema().fields().to_vec();
    let batch = Event::to_record_batch(&rows).unwrap();
    let wanted = |group: &str| filter.is_none_or(|f| group.contains(f));
    println!("\nPaired rounds ({ROUNDS}, interleaved; median of the per-round ratios):");
    if wanted("encode") {
        paired(
            "encode",
            &[
                ("lakeorm", &|| {
                    timed(|| Event::to_record_batch(black_box(&rows)).unwrap())
                }),
                ("hand-written", &|| {
                    timed(|| hand_written_encode(black_box(&rows)))
                }),
                ("serde_arrow", &|| {
                    timed(|| serde_arrow::to_record_batch(&fields, black_box(&rows)).unwrap())
                }),
            ],
        );
    }
    if wanted("decode") {
        paired(
            "decode",
            &[
                ("lakeorm", &|| {
                    timed(|| Event::from_record_batch(black_box(&batch)).unwrap())
                }),
                ("hand-written", &|| {
                    timed(|| hand_written_decode(black_box(&batch)))
                }),
                ("serde_arrow", &|| {
                    timed(|| {
                        serde_arrow::from_record_batch::<Vec<Event>>(black_box(&batch)).unwrap()
                    })
                }),
            ],
        );
    }
}

criterion_group!(benches, projection);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Criterion's own modes (`--list`, `--test` from `cargo test --benches`) measure nothing.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let filter = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(String::as_str);
    paired_rounds(filter);
}
