//! The generated `validate()` against the `validator` crate's derive, on the same records with
//! the same rules (an email, a length, a range): 1,000,000 records, every one valid, which is
//! the path a service pays on every write. Both call the same `validator` checks; what differs
//! is the code around them.
//!
//! `cargo xtask bench` reads criterion's estimates and reports the ratio.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lakeorm_core::Lake as _;
use validator::Validate as _;

const ROWS: usize = 1_000_000;

#[derive(lakeorm_derive::Lake, Clone, Debug)]
#[lake(crate = "lakeorm_core")]
struct Signup {
    #[lake(pk)]
    id: i64,
    #[lake(validate = "email")]
    email: String,
    #[lake(validate = "length(min = 2, max = 64)")]
    name: String,
    #[lake(validate = "range(min = 13, max = 130)")]
    age: i32,
}

#[derive(validator::Validate, Clone, Debug)]
struct PeerSignup {
    #[allow(dead_code)]
    id: i64,
    #[validate(email)]
    email: String,
    #[validate(length(min = 2, max = 64))]
    name: String,
    #[validate(range(min = 13, max = 130))]
    age: i32,
}

fn rows() -> Vec<Signup> {
    (0..ROWS)
        .map(|i| Signup {
            id: i as i64,
            email: format!("user{i}@example.com"),
            name: format!("User number {i}"),
            age: 13 + (i % 100) as i32,
        })
        .collect()
}

fn validation(c: &mut Criterion) {
    let ours = rows();
    let peers: Vec<PeerSignup> = ours
        .iter()
        .map(|s| PeerSignup {
            id: s.id,
            email: s.email.clone(),
            name: s.name.clone(),
            age: s.age,
        })
        .collect();
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("lakeorm", |b| {
        b.iter(|| {
            for row in &ours {
                black_box(row.validate()).unwrap();
            }
        });
    });
    group.bench_function("validator", |b| {
        b.iter(|| {
            for row in &peers {
                black_box(row.validate()).unwrap();
            }
        });
    });
    group.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
