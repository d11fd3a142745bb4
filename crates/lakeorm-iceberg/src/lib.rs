//! The Apache Iceberg dialect of lakeorm.
//!
//! Iceberg tables live in a catalog (default `lakeorm.default.<table>`), take hidden partition
//! transforms (`bucket(N, col)`, `truncate(W, col)`, `years/months/days/hours(col)`, identity)
//! and accept MERGE, UPDATE and DELETE through engines with Iceberg support.

use std::collections::BTreeMap;

use lakeorm_core::sql::{self, SparkSqlDialect};
use lakeorm_core::{
    Dialect, Error, ExecutionPlan, LakeSchema, LakeType, Layout, Partition, Result, Safety,
    SchemaChange, Statement, TableFormat, TableRef, TableSpec, TableState,
};

mod rules;

pub use lakeorm_core::layout::ICEBERG_BLOOM_FILTER_PROPERTY as BLOOM_FILTER_PROPERTY;

/// The catalog tables are qualified with unless configured.
pub const DEFAULT_CATALOG: &str = "lakeorm";

/// The namespace tables are created in unless configured.
pub const DEFAULT_DATABASE: &str = "default";

/// Apache Iceberg semantics.
#[derive(Debug, Clone)]
pub struct IcebergDialect {
    catalog: Option<String>,
    database: String,
    properties: BTreeMap<String, String>,
    with_location: bool,
}

impl Default for IcebergDialect {
    fn default() -> Self {
        IcebergDialect {
            catalog: Some(DEFAULT_CATALOG.into()),
            database: DEFAULT_DATABASE.into(),
            properties: BTreeMap::new(),
            with_location: false,
        }
    }
}

impl IcebergDialect {
    /// The default dialect: tables named `lakeorm.default.<table>`, locations chosen by the
    /// catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// The catalog to qualify tables with (`None` for the session's current catalog).
    pub fn with_catalog(mut self, catalog: Option<String>) -> Self {
        self.catalog = catalog;
        self
    }

    /// The namespace tables live in.
    pub fn with_database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// Adds a table property to every table created (e.g. `write.format.default`).
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Places tables at the Backend's table location instead of letting the catalog choose.
    pub fn with_explicit_locations(mut self, enabled: bool) -> Self {
        self.with_location = enabled;
        self
    }

    /// The table properties applied to created tables.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// The catalog whose `system` procedures maintain `table` (the session catalog when
    /// tables are unqualified).
    fn procedure_catalog(&self, table: &TableSpec) -> String {
        self.quote_ident(table.table.catalog.as_deref().unwrap_or("spark_catalog"))
    }

    /// `table` as the procedures take it: a string `'namespace.name'`.
    fn procedure_table(&self, table: &TableSpec) -> String {
        let parts: Vec<&str> = table
            .table
            .database
            .as_deref()
            .into_iter()
            .chain(std::iter::once(table.table.name.as_str()))
            .collect();
        lakeorm_core::quote::string_literal(&parts.join("."))
    }

    /// `ALTER TABLE … WRITE ORDERED BY …` recording `state`'s sort order, if it has one.
    fn write_order(&self, table: &TableRef, state: &TableState) -> Option<String> {
        if state.sorted_by.is_empty() {
            return None;
        }
        Some(format!(
            "ALTER TABLE {} WRITE ORDERED BY {}",
            sql::qualified_ref(self, table),
            sql::column_list(self, &state.sorted_by)
        ))
    }

    /// `CREATE NAMESPACE IF NOT EXISTS` for the configured namespace.
    pub fn create_namespace_sql(&self) -> String {
        let parts: Vec<String> = self
            .catalog
            .iter()
            .chain(std::iter::once(&self.database))
            .map(|p| self.quote_ident(p))
            .collect();
        format!("CREATE NAMESPACE IF NOT EXISTS {}", parts.join("."))
    }
}

