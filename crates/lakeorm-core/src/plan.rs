//! `ExecutionPlan`: a typed description of one operation on a lake table.
//!
//! The Client builds plans through the [`Dialect`](crate::Dialect) (which owns semantics: keys,
//! partitioning, MERGE shape); a [`Driver`](crate::Driver) executes them. A SQL engine runs the
//! statements the dialect renders from the plan; the embedded engine executes the same operation
//! natively. The Client never branches on which engine it has.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use arrow::array::RecordBatch;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::ingest::IngestId;
use crate::location::Location;
use crate::schema::LakeSchema;
use crate::sortable::SortableId;

/// The table formats lakeorm writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TableFormat {
    /// Delta Lake.
    Delta,
    /// Apache Iceberg.
    Iceberg,
    /// Plain Parquet tables (engines without Delta or Iceberg, e.g. stock Spark).
    Parquet,
}

impl TableFormat {
    /// The shortest vacuum retention that is safe while other writers and readers use the
    /// table: files younger than this may belong to a commit in flight or to a snapshot a
    /// reader still scans. Delta's default `delta.deletedFileRetentionDuration` (7 days);
    /// for Iceberg, the 24 hours below which Iceberg's own `remove_orphan_files` refuses.
    pub fn min_vacuum_retention(self) -> Duration {
        const HOUR: u64 = 3600;
        match self {
            TableFormat::Delta => Duration::from_secs(7 * 24 * HOUR),
            TableFormat::Iceberg => Duration::from_secs(24 * HOUR),
            TableFormat::Parquet => Duration::ZERO,
        }
    }
}

impl fmt::Display for TableFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TableFormat::Delta => "delta",
            TableFormat::Iceberg => "iceberg",
            TableFormat::Parquet => "parquet",
        })
    }
}

/// A possibly qualified table name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableRef {
    /// The catalog (`spark_catalog`, an Iceberg catalog), if qualified.
    pub catalog: Option<String>,
    /// The database/namespace, if qualified.
    pub database: Option<String>,
    /// The table name.
    pub name: String,
}

impl TableRef {
    /// An unqualified name.
    pub fn new(name: impl Into<String>) -> Self {
        TableRef {
            catalog: None,
            database: None,
            name: name.into(),
        }
    }

    /// The name parts, outermost first.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.catalog
            .as_deref()
            .into_iter()
            .chain(self.database.as_deref())
            .chain(std::iter::once(self.name.as_str()))
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<&str> = self.parts().collect();
        f.write_str(&parts.join("."))
    }
}

/// Everything an engine needs to know about the target table of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// The (qualified) name.
    pub table: TableRef,
    /// The format.
    pub format: TableFormat,
    /// Where the table's files live, from the Backend, as the engine addresses them.
    pub location: Option<Location>,
    /// The model's schema (the system column is implied).
    pub schema: LakeSchema,
    /// Table properties (`TBLPROPERTIES`).
    pub properties: BTreeMap<String, String>,
}

impl TableSpec {
    /// The table `dialect` creates for this spec: the model's columns with the structure its
    /// layout intents give the format ([`Dialect::table_state`](crate::Dialect::table_state)).
    pub fn table_state<D: crate::Dialect + ?Sized>(
        &self,
        dialect: &D,
    ) -> crate::Result<crate::TableState> {
        dialect.table_state(
            crate::TableState::from_schema(&self.schema),
            &self.schema.layout(),
        )
    }
}

/// Where the rows of a write come from.
#[derive(Debug, Clone)]
pub enum WriteSource {
    /// Arrow batches in memory (the direct path), `_ingest_id` included.
    Batches(Vec<RecordBatch>),
    /// Parquet parts staged on the Backend under one prefix (a staged write).
    Staged {
        /// The staging prefix, as the engine addresses it.
        location: Location,
        /// How many rows were staged.
        rows: u64,
    },
}

