//! Strict JSON ingest: `from_json::<T>(bytes)`.
//!
//! Keys are the model's column names (so `#[lake(column = "…")]` is honoured), unknown keys,
//! values of the wrong kind and trailing data are rejected with the field named, and the record
//! is validated before it is returned. Nothing is coerced: `"42"` is not a number.

use serde::Deserialize;
use serde_json::Value;

use crate::Result;
use crate::convert::{JsonError, json_expected};
use crate::lake::Lake;

/// The largest document [`from_json`] and [`from_json_array`] read: 256 MiB. A larger one is
/// an error naming its size before any of it is parsed (a document is held in memory
/// several times over while it is decoded); read large inputs as several arrays.
pub const MAX_JSON_BYTES: usize = 256 << 20;

/// Parses one JSON document and nothing after it.
fn parse_document(bytes: &[u8], model: &'static str) -> Result<Value> {
    if bytes.len() > MAX_JSON_BYTES {
        return Err(JsonError::new(format!(
            "the document is {} bytes, over the {} MiB from_json reads; split it into several arrays of records",
            bytes.len(),
            MAX_JSON_BYTES >> 20
        ))
        .for_model(model)
        .into());
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Value::deserialize(&mut deserializer)
        .map_err(|e| JsonError::new(e.to_string()).for_model(model))?;
    deserializer.end().map_err(|e| {
        JsonError::new(format!("trailing data after the document: {e}")).for_model(model)
    })?;
    Ok(value)
}

/// Decodes one JSON object into `T` strictly, then validates it.
///
/// Keys are column names. An unknown key, a value of the wrong kind, a missing non-`Option`
/// field or anything after the document is an error naming the field; a record that decodes
/// but breaks a rule is a [`ValidationError`](crate::ValidationError).
pub fn from_json<T: Lake>(bytes: &[u8]) -> Result<T> {
    let model = T::schema().type_name();
    let value = parse_document(bytes, model)?;
    let record = T::from_json(&value).map_err(|e| e.for_model(model))?;
    record.validate()?;
    Ok(record)
}

/// Decodes a JSON array of objects into `Vec<T>` strictly, then validates every record
/// (reporting the failures of all of them).
pub fn from_json_array<T: Lake>(bytes: &[u8]) -> Result<Vec<T>> {
    let model = T::schema().type_name();
    let value = parse_document(bytes, model)?;
    let items = value
        .as_array()
        .ok_or_else(|| json_expected("an array", &value).for_model(model))?;
    let records = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            T::from_json(item).map_err(|e| e.in_field(&format!("[{i}]")).for_model(model))
        })
        .collect::<std::result::Result<Vec<T>, JsonError>>()?;
    crate::lake::validate(&records)?;
    Ok(records)
}

/// Checks a JSON object against the known keys of a struct and returns it (a helper for
/// generated code).
pub fn object<'a>(
    value: &'a Value,
    known: &[&str],
) -> std::result::Result<&'a serde_json::Map<String, Value>, JsonError> {
    let object = value
        .as_object()
        .ok_or_else(|| json_expected("an object", value))?;
    if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(JsonError::new(format!(
            "unknown field; expected one of: {}",
            known.join(", ")
        ))
        .in_field(unknown));
    }
    Ok(object)
}

/// Reads the field `key` of an object through a codec (a helper for generated code): absent keys
/// read as `null`, so only `Option` fields may be omitted.
pub fn read_field<C: crate::codec::FieldCodec<T>, T>(
    object: &serde_json::Map<String, Value>,
    key: &str,
) -> std::result::Result<T, JsonError> {
    match object.get(key) {
        Some(value) => C::from_json(value).map_err(|e| e.in_field(key)),
        None => {
            C::from_json(&Value::Null).map_err(|_| JsonError::new("missing field").in_field(key))
        }
    }
}
