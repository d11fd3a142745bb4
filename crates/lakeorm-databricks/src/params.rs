//! Bound values as the Statement Execution API's named parameters: `?` becomes `:p1`, `:p2`,
//! … and each value travels as a string with its SQL type, never spliced into the text.

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use lakeorm_core::{Error, Param, Result, Statement, placeholders};

use crate::api::Parameter;

/// The most parameters one statement may carry (the API's limit).
pub const MAX_PARAMETERS: usize = 256;

/// The name of the `n`th parameter (from 1).
pub(crate) fn name(n: usize) -> String {
    format!("p{n}")
}

/// A statement's SQL with named markers, and its parameters.
pub(crate) fn bind(statement: &Statement) -> Result<(String, Vec<Parameter>)> {
    bind_from(statement, 1)
}

/// [`bind`] with parameters numbered from `first` (after others the statement also carries).
pub(crate) fn bind_from(statement: &Statement, first: usize) -> Result<(String, Vec<Parameter>)> {
    if statement.params.len() > MAX_PARAMETERS {
        return Err(Error::sql(format!(
            "a statement on a Databricks SQL warehouse takes at most {MAX_PARAMETERS} parameters; this one binds {}",
            statement.params.len()
        )));
    }
    let params = &statement.params;
    // Binary values travel as hex text and are turned back into bytes by the SQL.
    let sql = placeholders::rewrite_statement(statement, |n| match params.get(n - 1) {
        Some(Param::Bytes(_)) => format!("unhex(:{})", name(n + first - 1)),
        _ => format!(":{}", name(n + first - 1)),
    })?;
    let parameters = params
        .iter()
        .enumerate()
        .map(|(i, p)| parameter(i + first, p))
        .collect::<Result<Vec<_>>>()?;
    Ok((sql, parameters))
}