impl WriteSource {
    /// Rows in the source (exact for both kinds).
    pub fn num_rows(&self) -> u64 {
        match self {
            WriteSource::Batches(batches) => batches.iter().map(|b| b.num_rows() as u64).sum(),
            WriteSource::Staged { rows, .. } => *rows,
        }
    }
}

/// A past state of a table to read (time travel).
///
/// In SQL both engines spell it after the table name: `FROM t VERSION AS OF 3`,
/// `FROM t TIMESTAMP AS OF ?` (with a timestamp bound). What a version is depends on the format:
/// a Delta table's commit version, an Iceberg table's snapshot id — the `version` that write
/// reports and `stats` return for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsOf {
    /// A Delta commit version or an Iceberg snapshot id.
    Version(i64),
    /// The table as it was at this instant (the newest version committed at or before it).
    Timestamp(DateTime<Utc>),
}

/// What a MERGE does with a source row whose key already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MergeAction {
    /// Overwrite the target row (upsert).
    #[default]
    Update,
    /// Keep the target row, drop the source row.
    Ignore,
    /// Fail the write, writing nothing.
    Error,
}

/// A SQL text with positional `?` parameters, bound with [`bind`](Self::bind).
///
/// Every call that takes SQL takes a statement (`&str` and `String` convert into one without
/// parameters), so values are bound the same way everywhere:
/// `Statement::new("DELETE FROM users WHERE country = ?").bind("GB")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL, with `?` placeholders.
    pub sql: String,
    /// One value per placeholder, in order.
    pub params: Vec<Param>,
}

impl Statement {
    /// A statement without parameters yet.
    pub fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    /// The SQL with every parameter written as a Spark SQL literal, for the few places that
    /// take a filter as text (Iceberg's procedures): strings are escaped, so a value cannot end
    /// its literal.
    pub fn inline(&self) -> crate::Result<String> {
        let literals: Vec<String> = self.params.iter().map(Param::sql_literal).collect();
        // A placeholder without a value gets none here; `rewrite_statement` then refuses the
        // count mismatch.
        crate::placeholders::rewrite_statement(self, |n| {
            literals.get(n - 1).cloned().unwrap_or_default()
        })
    }

    /// Binds the next `?` (values are sent as typed parameters, never spliced into the SQL).
    #[must_use]
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value.into());
        self
    }
}

impl From<&str> for Statement {
    fn from(sql: &str) -> Self {
        Statement::new(sql)
    }
}

impl From<String> for Statement {
    fn from(sql: String) -> Self {
        Statement::new(sql)
    }
}

/// A bound parameter value. Never spliced into SQL text: engines receive it as a typed value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Param {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer (all integer types widen to it).
    Int(i64),
    /// A double.
    Float(f64),
    /// Text.
    String(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A date.
    Date(NaiveDate),
    /// An instant (UTC).
    Timestamp(DateTime<Utc>),
    /// A wall-clock date-time.
    TimestampNtz(NaiveDateTime),
    /// A decimal.
    Decimal(rust_decimal::Decimal),
}

impl Param {
    /// The value as a Spark SQL literal (see [`Statement::inline`]).
    pub fn sql_literal(&self) -> String {
        use crate::quote::string_literal;
        match self {
            Param::Null => "NULL".into(),
            Param::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Param::Int(i) => i.to_string(),
            Param::Float(f) if f.is_finite() => format!("CAST({f:?} AS DOUBLE)"),
            Param::Float(f) => format!(
                "CAST('{}' AS DOUBLE)",
                if f.is_nan() {
                    "NaN"
                } else if *f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                }
            ),
            Param::String(s) => string_literal(s),
            Param::Bytes(b) => {
                let hex: String = b.iter().map(|byte| format!("{byte:02X}")).collect();
                format!("X'{hex}'")
            }
            Param::Date(d) => format!("DATE '{}'", d.format("%Y-%m-%d")),
            Param::Timestamp(t) => {
                format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f+00:00"))
            }
            Param::TimestampNtz(t) => {
                format!("TIMESTAMP_NTZ '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
            }
            Param::Decimal(d) => format!("{d}BD"),
        }
    }
}

