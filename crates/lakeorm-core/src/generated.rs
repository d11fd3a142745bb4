//! Generated columns: how a Delta table partitions by a transform.
//!
//! Delta partitions by column values only. The protocol's way to partition by a function of a
//! column is a *generated column* (writer feature `generatedColumns`): a column declared
//! `GENERATED ALWAYS AS (expr)` that every writer computes from the row and checks, and that the
//! table is partitioned by. lakeorm gives each transform of `#[lake(partition = "…")]` one such
//! column, `<column>_<transform>`, whose expression is Spark SQL that evaluates the same on every
//! engine that writes Delta: Spark and Databricks, Sail, and delta-rs (through DataFusion, which
//! is how the embedded engine writes them).
//!
//! | transform | generated column | expression |
//! |---|---|---|
//! | `year` | `<c>_year INT` | `EXTRACT(YEAR FROM c)` |
//! | `month` | `<c>_month DATE` (first day of the month) | `CAST(DATE_TRUNC('MONTH', c) AS DATE)` |
//! | `day` | `<c>_day DATE` | `CAST(c AS DATE)` |
//! | `hour` | `<c>_hour TIMESTAMP` (the hour, minutes cut) | `DATE_TRUNC('HOUR', c)` |
//! | `truncate(W)`, text | `<c>_trunc STRING` (the first W characters) | `SUBSTRING(c, 1, W)` |
//! | `truncate(W)`, integers | `<c>_trunc`, the column's type | `c - (((c % W) + W) % W)` (Iceberg's truncate) |
//! | `bucket(N)` | `<c>_bucket INT` | the first 16 bits of the MD5 of the value's text, modulo N |
//!
//! Timestamps are evaluated in UTC (a Spark session must run with `spark.sql.session.timeZone`
//! `UTC`, which lakeorm's Spark driver sets). Bucketing hashes the value's text rather than its
//! bytes because no hash function is shared by Spark SQL and DataFusion (Spark's `hash` is its own
//! Murmur3; DataFusion has none of Spark's); `MD5` of the text and `INSTR` over its hex digits are
//! available, and the same, on every engine. Bucketing therefore takes text and integer columns
//! only, whose text is the same everywhere; truncation takes text and integers; `hour` takes
//! `DateTime<Utc>`. Anything else is refused with [`generated_column`]'s error, which names the
//! Iceberg dialect, whose transforms are native.

use crate::migration::TableState;
use crate::quote::quote_ident;
use crate::schema::{LakeType, Partition};

/// A column that the table computes from another column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedColumn {
    /// The generated column's name (`<source>_<transform>`).
    pub name: String,
    /// Its type.
    pub ty: LakeType,
    /// The generation expression, in Spark SQL over the table's columns.
    pub expression: String,
    /// The column it is computed from.
    pub source: String,
    /// The transform it applies.
    pub transform: Partition,
}

impl GeneratedColumn {
    /// Whether `a <= b` implies `f(a) <= f(b)`, so that a range on the source column bounds the
    /// generated column (every transform but `bucket`).
    pub fn is_monotonic(&self) -> bool {
        !matches!(self.transform, Partition::Bucket(_) | Partition::Identity)
    }
}

/// The suffix of the generated column of `transform`.
fn suffix(transform: Partition) -> Option<&'static str> {
    Some(match transform {
        Partition::Identity => return None,
        Partition::Bucket(_) => "bucket",
        Partition::Truncate(_) => "trunc",
        Partition::Year => "year",
        Partition::Month => "month",
        Partition::Day => "day",
        Partition::Hour => "hour",
    })
}

/// The name of the generated column that partitions `source` by `transform` (`None` for
/// identity, which partitions by `source` itself).
pub fn generated_name(source: &str, transform: Partition) -> Option<String> {
    suffix(transform).map(|suffix| format!("{source}_{suffix}"))
}

/// The hex digit at `position` (1-based) of the MD5 of `text`, as a number.
fn md5_digit(text: &str, position: u8) -> String {
    format!("(INSTR('0123456789abcdef', SUBSTRING(MD5({text}), {position}, 1)) - 1)")
}

