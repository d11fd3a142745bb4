//! Plain Parquet tables: what a Spark server without Delta Lake or Iceberg can write.

use lakeorm_core::sql::{self, SparkSqlDialect};
use lakeorm_core::{
    Dialect, Error, ExecutionPlan, LakeSchema, LakeType, Partition, Result, Safety, SchemaChange,
    Statement, TableFormat, TableRef,
};

const BY: &str = "the parquet dialect";

/// Parquet tables (`USING parquet`), partitioned by plain columns.
///
/// They take appends, plain and staged, and reads. Parquet tables have no transaction log,
/// so MERGE, UPDATE, DELETE and schema evolution are refused up front with a typed
/// [`Unsupported`](Error::Unsupported) error naming Delta or Iceberg as the way to get them.
#[derive(Debug, Clone, Default)]
pub struct ParquetDialect {
    catalog: Option<String>,
    database: Option<String>,
}

impl ParquetDialect {
    /// Unqualified table names.
    pub fn new() -> Self {
        Self::default()
    }

    /// Qualifies table names with `catalog`.
    #[must_use]
    pub fn with_catalog(mut self, catalog: impl Into<String>) -> Self {
        self.catalog = Some(catalog.into());
        self
    }

    /// Qualifies table names with `database`.
    #[must_use]
    pub fn with_database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }
}

impl Dialect for ParquetDialect {
    fn name(&self) -> &str {
        "parquet"
    }

    fn format(&self) -> TableFormat {
        TableFormat::Parquet
    }

    fn supports_partition(&self, partition: Partition) -> bool {
        partition == Partition::Identity
    }

    fn check_schema(&self, schema: &LakeSchema) -> Result<()> {
        sql::check_identity_partitions(
            schema,
            BY,
            "Parquet tables partition by plain column values only",
        )
    }

    fn table_ref(&self, table: &str) -> TableRef {
        TableRef {
            catalog: self.catalog.clone(),
            database: self.database.clone(),
            name: table.to_owned(),
        }
    }

    fn render(&self, plan: &ExecutionPlan) -> Result<Vec<Statement>> {
        let refused = match plan {
            ExecutionPlan::Merge { .. } => Some("MERGE (upserts)"),
            ExecutionPlan::Update { .. } => Some("UPDATE"),
            ExecutionPlan::Delete { .. } => Some("DELETE"),
            ExecutionPlan::Optimize { .. } | ExecutionPlan::Vacuum { .. } => {
                Some("table maintenance")
            }
            _ => None,
        };
        if let Some(operation) = refused {
            return Err(Error::unsupported(
                operation,
                BY,
                "Parquet tables have no transaction log; use the Delta or Iceberg dialect",
            ));
        }
        sql::render(self, plan)
    }

    fn classify(&self, change: &SchemaChange) -> Safety {
        match change {
            SchemaChange::CreateTable(_) => Safety::Safe,
            SchemaChange::DropTable(_) => Safety::Destructive("drops the table".into()),
            _ => Safety::Unsupported(
                "Parquet tables do not evolve their schema; use the Delta or Iceberg dialect"
                    .into(),
            ),
        }
    }

    fn render_change(&self, table: &TableRef, change: &SchemaChange) -> Result<Vec<String>> {
        if let Safety::Unsupported(reason) = self.classify(change) {
            return Err(Error::unsupported(
                format!("changing `{table}`"),
                BY,
                reason,
            ));
        }
        sql::change_sql(self, table, change)
    }
}

impl SparkSqlDialect for ParquetDialect {
    fn type_sql(&self, ty: &LakeType) -> String {
        sql::spark_type(ty, true)
    }

    fn partition_sql(&self, column: &str, partition: Partition) -> Result<String> {
        sql::identity_partition_sql(self, BY, column, partition)
    }

    fn with_location(&self) -> bool {
        true
    }
}