macro_rules! param_from {
    ($($ty:ty => $variant:ident $(via $conv:expr)?),* $(,)?) => {
        $(impl From<$ty> for Param {
            fn from(value: $ty) -> Self {
                $(let value = $conv(value);)?
                Param::$variant(value)
            }
        })*
    };
}

param_from! {
    bool => Bool,
    i8 => Int via i64::from,
    i16 => Int via i64::from,
    i32 => Int via i64::from,
    i64 => Int,
    u8 => Int via i64::from,
    u16 => Int via i64::from,
    u32 => Int via i64::from,
    f32 => Float via f64::from,
    f64 => Float,
    String => String,
    &str => String via str::to_owned,
    Vec<u8> => Bytes,
    NaiveDate => Date,
    DateTime<Utc> => Timestamp,
    NaiveDateTime => TimestampNtz,
    rust_decimal::Decimal => Decimal,
    uuid::Uuid => String via |u: uuid::Uuid| u.to_string(),
    SortableId => String via |s: SortableId| s.to_string(),
    IngestId => String via |s: IngestId| s.to_string(),
}

impl From<&String> for Param {
    fn from(value: &String) -> Self {
        Param::String(value.clone())
    }
}

impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}

/// Which rows a delete removes.
#[derive(Debug, Clone)]
pub enum Predicate {
    /// Rows whose key columns equal one of the rows of `values` (a batch of just those columns).
    Keys {
        /// The key columns.
        columns: Vec<String>,
        /// The key values.
        values: RecordBatch,
    },
    /// Rows matching a SQL boolean expression with `?` parameters.
    Sql(Statement),
}

/// One operation on the lake.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ExecutionPlan {
    /// Create the table if it does not exist, with its partitioning and the system column.
    CreateTable {
        /// The table.
        table: TableSpec,
    },
    /// Append rows.
    Append {
        /// The table.
        table: TableSpec,
        /// The rows.
        source: WriteSource,
        /// The write's id.
        ingest_id: IngestId,
    },
    /// Merge rows on key columns.
    Merge {
        /// The table.
        table: TableSpec,
        /// The rows.
        source: WriteSource,
        /// The columns that identify a row (one or more).
        keys: Vec<String>,
        /// What to do when a key exists.
        on_match: MergeAction,
        /// The write's id.
        ingest_id: IngestId,
    },
    /// Overwrite existing rows, matched on key columns, with the source's values; rows whose key
    /// does not exist are not inserted.
    Update {
        /// The table.
        table: TableSpec,
        /// The new values, key columns included.
        source: WriteSource,
        /// The key columns.
        keys: Vec<String>,
        /// The write's id.
        ingest_id: IngestId,
    },
    /// Delete rows.
    Delete {
        /// The table.
        table: TableSpec,
        /// Which rows.
        predicate: Predicate,
    },
    /// Compact small files into larger ones, clustering rows by `zorder` columns.
    Optimize {
        /// The table.
        table: TableSpec,
        /// The file size to aim for, in bytes (`None`: the engine's default).
        target_size: Option<u64>,
        /// The columns rewritten files are Z-ordered by (empty: compaction only). A model's
        /// [`Layout::zorder_by`](crate::layout::Layout::zorder_by) unless the caller chose.
        zorder: Vec<String>,
        /// Which part of the table to optimize: a boolean SQL expression on partition columns
        /// with `?` parameters (`None`: all of it).
        filter: Option<Statement>,
    },
    /// Delete files no longer referenced by the table and older than `retention`.
    Vacuum {
        /// The table.
        table: TableSpec,
        /// How long unreferenced files are kept (time travel reaches back this far).
        retention: Duration,
        /// `retention` may be shorter than the format's minimum
        /// ([`TableFormat::min_vacuum_retention`]): asked for explicitly, and only safe when no
        /// other writer or reader is using the table.
        force: bool,
    },
    /// Run a statement for its effect.
    Exec(Statement),
}

