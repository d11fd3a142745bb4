//! Named parameter markers (`:name`) bound by their declared types.
//!
//! The Statement Execution API sends each parameter as a name, a string value (absent for
//! NULL) and a type, and the value is the string cast to that type. Here every marker becomes a
//! positional placeholder `?` (lakeorm's, which the engine binds) wrapped in
//! `arrow_cast(?, '<type>')`, one value per occurrence, and the value
//! is parsed in Rust into a lakeorm [`Param`]: values are bound, never spliced into the text.
//! Markers are found on sqlparser's tokens, so a `:name` inside a string literal, a backquoted
//! identifier or a comment is left alone, and the rest of the text is kept byte for byte. A
//! marker right after `OF` (`VERSION AS OF :v`) stays a bare `?`, which the engine's time
//! travel reads as a value.

use std::collections::HashMap;

use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use lakeorm_core::Param;
use sqlparser::dialect::DatabricksDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::errors::SqlError;

/// One entry of a request's `parameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parameter {
    pub(crate) name: String,
    /// The value as text; `None` is NULL.
    pub(crate) value: Option<String>,
    /// The declared type (`STRING` when the request gave none).
    pub(crate) ty: String,
}

/// The tokens of `sql` with the byte offset each starts at.
pub(crate) fn tokens(sql: &str) -> Result<Vec<(usize, Token)>, SqlError> {
    let dialect = DatabricksDialect {};
    let tokens: Vec<TokenWithSpan> = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| SqlError::syntax(format!("{e}")))?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    Ok(tokens
        .into_iter()
        .map(|t| {
            let line = usize::try_from(t.span.start.line)
                .unwrap_or(1)
                .saturating_sub(1);
            let start = line_starts.get(line).copied().unwrap_or(0);
            let column = usize::try_from(t.span.start.column)
                .unwrap_or(1)
                .saturating_sub(1);
            let offset = sql[start..]
                .char_indices()
                .nth(column)
                .map_or(sql.len(), |(i, _)| start + i);
            (offset, t.token)
        })
        .collect())
}

pub(crate) fn is_space(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

/// `sql` with its markers bound, and the values in the order of the `?`s.
pub(crate) fn bind(sql: &str, parameters: &[Parameter]) -> Result<(String, Vec<Param>), SqlError> {
    let mut by_name: HashMap<&str, &Parameter> = HashMap::new();
    for p in parameters {
        if by_name.insert(p.name.as_str(), p).is_some() {
            return Err(SqlError::class(
                "DUPLICATE_KEY",
                "23505",
                format!("The parameter `{}` is given more than once.", p.name),
            ));
        }
    }
    let tokens = tokens(sql)?;
    let mut out = String::with_capacity(sql.len());
    let mut values: Vec<Param> = Vec::new();
    let mut copied = 0usize;
    let mut previous_word: Option<String> = None;
    let mut i = 0usize;
    while i < tokens.len() {
        let (offset, token) = &tokens[i];
        let adjacent_name = match (token, tokens.get(i + 1)) {
            (Token::Colon, Some((_, Token::Word(w)))) if w.quote_style.is_none() => {
                Some(w.value.clone())
            }
            _ => None,
        };
        // `a:b` with no space before the colon is a path into a JSON or VARIANT value.
        let starts_marker = i == 0
            || !matches!(
                tokens[i - 1].1,
                Token::Word(_) | Token::RParen | Token::RBracket | Token::Number(..)
            );
        if let (Some(name), true) = (adjacent_name, starts_marker) {
            let parameter = by_name
                .get(name.as_str())
                .copied()
                .or_else(|| parameters.iter().find(|p| p.name.eq_ignore_ascii_case(&name)))
                .ok_or_else(|| {
                    SqlError::class(
                        "UNBOUND_SQL_PARAMETER",
                        "42P02",
                        format!("Found the unbound parameter: {name}. Provide a value for it in `parameters`."),
                    )
                })?;
            let (value, ty) = convert(parameter)?;
            values.push(value);
            out.push_str(&sql[copied..*offset]);
            let after_of = previous_word
                .as_deref()
                .is_some_and(|w| w.eq_ignore_ascii_case("of"));
            if after_of {
                out.push('?');
            } else {
                out.push_str(&format!("arrow_cast(?, '{ty}')"));
            }
            copied = tokens.get(i + 2).map_or(sql.len(), |(o, _)| *o);
            previous_word = None;
            i += 2;
            continue;
        }
        match token {
            Token::Word(w) => previous_word = Some(w.value.clone()),
            Token::Whitespace(_) => {}
            _ => previous_word = None,
        }
        i += 1;
    }
    out.push_str(&sql[copied..]);
    Ok((out, values))
}

/// `?` placeholders numbered `$1`, `$2`, … in order (for statements this module parses and
/// whose parts it plans itself).
pub(crate) fn number(sql: &str) -> Result<String, SqlError> {
    let tokens = tokens(sql)?;
    let mut out = String::with_capacity(sql.len() + 16);
    let mut copied = 0;
    let mut n = 0;
    for (offset, token) in &tokens {
        if matches!(token, Token::Placeholder(p) if p == "?") {
            n += 1;
            out.push_str(&sql[copied..*offset]);
            out.push_str(&format!("${n}"));
            copied = offset + 1;
        }
    }
    out.push_str(&sql[copied..]);
    Ok(out)
}

/// The inverse of [`number`] on a part of the statement: its `$n` back to `?`, with the values
/// they stand for in order.
pub(crate) fn positional(sql: &str, values: &[Param]) -> Result<(String, Vec<Param>), SqlError> {
    let tokens = tokens(sql)?;
    let mut out = String::with_capacity(sql.len());
    let mut used = Vec::new();
    let mut copied = 0;
    for (i, (offset, token)) in tokens.iter().enumerate() {
        if let Token::Placeholder(p) = token
            && let Some(value) = p
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1))
                .and_then(|n| values.get(n))
        {
            used.push(value.clone());
            out.push_str(&sql[copied..*offset]);
            out.push('?');
            copied = tokens.get(i + 1).map_or(sql.len(), |(o, _)| *o);
        }
    }
    out.push_str(&sql[copied..]);
    Ok((out, used))
}

