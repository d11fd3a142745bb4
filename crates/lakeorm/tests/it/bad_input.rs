//! Bad input at the boundary: invalid records never reach storage; `from_json` and the Arrow
//! decoder take a million generated inputs each without a panic; an injection corpus is
//! stored and read back verbatim; oversized input is a clear error.
//!
//! The million-input runs draw from a small xorshift generator rather than proptest's: at
//! this count the strategy machinery (and its shrinking, useless for "does not panic") costs
//! more than the code under test.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, LargeStringArray, NullArray, RecordBatch, StringArray,
    StringViewArray, TimestampMicrosecondArray, TimestampNanosecondArray, UInt8Array, UInt64Array,
};
use arrow::datatypes::{Field, Schema};
use lakeorm::{Error, Lake, Query, Row as _, Statement, from_json, from_json_array};

use crate::client::{Format, count};
use crate::models::{CountryTotal, Everything, User};
use crate::reliability::{factor, record};

/// xorshift64*: fast, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SEEDS: &[&str] = &[
    r#"{"id": 7, "email": "ada@example.com", "country": "GB", "age": 36}"#,
    r#"{"id": -1, "email": "x@y.z", "country": "FR"}"#,
    r#"[{"id": 1, "email": "a@b.co", "country": "DE", "age": null}]"#,
    r#"{"id": 9223372036854775807, "email": "\u00e9@\u00e9.fr", "country": "\ud83d\ude00"}"#,
];

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "null",
    "true",
    "false",
    "-",
    "0",
    "1e309",
    "-1e309",
    "18446744073709551616",
    "-9223372036854775809",
    "3.5",
    "\"id\"",
    "\"email\"",
    "\"age\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\u{feff}",
    "\u{0}",
    "NaN",
    "Infinity",
    " ",
    "\n",
    "\"country\": 1",
    "\"age\": 300",
    "\"age\": -1",
    "\"id\": \"7\"",
    "{\"a\":",
    "]]]]",
];

/// A generated document: a seed, mutated a few times.
fn document(rng: &mut Rng) -> Vec<u8> {
    let mut doc = rng.pick(SEEDS).as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(doc.len() + 1);
        match rng.below(6) {
            0 => doc.truncate(at),
            1 => {
                let token = rng.pick(TOKENS).as_bytes();
                doc.splice(at..at, token.iter().copied());
            }
            2 if at < doc.len() => doc[at] = rng.next() as u8,
            3 if at < doc.len() => {
                let end = (at + rng.below(8)).min(doc.len());
                doc.drain(at..end);
            }
            4 => {
                // Deep nesting, beyond serde_json's recursion limit at times.
                let depth = rng.below(300);
                let mut nested = "[".repeat(depth).into_bytes();
                nested.extend(std::iter::repeat_n(b']', depth));
                doc.splice(at..at, nested);
            }
            _ => {
                let copy = doc.clone();
                doc.splice(at..at, copy);
            }
        }
    }
    doc
}

#[test]
fn from_json_takes_a_million_generated_documents_without_a_panic() {
    let runs = 1_000_000 * factor();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut accepted, mut rejected, mut panics) = (0u64, 0u64, 0u64);
    for _ in 0..runs {
        let doc = document(&mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let one = from_json::<User>(&doc).is_ok();
            let many = from_json_array::<User>(&doc).is_ok();
            one || many
        }));
        match outcome {
            Ok(true) => accepted += 1,
            Ok(false) => rejected += 1,
            Err(_) => panics += 1,
        }
    }
    record(
        "input",
        "from_json: mutated JSON documents (User, one record and arrays)",
        runs,
        &[
            ("accepted", accepted),
            ("rejected with an error", rejected),
            ("panics", panics),
        ],
    );
    assert_eq!(panics, 0);
    assert!(accepted > 0 && rejected > 0, "{accepted} / {rejected}");
}

