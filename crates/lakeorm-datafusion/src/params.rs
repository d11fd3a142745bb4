//! lakeorm parameters as DataFusion scalars.

use datafusion::scalar::ScalarValue;
use lakeorm_core::{Error, Param, Result};

/// The DataFusion value of a bound parameter.
pub(crate) fn to_scalar(param: &Param) -> Result<ScalarValue> {
    Ok(match param {
        Param::Null => ScalarValue::Null,
        Param::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Param::Int(i) => ScalarValue::Int64(Some(*i)),
        Param::Float(f) => ScalarValue::Float64(Some(*f)),
        Param::String(s) => ScalarValue::Utf8(Some(s.clone())),
        Param::Bytes(b) => ScalarValue::Binary(Some(b.clone())),
        Param::Date(d) => {
            use chrono::Datelike;
            ScalarValue::Date32(Some(d.num_days_from_ce() - 719_163))
        }
        Param::Timestamp(t) => {
            ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into()))
        }
        Param::TimestampNtz(t) => {
            ScalarValue::TimestampMicrosecond(Some(t.and_utc().timestamp_micros()), None)
        }
        Param::Decimal(d) => {
            let scale = i8::try_from(d.scale())
                .map_err(|_| Error::sql(format!("decimal parameter {d} has too large a scale")))?;
            ScalarValue::Decimal128(Some(d.mantissa()), 38, scale)
        }
        other => {
            return Err(Error::sql(format!("unsupported parameter {other:?}")));
        }
    })
}

/// All parameters of a statement.
pub(crate) fn to_scalars(params: &[Param]) -> Result<Vec<ScalarValue>> {
    params.iter().map(to_scalar).collect()
}
