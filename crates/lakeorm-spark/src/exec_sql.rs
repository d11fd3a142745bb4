//! What a statement run through `exec` does to the session pool: settings that would change one
//! pooled session only (refused), tables it creates (attached to every session) and tables it
//! drops (forgotten).
//!
//! Statements are read word by word, not parsed: only their leading keywords, the table name
//! after them and the `USING` and `LOCATION` clauses matter, and a statement that does not fit
//! is left alone.

use lakeorm_core::statement_words::{create_table, is_keyword as is, words};
use lakeorm_core::{Error, Result};

use crate::errors::ENGINE;

/// Refuses statements that change the state of the session that runs them (`SET`, `RESET`,
/// `USE`): in a pool, the next call may run on another session.
pub(crate) fn refuse_session_state(sql: &str) -> Result<()> {
    let words = words(sql);
    let first = words.first();
    let (what, instead) = if is(first, "SET") || is(first, "RESET") {
        (
            "SET and RESET",
            "set it for every session with SparkDriverBuilder::session_conf",
        )
    } else if is(first, "USE") {
        (
            "USE",
            "qualify table names, or choose the catalog and database in the dialect \
             (with_catalog, with_database)",
        )
    } else {
        return Ok(());
    };
    Err(Error::unsupported(
        format!("`{}` through exec", sql.trim()),
        ENGINE,
        format!("{what} would change only the pooled session that runs it; {instead}"),
    ))
}

/// The table a `DROP TABLE [IF EXISTS] name` statement drops, unquoted.
pub(crate) fn dropped_table(sql: &str) -> Option<String> {
    let words = words(sql);
    if !(is(words.first(), "DROP") && is(words.get(1), "TABLE")) {
        return None;
    }
    let at = if is(words.get(2), "IF") && is(words.get(3), "EXISTS") {
        4
    } else {
        2
    };
    words.get(at).map(|name| unquoted(name))
}

/// A table a `CREATE TABLE` statement places at a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreatedTable {
    /// The table's name as written, unquoted (`db.users`).
    pub(crate) name: String,
    /// The columnless statement that attaches it to another session.
    pub(crate) attach: String,
}

/// The table a `CREATE [OR REPLACE] TABLE … USING format … LOCATION '…'` creates, with the
/// statement that attaches it as stored. `None` for other statements and for tables without
/// both clauses, whose place only the server knows.
pub(crate) fn created_table(sql: &str) -> Option<CreatedTable> {
    let created = create_table(sql)?;
    let (format, location) = (created.format.as_ref()?, created.location.as_ref()?);
    if !location.starts_with('\'') && !location.starts_with('"') {
        return None;
    }
    Some(CreatedTable {
        attach: format!(
            "CREATE TABLE IF NOT EXISTS {} USING {format} LOCATION {location}",
            created.name
        ),
        name: created.unquoted_name(),
    })
}

/// `name` with its identifier quotes removed (`` `db`.`t` `` → `db.t`).
fn unquoted(name: &str) -> String {
    name.trim_end_matches(';').replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_statements_name_their_table() {
        assert_eq!(dropped_table("DROP TABLE users").as_deref(), Some("users"));
        assert_eq!(
            dropped_table("drop table if exists `db`.`users`;").as_deref(),
            Some("db.users")
        );
        assert_eq!(dropped_table("DROP VIEW v"), None);
        assert_eq!(dropped_table("SELECT 1"), None);
    }

    #[test]
    fn session_settings_are_refused_with_the_builder_option_named() {
        for sql in ["SET spark.sql.shuffle.partitions = 4", "  reset", "USE db"] {
            let err = refuse_session_state(sql).unwrap_err();
            assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        }
        let err = refuse_session_state("set a.b=1").unwrap_err();
        assert!(err.to_string().contains("session_conf"), "{err}");
        for sql in [
            "ALTER TABLE t SET TBLPROPERTIES ('a' = 'b')",
            "SELECT 'SET x'",
            "-- SET x\nSELECT 1",
        ] {
            refuse_session_state(sql).unwrap();
        }
    }

    #[test]
    fn created_tables_with_a_location_are_attachable() {
        let created = created_table(
            "CREATE TABLE IF NOT EXISTS `db`.`events` (`id` BIGINT) USING delta \
             LOCATION 'file:///lake/tables/events' TBLPROPERTIES ('k' = 'v')",
        )
        .unwrap();
        assert_eq!(created.name, "db.events");
        assert_eq!(
            created.attach,
            "CREATE TABLE IF NOT EXISTS `db`.`events` USING delta LOCATION 'file:///lake/tables/events'"
        );
        // Without a location only the server knows where the table is.
        assert_eq!(created_table("CREATE TABLE t (a INT) USING delta"), None);
    }
}