/// A column of `rows` values of a type drawn at random, with nulls where the type allows.
fn column(rng: &mut Rng, rows: usize) -> ArrayRef {
    let null = |rng: &mut Rng| rng.below(4) == 0;
    match rng.below(15) {
        0 => Arc::new(Int64Array::from_iter(
            (0..rows).map(|_| (!null(rng)).then(|| rng.next() as i64)),
        )),
        1 => Arc::new(Int32Array::from_iter(
            (0..rows).map(|_| (!null(rng)).then(|| rng.next() as i32)),
        )),
        2 => Arc::new(Int16Array::from_iter(
            (0..rows).map(|_| (!null(rng)).then(|| rng.next() as i16)),
        )),
        3 => Arc::new(Int8Array::from_iter(
            (0..rows).map(|_| (!null(rng)).then(|| rng.next() as i8)),
        )),
        4 => Arc::new(UInt8Array::from_iter(
            (0..rows).map(|_| (!null(rng)).then(|| rng.next() as u8)),
        )),
        5 => Arc::new(UInt64Array::from_iter(
            (0..rows).map(|_| (!null(rng)).then(|| rng.next())),
        )),
        6 => Arc::new(Float64Array::from_iter((0..rows).map(|_| {
            (!null(rng)).then(|| *rng.pick(&[f64::NAN, f64::INFINITY, -0.0, 1e300, 36.0]))
        }))),
        7 => Arc::new(Float32Array::from_iter(
            (0..rows).map(|_| (!null(rng)).then(|| rng.next() as f32)),
        )),
        8 => Arc::new(StringArray::from_iter((0..rows).map(|_| {
            (!null(rng)).then(|| *rng.pick(&["", "GB", "ada@example.com", "\u{0}", "é", "x"]))
        }))),
        9 => Arc::new(StringViewArray::from_iter((0..rows).map(|_| {
            (!null(rng)).then(|| *rng.pick(&["FR", "a@b.co", "not an email", "DE"]))
        }))),
        10 => Arc::new(LargeStringArray::from_iter(
            (0..rows).map(|_| (!null(rng)).then_some("GB")),
        )),
        11 => Arc::new(BooleanArray::from_iter(
            (0..rows).map(|_| (!null(rng)).then(|| rng.below(2) == 0)),
        )),
        12 => Arc::new(BinaryArray::from_iter(
            (0..rows).map(|_| (!null(rng)).then_some(&b"\xff\xfe"[..])),
        )),
        13 => match rng.below(3) {
            0 => Arc::new(Date32Array::from_iter(
                (0..rows).map(|_| (!null(rng)).then(|| rng.next() as i32)),
            )),
            1 => Arc::new(
                TimestampMicrosecondArray::from_iter(
                    (0..rows).map(|_| (!null(rng)).then(|| rng.next() as i64)),
                )
                .with_timezone("UTC"),
            ),
            _ => Arc::new(TimestampNanosecondArray::from_iter(
                (0..rows).map(|_| (!null(rng)).then(|| rng.next() as i64)),
            )),
        },
        _ => Arc::new(NullArray::new(rows)),
    }
}

const NAMES: &[&str] = &[
    "id", "email", "country", "age", "n", "avg_age", "ID", "Email", "extra", "mail", "tenant",
    "region",
];

/// A batch of up to 3 rows and up to 6 columns named like the models' columns or not; half
/// of them start from the columns `User` reads, so that decoding gets past the first column.
fn batch(rng: &mut Rng) -> RecordBatch {
    let rows = rng.below(4);
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    if rng.below(2) == 0 {
        let user: [(&str, ArrayRef); 4] = [
            ("id", Arc::new(Int64Array::from_iter_values(0..rows as i64))),
            (
                "email",
                Arc::new(StringArray::from_iter_values((0..rows).map(|_| "a@b.co"))),
            ),
            (
                "country",
                Arc::new(StringViewArray::from_iter_values((0..rows).map(|_| "GB"))),
            ),
            ("age", column(rng, rows)),
        ];
        for (name, column) in user {
            if rng.below(8) == 0 {
                continue;
            }
            fields.push(Field::new(name, column.data_type().clone(), true));
            columns.push(column);
        }
    }
    for _ in 0..rng.below(7) {
        let name = *rng.pick(NAMES);
        if fields.iter().any(|f: &Field| f.name() == name) {
            continue;
        }
        let column = column(rng, rows);
        fields.push(Field::new(name, column.data_type().clone(), true));
        columns.push(column);
    }
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options).unwrap()
}

