//! Strict JSON ingest.

use lakeorm::{Error, from_json, from_json_array};

use crate::models::{Everything, User};

fn json_error<T: std::fmt::Debug>(result: lakeorm::Result<T>) -> lakeorm::JsonError {
    match result {
        Err(Error::Json(e)) => e,
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

#[test]
fn accepts_a_well_formed_record() {
    let user: User =
        from_json(br#"{"id": 7, "email": "ada@example.com", "country": "GB", "age": 36}"#).unwrap();
    assert_eq!(user.id, 7);
    let without_optional: User =
        from_json(br#"{"id": 7, "email": "ada@example.com", "country": "GB"}"#).unwrap();
    assert_eq!(without_optional.age, None);
}

#[test]
fn rejects_unknown_fields_by_name() {
    let e = json_error(from_json::<User>(
        br#"{"id": 7, "email": "a@b.co", "country": "GB", "nickname": "x"}"#,
    ));
    assert_eq!(e.path(), "nickname");
    assert!(
        e.to_string().contains("at field `nickname`: unknown field"),
        "{e}"
    );
}

#[test]
fn rejects_wrong_types_by_name() {
    let e = json_error(from_json::<User>(
        br#"{"id": "7", "email": "a@b.co", "country": "GB"}"#,
    ));
    assert_eq!(e.path(), "id");
    assert!(
        e.message().contains("expected an i64, found a string"),
        "{e}"
    );
    let e = json_error(from_json::<User>(
        br#"{"id": 7, "email": "a@b.co", "country": "GB", "age": 300}"#,
    ));
    assert_eq!(e.path(), "age");
}

#[test]
fn rejects_missing_required_fields() {
    let e = json_error(from_json::<User>(br#"{"id": 7, "country": "GB"}"#));
    assert_eq!(e.path(), "email");
    assert_eq!(e.message(), "missing field");
}

#[test]
fn rejects_trailing_data() {
    let e = json_error(from_json::<User>(
        br#"{"id": 7, "email": "a@b.co", "country": "GB"} {"id": 8}"#,
    ));
    assert!(e.message().contains("trailing"), "{e}");
}

#[test]
fn validates_after_decoding() {
    match from_json::<User>(br#"{"id": 7, "email": "nope", "country": "GB"}"#) {
        Err(Error::Validation(v)) => assert_eq!(v.errors()[0].field, "email"),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn arrays_name_the_element() {
    let e = json_error(from_json_array::<User>(
        br#"[{"id": 1, "email": "a@b.co", "country": "GB"}, {"id": 2, "email": 5, "country": "GB"}]"#,
    ));
    assert_eq!(e.path(), "[1].email");
}

#[test]
fn nested_and_json_columns() {
    let doc = serde_json::json!({
        "id": lakeorm::SortableId::new().to_string(), "tenant": 1, "mail": "a@b.co", "region": "eu",
        "user_id": uuid::Uuid::nil().to_string(), "code": "abcd",
        "created_at": "2024-05-01T12:00:00Z", "updated_at": null, "flag": true,
        "tiny": 1, "small": 2, "medium": 3, "byte": 4, "word": 5, "dword": 6, "qword": 7,
        "ratio": 1.5, "score": 2.5, "blob": [1, 2], "local_time": "2024-05-01T12:00:00",
        "birthday": "2000-01-31", "balance": "12.3456", "discount": 1.25, "tags": ["a"],
        "scores": [1, null], "address": {"street": "s", "city": "c"}, "history": [],
        "prefs": {"theme": "dark", "tags": []}, "nickname": "n", "country": "GB",
        "maybe_tags": null
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let e: Everything = from_json(&bytes).unwrap();
    assert_eq!(e.address.city, "c");
    assert_eq!(e.prefs.theme, "dark");
    assert_eq!(e.balance.to_string(), "12.3456");

    let mut bad = doc.clone();
    bad["address"]["country"] = serde_json::json!("x");
    let err = json_error(from_json::<Everything>(&serde_json::to_vec(&bad).unwrap()));
    assert_eq!(err.path(), "address.country");
}
