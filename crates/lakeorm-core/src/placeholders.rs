//! Finding the `?` placeholders of a SQL text, for engines that spell them otherwise.
//!
//! lakeorm's statements use `?` (as Spark Connect does); DataFusion binds `$1`, `$2`, …, the
//! Databricks Statement Execution API named markers (`:p1`). The rewrite works on tokens, so a
//! `?` inside a string literal, a quoted identifier or a comment is left alone, and everything
//! else in the text is kept byte for byte.

use sqlparser::dialect::DatabricksDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{Error, Result};
use crate::plan::Statement;

/// The byte offsets of the `?` placeholders of `sql`, in order, and whether it also holds
/// `$n` placeholders.
fn scan(sql: &str) -> Result<(Vec<usize>, bool)> {
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
        let Token::Placeholder(text) = &token.token else {
            continue;
        };
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
            if sql.as_bytes().get(offset) != Some(&b'?') {
                return Err(Error::sql(format!(
                    "placeholder position {offset} in `{sql}` is not a `?`"
                )));
            }
            question_marks.push(offset);
        } else if text.starts_with('$') {
            dollar = true;
        }
    }
    Ok((question_marks, dollar))
}

/// Rewrites every `?` placeholder of `sql` to `marker(n)` (`n` from 1, in order) and returns
/// the new text with the number of placeholders. `$n` placeholders already present are kept;
/// mixing both styles is an error.
pub fn rewrite(sql: &str, marker: impl Fn(usize) -> String) -> Result<(String, usize)> {
    let (question_marks, dollar) = scan(sql)?;
    if dollar && !question_marks.is_empty() {
        return Err(Error::sql(
            "mix of `?` and `$n` placeholders; use `?` throughout",
        ));
    }
    let mut out = String::with_capacity(sql.len() + question_marks.len() * 3);
    let mut last = 0;
    for (index, offset) in question_marks.iter().enumerate() {
        out.push_str(&sql[last..*offset]);
        out.push_str(&marker(index + 1));
        last = offset + 1;
    }
    out.push_str(&sql[last..]);
    Ok((out, question_marks.len()))
}

/// [`rewrite`] of `statement`, checked to have exactly one bound parameter per placeholder.
pub fn rewrite_statement(
    statement: &Statement,
    marker: impl Fn(usize) -> String,
) -> Result<String> {
    let (sql, count) = rewrite(&statement.sql, marker)?;
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

    fn dollar(n: usize) -> String {
        format!("${n}")
    }

    #[test]
    fn rewrites_placeholders_in_order() {
        let (sql, n) =
            rewrite("SELECT * FROM users WHERE country = ? AND age > ?", dollar).unwrap();
        assert_eq!(sql, "SELECT * FROM users WHERE country = $1 AND age > $2");
        assert_eq!(n, 2);
        let (sql, _) = rewrite("a = ? AND b = ?", |n| format!(":p{n}")).unwrap();
        assert_eq!(sql, "a = :p1 AND b = :p2");
    }

    #[test]
    fn leaves_literals_identifiers_and_comments_alone() {
        let input = "SELECT '?', `what?` -- really?\nFROM t WHERE a = ? /* ? */ AND b = 'it''s ?'\n  AND c = ?";
        let (sql, n) = rewrite(input, dollar).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            sql,
            "SELECT '?', `what?` -- really?\nFROM t WHERE a = $1 /* ? */ AND b = 'it''s ?'\n  AND c = $2"
        );
    }

    #[test]
    fn handles_multibyte_text_before_placeholders() {
        let (sql, n) = rewrite("SELECT 'héllo ✓' AS x WHERE y = ?", dollar).unwrap();
        assert_eq!(sql, "SELECT 'héllo ✓' AS x WHERE y = $1");
        assert_eq!(n, 1);
    }

    #[test]
    fn keeps_dollar_placeholders_and_rejects_mixtures() {
        assert_eq!(
            rewrite("SELECT $1", dollar).unwrap(),
            ("SELECT $1".to_string(), 0)
        );
        assert!(rewrite("SELECT $1, ?", dollar).is_err());
    }

    #[test]
    fn statements_need_one_parameter_per_placeholder() {
        let ok = Statement::new("a = ? AND b = ?").bind(1).bind(2);
        assert_eq!(rewrite_statement(&ok, dollar).unwrap(), "a = $1 AND b = $2");
        let short = Statement::new("a = ? AND b = ?").bind(1);
        assert!(
            matches!(rewrite_statement(&short, dollar), Err(Error::Sql { message, .. }) if message.contains("2 placeholder(s) but 1"))
        );
    }

    #[test]
    fn unterminated_literals_are_sql_errors() {
        assert!(matches!(
            rewrite("SELECT 'oops", dollar),
            Err(Error::Sql { .. })
        ));
    }
}