#[test]
fn the_decoder_takes_a_million_generated_batches_without_a_panic() {
    let runs = 1_000_000 * factor();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let (mut decoded, mut rejected, mut panics) = (0u64, 0u64, 0u64);
    for _ in 0..runs {
        let batch = batch(&mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            [
                User::from_record_batch(&batch).is_ok(),
                CountryTotal::from_record_batch(&batch).is_ok(),
                Everything::from_record_batch(&batch).is_ok(),
            ]
        }));
        match outcome {
            Ok(results) => {
                decoded += results.iter().filter(|ok| **ok).count() as u64;
                rejected += results.iter().filter(|ok| !**ok).count() as u64;
            }
            Err(_) => panics += 1,
        }
    }
    record(
        "input",
        "decoder: generated Arrow batches (random types, nulls, names) into three models",
        runs,
        &[
            ("decoded", decoded),
            ("rejected with an error", rejected),
            ("panics", panics),
        ],
    );
    assert_eq!(panics, 0);
    assert!(decoded > 0 && rejected > 0, "{decoded} / {rejected}");
}

/// Records that break a rule, among valid ones: the write is refused, and nothing of it is in
/// storage, on every format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_records_never_reach_storage() {
    let rounds = 50 * factor();
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut reached = 0u64;
    for format in [Format::Delta, Format::Iceberg] {
        let dir = tempfile::tempdir().unwrap();
        let db = format.builder().path(dir.path()).open().await.unwrap();
        db.migrate::<User>().await.unwrap();
        let files_before = data_files(dir.path());
        for round in 0..rounds {
            let mut users: Vec<User> = (0..1 + rng.below(20) as i64)
                .map(|i| User {
                    id: round as i64 * 100 + i,
                    email: format!("user{i}@example.com"),
                    country: "GB".into(),
                    age: Some(30),
                })
                .collect();
            let bad = rng.below(users.len());
            match rng.below(4) {
                0 => users[bad].email = "not an email".into(),
                1 => users[bad].country = "GBR".into(),
                2 => users[bad].age = Some(151),
                _ => users[bad].email = String::new(),
            }
            let error = db.insert(&users).await.unwrap_err();
            assert!(matches!(error, Error::Validation(_)), "{error:?}");
            reached += count(&db, "users").await as u64;
        }
        reached += (data_files(dir.path()) - files_before) as u64;
    }
    record(
        "input",
        "invalid records (one rule broken among valid ones), Delta and Iceberg",
        rounds * 2,
        &[("rows or files that reached storage", reached)],
    );
    assert_eq!(reached, 0);
}

fn data_files(root: &std::path::Path) -> usize {
    fn walk(dir: &std::path::Path, n: &mut usize) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, n);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(root, &mut n);
    n
}

/// A model without rules, to store whatever text it is given.
#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "notes")]
struct Note {
    #[lake(pk)]
    id: i64,
    text: String,
    tag: Option<String>,
}

const INJECTIONS: &[&str] = &[
    "'; DROP TABLE notes; --",
    "\" OR \"1\"=\"1",
    "' OR '1'='1' --",
    "`notes`; DELETE FROM notes",
    "?",
    "? OR 1=1",
    "$1 :name @p ${x} {{x}}",
    "\\'; SELECT 1; --",
    "\\",
    "\\\\",
    "NULL",
    "null",
    "\u{0}",
    "line\nbreak\r\nand\ttab",
    "émoji 😀 ∑ 中文 עברית",
    "\u{202e}reversed",
    "' UNION SELECT * FROM _lakeorm_idempotency --",
    "/* comment */ 1",
    "%s %d %n",
    "",
    " ",
];

