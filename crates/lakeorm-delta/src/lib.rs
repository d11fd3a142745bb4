//! The Delta Lake dialect of lakeorm.
//!
//! Delta tables live at a path (the Backend's `tables/<name>`) and accept MERGE, UPDATE and
//! DELETE. Delta partitions by column values; a partition transform (`year`, `month`, `day`,
//! `hour`, `truncate(W)`, `bucket(N)`) becomes a generated column that the table is partitioned
//! by, `<column>_<transform> … GENERATED ALWAYS AS (…)`, whose expression every Delta writer
//! evaluates alike ([`lakeorm_core::generated`] lists them). A transform that cannot be made
//! interoperable on a column's type is rejected, naming the column and the alternative.

use std::collections::BTreeMap;

use lakeorm_core::sql::{self, SparkSqlDialect};
use lakeorm_core::{
    Dialect, Error, ExecutionPlan, GeneratedColumn, LakeSchema, LakeType, Partition, Result,
    Safety, SchemaChange, Statement, TableFormat, TableRef, TableState, generated,
};

mod rules;

/// Delta Lake semantics.
#[derive(Debug, Clone, Default)]
pub struct DeltaDialect {
    catalog: Option<String>,
    database: Option<String>,
    properties: BTreeMap<String, String>,
    managed: bool,
}

impl DeltaDialect {
    /// The default dialect: unqualified table names, no extra table properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// Qualifies table names with a catalog (e.g. `spark_catalog`, a Unity catalog).
    pub fn with_catalog(mut self, catalog: impl Into<String>) -> Self {
        self.catalog = Some(catalog.into());
        self
    }

    /// Qualifies table names with a database (schema).
    pub fn with_database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// Adds a table property to every table created (e.g. `delta.enableDeletionVectors`).
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Creates tables without a `LOCATION`, for catalogs that place tables themselves (Unity
    /// Catalog managed tables on Databricks SQL warehouses, which refuse table locations in a
    /// volume).
    pub fn managed_tables(mut self) -> Self {
        self.managed = true;
        self
    }

    /// Enables deletion vectors on created tables (cheaper deletes and updates).
    pub fn with_deletion_vectors(self, enabled: bool) -> Self {
        self.with_property("delta.enableDeletionVectors", enabled.to_string())
    }

    /// The table properties applied to created tables.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }
}

impl Dialect for DeltaDialect {
    fn name(&self) -> &str {
        "delta"
    }

    fn format(&self) -> TableFormat {
        TableFormat::Delta
    }

    fn supports_partition(&self, partition: Partition) -> bool {
        partition == Partition::Identity
    }

    fn check_schema(&self, schema: &LakeSchema) -> Result<()> {
        sql::check_partition_types(schema, "the delta dialect")?;
        self.generated_columns(&TableState::from_schema(schema))
            .map(|_| ())
    }

    fn generated_columns(&self, state: &TableState) -> Result<Vec<GeneratedColumn>> {
        generated::generated_columns(state).map_err(|reason| {
            Error::unsupported(
                format!("partitioning `{}`", state.table),
                "the delta dialect",
                reason,
            )
        })
    }

    fn table_properties(&self) -> BTreeMap<String, String> {
        self.properties.clone()
    }

    fn table_ref(&self, table: &str) -> TableRef {
        TableRef {
            catalog: self.catalog.clone(),
            database: self.database.clone(),
            name: table.to_owned(),
        }
    }

    fn render(&self, plan: &ExecutionPlan) -> Result<Vec<Statement>> {
        sql::render(self, plan)
    }

    fn classify(&self, change: &SchemaChange) -> Safety {
        rules::classify(change, |ty| self.type_sql(ty))
    }

    fn render_change(&self, table: &TableRef, change: &SchemaChange) -> Result<Vec<String>> {
        let mut steps = sql::change_sql(self, table, change)?;
        let enable = |key: &str| {
            format!(
                "ALTER TABLE {} SET TBLPROPERTIES ({} = 'true')",
                sql::qualified_ref(self, table),
                lakeorm_core::quote::string_literal(key)
            )
        };
        match change {
            // Renames and drops need column mapping by name; enabling it again is a no-op.
            SchemaChange::RenameColumn { .. } | SchemaChange::DropColumn(_) => {
                steps.insert(
                    0,
                    format!(
                        "ALTER TABLE {} SET TBLPROPERTIES ('delta.columnMapping.mode' = 'name')",
                        sql::qualified_ref(self, table)
                    ),
                );
            }
            SchemaChange::ChangeType { from, to, .. } => {
                if self.type_sql(from) == self.type_sql(to) {
                    // Both are stored alike (e.g. a UUID and a string): nothing to change.
                    steps.clear();
                } else {
                    steps.insert(0, enable("delta.enableTypeWidening"));
                }
            }
            _ => {}
        }
        Ok(steps)
    }
}

impl SparkSqlDialect for DeltaDialect {
    fn type_sql(&self, ty: &LakeType) -> String {
        sql::spark_type(ty, true)
    }

    /// The column itself for identity, its generated column for a transform.
    fn partition_sql(&self, column: &str, partition: Partition) -> Result<String> {
        let name = generated::generated_name(column, partition);
        Ok(self.quote_ident(name.as_deref().unwrap_or(column)))
    }

    fn with_location(&self) -> bool {
        !self.managed
    }
}