/// The statement's first keyword, upper-cased (comments and parentheses skipped).
pub(crate) fn first_keywords(sql: &str, n: usize) -> Vec<String> {
    let Ok(tokens) = tokens(sql) else {
        return Vec::new();
    };
    tokens
        .iter()
        .filter(|(_, t)| !is_space(t) && !matches!(t, Token::LParen))
        .take(n)
        .map(|(_, t)| match t {
            Token::Word(w) => w.value.to_ascii_uppercase(),
            other => other.to_string(),
        })
        .collect()
}

/// Refuses more than one statement in a text; returns it without a trailing `;`.
pub(crate) fn single_statement(sql: &str) -> Result<&str, SqlError> {
    let tokens = tokens(sql)?;
    let mut end = sql.len();
    let mut seen_semicolon = false;
    for (offset, token) in &tokens {
        match token {
            Token::SemiColon if !seen_semicolon => {
                seen_semicolon = true;
                end = *offset;
            }
            Token::SemiColon
            | Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab) => {}
            Token::Whitespace(_) | Token::EOF => {}
            _ if seen_semicolon => {
                return Err(SqlError::syntax(
                    "Syntax error at or near `;`: the Statement Execution API runs one statement per request.",
                ));
            }
            _ => {}
        }
    }
    Ok(&sql[..end])
}

/// A parameter's declared type as an Arrow type.
fn declared_type(text: &str) -> Result<DataType, SqlError> {
    let upper = text.trim().to_ascii_uppercase();
    let (base, args) = match upper.split_once('(') {
        Some((base, rest)) => (
            base.trim().to_owned(),
            Some(rest.trim_end_matches(')').to_owned()),
        ),
        None => (upper.clone(), None),
    };
    let numbers: Vec<u8> = args
        .as_deref()
        .map(|a| a.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    Ok(match base.as_str() {
        "STRING" | "VARCHAR" | "CHAR" => DataType::Utf8,
        "INT" | "INTEGER" => DataType::Int32,
        "BIGINT" | "LONG" => DataType::Int64,
        "SMALLINT" | "SHORT" => DataType::Int16,
        "TINYINT" | "BYTE" => DataType::Int8,
        "DOUBLE" => DataType::Float64,
        "FLOAT" | "REAL" => DataType::Float32,
        "BOOLEAN" => DataType::Boolean,
        "DATE" => DataType::Date32,
        "TIMESTAMP" | "TIMESTAMP_LTZ" => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        "TIMESTAMP_NTZ" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "BINARY" => DataType::Binary,
        "DECIMAL" | "DEC" | "NUMERIC" => {
            let precision = numbers.first().copied().unwrap_or(10);
            let scale = numbers.get(1).copied().unwrap_or(0);
            if !(1..=38).contains(&precision) || scale > precision {
                return Err(SqlError::class(
                    "DECIMAL_PRECISION_EXCEEDS_MAX_PRECISION",
                    "22003",
                    format!("The parameter type {text} is not a valid decimal type."),
                ));
            }
            DataType::Decimal128(precision, i8::try_from(scale).unwrap_or(0))
        }
        _ => {
            return Err(SqlError::class(
                "UNSUPPORTED_DATATYPE",
                "0A000",
                format!("Unsupported data type \"{text}\" for a parameter."),
            ));
        }
    })
}

/// The value of `parameter` and the type it is cast to.
pub(crate) fn convert(parameter: &Parameter) -> Result<(Param, DataType), SqlError> {
    let ty = declared_type(&parameter.ty)?;
    let Some(text) = parameter.value.as_deref() else {
        return Ok((Param::Null, ty));
    };
    let invalid = || {
        SqlError::class(
            "CAST_INVALID_INPUT",
            "22018",
            format!(
                "The value '{text}' of the type \"STRING\" cannot be cast to \"{}\" because it is malformed (parameter `{}`).",
                parameter.ty.to_ascii_uppercase(),
                parameter.name
            ),
        )
    };
    let trimmed = text.trim();
    let integer = |min: i64, max: i64| {
        trimmed
            .parse::<i64>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .map(Param::Int)
            .ok_or_else(invalid)
    };
    let value = match &ty {
        DataType::Utf8 => Param::String(text.to_owned()),
        DataType::Int8 => integer(i8::MIN.into(), i8::MAX.into())?,
        DataType::Int16 => integer(i16::MIN.into(), i16::MAX.into())?,
        DataType::Int32 => integer(i32::MIN.into(), i32::MAX.into())?,
        DataType::Int64 => integer(i64::MIN, i64::MAX)?,
        DataType::Float32 | DataType::Float64 => Param::Float(match trimmed {
            "NaN" => f64::NAN,
            "Infinity" | "+Infinity" | "inf" => f64::INFINITY,
            "-Infinity" | "-inf" => f64::NEG_INFINITY,
            other => other.parse::<f64>().map_err(|_| invalid())?,
        }),
        DataType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" => Param::Bool(true),
            "false" | "f" | "no" | "n" | "0" => Param::Bool(false),
            _ => return Err(invalid()),
        },
        DataType::Date32 => {
            Param::Date(NaiveDate::parse_from_str(trimmed, "%Y-%m-%d").map_err(|_| invalid())?)
        }
        DataType::Timestamp(_, Some(_)) => Param::Timestamp(instant(trimmed).ok_or_else(invalid)?),
        DataType::Timestamp(_, None) => {
            Param::TimestampNtz(wall_clock(trimmed).ok_or_else(invalid)?)
        }
        DataType::Binary => Param::Bytes(text.as_bytes().to_vec()),
        DataType::Decimal128(..) => {
            let digits = trimmed.trim_start_matches(['+', '-']);
            let valid = !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
                && digits.matches('.').count() <= 1
                && digits != ".";
            if !valid {
                return Err(invalid());
            }
            // Cast from text by the engine to the declared precision and scale.
            Param::String(trimmed.to_owned())
        }
        _ => return Err(invalid()),
    };
    Ok((value, ty))
}

