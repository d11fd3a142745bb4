//! The encode and decode groups shared by the projection benchmarks: one model's rows through
//! the generated code, a hand-written loop over arrow's builders and `serde_arrow`.

use std::fmt::Debug;
use std::hint::black_box;

use arrow::array::RecordBatch;
use criterion::{BatchSize, Criterion, Throughput};
use lakeorm_core::Lake;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The hand-written peer of one model.
pub(crate) struct HandWritten<T> {
    pub(crate) encode: fn(&[T]) -> RecordBatch,
    pub(crate) decode: fn(&RecordBatch) -> Vec<T>,
}

/// Checks that the three encoders produce, and the three decoders read, the same batch, then
/// runs the groups `encode{suffix}` and `decode{suffix}` over `rows`.
pub(crate) fn compare<T>(c: &mut Criterion, suffix: &str, rows: &[T], hand: HandWritten<T>)
where
    T: Lake + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let fields = T::schema().arrow_schema().fields().to_vec();
    let batch = T::to_record_batch(rows).unwrap();
    assert_eq!((hand.encode)(rows), batch);
    assert_eq!(
        serde_arrow::to_record_batch(&fields, &rows)
            .unwrap()
            .columns(),
        batch.columns()
    );
    assert_eq!((hand.decode)(&batch), rows);
    assert_eq!(
        serde_arrow::from_record_batch::<Vec<T>>(&batch).unwrap(),
        rows
    );

    let mut encode = c.benchmark_group(format!("encode{suffix}"));
    encode.throughput(Throughput::Elements(rows.len() as u64));
    encode.bench_function("lakeorm", |b| {
        b.iter(|| T::to_record_batch(black_box(rows)).unwrap())
    });
    encode.bench_function("hand-written", |b| {
        b.iter(|| (hand.encode)(black_box(rows)))
    });
    encode.bench_function("serde_arrow", |b| {
        b.iter(|| serde_arrow::to_record_batch(&fields, black_box(&rows)).unwrap())
    });
    encode.finish();

    // Decoded rows are dropped outside the timing (see the projection benchmark's docs).
    let mut decode = c.benchmark_group(format!("decode{suffix}"));
    decode.throughput(Throughput::Elements(rows.len() as u64));
    decode.bench_function("lakeorm", |b| {
        b.iter_batched(
            || &batch,
            |batch| T::from_record_batch(black_box(batch)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    decode.bench_function("hand-written", |b| {
        b.iter_batched(
            || &batch,
            |batch| (hand.decode)(black_box(batch)),
            BatchSize::PerIteration,
        )
    });
    decode.bench_function("serde_arrow", |b| {
        b.iter_batched(
            || &batch,
            |batch| serde_arrow::from_record_batch::<Vec<T>>(black_box(batch)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    decode.finish();
}
