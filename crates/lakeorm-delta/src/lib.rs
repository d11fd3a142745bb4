//! The Delta Lake dialect of lakeorm.
//!
//! Delta tables live at a path (the Backend's `tables/<name>`), are partitioned by plain
//! columns, and accept MERGE, UPDATE and DELETE. Delta cannot express hash buckets, truncation or
//! time transforms as partitions: a model that asks for them is rejected with the column named
//! and the alternative (partition by identity on a derived column, or use the Iceberg dialect).

use std::collections::BTreeMap;

use lakeorm_core::sql::{self, SparkSqlDialect};
use lakeorm_core::{
    Dialect, ExecutionPlan, LakeSchema, LakeType, Partition, Result, Safety, SchemaChange,
    Statement, TableFormat, TableRef,
};

mod rules;

/// Delta Lake semantics.
#[derive(Debug, Clone, Default)]
pub struct DeltaDialect {
    catalog: Option<String>,
    database: Option<String>,
    properties: BTreeMap<String, String>,
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
        sql::check_identity_partitions(
            schema,
            "the delta dialect",
            "Delta partitions by plain column values only; use partition = \"identity\" \
             (on a derived column such as a date for time partitions), or the Iceberg dialect \
             for bucket/truncate/time transforms",
        )
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
                sql::string_literal(key)
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

    fn partition_sql(&self, column: &str, partition: Partition) -> Result<String> {
        sql::identity_partition_sql(self, "the delta dialect", column, partition)
    }

    fn with_location(&self) -> bool {
        true
    }
}