/// The generated column that partitions a column `source` of type `ty` by `transform`: `None`
/// for identity, which needs none, and an error saying what to use instead when Delta cannot
/// express the transform on that type interoperably.
pub fn generated_column(
    source: &str,
    ty: &LakeType,
    transform: Partition,
) -> Result<Option<GeneratedColumn>, String> {
    let Some(name) = generated_name(source, transform) else {
        return Ok(None);
    };
    // Spark SQL whatever the dialect: the expression is stored in the table for every writer.
    let c = quote_ident(source);
    let integer = matches!(
        ty,
        LakeType::Int8 | LakeType::Int16 | LakeType::Int32 | LakeType::Int64
    );
    let text = matches!(ty, LakeType::String | LakeType::Uuid);
    let temporal = matches!(
        ty,
        LakeType::Date | LakeType::Timestamp | LakeType::TimestampNtz
    );
    let (gen_ty, expression) = match transform {
        Partition::Identity => return Ok(None),
        Partition::Year if temporal => (LakeType::Int32, format!("EXTRACT(YEAR FROM {c})")),
        Partition::Month if temporal => (
            LakeType::Date,
            format!("CAST(DATE_TRUNC('MONTH', {c}) AS DATE)"),
        ),
        Partition::Day if temporal => (LakeType::Date, format!("CAST({c} AS DATE)")),
        Partition::Hour if *ty == LakeType::Timestamp => {
            (LakeType::Timestamp, format!("DATE_TRUNC('HOUR', {c})"))
        }
        Partition::Truncate(width) if text => {
            (LakeType::String, format!("SUBSTRING({c}, 1, {width})"))
        }
        Partition::Truncate(width) if integer => {
            let expression = format!("{c} - ((({c} % {width}) + {width}) % {width})");
            // Spark widens TINYINT/SMALLINT arithmetic to INT; the column keeps the source type.
            let expression = match ty {
                LakeType::Int8 => format!("CAST({expression} AS TINYINT)"),
                LakeType::Int16 => format!("CAST({expression} AS SMALLINT)"),
                _ => expression,
            };
            (ty.clone(), expression)
        }
        Partition::Bucket(buckets) if text || integer => {
            let value = if text {
                c
            } else {
                format!("CAST({c} AS STRING)")
            };
            let digits: Vec<String> = (1..=4).map(|i| md5_digit(&value, i)).collect();
            (
                LakeType::Int32,
                format!(
                    "({} * 4096 + {} * 256 + {} * 16 + {}) % {buckets}",
                    digits[0], digits[1], digits[2], digits[3]
                ),
            )
        }
        other => {
            let takes = match other {
                Partition::Bucket(_) | Partition::Truncate(_) => "text and integer columns",
                Partition::Hour => "DateTime<Utc> columns",
                _ => "date and timestamp columns",
            };
            return Err(format!(
                "Delta tables partition by `{other}` on {takes} only, and `{source}` is {ty}; \
                 partition by identity on a column you derive, or use the Iceberg dialect, whose \
                 transforms take every type"
            ));
        }
    };
    Ok(Some(GeneratedColumn {
        name,
        ty: gen_ty,
        expression,
        source: source.to_owned(),
        transform,
    }))
}

/// The generated partition columns of a Delta table in `state`, in column order; an error names
/// the first transform Delta cannot express, or a generated name that a column already has.
pub fn generated_columns(state: &TableState) -> Result<Vec<GeneratedColumn>, String> {
    let mut generated = Vec::new();
    for column in &state.columns {
        let Some(transform) = column.partition else {
            continue;
        };
        if let Some(g) = generated_column(&column.name, &column.ty, transform)? {
            if state.column(&g.name).is_some() {
                return Err(format!(
                    "`{}` is partitioned by `{transform}`, which Delta stores in a generated \
                     column named `{}`, but the table already has a column of that name; rename it",
                    column.name, g.name
                ));
            }
            generated.push(g);
        }
    }
    Ok(generated)
}

