//! `?` parameters as Spark Connect positional arguments: typed literals, never spliced text.

use chrono::{Datelike, NaiveDate};
use lakeorm_core::{Error, Param, Result};
use proto::expression::literal::LiteralType;
use spark_connect_proto as proto;

/// The literal expression of one parameter.
pub(crate) fn literal(param: &Param) -> Result<proto::Expression> {
    let literal_type = match param {
        Param::Null => LiteralType::Null(proto::DataType {
            kind: Some(proto::data_type::Kind::Null(
                proto::data_type::Null::default(),
            )),
        }),
        Param::Bool(v) => LiteralType::Boolean(*v),
        Param::Int(v) => LiteralType::Long(*v),
        Param::Float(v) => LiteralType::Double(*v),
        Param::String(v) => LiteralType::String(v.clone()),
        Param::Bytes(v) => LiteralType::Binary(v.clone().into()),
        Param::Date(d) => LiteralType::Date(days_since_epoch(*d)),
        Param::Timestamp(t) => LiteralType::Timestamp(t.timestamp_micros()),
        Param::TimestampNtz(t) => LiteralType::TimestampNtz(t.and_utc().timestamp_micros()),
        Param::Decimal(d) => {
            let precision = decimal_precision(d);
            LiteralType::Decimal(proto::expression::literal::Decimal {
                value: d.to_string(),
                precision: Some(precision),
                scale: Some(d.scale() as i32),
            })
        }
        other => {
            return Err(Error::sql(format!(
                "the Spark Connect driver cannot bind the parameter {other:?}"
            )));
        }
    };
    Ok(proto::Expression {
        expr_type: Some(proto::expression::ExprType::Literal(
            proto::expression::Literal {
                literal_type: Some(literal_type),
                ..Default::default()
            },
        )),
        ..Default::default()
    })
}

/// The positional arguments of `params`, in order.
pub(crate) fn positional(params: &[Param]) -> Result<Vec<proto::Expression>> {
    params.iter().map(literal).collect()
}

/// The number of significant digits of `d` (at least its scale, at least one).
fn decimal_precision(d: &rust_decimal::Decimal) -> i32 {
    let digits = d.mantissa().unsigned_abs().to_string().len() as i32;
    digits.max(d.scale() as i32).max(1)
}

/// Days from 1970-01-01 to `d` (negative before it), as Spark's DATE literal counts.
fn days_since_epoch(d: NaiveDate) -> i32 {
    // 719_163 is the day number of 1970-01-01 counted from 0001-01-01 as day 1.
    d.num_days_from_ce() - 719_163
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn kind(param: Param) -> LiteralType {
        match literal(&param).unwrap().expr_type {
            Some(proto::expression::ExprType::Literal(l)) => l.literal_type.unwrap(),
            other => panic!("not a literal: {other:?}"),
        }
    }

    #[test]
    fn values_become_typed_literals() {
        assert_eq!(kind(Param::Int(7)), LiteralType::Long(7));
        assert_eq!(
            kind(Param::String("O'Brien; DROP TABLE x".into())),
            LiteralType::String("O'Brien; DROP TABLE x".into())
        );
        assert_eq!(
            kind(Param::Date(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap())),
            LiteralType::Date(1)
        );
        assert_eq!(
            kind(Param::Date(NaiveDate::from_ymd_opt(1969, 12, 31).unwrap())),
            LiteralType::Date(-1)
        );
        let t = Utc.timestamp_opt(1, 500_000).unwrap();
        assert_eq!(kind(Param::Timestamp(t)), LiteralType::Timestamp(1_000_500));
        assert!(matches!(kind(Param::Null), LiteralType::Null(_)));
    }

    #[test]
    fn decimals_carry_precision_and_scale() {
        let d: rust_decimal::Decimal = "-123.4500".parse().unwrap();
        match kind(Param::Decimal(d)) {
            LiteralType::Decimal(dec) => {
                assert_eq!(dec.value, "-123.4500");
                assert_eq!(dec.precision, Some(7));
                assert_eq!(dec.scale, Some(4));
            }
            other => panic!("{other:?}"),
        }
    }
}