fn parameter(n: usize, param: &Param) -> Result<Parameter> {
    let (value, ty): (Option<String>, String) = match param {
        // An untyped NULL: STRING converts to any column type.
        Param::Null => (None, "STRING".into()),
        Param::Bool(v) => (Some(v.to_string()), "BOOLEAN".into()),
        Param::Int(v) => (Some(v.to_string()), "BIGINT".into()),
        Param::Float(v) => (Some(float_text(*v)), "DOUBLE".into()),
        Param::String(v) => (Some(v.clone()), "STRING".into()),
        Param::Bytes(v) => (Some(hex(v)), "STRING".into()),
        Param::Date(d) => (Some(d.format("%Y-%m-%d").to_string()), "DATE".into()),
        Param::Timestamp(t) => (
            Some(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
            "TIMESTAMP".into(),
        ),
        Param::TimestampNtz(t) => (
            Some(t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
            "TIMESTAMP_NTZ".into(),
        ),
        Param::Decimal(d) => {
            let digits = d.mantissa().unsigned_abs().to_string().len() as u32;
            let precision = digits.max(d.scale()).max(1);
            (
                Some(d.to_string()),
                format!("DECIMAL({precision},{})", d.scale()),
            )
        }
        other => {
            return Err(Error::sql(format!(
                "the Databricks SQL driver cannot bind the parameter {other:?}"
            )));
        }
    };
    Ok(Parameter {
        name: name(n),
        value,
        ty,
    })
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        v.to_string()
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The SQL type a column of `ty` travels as, if its values can be parameters.
pub(crate) fn inline_type(ty: &DataType) -> Option<String> {
    Some(match ty {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => "TIMESTAMP".into(),
        DataType::Timestamp(TimeUnit::Microsecond, None) => "TIMESTAMP_NTZ".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        _ => return None,
    })
}

/// Whether every column of `batches` can travel as parameters, and how many values they
/// hold (excluding `skip`, a column sent once).
pub(crate) fn inline_cost(batches: &[RecordBatch], skip: Option<&str>) -> Option<usize> {
    let schema = batches.first()?.schema();
    let mut columns = 0;
    for field in schema.fields() {
        if Some(field.name().as_str()) == skip {
            continue;
        }
        inline_type(field.data_type())?;
        columns += 1;
    }
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    Some(rows * columns)
}

/// The values of `batches` (every column but `skip`) as parameters numbered from `first`,
/// and the `VALUES` rows that reference them.
pub(crate) fn inline_values(
    batches: &[RecordBatch],
    skip: Option<&str>,
    first: usize,
) -> Result<(Vec<String>, Vec<Parameter>)> {
    let options = FormatOptions::default().with_null("");
    let mut rows = Vec::new();
    let mut parameters = Vec::new();
    let mut n = first;
    for batch in batches {
        let schema = batch.schema();
        let columns: Vec<(usize, String)> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| Some(f.name().as_str()) != skip)
            .map(|(i, f)| {
                inline_type(f.data_type()).map(|ty| (i, ty)).ok_or_else(|| {
                    Error::unsupported(
                        format!("sending column `{}` as a parameter", f.name()),
                        crate::errors::ENGINE,
                        "its type has no SQL parameter form; the write is staged instead",
                    )
                })
            })
            .collect::<Result<_>>()?;
        let formatters = columns
            .iter()
            .map(|(i, _)| ArrayFormatter::try_new(batch.column(*i).as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let mut markers = Vec::with_capacity(columns.len());
            for ((i, ty), formatter) in columns.iter().zip(&formatters) {
                let value = (!batch.column(*i).is_null(row)).then(|| {
                    let text = formatter.value(row).to_string();
                    match batch.column(*i).data_type() {
                        DataType::Float32 | DataType::Float64 => float_literal(&text),
                        _ => text,
                    }
                });
                markers.push(format!(":{}", name(n)));
                parameters.push(Parameter {
                    name: name(n),
                    value,
                    ty: ty.clone(),
                });
                n += 1;
            }
            rows.push(format!("({})", markers.join(", ")));
        }
    }
    Ok((rows, parameters))
}

/// Arrow's float text as SQL casts it (`inf` → `Infinity`).
fn float_literal(text: &str) -> String {
    match text {
        "inf" => "Infinity".into(),
        "-inf" => "-Infinity".into(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Int32Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn statements_get_named_typed_parameters() {
        let statement = Statement::new("SELECT * FROM t WHERE a = ? AND b > ? AND c = ? AND d = ?")
            .bind("O'Brien")
            .bind(Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap())
            .bind(vec![0xde_u8, 0xad])
            .bind(None::<i32>);
        let (sql, params) = bind(&statement).unwrap();
        assert_eq!(
            sql,
            "SELECT * FROM t WHERE a = :p1 AND b > :p2 AND c = unhex(:p3) AND d = :p4"
        );
        assert_eq!(params[0].value.as_deref(), Some("O'Brien"));
        assert_eq!(params[1].ty, "TIMESTAMP");
        assert_eq!(
            params[1].value.as_deref(),
            Some("2024-01-02T03:04:05.000000Z")
        );
        assert_eq!(params[2].value.as_deref(), Some("dead"));
        assert_eq!(params[3].value, None);
        let d = parameter(1, &Param::Decimal("-12.340".parse().unwrap())).unwrap();
        assert_eq!(
            (d.ty.as_str(), d.value.as_deref()),
            ("DECIMAL(5,3)", Some("-12.340"))
        );
        let day = parameter(
            1,
            &Param::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
        )
        .unwrap();
        assert_eq!(day.value.as_deref(), Some("2024-02-29"));
    }

    #[test]
    fn parameters_can_follow_others() {
        let statement = Statement::new("DELETE FROM t WHERE a = ? AND b = ?")
            .bind(1)
            .bind(2);
        let (sql, params) = bind_from(&statement, 10).unwrap();
        assert_eq!(sql, "DELETE FROM t WHERE a = :p10 AND b = :p11");
        assert_eq!(params[1].name, "p11");
    }

    #[test]
    fn too_many_parameters_are_refused_up_front() {
        let mut statement = Statement::new(vec!["?"; 257].join(", "));
        for i in 0..257 {
            statement = statement.bind(i);
        }
        let error = bind(&statement).unwrap_err().to_string();
        assert!(error.contains("at most 256"), "{error}");
    }

    #[test]
    fn batches_become_values_rows() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("_ingest_id", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(StringArray::from(vec!["x", "x"])),
            ],
        )
        .unwrap();
        assert_eq!(
            inline_cost(std::slice::from_ref(&batch), Some("_ingest_id")),
            Some(4)
        );
        let (rows, params) = inline_values(&[batch], Some("_ingest_id"), 2).unwrap();
        assert_eq!(rows, vec!["(:p2, :p3)", "(:p4, :p5)"]);
        assert_eq!(params[1].value.as_deref(), Some("a"));
        assert_eq!(params[3].value, None);
        assert_eq!(params[3].ty, "STRING");
    }
}
