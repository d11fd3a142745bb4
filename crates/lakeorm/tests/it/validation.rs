//! Validation reports every failure at once.

use lakeorm::{Error, Lake, register_validator, validate};

use crate::models::User;

fn user() -> User {
    User {
        id: 1,
        email: "ada@example.com".into(),
        country: "GB".into(),
        age: Some(36),
    }
}

#[test]
fn a_valid_record_passes() {
    assert!(user().validate().is_ok());
}

#[test]
fn three_bad_fields_give_three_field_errors() {
    let bad = User {
        email: "not-an-email".into(),
        country: "GBR".into(),
        age: Some(200),
        ..user()
    };
    let err = bad.validate().unwrap_err();
    assert_eq!(err.errors().len(), 3, "{err}");
    let email = err.field("email").unwrap();
    assert_eq!(email.column, "email");
    assert_eq!(email.rule, "email");
    assert_eq!(
        err.field("country").unwrap().rule,
        "length(min = 2, max = 2)"
    );
    assert_eq!(
        err.field("age").unwrap().message,
        "must be between 0 and 150"
    );
    assert_eq!(err.model(), "User");
}

#[test]
fn absent_optionals_skip_their_rules() {
    assert!(
        User {
            age: None,
            ..user()
        }
        .validate()
        .is_ok()
    );
}

#[test]
fn slices_report_every_row() {
    let mut users = vec![user(); 1000];
    users[10].email = "x".into();
    users[999].country = "X".into();
    let err = validate(&users).unwrap_err();
    let rows: Vec<_> = err.errors().iter().map(|e| e.row).collect();
    assert_eq!(rows, [Some(10), Some(999)]);
    let as_error = Error::from(err);
    assert!(
        as_error.to_string().contains("row 10: email (email)"),
        "{as_error}"
    );
}

#[derive(lakeorm::Lake, Debug, Clone)]
struct Shipment {
    #[lake(pk, validate = "custom(uk_postcode)")]
    postcode: String,
    #[lake(validate = "custom(uk_postcode)")]
    return_postcode: Option<String>,
    #[lake(validate = "regex(^[A-Z]{3}-\\d+$)")]
    reference: String,
    #[lake(validate = "uuid", validate = "non_empty")]
    tracking: String,
}

#[test]
fn custom_regex_and_uuid_rules() {
    register_validator("uk_postcode", |v: &String| {
        if v.len() >= 5 && v.contains(' ') {
            Ok(())
        } else {
            Err(format!("`{v}` is not a UK postcode"))
        }
    });
    let ok = Shipment {
        postcode: "SW1A 1AA".into(),
        return_postcode: None,
        reference: "ABC-42".into(),
        tracking: uuid::Uuid::nil().to_string(),
    };
    assert!(ok.validate().is_ok());
    let bad = Shipment {
        postcode: "nope".into(),
        return_postcode: Some("x".into()),
        reference: "abc".into(),
        tracking: String::new(),
    };
    let err = bad.validate().unwrap_err();
    let rules: Vec<_> = err
        .errors()
        .iter()
        .map(|e| (e.field, e.rule.as_ref()))
        .collect();
    assert_eq!(
        rules,
        [
            ("postcode", "custom(uk_postcode)"),
            ("return_postcode", "custom(uk_postcode)"),
            ("reference", "regex(^[A-Z]{3}-\\d+$)"),
            ("tracking", "uuid"),
            ("tracking", "non_empty"),
        ]
    );
    assert_eq!(err.errors()[0].message, "`nope` is not a UK postcode");
}