/// A wall-clock date-time as Spark's casts read one.
fn wall_clock(text: &str) -> Option<NaiveDateTime> {
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// An instant: with an offset or `Z`, or a wall-clock time read in the session time zone (UTC).
fn instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    wall_clock(text.trim_end_matches('Z')).map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: Option<&str>, ty: &str) -> Parameter {
        Parameter {
            name: name.into(),
            value: value.map(str::to_owned),
            ty: ty.into(),
        }
    }

    #[test]
    fn markers_outside_literals_are_bound() {
        let (sql, values) = bind(
            "SELECT ':a', `:a`, :a, :b -- :a\nFROM t VERSION AS OF :v WHERE x = :a",
            &[
                p("a", Some("1"), "INT"),
                p("b", None, "STRING"),
                p("v", Some("3"), "BIGINT"),
            ],
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT ':a', `:a`, arrow_cast(?, 'Int32'), arrow_cast(?, 'Utf8') -- :a\nFROM t VERSION AS OF ? WHERE x = arrow_cast(?, 'Int32')"
        );
        assert_eq!(
            values,
            vec![Param::Int(1), Param::Null, Param::Int(3), Param::Int(1)]
        );
        let numbered = number(&sql).unwrap();
        assert!(
            numbered.ends_with("VERSION AS OF $3 WHERE x = arrow_cast($4, 'Int32')"),
            "{numbered}"
        );
        let (back, used) = positional("SELECT $4, '$1', $2", &values).unwrap();
        assert_eq!(back, "SELECT ?, '$1', ?");
        assert_eq!(used, vec![Param::Int(1), Param::Null]);
    }

    #[test]
    fn json_paths_and_casts_are_not_markers() {
        let (sql, values) = bind("SELECT v:field, x::int FROM t", &[]).unwrap();
        assert_eq!(sql, "SELECT v:field, x::int FROM t");
        assert!(values.is_empty());
    }

    #[test]
    fn unbound_and_malformed_values_fail() {
        let e = bind("SELECT :nope", &[]).unwrap_err();
        assert!(e.message.starts_with("[UNBOUND_SQL_PARAMETER]"), "{e}");
        let e = bind("SELECT :a", &[p("a", Some("x"), "INT")]).unwrap_err();
        assert!(e.message.starts_with("[CAST_INVALID_INPUT]"), "{e}");
        let e = bind("SELECT :a", &[p("a", Some("300"), "TINYINT")]).unwrap_err();
        assert_eq!(e.sql_state.as_deref(), Some("22018"));
    }

    #[test]
    fn one_statement_per_request() {
        assert_eq!(single_statement("SELECT 1;  ").unwrap(), "SELECT 1");
        assert!(single_statement("SELECT 1; SELECT 2").is_err());
        assert_eq!(single_statement("SELECT ';'").unwrap(), "SELECT ';'");
    }
}
