//! The grammar of `#[lake(validate = "…")]`.

use proc_macro2::TokenStream;
use quote::quote;

/// A parsed validation rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    Email,
    Url,
    Uuid,
    NonEmpty,
    Length {
        min: Option<u64>,
        max: Option<u64>,
        equal: Option<u64>,
    },
    Range {
        min: Option<Number>,
        max: Option<Number>,
    },
    Regex(String),
    Custom(String),
}

/// A numeric bound as written, so that integer bounds stay integers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Number {
    pub(crate) text: String,
    pub(crate) is_float: bool,
}

impl Number {
    /// The bound as a Rust literal expression.
    pub(crate) fn tokens(&self) -> TokenStream {
        let text = &self.text;
        let parsed: TokenStream = text.parse().unwrap_or_else(|_| quote!(0));
        if self.is_float {
            parsed
        } else {
            // Integer bounds adapt to the field's integer or float type.
            quote!((#parsed) as _)
        }
    }
}

pub(crate) const RULES: &str = "email, url, uuid, non_empty, length(min = N, max = N, equal = N), range(min = X, max = X), regex(PATTERN), custom(NAME)";

fn call<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)
        .map(str::trim_start)
        .and_then(|rest| rest.strip_prefix('('))
        .and_then(|rest| rest.strip_suffix(')'))
}

fn key_values(args: &str) -> Result<Vec<(String, String)>, String> {
    args.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected `key = value`, found `{part}`"))?;
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

fn parse_length(args: &str) -> Result<Rule, String> {
    let (mut min, mut max, mut equal) = (None, None, None);
    for (key, value) in key_values(args)? {
        let n: u64 = value
            .parse()
            .map_err(|_| format!("`length` bounds are whole numbers; `{key} = {value}` is not"))?;
        let slot = match key.as_str() {
            "min" => &mut min,
            "max" => &mut max,
            "equal" => &mut equal,
            other => {
                return Err(format!(
                    "unknown `length` argument `{other}`; expected min, max or equal"
                ));
            }
        };
        if slot.replace(n).is_some() {
            return Err(format!("`{key}` is given twice"));
        }
    }
    if min.is_none() && max.is_none() && equal.is_none() {
        return Err("`length` needs at least one of min, max or equal".into());
    }
    if equal.is_some() && (min.is_some() || max.is_some()) {
        return Err("`length(equal = …)` cannot be combined with min or max".into());
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        return Err(format!("`length` min ({lo}) is greater than max ({hi})"));
    }
    Ok(Rule::Length { min, max, equal })
}

fn parse_range(args: &str) -> Result<Rule, String> {
    let (mut min, mut max) = (None::<Number>, None::<Number>);
    for (key, value) in key_values(args)? {
        let numeric: f64 = value
            .parse()
            .map_err(|_| format!("`range` bounds are numbers; `{key} = {value}` is not"))?;
        if !numeric.is_finite() {
            return Err(format!("`range` bound `{value}` is not finite"));
        }
        let number = Number {
            is_float: value.contains(['.', 'e', 'E']),
            text: value,
        };
        let slot = match key.as_str() {
            "min" => &mut min,
            "max" => &mut max,
            other => {
                return Err(format!(
                    "unknown `range` argument `{other}`; expected min or max"
                ));
            }
        };
        if slot.replace(number).is_some() {
            return Err(format!("`{key}` is given twice"));
        }
    }
    match (&min, &max) {
        (None, None) => Err("`range` needs min, max or both".into()),
        (Some(lo), Some(hi))
            if lo.text.parse::<f64>().unwrap_or(0.0) > hi.text.parse::<f64>().unwrap_or(0.0) =>
        {
            Err(format!(
                "`range` min ({}) is greater than max ({})",
                lo.text, hi.text
            ))
        }
        _ => Ok(Rule::Range { min, max }),
    }
}

/// Parses one rule.
pub(crate) fn parse(text: &str) -> Result<Rule, String> {
    let text = text.trim();
    match text {
        "email" => return Ok(Rule::Email),
        "url" => return Ok(Rule::Url),
        "uuid" => return Ok(Rule::Uuid),
        "non_empty" => return Ok(Rule::NonEmpty),
        _ => {}
    }
    if let Some(args) = call(text, "length") {
        return parse_length(args);
    }
    if let Some(args) = call(text, "range") {
        return parse_range(args);
    }
    if let Some(pattern) = call(text, "regex") {
        if let Err(e) = regex_syntax::Parser::new().parse(pattern) {
            return Err(format!("invalid regular expression `{pattern}`: {e}"));
        }
        return Ok(Rule::Regex(pattern.to_owned()));
    }
    if let Some(name) = call(text, "custom") {
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(format!(
                "`custom` takes a validator name, as in custom(uk_postcode); got `{name}`"
            ));
        }
        return Ok(Rule::Custom(name.to_owned()));
    }
    Err(format!(
        "unknown validation rule `{text}`; expected one of: {RULES}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_rule() {
        assert_eq!(parse("email"), Ok(Rule::Email));
        assert_eq!(
            parse("length(min = 1, max = 64)"),
            Ok(Rule::Length {
                min: Some(1),
                max: Some(64),
                equal: None
            })
        );
        assert!(matches!(
            parse("range(min = 0, max = 1.5)"),
            Ok(Rule::Range { .. })
        ));
        assert_eq!(
            parse("regex(^[A-Z]{2}$)"),
            Ok(Rule::Regex("^[A-Z]{2}$".into()))
        );
        assert_eq!(
            parse("custom(uk_postcode)"),
            Ok(Rule::Custom("uk_postcode".into()))
        );
    }

    #[test]
    fn rejects_bad_rules() {
        assert!(
            parse("emial")
                .unwrap_err()
                .contains("unknown validation rule")
        );
        assert!(
            parse("length(min = 5, max = 1)")
                .unwrap_err()
                .contains("greater")
        );
        assert!(parse("length()").is_err());
        assert!(parse("range(min = x)").is_err());
        assert!(
            parse("regex([a-)")
                .unwrap_err()
                .contains("invalid regular expression")
        );
        assert!(parse("custom()").is_err());
    }
}
