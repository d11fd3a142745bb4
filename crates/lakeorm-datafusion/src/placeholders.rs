//! `?` → `$n`: positional placeholders for DataFusion.
//!
//! lakeorm's query API uses `?` (as Spark Connect does). DataFusion rejects `?` but binds `$1`,
//! `$2`, … through `with_param_values`. The rewrite works on tokens, so a `?` inside a string
//! literal, a quoted identifier or a comment is left alone, and everything else in the text is
//! kept byte for byte.

use lakeorm_core::{Error, Result, Statement};
use sqlparser::dialect::DatabricksDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Rewrites every `?` placeholder of `sql` to `$1`, `$2`, … in order and returns the new text
/// with the number of placeholders. `$n` placeholders already present are kept; mixing both
/// styles is an error.
pub fn bind_positional(sql: &str) -> Result<(String, usize)> {
    let dialect = DatabricksDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| Error::sql(format!("cannot tokenize `{sql}`: {e}")))?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let mut question_marks = Vec::new();
    let mut dollar = false;
    for token in &tokens {
        if let Token::Placeholder(text) = &token.token {
            if text == "?" {
                let location = token.span.start;
                let line_start = line_starts
                    .get(
                        usize::try_from(location.line)
                            .unwrap_or(1)
                            .saturating_sub(1),
                    )
                    .copied()
                    .unwrap_or(0);
                // Columns count characters from 1; convert to a byte offset within the line.
                let column = usize::try_from(location.column)
                    .unwrap_or(1)
                    .saturating_sub(1);
                let offset = sql[line_start..]
                    .char_indices()
                    .nth(column)
                    .map_or(sql.len(), |(i, _)| line_start + i);
                question_marks.push(offset);
            } else if text.starts_with('$') {
                dollar = true;
            }
        }
    }
    if dollar && !question_marks.is_empty() {
        return Err(Error::sql(
            "mix of `?` and `$n` placeholders; use `?` throughout",
        ));
    }
    let mut out = String::with_capacity(sql.len() + question_marks.len() * 2);
    let mut last = 0;
    for (index, offset) in question_marks.iter().enumerate() {
        if sql.as_bytes().get(*offset) != Some(&b'?') {
            return Err(Error::sql(format!(
                "placeholder position {offset} in `{sql}` is not a `?`"
            )));
        }
        out.push_str(&sql[last..*offset]);
        out.push_str(&format!("${}", index + 1));
        last = offset + 1;
    }
    out.push_str(&sql[last..]);
    Ok((out, question_marks.len()))
}

/// The SQL of `statement` with `$n` placeholders, checked to have exactly one bound parameter
/// per placeholder.
pub fn bind_statement(statement: &Statement) -> Result<String> {
    let (sql, count) = bind_positional(&statement.sql)?;
    if count != statement.params.len() {
        return Err(Error::sql(format!(
            "`{}` has {count} placeholder(s) but {} parameter(s) were bound",
            statement.sql,
            statement.params.len()
        )));
    }
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_placeholders_in_order() {
        let (sql, n) =
            bind_positional("SELECT * FROM users WHERE country = ? AND age > ?").unwrap();
        assert_eq!(sql, "SELECT * FROM users WHERE country = $1 AND age > $2");
        assert_eq!(n, 2);
    }

    #[test]
    fn leaves_literals_identifiers_and_comments_alone() {
        let input = "SELECT '?', `what?` -- really?\nFROM t WHERE a = ? /* ? */ AND b = 'it''s ?'\n  AND c = ?";
        let (sql, n) = bind_positional(input).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            sql,
            "SELECT '?', `what?` -- really?\nFROM t WHERE a = $1 /* ? */ AND b = 'it''s ?'\n  AND c = $2"
        );
    }

    #[test]
    fn handles_multibyte_text_before_placeholders() {
        let (sql, n) = bind_positional("SELECT 'héllo ✓' AS x WHERE y = ?").unwrap();
        assert_eq!(sql, "SELECT 'héllo ✓' AS x WHERE y = $1");
        assert_eq!(n, 1);
    }

    #[test]
    fn keeps_dollar_placeholders_and_rejects_mixtures() {
        assert_eq!(
            bind_positional("SELECT $1").unwrap(),
            ("SELECT $1".to_string(), 0)
        );
        assert!(bind_positional("SELECT $1, ?").is_err());
    }

    #[test]
    fn statements_need_one_parameter_per_placeholder() {
        let ok = Statement::new("a = ? AND b = ?").bind(1).bind(2);
        assert_eq!(bind_statement(&ok).unwrap(), "a = $1 AND b = $2");
        let short = Statement::new("a = ? AND b = ?").bind(1);
        assert!(
            matches!(bind_statement(&short), Err(Error::Sql { message, .. }) if message.contains("2 placeholder(s) but 1"))
        );
    }

    #[test]
    fn unterminated_literals_are_sql_errors() {
        assert!(matches!(
            bind_positional("SELECT 'oops"),
            Err(Error::Sql { .. })
        ));
    }
}
