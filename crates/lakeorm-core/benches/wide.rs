//! The projection and decoder on a 20-field model: `Option`s, timestamps, a date, decimals,
//! lists and a nested struct, against a hand-written loop over arrow's builders and against
//! `serde_arrow`, on the same rows and the same Arrow schema (batches of 16k rows).
//!
//! The six-field model's benchmark (`projection`) says why decoding is timed without dropping
//! its output; the same holds here.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, ListBuilder, RecordBatch,
    StringBuilder, StructBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType,
};
use chrono::{DateTime, NaiveDate, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use lakeorm_core::Row;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

mod peers;

const ROWS: usize = 16_384;

#[derive(lakeorm_derive::Lake, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[lake(crate = "lakeorm_core")]
struct Address {
    street: String,
    city: String,
    zip: Option<String>,
}

#[derive(lakeorm_derive::Lake, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[lake(crate = "lakeorm_core", table = "customers")]
struct Customer {
    #[lake(pk)]
    id: i64,
    tenant: i32,
    email: String,
    name: Option<String>,
    age: Option<i32>,
    score: f64,
    ratio: f32,
    active: bool,
    #[serde(with = "chrono::serde::ts_microseconds")]
    created_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_microseconds_option")]
    updated_at: Option<DateTime<Utc>>,
    birthday: NaiveDate,
    #[lake(decimal(18, 4))]
    balance: Decimal,
    #[lake(decimal(10, 2))]
    discount: Option<Decimal>,
    tags: Vec<String>,
    visits: Vec<i64>,
    address: Address,
    country: String,
    rank: i16,
    nickname: Option<String>,
    lifetime: f64,
}

fn rows() -> Vec<Customer> {
    (0..ROWS)
        .map(|i| {
            let n = i as i64;
            Customer {
                id: n,
                tenant: (i % 7) as i32,
                email: format!("user{i}@example.com"),
                name: (i % 3 != 0).then(|| format!("Name {i}")),
                age: (i % 5 != 0).then_some((i % 90) as i32),
                score: i as f64 * 0.5,
                ratio: (i % 100) as f32 / 100.0,
                active: i % 2 == 0,
                created_at: DateTime::from_timestamp_micros(1_700_000_000_000_000 + n).unwrap(),
                updated_at: (i % 4 == 0)
                    .then(|| DateTime::from_timestamp_micros(1_700_000_100_000_000 + n).unwrap()),
                birthday: NaiveDate::from_num_days_from_ce_opt(720_000 + (i % 20_000) as i32)
                    .unwrap(),
                balance: Decimal::new(n * 12_345, 4),
                discount: (i % 2 == 1).then(|| Decimal::new((i % 10_000) as i64, 2)),
                tags: (0..i % 3).map(|t| format!("tag{t}")).collect(),
                visits: (0..i % 4).map(|v| n + v as i64).collect(),
                address: Address {
                    street: format!("{i} Main St"),
                    city: ["London", "Paris", "Berlin"][i % 3].to_string(),
                    zip: (i % 2 == 0).then(|| format!("{:05}", i % 100_000)),
                },
                country: ["GB", "FR", "DE", "US"][i % 4].to_string(),
                rank: (i % 1000) as i16,
                nickname: (i % 10 == 0).then(|| format!("n{i}")),
                lifetime: n as f64 * 1.25,
            }
        })
        .collect()
}

/// The days from 1970-01-01 to `date` (Arrow's `Date32`).
fn days(date: NaiveDate) -> i32 {
    (date - DateTime::UNIX_EPOCH.date_naive()).num_days() as i32
}

/// A decimal's 128-bit mantissa at `scale`.
fn mantissa(mut value: Decimal, scale: u32) -> i128 {
    value.rescale(scale);
    value.mantissa()
}

fn hand_written_encode(rows: &[Customer]) -> RecordBatch {
    let schema = Customer::schema().arrow_schema().clone();
    let field = |name: &str| schema.field_with_name(name).unwrap().clone();
    let list_item = |name: &str| match field(name).data_type() {
        DataType::List(item) => item.clone(),
        other => panic!("{name} is {other}"),
    };
    let address_fields = match field("address").data_type() {
        DataType::Struct(fields) => fields.clone(),
        other => panic!("address is {other}"),
    };
    let n = rows.len();
    let mut id = Int64Builder::with_capacity(n);
    let mut tenant = Int32Builder::with_capacity(n);
    let mut email = StringBuilder::with_capacity(n, n * 24);
    let mut name = StringBuilder::with_capacity(n, n * 12);
    let mut age = Int32Builder::with_capacity(n);
    let mut score = Float64Builder::with_capacity(n);
    let mut ratio = Float32Builder::with_capacity(n);
    let mut active = BooleanBuilder::with_capacity(n);
    let mut created = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut updated = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut birthday = Date32Builder::with_capacity(n);
    let mut balance = Decimal128Builder::with_capacity(n)
        .with_precision_and_scale(18, 4)
        .unwrap();
    let mut discount = Decimal128Builder::with_capacity(n)
        .with_precision_and_scale(10, 2)
        .unwrap();
    let mut tags = ListBuilder::new(StringBuilder::new()).with_field(list_item("tags"));
    let mut visits = ListBuilder::new(Int64Builder::new()).with_field(list_item("visits"));
    let mut address = StructBuilder::from_fields(address_fields, n);
    let mut country = StringBuilder::with_capacity(n, n * 2);
    let mut rank = Int16Builder::with_capacity(n);
    let mut nickname = StringBuilder::with_capacity(n, n * 4);
    let mut lifetime = Float64Builder::with_capacity(n);
    for r in rows {
        id.append_value(r.id);
        tenant.append_value(r.tenant);
        email.append_value(&r.email);
        name.append_option(r.name.as_deref());
        age.append_option(r.age);
        score.append_value(r.score);
        ratio.append_value(r.ratio);
        active.append_value(r.active);
        created.append_value(r.created_at.timestamp_micros());
        updated.append_option(r.updated_at.map(|t| t.timestamp_micros()));
        birthday.append_value(days(r.birthday));
        balance.append_value(mantissa(r.balance, 4));
        discount.append_option(r.discount.map(|d| mantissa(d, 2)));
        for tag in &r.tags {
            tags.values().append_value(tag);
        }
        tags.append(true);
        visits.values().append_slice(&r.visits);
        visits.append(true);
        let a = &r.address;
        address
            .field_builder::<StringBuilder>(0)
            .unwrap()
            .append_value(&a.street);
        address
            .field_builder::<StringBuilder>(1)
            .unwrap()
            .append_value(&a.city);
        address
            .field_builder::<StringBuilder>(2)
            .unwrap()
            .append_option(a.zip.as_deref());
        address.append(true);
        country.append_value(&r.country);
        rank.append_value(r.rank);
        nickname.append_option(r.nickname.as_deref());
        lifetime.append_value(r.lifetime);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(tenant.finish()),
        Arc::new(email.finish()),
        Arc::new(name.finish()),
        Arc::new(age.finish()),
        Arc::new(score.finish()),
        Arc::new(ratio.finish()),
        Arc::new(active.finish()),
        Arc::new(created.finish()),
        Arc::new(updated.finish()),
        Arc::new(birthday.finish()),
        Arc::new(balance.finish()),
        Arc::new(discount.finish()),
        Arc::new(tags.finish()),
        Arc::new(visits.finish()),
        Arc::new(address.finish()),
        Arc::new(country.finish()),
        Arc::new(rank.finish()),
        Arc::new(nickname.finish()),
        Arc::new(lifetime.finish()),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn hand_written_decode(batch: &RecordBatch) -> Vec<Customer> {
    let c = |i: usize| batch.column(i);
    let id = c(0).as_primitive::<Int64Type>();
    let tenant = c(1).as_primitive::<Int32Type>();
    let email = c(2).as_string::<i32>();
    let name = c(3).as_string::<i32>();
    let age = c(4).as_primitive::<Int32Type>();
    let score = c(5).as_primitive::<Float64Type>();
    let ratio = c(6).as_primitive::<Float32Type>();
    let active = c(7).as_boolean();
    let created = c(8).as_primitive::<TimestampMicrosecondType>();
    let updated = c(9).as_primitive::<TimestampMicrosecondType>();
    let birthday = c(10).as_primitive::<Date32Type>();
    let balance = c(11).as_primitive::<Decimal128Type>();
    let discount = c(12).as_primitive::<Decimal128Type>();
    let tags = c(13).as_list::<i32>();
    let tag_values = tags.values().as_string::<i32>();
    let visits = c(14).as_list::<i32>();
    let visit_values = visits.values().as_primitive::<Int64Type>();
    let address = c(15).as_struct();
    let street = address.column(0).as_string::<i32>();
    let city = address.column(1).as_string::<i32>();
    let zip = address.column(2).as_string::<i32>();
    let country = c(16).as_string::<i32>();
    let rank = c(17).as_primitive::<Int16Type>();
    let nickname = c(18).as_string::<i32>();
    let lifetime = c(19).as_primitive::<Float64Type>();
    let text =
        |a: &arrow::array::StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_owned());
    let epoch = DateTime::UNIX_EPOCH.date_naive();
    (0..batch.num_rows())
        .map(|i| {
            let range = |offsets: &[i32]| offsets[i] as usize..offsets[i + 1] as usize;
            Customer {
                id: id.value(i),
                tenant: tenant.value(i),
                email: text(email, i).unwrap(),
                name: text(name, i),
                age: (!age.is_null(i)).then(|| age.value(i)),
                score: score.value(i),
                ratio: ratio.value(i),
                active: active.value(i),
                created_at: DateTime::from_timestamp_micros(created.value(i)).unwrap(),
                updated_at: (!updated.is_null(i))
                    .then(|| DateTime::from_timestamp_micros(updated.value(i)).unwrap()),
                birthday: epoch + chrono::Days::new(birthday.value(i) as u64),
                balance: Decimal::from_i128_with_scale(balance.value(i), 4),
                discount: (!discount.is_null(i))
                    .then(|| Decimal::from_i128_with_scale(discount.value(i), 2)),
                tags: range(tags.value_offsets())
                    .map(|j| tag_values.value(j).to_owned())
                    .collect(),
                visits: range(visits.value_offsets())
                    .map(|j| visit_values.value(j))
                    .collect(),
                address: Address {
                    street: text(street, i).unwrap(),
                    city: text(city, i).unwrap(),
                    zip: text(zip, i),
                },
                country: text(country, i).unwrap(),
                rank: rank.value(i),
                nickname: text(nickname, i),
                lifetime: lifetime.value(i),
            }
        })
        .collect()
}

fn wide(c: &mut Criterion) {
    let hand = peers::HandWritten {
        encode: hand_written_encode,
        decode: hand_written_decode,
    };
    peers::compare(c, "-wide", &rows(), hand);
}

criterion_group!(benches, wide);
criterion_main!(benches);
