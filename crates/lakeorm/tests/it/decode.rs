//! The decoder binds by name, tolerates engine-side type variants, and reports what is wrong.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, StringViewArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use lakeorm::{DecodeErrorKind, Error, Row};

use crate::models::{CountryTotal, User};

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

fn decode_error(result: lakeorm::Result<Vec<impl std::fmt::Debug>>) -> lakeorm::DecodeError {
    match result {
        Err(Error::Decode(e)) => e,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn binds_by_name_ignores_extras_and_folds_case() {
    let b = batch(vec![
        ("extra", Arc::new(Int32Array::from(vec![7, 8]))),
        ("N", Arc::new(Int64Array::from(vec![2, 1]))),
        ("country", Arc::new(StringViewArray::from(vec!["GB", "FR"]))),
        (
            "avg_age",
            Arc::new(Float64Array::from(vec![Some(30.5), None])),
        ),
    ]);
    let rows = CountryTotal::from_record_batch(&b).unwrap();
    assert_eq!(
        rows,
        [
            CountryTotal {
                country: "GB".into(),
                users: 2,
                avg_age: Some(30.5)
            },
            CountryTotal {
                country: "FR".into(),
                users: 1,
                avg_age: None
            },
        ]
    );
}

#[test]
fn widens_integers_within_the_family() {
    let b = batch(vec![
        ("country", Arc::new(StringArray::from(vec!["GB"]))),
        ("n", Arc::new(Int32Array::from(vec![5]))),
        ("avg_age", Arc::new(Int64Array::from(vec![40]))),
    ]);
    let rows = CountryTotal::from_record_batch(&b).unwrap();
    assert_eq!(rows[0].users, 5);
    assert_eq!(rows[0].avg_age, Some(40.0));
}

#[test]
fn missing_column_is_named() {
    let b = batch(vec![("country", Arc::new(StringArray::from(vec!["GB"])))]);
    let e = decode_error(CountryTotal::from_record_batch(&b));
    assert_eq!(e.column(), "n");
    assert!(matches!(e.kind(), DecodeErrorKind::MissingColumn { .. }));
    assert!(e.to_string().contains("cannot decode column `n`"), "{e}");
}

#[test]
fn type_mismatch_is_named() {
    let b = batch(vec![
        ("country", Arc::new(Int64Array::from(vec![1]))),
        ("n", Arc::new(Int64Array::from(vec![1]))),
        ("avg_age", Arc::new(Float64Array::from(vec![1.0]))),
    ]);
    let e = decode_error(CountryTotal::from_record_batch(&b));
    assert_eq!(e.column(), "country");
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::TypeMismatch {
            found: DataType::Int64,
            ..
        }
    ));
}

#[test]
fn null_into_required_field_names_column_and_row() {
    let b = batch(vec![
        (
            "country",
            Arc::new(StringArray::from(vec![Some("GB"), None])),
        ),
        ("n", Arc::new(Int64Array::from(vec![1, 2]))),
        ("avg_age", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
    ]);
    let e = decode_error(CountryTotal::from_record_batch(&b));
    assert_eq!(e.column(), "country");
    assert_eq!(e.row(), Some(1));
    assert!(e.to_string().contains("NULL"), "{e}");
}

#[test]
fn out_of_range_values_are_errors_not_wraps() {
    let b = batch(vec![
        ("id", Arc::new(Int64Array::from(vec![1]))),
        ("email", Arc::new(StringArray::from(vec!["a@b.co"]))),
        ("country", Arc::new(StringArray::from(vec!["GB"]))),
        ("age", Arc::new(Int64Array::from(vec![300]))),
    ]);
    let e = decode_error(User::from_record_batch(&b));
    assert_eq!(e.column(), "age");
}

#[test]
fn nested_struct_errors_carry_the_path() {
    use crate::models::Address;
    #[derive(lakeorm::Row, Debug)]
    struct WithAddress {
        #[allow(dead_code)]
        address: Address,
    }
    let address = arrow::array::StructArray::from(vec![
        (
            Arc::new(Field::new("street", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec!["1 Main St"])) as ArrayRef,
        ),
        (
            Arc::new(Field::new("city", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![None::<&str>])) as ArrayRef,
        ),
    ]);
    let b = batch(vec![("address", Arc::new(address))]);
    let e = decode_error(WithAddress::from_record_batch(&b));
    // `zip` and `geo` are missing; the first problem found is reported with its full path.
    assert!(e.column().starts_with("address."), "{e}");
}

#[test]
fn list_value_errors_name_the_list_row() {
    use arrow::array::{ListBuilder, StringBuilder};
    #[derive(lakeorm::Row, Debug, PartialEq)]
    struct Tagged {
        tags: Vec<String>,
    }
    let mut tags = ListBuilder::new(StringBuilder::new());
    tags.values().append_value("a");
    tags.values().append_value("b");
    tags.append(true);
    tags.append(true);
    tags.values().append_value("c");
    tags.values().append_null();
    tags.append(true);
    let b = batch(vec![("tags", Arc::new(tags.finish()))]);
    let e = decode_error(Tagged::from_record_batch(&b));
    assert_eq!(e.column(), "tags.[]");
    assert_eq!(e.row(), Some(2));
    assert!(matches!(e.kind(), DecodeErrorKind::Null), "{e}");

    let ok = b.slice(0, 2);
    assert_eq!(
        Tagged::from_record_batch(&ok).unwrap(),
        vec![
            Tagged {
                tags: vec!["a".into(), "b".into()]
            },
            Tagged { tags: vec![] }
        ]
    );
}
