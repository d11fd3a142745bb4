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
    Dialect, Error, ExecutionPlan, GeneratedColumn, LakeSchema, LakeType, Layout, Partition,
    Result, Safety, SchemaChange, Statement, TableFormat, TableRef, TableState, generated,
};

mod rules;

/// Delta Lake semantics.
#[derive(Debug, Clone, Default)]
pub struct DeltaDialect {
    catalog: Option<String>,
    database: Option<String>,
    properties: BTreeMap<String, String>,
    managed: bool,
    clustered: bool,
}

/// The most columns Delta clusters a table by.
pub const MAX_CLUSTERING_COLUMNS: usize = 4;

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

    /// Creates tables liquid-clustered (`CLUSTER BY`) by the model's layout columns (its
    /// `sortable` columns, then its `indexed` ones and merge keys) instead of Z-ordering them on
    /// `optimize`; `OPTIMIZE` then clusters incrementally.
    ///
    /// For engines that write clustered tables (Databricks, Delta Lake 3.1+ on Spark). The
    /// embedded engine refuses to create them ([`Error::Unsupported`]): delta-rs does not
    /// write clustered tables. A model that declares partitions, or more than
    /// [`MAX_CLUSTERING_COLUMNS`] layout columns, is refused when its table is created.
    pub fn with_liquid_clustering(mut self) -> Self {
        self.clustered = true;
        self
    }

    /// Whether tables are created liquid-clustered.
    pub fn clusters_tables(&self) -> bool {
        self.clustered
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

    fn table_state(&self, declared: TableState, layout: &Layout) -> Result<TableState> {
        if !self.clustered || layout.zorder_by.is_empty() {
            return Ok(declared);
        }
        let refuse = |reason: String| {
            Err(Error::unsupported(
                format!("liquid clustering of `{}`", declared.table),
                "the delta dialect",
                reason,
            ))
        };
        if let Some(column) = declared.columns.iter().find(|c| c.partition.is_some()) {
            return refuse(format!(
                "a clustered table cannot also be partitioned (`{}` declares a partition); \
                 drop the partition or the clustering",
                column.name
            ));
        }
        if layout.zorder_by.len() > MAX_CLUSTERING_COLUMNS {
            return refuse(format!(
                "Delta clusters by at most {MAX_CLUSTERING_COLUMNS} columns and the model's \
                 layout names {} ({}); mark fewer columns sortable or indexed, or opt merge keys \
                 out with #[lake(index_keys = false)]",
                layout.zorder_by.len(),
                layout.zorder_by.join(", ")
            ));
        }
        let mut state = declared;
        state.clustering.clone_from(&layout.zorder_by);
        Ok(state)
    }

    fn locates_tables(&self) -> bool {
        !self.managed
    }

    fn table_ref(&self, table: &str) -> TableRef {
        TableRef {
            catalog: self.catalog.clone(),
            database: self.database.clone(),
            name: table.to_owned(),
        }
    }

    fn render(&self, plan: &ExecutionPlan) -> Result<Vec<Statement>> {
        if let ExecutionPlan::Optimize { table, zorder, .. } = plan
            && self.clustered
            && !zorder.is_empty()
        {
            return Err(Error::unsupported(
                format!("Z-ordering the liquid-clustered table `{}`", table.table),
                "the delta dialect",
                "a clustered table is clustered by OPTIMIZE itself; optimize without Z-order columns",
            ));
        }
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