fn transform_fits(partition: Partition, ty: &LakeType) -> bool {
    use LakeType::*;
    match partition {
        Partition::Identity => !matches!(ty, List(_) | Struct(_) | Json | Float32 | Float64),
        Partition::Bucket(_) => matches!(
            ty,
            Int8 | Int16
                | Int32
                | Int64
                | Decimal { .. }
                | String
                | Uuid
                | Binary
                | Date
                | Timestamp
                | TimestampNtz
        ),
        Partition::Truncate(_) => matches!(
            ty,
            Int8 | Int16 | Int32 | Int64 | Decimal { .. } | String | Binary
        ),
        Partition::Year | Partition::Month | Partition::Day => {
            matches!(ty, Date | Timestamp | TimestampNtz)
        }
        Partition::Hour => matches!(ty, Timestamp | TimestampNtz),
    }
}

impl Dialect for IcebergDialect {
    fn name(&self) -> &str {
        "iceberg"
    }

    fn format(&self) -> TableFormat {
        TableFormat::Iceberg
    }

    fn supports_partition(&self, _: Partition) -> bool {
        true
    }

    fn check_schema(&self, schema: &LakeSchema) -> Result<()> {
        for (field, partition) in schema.partitions() {
            if !transform_fits(partition, &field.ty.ty) {
                return Err(Error::unsupported(
                    format!(
                        "partition = \"{partition}\" on column `{}` ({})",
                        field.column, field.ty.ty
                    ),
                    "the iceberg dialect",
                    "the transform does not apply to this column type",
                ));
            }
        }
        Ok(())
    }

    fn table_properties(&self) -> BTreeMap<String, String> {
        self.properties.clone()
    }

    /// A merge key is bucket-partitioned when nothing else partitions the table, the
    /// `sortable` columns are the table's sort order, and indexed columns get bloom filters
    /// through the property every Iceberg writer (Spark's, the embedded engine's) reads.
    fn table_state(&self, declared: TableState, layout: &Layout) -> Result<TableState> {
        let mut state = layout.bucket_keys(&declared);
        state.sorted_by.clone_from(&layout.sort_by);
        for column in &layout.bloom_filters {
            state.properties.insert(
                format!("{BLOOM_FILTER_PROPERTY}{column}"),
                "true".to_owned(),
            );
        }
        Ok(state)
    }

    fn locates_tables(&self) -> bool {
        self.with_location
    }

    fn table_ref(&self, table: &str) -> TableRef {
        TableRef {
            catalog: self.catalog.clone(),
            database: Some(self.database.clone()),
            name: table.to_owned(),
        }
    }

    fn render(&self, plan: &ExecutionPlan) -> Result<Vec<Statement>> {
        match plan {
            // The namespace first: Spark's Iceberg catalogs do not create it with the table.
            ExecutionPlan::CreateTable { table } => {
                let mut statements = vec![Statement::new(self.create_namespace_sql())];
                statements.extend(sql::render(self, plan)?);
                let state = table.table_state(self)?;
                statements.extend(self.write_order(&table.table, &state).map(Statement::new));
                Ok(statements)
            }
            // Iceberg's own procedures: no Iceberg engine accepts Delta's OPTIMIZE or VACUUM.
            ExecutionPlan::Optimize {
                table,
                target_size,
                zorder,
                filter,
            } => {
                let mut args = vec![format!("table => {}", self.procedure_table(table))];
                // Iceberg Z-orders two or more columns; one is a plain sort.
                let sort_order = match zorder.as_slice() {
                    [] => None,
                    [column] => Some(format!("{} ASC NULLS FIRST", self.quote_ident(column))),
                    columns => Some(format!("zorder({})", sql::column_list(self, columns))),
                };
                if let Some(order) = sort_order {
                    args.push(format!(
                        "strategy => 'sort', sort_order => {}",
                        lakeorm_core::quote::string_literal(&order)
                    ));
                }
                if let Some(filter) = filter {
                    // The procedure takes its filter as text, so values are inlined as escaped
                    // literals (as for Delta's OPTIMIZE, which takes no parameter markers).
                    args.push(format!(
                        "where => {}",
                        lakeorm_core::quote::string_literal(&filter.inline()?)
                    ));
                }
                if let Some(size) = target_size {
                    args.push(format!(
                        "options => map('target-file-size-bytes', '{size}')"
                    ));
                }
                Ok(vec![Statement::new(format!(
                    "CALL {}.system.rewrite_data_files({})",
                    self.procedure_catalog(table),
                    args.join(", ")
                ))])
            }
            ExecutionPlan::Vacuum {
                table, retention, ..
            } => {
                let cutoff = chrono::Duration::from_std(*retention)
                    .ok()
                    .and_then(|r| chrono::Utc::now().checked_sub_signed(r))
                    .ok_or_else(|| {
                        Error::Config(format!("vacuum retention {retention:?} is too long"))
                    })?;
                let older_than = format!(
                    "TIMESTAMP '{}'",
                    cutoff.format("%Y-%m-%d %H:%M:%S%.6f+00:00")
                );
                let (catalog, name) = (self.procedure_catalog(table), self.procedure_table(table));
                Ok(vec![
                    Statement::new(format!(
                        "CALL {catalog}.system.expire_snapshots(table => {name}, older_than => {older_than})"
                    )),
                    Statement::new(format!(
                        "CALL {catalog}.system.remove_orphan_files(table => {name}, older_than => {older_than})"
                    )),
                ])
            }
            _ => sql::render(self, plan),
        }
    }