/// Each corpus string is written, bound as a parameter, read back and matched byte for byte;
/// no statement ran but the write and the reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injection_corpus_is_stored_and_read_back_verbatim() {
    let mut mismatches = 0u64;
    for format in [Format::Delta, Format::Iceberg] {
        let db = format.builder().in_memory().open().await.unwrap();
        db.migrate::<Note>().await.unwrap();
        let notes: Vec<Note> = INJECTIONS
            .iter()
            .enumerate()
            .map(|(i, text)| Note {
                id: i as i64,
                text: (*text).to_owned(),
                tag: Some(format!("{text}{text}")),
            })
            .collect();
        db.insert(&notes).await.unwrap();
        for note in &notes {
            let found: Vec<Note> = Query::sql("SELECT * FROM notes WHERE text = ? AND tag = ?")
                .bind(note.text.as_str())
                .bind(note.tag.clone())
                .fetch_all(&db)
                .await
                .unwrap();
            mismatches += u64::from(found != [note.clone()]);
        }
        db.delete_where::<Note>(Statement::new("text = ?").bind(INJECTIONS[0]))
            .await
            .unwrap();
        let left = count(&db, "notes").await;
        mismatches += u64::from(left != INJECTIONS.len() as i64 - 1);
    }
    record(
        "input",
        "injection corpus written, bound and read back (Delta and Iceberg)",
        (INJECTIONS.len() * 2) as u64,
        &[("values not read back verbatim", mismatches)],
    );
    assert_eq!(mismatches, 0);
}

/// A 1 GiB string and a 10,000-column object are errors that say what is wrong, before
/// memory runs out.
#[test]
fn oversized_input_is_a_clear_error() {
    let mut huge = Vec::with_capacity((1 << 30) + 64);
    huge.extend_from_slice(br#"{"id": 1, "country": "GB", "email": ""#);
    huge.resize(huge.len() + (1 << 30), b'a');
    huge.extend_from_slice(br#"@example.com"}"#);
    let error = from_json::<User>(&huge).unwrap_err();
    drop(huge);
    assert!(error.to_string().contains("over the 256 MiB"), "{error}");

    let wide = format!(
        "{{\"id\": 1, \"email\": \"a@b.co\", \"country\": \"GB\", {}}}",
        (0..10_000)
            .map(|i| format!("\"c{i}\": {i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let error = from_json::<User>(wide.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("unknown field"), "{error}");

    // The decoder takes what it needs from a 10,000-column batch.
    let fields: Vec<Field> = (0..10_000)
        .map(|i| Field::new(format!("c{i}"), arrow::datatypes::DataType::Int64, true))
        .chain([
            Field::new("id", arrow::datatypes::DataType::Int64, false),
            Field::new("email", arrow::datatypes::DataType::Utf8, false),
            Field::new("country", arrow::datatypes::DataType::Utf8, false),
        ])
        .collect();
    let mut columns: Vec<ArrayRef> = (0..10_000)
        .map(|i| Arc::new(Int64Array::from(vec![i])) as ArrayRef)
        .collect();
    columns.push(Arc::new(Int64Array::from(vec![1])));
    columns.push(Arc::new(StringArray::from(vec!["a@b.co"])));
    columns.push(Arc::new(StringArray::from(vec!["GB"])));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    // Without the `age` column: an error naming it, whose list of what the batch has stays
    // short.
    let error = User::from_record_batch(&batch).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("`age`") && text.contains("and 9971 more"),
        "{text}"
    );
    assert!(text.len() < 1_000, "{} bytes", text.len());
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(UInt8Array::from(vec![Some(30)])));
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("age", arrow::datatypes::DataType::UInt8, true));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let users = User::from_record_batch(&batch).unwrap();
    assert_eq!(users.len(), 1);
    record(
        "input",
        "oversized input: a 1 GiB JSON string, a 10,000-key object, a 10,000-column batch",
        3,
        &[("out-of-memory or panic", 0)],
    );
}
