//! Validation at the application boundary.
//!
//! The derive turns `#[lake(validate = "…")]` into code that checks every rule of every field and
//! reports **all** failures at once; [`validate`](crate::validate()) does the same for a slice of records. Rules are
//! the `validator` crate's (email, url, length, range, regex) plus `uuid`, `non_empty` and
//! custom rules registered at runtime with [`register_validator`].

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, RwLock};

/// One failed rule on one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The Rust field name.
    pub field: &'static str,
    /// The column name.
    pub column: &'static str,
    /// The rule as declared, e.g. `length(max = 64)` or `custom(uk_postcode)`.
    pub rule: Cow<'static, str>,
    /// A human-readable explanation.
    pub message: String,
    /// The record's index, when a slice was validated.
    pub row: Option<usize>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(row) = self.row {
            write!(f, "row {row}: ")?;
        }
        write!(f, "{} ({}): {}", self.field, self.rule, self.message)
    }
}

/// Every rule that failed, for one record or a slice of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    model: &'static str,
    errors: Vec<FieldError>,
}

impl ValidationError {
    /// Collects the failures of one record of `model`.
    pub fn new(model: &'static str, errors: Vec<FieldError>) -> Self {
        ValidationError { model, errors }
    }

    /// The Rust type name of the model.
    pub fn model(&self) -> &'static str {
        self.model
    }

    /// All failures, in field order (and record order for slices).
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// All failures, owned.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// The first failure of the Rust field `field`.
    pub fn field(&self, field: &str) -> Option<&FieldError> {
        self.errors.iter().find(|e| e.field == field)
    }

    /// Turns the collected failures into a result.
    pub fn into_result(self) -> Result<(), ValidationError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 10;
        write!(
            f,
            "lakeorm: {} validation failure(s) in `{}`: ",
            self.errors.len(),
            self.model
        )?;
        for (i, e) in self.errors.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        if self.errors.len() > SHOWN {
            write!(f, "; and {} more", self.errors.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// A registered rule; `None` when the value is not of the type the rule was registered for.
type CustomFn = Arc<dyn Fn(&dyn Any) -> Option<Result<(), String>> + Send + Sync>;

struct Registered {
    type_name: &'static str,
    check: CustomFn,
}

static REGISTRY: LazyLock<RwLock<HashMap<String, Registered>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Registers the rule used by `#[lake(validate = "custom(NAME)")]`.
///
/// The function receives the field's value (the inner value for `Option` fields, which are
/// skipped when `None`) and returns `Err(message)` to reject it. Registering a name again
/// replaces the rule.
///
/// ```
/// lakeorm_core::register_validator("uk_postcode", |v: &String| {
///     if v.len() >= 5 { Ok(()) } else { Err("too short for a UK postcode".into()) }
/// });
/// ```
pub fn register_validator<T, F>(name: &str, check: F)
where
    T: Any,
    F: Fn(&T) -> Result<(), String> + Send + Sync + 'static,
{
    let check: CustomFn = Arc::new(move |value: &dyn Any| value.downcast_ref::<T>().map(&check));
    let entry = Registered {
        type_name: std::any::type_name::<T>(),
        check,
    };
    REGISTRY
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(name.to_owned(), entry);
}

/// Runs the custom rule `name` on `value` (called by generated code).
pub fn run_custom<T: Any>(name: &str, value: &T) -> Result<(), String> {
    let (check, expects) = {
        let registry = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
        match registry.get(name) {
            Some(r) => (Arc::clone(&r.check), r.type_name),
            None => {
                return Err(format!(
                    "no validator is registered under `{name}`; call lakeorm::register_validator first"
                ));
            }
        }
    };
    check(value).unwrap_or_else(|| {
        Err(format!(
            "validator `{name}` takes `{expects}`, but the field is `{}`",
            std::any::type_name::<T>()
        ))
    })
}

/// Text-like values for the `email`, `url`, `uuid` and `regex` rules; `None` (an absent
/// optional) passes.
#[diagnostic::on_unimplemented(
    message = "this validation rule checks text, but the field is `{Self}`",
    label = "not a text field",
    note = "email, url, uuid and regex(…) apply to String, Cow<str> or an Option of them"
)]
pub trait ValidateText {
    /// The text to check, if present.
    fn text(&self) -> Option<&str>;
}

impl ValidateText for String {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}
impl ValidateText for str {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}
impl ValidateText for Cow<'_, str> {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}
impl<T: ValidateText + ?Sized> ValidateText for &T {
    fn text(&self) -> Option<&str> {
        (**self).text()
    }
}
impl<T: ValidateText> ValidateText for Option<T> {
    fn text(&self) -> Option<&str> {
        self.as_ref().and_then(ValidateText::text)
    }
}

/// The `email` rule (HTML5 e-mail syntax, as the `validator` crate checks it).
pub fn is_email<T: ValidateText + ?Sized>(value: &T) -> bool {
    value
        .text()
        .is_none_or(|t| validator::ValidateEmail::validate_email(&t))
}

/// The `url` rule.
pub fn is_url<T: ValidateText + ?Sized>(value: &T) -> bool {
    value
        .text()
        .is_none_or(|t| validator::ValidateUrl::validate_url(&t))
}

/// The `uuid` rule.
pub fn is_uuid<T: ValidateText + ?Sized>(value: &T) -> bool {
    value
        .text()
        .is_none_or(|t| uuid::Uuid::try_parse(t).is_ok())
}

/// The `regex(…)` rule.
pub fn matches_regex<T: ValidateText + ?Sized>(value: &T, regex: &regex::Regex) -> bool {
    value.text().is_none_or(|t| regex.is_match(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_validators_are_typed() {
        register_validator("even", |v: &i64| {
            if v % 2 == 0 {
                Ok(())
            } else {
                Err(format!("{v} is odd"))
            }
        });
        assert!(run_custom("even", &4i64).is_ok());
        assert_eq!(run_custom("even", &3i64).unwrap_err(), "3 is odd");
        assert!(
            run_custom("even", &"x".to_string())
                .unwrap_err()
                .contains("takes `i64`")
        );
        assert!(
            run_custom("nope", &1i64)
                .unwrap_err()
                .contains("no validator")
        );
    }

    #[test]
    fn text_rules_skip_absent_values() {
        assert!(is_uuid(&None::<String>));
        assert!(!is_uuid("nope"));
        let re = regex::Regex::new("^[A-Z]{2}$").unwrap();
        assert!(matches_regex(&Some("GB".to_string()), &re));
        assert!(!matches_regex("gbr", &re));
    }
}