    fn classify(&self, change: &SchemaChange) -> Safety {
        rules::classify(change, |ty| self.type_sql(ty), transform_fits)
    }

    fn render_change(&self, table: &TableRef, change: &SchemaChange) -> Result<Vec<String>> {
        match change {
            // Partition evolution: new files follow the new spec, existing ones keep theirs.
            SchemaChange::Repartition { from, to } => {
                if let Safety::Unsupported(reason) = self.classify(change) {
                    return Err(Error::unsupported(
                        format!("{change} on `{table}`"),
                        "the iceberg dialect",
                        reason,
                    ));
                }
                let name = sql::qualified_ref(self, table);
                let mut steps = Vec::new();
                for field in from.iter().filter(|f| !to.contains(f)) {
                    steps.push(format!(
                        "ALTER TABLE {name} DROP PARTITION FIELD {}",
                        self.partition_sql(&field.column, field.transform)?
                    ));
                }
                for field in to.iter().filter(|f| !from.contains(f)) {
                    steps.push(format!(
                        "ALTER TABLE {name} ADD PARTITION FIELD {}",
                        self.partition_sql(&field.column, field.transform)?
                    ));
                }
                Ok(steps)
            }
            SchemaChange::CreateTable(state) => {
                let mut steps = sql::change_sql(self, table, change)?;
                steps.extend(self.write_order(table, state));
                Ok(steps)
            }
            SchemaChange::ChangeType { from, to, .. }
                if self.type_sql(from) == self.type_sql(to) =>
            {
                // Iceberg stores both alike (e.g. tinyint and int): nothing to change.
                Ok(Vec::new())
            }
            _ => sql::change_sql(self, table, change),
        }
    }
}

impl SparkSqlDialect for IcebergDialect {
    fn type_sql(&self, ty: &LakeType) -> String {
        // Iceberg has no 8- or 16-bit integers; Spark widens them to INT.
        sql::spark_type(ty, false)
    }

    fn partition_sql(&self, column: &str, partition: Partition) -> Result<String> {
        let column = self.quote_ident(column);
        Ok(match partition {
            Partition::Identity => column,
            Partition::Bucket(n) => format!("bucket({n}, {column})"),
            Partition::Truncate(w) => format!("truncate({w}, {column})"),
            Partition::Year => format!("years({column})"),
            Partition::Month => format!("months({column})"),
            Partition::Day => format!("days({column})"),
            Partition::Hour => format!("hours({column})"),
        })
    }

    fn with_location(&self) -> bool {
        self.with_location
    }
}