/// Recognises a generated column that lakeorm declared: `name` and `expression` as a Delta
/// table's schema holds them, with `source_type` looking up the type of a table column. `None`
/// for any other generated column (which engines still compute, but lakeorm does not prune by).
pub fn recognize(
    name: &str,
    expression: &str,
    source_type: impl Fn(&str) -> Option<LakeType>,
) -> Option<GeneratedColumn> {
    let (source, suffix) = name.rsplit_once('_')?;
    let ty = source_type(source)?;
    // The widths and bucket counts that the expression mentions; exactly one of them is ours.
    let numbers = || {
        expression
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse::<u32>().ok())
    };
    let candidates: Vec<Partition> = match suffix {
        "year" => vec![Partition::Year],
        "month" => vec![Partition::Month],
        "day" => vec![Partition::Day],
        "hour" => vec![Partition::Hour],
        "trunc" => numbers().map(Partition::Truncate).collect(),
        "bucket" => numbers().map(Partition::Bucket).collect(),
        _ => return None,
    };
    candidates.into_iter().find_map(|transform| {
        generated_column(source, &ty, transform)
            .ok()
            .flatten()
            .filter(|g| g.name == name && g.expression == expression)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::ColumnState;

    #[test]
    fn each_transform_has_one_spark_sql_expression() {
        let g = |ty: LakeType, t| generated_column("c", &ty, t).unwrap().unwrap();
        assert_eq!(
            g(LakeType::Timestamp, Partition::Day).expression,
            "CAST(`c` AS DATE)"
        );
        assert_eq!(g(LakeType::Date, Partition::Year).ty, LakeType::Int32);
        assert_eq!(
            g(LakeType::String, Partition::Truncate(3)).expression,
            "SUBSTRING(`c`, 1, 3)"
        );
        assert_eq!(
            g(LakeType::Int16, Partition::Truncate(10)).expression,
            "CAST(`c` - (((`c` % 10) + 10) % 10) AS SMALLINT)"
        );
        let bucket = g(LakeType::Int64, Partition::Bucket(16));
        assert_eq!(bucket.name, "c_bucket");
        assert!(bucket.expression.contains("MD5(CAST(`c` AS STRING))"));
        assert!(bucket.expression.ends_with("% 16"));
        assert!(!bucket.is_monotonic());
        assert!(g(LakeType::Timestamp, Partition::Hour).is_monotonic());
        assert_eq!(
            generated_column("c", &LakeType::String, Partition::Identity),
            Ok(None)
        );
    }

    #[test]
    fn transforms_delta_cannot_express_name_the_alternative() {
        for (ty, t) in [
            (LakeType::Timestamp, Partition::Bucket(4)),
            (LakeType::Binary, Partition::Truncate(4)),
            (LakeType::TimestampNtz, Partition::Hour),
            (LakeType::String, Partition::Day),
        ] {
            let error = generated_column("c", &ty, t).unwrap_err();
            assert!(error.contains("Iceberg dialect"), "{error}");
        }
    }

    #[test]
    fn a_column_named_like_the_generated_one_is_refused() {
        let mut day = ColumnState::new("at", LakeType::Timestamp, false);
        day.partition = Some(Partition::Day);
        let state = TableState::new(
            "t",
            vec![day, ColumnState::new("at_day", LakeType::Date, false)],
        );
        assert!(generated_columns(&state).unwrap_err().contains("rename it"));
    }

    #[test]
    fn recognizes_its_own_columns_only() {
        let types = |c: &str| match c {
            "email" => Some(LakeType::String),
            "at" => Some(LakeType::Timestamp),
            _ => None,
        };
        for (source, ty, t) in [
            ("email", LakeType::String, Partition::Bucket(16)),
            ("email", LakeType::String, Partition::Truncate(1)),
            ("at", LakeType::Timestamp, Partition::Month),
        ] {
            let g = generated_column(source, &ty, t).unwrap().unwrap();
            assert_eq!(recognize(&g.name, &g.expression, types), Some(g));
        }
        assert_eq!(recognize("at_day", "CAST(`at` AS TIMESTAMP)", types), None);
        assert_eq!(recognize("other_day", "CAST(`other` AS DATE)", types), None);
    }
}
