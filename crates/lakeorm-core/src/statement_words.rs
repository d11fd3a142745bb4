//! Statements read word by word: what lakeorm needs to know of SQL it did not render (a
//! migration file's statements, an `exec`) without parsing it. Only leading keywords, names and
//! top-level clauses are read; a statement that does not fit is left alone.

/// The words of `sql` outside string literals and comments, with quoted identifiers and
/// string literals kept whole.
pub fn words(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                word.push(c);
                while let Some(d) = chars.next() {
                    word.push(d);
                    if d == '\\' && c != '`' {
                        if let Some(e) = chars.next() {
                            word.push(e);
                        }
                    } else if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                flush(&mut word, &mut out);
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '(' | ')' | ',' | ';' => {
                flush(&mut word, &mut out);
                out.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Whether `word` is `keyword`, ignoring case.
pub fn is_keyword(word: Option<&String>, keyword: &str) -> bool {
    word.is_some_and(|w| w.eq_ignore_ascii_case(keyword))
}

/// Whether `sql` is Iceberg's `ALTER TABLE … WRITE ORDERED BY …`: a layout hint that servers
/// without it (Sail) skip with a warning rather than fail the table's creation.
pub fn is_write_order(sql: &str) -> bool {
    let words = words(sql);
    let at = |i: usize, k: &str| is_keyword(words.get(i), k);
    at(0, "ALTER") && at(1, "TABLE") && at(3, "WRITE") && at(4, "ORDERED") && at(5, "BY")
}

/// The table a `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name …` statement creates, with the
/// values of its top-level `USING` and `LOCATION` clauses as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTable {
    /// The name as written (quoted parts kept).
    pub name: String,
    /// The `USING` format, if given.
    pub format: Option<String>,
    /// The `LOCATION` literal, quotes included, if given.
    pub location: Option<String>,
    /// The table is created from a query (`… AS SELECT …`).
    pub from_query: bool,
}

impl CreateTable {
    /// `name` with its identifier quotes removed (`` `db`.`t` `` → `db.t`).
    pub fn unquoted_name(&self) -> String {
        self.name.replace('`', "")
    }
}

/// Reads a `CREATE TABLE` statement; `None` for any other.
pub fn create_table(sql: &str) -> Option<CreateTable> {
    let words = words(sql);
    let mut at = 1;
    if !is_keyword(words.first(), "CREATE") {
        return None;
    }
    if is_keyword(words.get(at), "OR") && is_keyword(words.get(at + 1), "REPLACE") {
        at += 2;
    }
    if !is_keyword(words.get(at), "TABLE") {
        return None;
    }
    at += 1;
    if is_keyword(words.get(at), "IF")
        && is_keyword(words.get(at + 1), "NOT")
        && is_keyword(words.get(at + 2), "EXISTS")
    {
        at += 3;
    }
    let name = words.get(at)?.clone();
    // Clauses at the top level only: a column named `location` sits inside the parentheses.
    let mut depth = 0usize;
    let (mut format, mut location, mut from_query) = (None, None, false);
    for (i, word) in words.iter().enumerate().skip(at + 1) {
        match word.as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            w if w.eq_ignore_ascii_case("USING") => format = words.get(i + 1).cloned(),
            w if w.eq_ignore_ascii_case("LOCATION") => location = words.get(i + 1).cloned(),
            w if w.eq_ignore_ascii_case("AS") => {
                from_query = true;
                break;
            }
            _ => {}
        }
    }
    Some(CreateTable {
        name,
        format,
        location,
        from_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_literals_and_skip_comments() {
        assert_eq!(
            words("SELECT 'a b', `c d` -- x\n, (1);"),
            ["SELECT", "'a b'", ",", "`c d`", ",", "(", "1", ")", ";"]
        );
        assert_eq!(words("a,(b)"), ["a", ",", "(", "b", ")"]);
    }

    #[test]
    fn write_orders_are_recognised() {
        assert!(is_write_order(
            "ALTER TABLE `db`.`t` WRITE ORDERED BY `a`, b"
        ));
        assert!(!is_write_order("ALTER TABLE t ADD COLUMN w STRING"));
    }

    #[test]
    fn create_statements_name_their_table_and_clauses() {
        let created = create_table(
            "CREATE TABLE IF NOT EXISTS `db`.`events` (`id` BIGINT, `location` STRING) \
             USING delta PARTITIONED BY (`id`) LOCATION 'file:///lake/tables/events' \
             TBLPROPERTIES ('k' = 'v')",
        )
        .unwrap();
        assert_eq!(created.unquoted_name(), "db.events");
        assert_eq!(created.format.as_deref(), Some("delta"));
        assert_eq!(
            created.location.as_deref(),
            Some("'file:///lake/tables/events'")
        );
        let plain = create_table("create or replace table t (a INT) using iceberg").unwrap();
        assert_eq!(
            (plain.name.as_str(), plain.location, plain.from_query),
            ("t", None, false)
        );
        assert!(
            create_table("CREATE TABLE t AS SELECT 1")
                .unwrap()
                .from_query
        );
        assert_eq!(create_table("CREATE VIEW v AS SELECT 1"), None);
    }
}