impl ExecutionPlan {
    /// A short name of the operation, for spans, metrics and errors.
    pub fn operation(&self) -> &'static str {
        match self {
            ExecutionPlan::CreateTable { .. } => "create_table",
            ExecutionPlan::Append { .. } => "append",
            ExecutionPlan::Merge { .. } => "merge",
            ExecutionPlan::Update { .. } => "update",
            ExecutionPlan::Delete { .. } => "delete",
            ExecutionPlan::Optimize { .. } => "optimize",
            ExecutionPlan::Vacuum { .. } => "vacuum",
            ExecutionPlan::Exec(_) => "exec",
        }
    }

    /// The write's id, for plans that write rows.
    pub fn ingest_id(&self) -> Option<&IngestId> {
        match self {
            ExecutionPlan::Append { ingest_id, .. }
            | ExecutionPlan::Merge { ingest_id, .. }
            | ExecutionPlan::Update { ingest_id, .. } => Some(ingest_id),
            _ => None,
        }
    }

    /// The target table, if the plan has one.
    pub fn table(&self) -> Option<&TableSpec> {
        match self {
            ExecutionPlan::CreateTable { table }
            | ExecutionPlan::Append { table, .. }
            | ExecutionPlan::Merge { table, .. }
            | ExecutionPlan::Update { table, .. }
            | ExecutionPlan::Delete { table, .. }
            | ExecutionPlan::Optimize { table, .. }
            | ExecutionPlan::Vacuum { table, .. } => Some(table),
            ExecutionPlan::Exec(_) => None,
        }
    }
}

/// What executing a plan did (delta-rs style operation metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecMetrics {
    /// Rows inserted.
    pub rows_inserted: u64,
    /// Rows updated.
    pub rows_updated: u64,
    /// Rows deleted.
    pub rows_deleted: u64,
    /// Data files added.
    pub files_added: u64,
    /// Data files removed.
    pub files_removed: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// The table version after the operation, where the format has versions: a Delta commit
    /// version, an Iceberg snapshot id (what [`AsOf::Version`] reads back).
    pub version: Option<i64>,
    /// Commit attempts beyond the first (optimistic-concurrency retries).
    pub retries: u32,
    /// Wall time of the operation.
    pub duration: Duration,
}

/// The state of a table, as `maintain().stats()` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableStats {
    /// The current version: a Delta commit version, an Iceberg snapshot id (0 for a table
    /// without snapshots).
    pub version: i64,
    /// Live data files.
    pub files: u64,
    /// Rows in live files.
    pub rows: u64,
    /// Bytes in live files.
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_from_rust_values() {
        assert_eq!(Param::from(3u8), Param::Int(3));
        assert_eq!(Param::from("x"), Param::String("x".into()));
        assert_eq!(Param::from(None::<i32>), Param::Null);
        let id = uuid::Uuid::nil();
        assert_eq!(Param::from(id), Param::String(id.to_string()));
    }

    #[test]
    fn inlined_values_are_literals_that_cannot_escape() {
        let at = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let statement = Statement::new("a = ? AND b IN (?, ?) AND c = ? AND d > ? AND e = ?")
            .bind("x' OR 1 = 1 --")
            .bind(1)
            .bind(None::<i32>)
            .bind(at)
            .bind(f64::INFINITY)
            .bind(vec![0xab_u8]);
        assert_eq!(
            statement.inline().unwrap(),
            "a = 'x\\' OR 1 = 1 --' AND b IN (1, NULL) AND c = DATE '2024-02-29' \
             AND d > CAST('Infinity' AS DOUBLE) AND e = X'AB'"
        );
        assert!(Statement::new("a = ?").inline().is_err());
    }

    #[test]
    fn table_ref_display() {
        let t = TableRef {
            catalog: Some("lakeorm".into()),
            database: Some("default".into()),
            name: "users".into(),
        };
        assert_eq!(t.to_string(), "lakeorm.default.users");
        assert_eq!(TableRef::new("users").to_string(), "users");
    }
}
