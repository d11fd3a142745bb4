//! Property test: every attribute and every supported type survive `to_table_batch` →
//! `from_record_batch` unchanged, over 10,000 generated rows.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use lakeorm::{IngestId, Lake, Row, SortableId};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::models::{Address, Everything, Preferences};

const MIN_MICROS: i64 = -62_135_596_800_000_000; // 0001-01-01
const MAX_MICROS: i64 = 253_402_300_799_999_999; // 9999-12-31

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
    (MIN_MICROS..=MAX_MICROS).prop_map(|m| DateTime::from_timestamp_micros(m).unwrap())
}

fn naive_timestamp() -> impl Strategy<Value = NaiveDateTime> {
    timestamp().prop_map(|t| t.naive_utc())
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1i32..=3_652_059).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap())
}

fn decimal(digits: u32, scale: u32) -> impl Strategy<Value = Decimal> {
    let limit = 10i64.pow(digits) - 1;
    (-limit..=limit).prop_map(move |m| Decimal::new(m, scale))
}

fn finite_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn finite_f32() -> impl Strategy<Value = f32> {
    any::<f32>().prop_filter("finite", |f| f.is_finite())
}

fn uuid() -> impl Strategy<Value = uuid::Uuid> {
    any::<u128>().prop_map(uuid::Uuid::from_u128)
}

fn address() -> impl Strategy<Value = Address> {
    (
        text(),
        text(),
        option::of(text()),
        option::of(vec(finite_f64(), 0..3)),
    )
        .prop_map(|(street, city, zip, coordinates)| Address {
            street,
            city,
            zip,
            coordinates,
        })
}

fn json_value() -> impl Strategy<Value = Option<serde_json::Value>> {
    // `Some(Value::Null)` is stored as NULL and reads back as `None`, so it is not generated.
    option::of((text(), any::<i32>()).prop_map(|(k, v)| serde_json::json!({ k: v, "list": [v] })))
}

type Keys = (SortableId, i32, String, String, uuid::Uuid, String);
type Times = (
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    NaiveDateTime,
    NaiveDate,
    Option<NaiveDate>,
);
type Numbers = (bool, i8, i16, i64, u8, u16, u32, u64, f32, f64);
type Rest = (
    (
        Vec<u8>,
        Decimal,
        Option<Decimal>,
        Vec<String>,
        Vec<Option<i32>>,
        Option<Vec<String>>,
    ),
    (
        Address,
        Option<Address>,
        Vec<Address>,
        Preferences,
        Option<serde_json::Value>,
    ),
    (
        String,
        Option<String>,
        String,
        Option<String>,
        Option<uuid::Uuid>,
        Option<Vec<u8>>,
    ),
);

fn keys() -> impl Strategy<Value = Keys> {
    (
        any::<[u8; 20]>().prop_map(SortableId::from_bytes),
        any::<i32>(),
        text(),
        text(),
        uuid(),
        text(),
    )
}

fn times() -> impl Strategy<Value = Times> {
    (
        timestamp(),
        option::of(timestamp()),
        naive_timestamp(),
        date(),
        option::of(date()),
    )
}

fn numbers() -> impl Strategy<Value = Numbers> {
    (
        any::<bool>(),
        any::<i8>(),
        any::<i16>(),
        any::<i64>(),
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
        any::<u64>(),
        finite_f32(),
        finite_f64(),
    )
}

fn rest() -> impl Strategy<Value = Rest> {
    (
        (
            vec(any::<u8>(), 0..8),
            decimal(14, 4),
            option::of(decimal(8, 2)),
            vec(text(), 0..4),
            vec(option::of(any::<i32>()), 0..4),
            option::of(vec(text(), 0..3)),
        ),
        (
            address(),
            option::of(address()),
            vec(address(), 0..3),
            (text(), vec(text(), 0..3)).prop_map(|(theme, tags)| Preferences { theme, tags }),
            json_value(),
        ),
        (
            text(),
            option::of(text()),
            text(),
            option::of(text()),
            option::of(uuid()),
            option::of(vec(any::<u8>(), 0..4)),
        ),
    )
}

fn everything() -> impl Strategy<Value = Everything> {
    (keys(), times(), numbers(), rest()).prop_map(
        |(
            (id, tenant, email, region, user_id, code),
            (created_at, updated_at, local_time, birthday, maybe_date),
            (flag, tiny, small, medium, byte, word, dword, qword, ratio, score),
            (
                (blob, balance, discount, tags, scores, maybe_tags),
                (address, previous, history, prefs, extra),
                (nickname, external_ref, country, homepage, maybe_id, maybe_bytes),
            ),
        )| Everything {
            id,
            tenant,
            email,
            region,
            user_id,
            code,
            created_at,
            updated_at,
            flag,
            tiny,
            small,
            medium,
            byte,
            word,
            dword,
            qword,
            ratio,
            score,
            blob,
            local_time,
            birthday,
            balance,
            discount,
            tags,
            scores,
            maybe_tags,
            address,
            previous,
            history,
            prefs,
            extra,
            nickname,
            external_ref,
            country,
            homepage,
            maybe_date,
            maybe_id,
            maybe_bytes,
            cache: None,
        },
    )
}

proptest! {
    // 20 cases × 500 rows = 10,000 generated rows.
    #![proptest_config(ProptestConfig { cases: 20, ..ProptestConfig::default() })]

    #[test]
    fn every_type_round_trips(rows in vec(everything(), 500)) {
        let id = IngestId::new();
        let batch = Everything::to_table_batch(&rows, &id).unwrap();
        prop_assert_eq!(batch.num_rows(), rows.len());
        prop_assert_eq!(batch.schema(), Everything::schema().table_arrow_schema().clone());
        let back = Everything::from_record_batch(&batch).unwrap();
        prop_assert_eq!(back, rows);
    }
}

#[test]
fn ingest_id_is_stamped_on_every_row() {
    use arrow::array::{Array, AsArray};
    let rows = vec![
        crate::models::User {
            id: 1,
            email: "a@b.co".into(),
            country: "GB".into(),
            age: Some(3),
        };
        3
    ];
    let id = IngestId::new();
    let batch = crate::models::User::to_table_batch(&rows, &id).unwrap();
    let ids = batch
        .column_by_name(lakeorm::INGEST_ID_COLUMN)
        .unwrap()
        .as_string::<i32>();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|v| v == Some(id.to_string().as_str())));
}
