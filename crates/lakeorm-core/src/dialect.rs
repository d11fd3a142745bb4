//! The `Dialect` seam: Delta or Iceberg semantics.
//!
//! Dialects are pure: they decide how a model maps onto a table (types, partition transforms,
//! keys, properties) and render plans as SQL for engines that speak it. They perform no I/O.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::Result;
use crate::generated::GeneratedColumn;
use crate::layout::Layout;
use crate::migration::{Safety, SchemaChange, TableState};
use crate::plan::{ExecutionPlan, Statement, TableFormat, TableRef};
use crate::schema::{LakeSchema, Partition};

/// The table-format semantics of a Client.
pub trait Dialect: Send + Sync + fmt::Debug + 'static {
    /// `"delta"` or `"iceberg"`.
    fn name(&self) -> &str;

    /// The format tables are created in.
    fn format(&self) -> TableFormat;

    /// Whether the format can express `partition` natively.
    fn supports_partition(&self, partition: Partition) -> bool;

    /// Checks that a model can be stored in this format (partition transforms, key types),
    /// naming the column and the alternative when it cannot.
    fn check_schema(&self, schema: &LakeSchema) -> Result<()>;

    /// The columns a table in `state` computes from its other columns: how Delta partitions by a
    /// transform (see [`generated`](crate::generated)). None by default.
    fn generated_columns(&self, state: &TableState) -> Result<Vec<GeneratedColumn>> {
        let _ = state;
        Ok(Vec::new())
    }

    /// The table properties (`TBLPROPERTIES`) every table created through this dialect gets.
    fn table_properties(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// The table this dialect creates for a model whose columns are `declared` and whose intents
    /// ask for `layout`: the declared state by default. Formats turn layout intents into table
    /// structure here (Iceberg buckets a merge key, Delta may cluster), so `migrate::<T>()` and
    /// migration files create the same table.
    fn table_state(&self, declared: TableState, layout: &Layout) -> Result<TableState> {
        let _ = layout;
        Ok(declared)
    }

    /// Whether tables are created at the Backend's table location (`LOCATION …`) rather than
    /// where the catalog chooses; migration files, written without one, get it when they run.
    fn locates_tables(&self) -> bool {
        false
    }

    /// The qualified reference of a model's table (default catalog and database applied).
    fn table_ref(&self, table: &str) -> TableRef;

    /// Quotes an identifier for this dialect's SQL.
    fn quote_ident(&self, ident: &str) -> String {
        crate::quote::quote_ident(ident)
    }

    /// The SQL statements that carry out `plan` on a SQL engine, in order, with their bound
    /// parameters.
    ///
    /// Plans whose rows are in memory (`WriteSource::Batches`) are rendered against a temporary
    /// view the engine registers under [`SOURCE_VIEW`].
    fn render(&self, plan: &ExecutionPlan) -> Result<Vec<Statement>>;

    /// Judges a schema change by this format's rules: safe, destructive (with the reason a
    /// migration file states) or not expressible.
    fn classify(&self, change: &SchemaChange) -> Safety;

    /// The SQL statements (without trailing `;`) that carry out `change` on `table`, for
    /// migration files. Fails with [`Unsupported`](crate::Error::Unsupported) when
    /// [`classify`](Self::classify) says the format cannot express the change.
    fn render_change(&self, table: &TableRef, change: &SchemaChange) -> Result<Vec<String>>;
}

/// The name under which SQL engines expose in-memory source rows to rendered statements.
pub const SOURCE_VIEW: &str = "__lakeorm_source";
