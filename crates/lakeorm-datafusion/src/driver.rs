//! `EmbeddedDriver`: the in-process engine.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::config::Dialect as SqlDialect;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::prelude::ParquetReadOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use lakeorm_core::{
    Backend, DriverCapabilities, Error, ExecContext, ExecMetrics, ExecutionPlan, IngestId,
    Location, QueryResult, Result, Statement, TableFormat, TableSpec, TableStats,
};
use object_store::ObjectStoreExt as _;
use url::Url;

use crate::catalog::LakeSchemaProvider;
use crate::delta::DeltaOps;
use crate::errors::{self, ENGINE};
use crate::iceberg::IcebergOps;
use crate::params::to_scalars;
use crate::placeholders::bind_statement;
use crate::table_ops::{self, TableOps};
use crate::time_travel::{self, AS_OF_SCHEMA};

/// The embedded engine: DataFusion for SQL and delta-rs for Delta tables, in this process.
///
/// Tables under the Backend's `tables/` prefix are visible to SQL by name (unqualified) without
/// registration; tables created or changed by another process are picked up at the next query.
pub struct EmbeddedDriver {
    session: SessionContext,
    catalog: Arc<LakeSchemaProvider>,
    /// Past versions of tables, registered while a time-travel query is planned.
    as_of: Arc<MemorySchemaProvider>,
    closed: AtomicBool,
}

impl std::fmt::Debug for EmbeddedDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedDriver")
            .field("tables", &self.catalog.table_names())
            .finish_non_exhaustive()
    }
}

impl EmbeddedDriver {
    /// Opens the engine on `backend`'s lake and registers the tables it already holds.
    pub async fn open(backend: Arc<dyn Backend>) -> Result<Self> {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("lakeorm", "default");
        // Spark-like SQL: backtick identifiers, Spark's literal and function syntax where
        // DataFusion supports it.
        config.options_mut().sql_parser.dialect = SqlDialect::Databricks;
        let session = SessionContext::new_with_config(config);
        let store = backend.object_store();
        let root = backend.root().as_url();
        let store_url = Url::parse(&format!(
            "{}://{}",
            root.scheme(),
            root.host_str().unwrap_or("")
        ))
        .map_err(|e| Error::Config(format!("backend root {root}: {e}")))?;
        session.register_object_store(&store_url, store);
        crate::logstores::register(root.scheme());

        let catalog = Arc::new(LakeSchemaProvider::new(backend));
        let default_catalog = session.catalog("lakeorm").ok_or_else(|| {
            Error::engine(
                ENGINE,
                "opening the session",
                false,
                "DataFusion did not create the `lakeorm` catalog it was configured with",
            )
        })?;
        default_catalog
            .register_schema("default", Arc::clone(&catalog) as Arc<dyn SchemaProvider>)
            .map_err(|e| errors::datafusion("registering the lake schema", e))?;
        let as_of = Arc::new(MemorySchemaProvider::new());
        default_catalog
            .register_schema(AS_OF_SCHEMA, Arc::clone(&as_of) as Arc<dyn SchemaProvider>)
            .map_err(|e| errors::datafusion("registering the time-travel schema", e))?;
        let found = catalog.discover().await?;
        tracing::debug!(tables = ?found, "embedded engine opened");
        Ok(EmbeddedDriver {
            session,
            catalog,
            as_of,
            closed: AtomicBool::new(false),
        })
    }

    /// The DataFusion session queries run in (tables are registered in it by name).
    pub fn session(&self) -> &SessionContext {
        &self.session
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed("the embedded engine"));
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn delta_ops(&self) -> DeltaOps<'_> {
        self.ops()
    }

    fn ops(&self) -> DeltaOps<'_> {
        DeltaOps {
            catalog: &self.catalog,
            session: &self.session,
        }
    }

    fn iceberg(&self) -> IcebergOps<'_> {
        IcebergOps {
            catalog: &self.catalog,
            session: &self.session,
        }
    }

    /// Carries out table DDL with the format's own operations: a `CREATE … USING iceberg`, or
    /// an ALTER or DROP of a table whose directory holds Iceberg metadata, on Iceberg; the rest
    /// on Delta.
    async fn ddl(&self, ddl: crate::ddl::Ddl) -> Result<ExecMetrics> {
        use crate::ddl::Ddl;
        let iceberg = match &ddl {
            Ddl::CreateNamespace { name } => {
                tracing::debug!(namespace = %name, "CREATE NAMESPACE: the lake has one namespace");
                return Ok(ExecMetrics::default());
            }
            Ddl::Create { format, .. } => format.as_deref() == Some("iceberg"),
            Ddl::Alter { name, .. } | Ddl::Drop { name, .. } => {
                let location = self.catalog.location_of(name);
                self.catalog.load(&location).await?.is_none()
                    && self.catalog.iceberg().is_table(&location).await?
            }
        };
        if iceberg {
            self.iceberg().ddl(ddl).await
        } else {
            self.ops().ddl(ddl).await
        }
    }

    async fn dataframe(&self, statement: &Statement) -> Result<datafusion::prelude::DataFrame> {
        let mut sql = bind_statement(statement)?;
        // Past versions are registered for as long as the query is planned; the plan keeps
        // its providers.
        let mut registered = AsOfTables {
            schema: &self.as_of,
            names: Vec::new(),
        };
        if let Some((rewritten, travels)) = time_travel::rewrite(&sql, &statement.params)? {
            for travel in travels {
                let provider = self
                    .catalog
                    .provider_as_of(&travel.table, travel.at)
                    .await?;
                self.as_of
                    .register_table(travel.name.clone(), provider)
                    .map_err(|e| errors::datafusion("registering a past version", e))?;
                registered.names.push(travel.name);
            }
            sql = rewritten;
        }
        let df = self.session.sql(&sql).await.map_err(errors::rejected)?;
        drop(registered);
        if statement.params.is_empty() {
            return Ok(df);
        }
        df.with_param_values(to_scalars(&statement.params)?)
            .map_err(errors::rejected)
    }
}

/// Deregisters the past versions of one query's tables when dropped.
struct AsOfTables<'a> {
    schema: &'a MemorySchemaProvider,
    names: Vec<String>,
}

impl Drop for AsOfTables<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = self.schema.deregister_table(name);
        }
    }
}

/// The formats this engine writes; a plan on another is refused before anything is done.
fn check_format(table: &TableSpec) -> Result<TableFormat> {
    match table.format {
        TableFormat::Delta | TableFormat::Iceberg => Ok(table.format),
        other => Err(Error::unsupported(
            format!("{other} tables"),
            "the embedded engine",
            "the embedded engine writes Delta and Iceberg tables; use Spark Connect for plain Parquet tables",
        )),
    }
}

#[async_trait]
impl lakeorm_core::Driver for EmbeddedDriver {
    fn name(&self) -> &str {
        ENGINE
    }

    fn capabilities(&self) -> DriverCapabilities {
        DriverCapabilities {
            formats: vec![TableFormat::Delta, TableFormat::Iceberg],
            merge: true,
            update: true,
            delete: true,
            staged_writes: true,
            // In-process, a staged write is the same batch through a Parquet round trip.
            staging_helps: false,
            maintenance: true,
            time_travel: true,
        }
    }

    async fn execute(&self, plan: ExecutionPlan, ctx: ExecContext<'_>) -> Result<ExecMetrics> {
        self.check_open()?;
        let (delta, iceberg) = (self.ops(), self.iceberg());
        let ops: &dyn TableOps = match plan.table().map(check_format).transpose()? {
            Some(TableFormat::Iceberg) => &iceberg,
            _ => &delta,
        };
        let plan = match table_ops::execute(ops, plan, ctx).await {
            Ok(done) => return done,
            Err(plan) => plan,
        };
        match plan {
            ExecutionPlan::Exec(statement) => {
                // Table DDL (what migration files hold) is carried out by delta-rs.
                if statement.params.is_empty()
                    && let Some(ddl) = crate::ddl::parse(&statement.sql)?
                {
                    return self.ddl(ddl).await;
                }
                // Run for the effect; a statement's own result rows are not write metrics.
                self.dataframe(&statement)
                    .await?
                    .collect()
                    .await
                    .map_err(|e| errors::datafusion("exec", e))?;
                Ok(ExecMetrics::default())
            }
            other => Err(Error::unsupported(
                other.operation(),
                ENGINE,
                "not an operation of this engine",
            )),
        }
    }

    async fn query(&self, statement: Statement, _ctx: ExecContext<'_>) -> Result<QueryResult> {
        self.check_open()?;
        let df = self.dataframe(&statement).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let native = df.clone();
        let stream = df
            .execute_stream()
            .await
            .map_err(|e| errors::datafusion("query", e))?;
        let batches = stream
            .map(|batch| batch.map_err(|e| errors::datafusion("query", e)))
            .boxed();
        Ok(QueryResult {
            schema,
            batches,
            native: Some(Box::new(native)),
        })
    }

    async fn stats(&self, table: &TableSpec, _ctx: ExecContext<'_>) -> Result<TableStats> {
        self.check_open()?;
        match check_format(table)? {
            TableFormat::Iceberg => self.iceberg().stats(table).await,
            _ => self.ops().stats(table).await,
        }
    }

    async fn read_parquet(
        &self,
        location: &Location,
        _ctx: ExecContext<'_>,
    ) -> Result<Option<QueryResult>> {
        self.check_open()?;
        let read_error = |e| errors::driver_read(location, e);
        // Ask the engine's own store (not the client's) whether anything is there: that is
        // the difference between "sees other storage" and "cannot read".
        let url = ListingTableUrl::parse(location.as_str()).map_err(read_error)?;
        let store = self
            .session
            .runtime_env()
            .object_store(url.object_store())
            .map_err(read_error)?;
        let path = object_store::path::Path::from(url.prefix().as_ref());
        match store.head(&path).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(errors::driver_read(location, e)),
        }
        let df = self
            .session
            .read_parquet(location.as_str(), ParquetReadOptions::default())
            .await
            .map_err(read_error)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let stream = df.execute_stream().await.map_err(read_error)?;
        let location = location.clone();
        let batches = stream
            .map(move |batch| batch.map_err(|e| errors::driver_read(&location, e)))
            .boxed();
        Ok(Some(QueryResult {
            schema,
            batches,
            native: None,
        }))
    }

    async fn is_committed(
        &self,
        table: &TableSpec,
        ingest_id: &IngestId,
        _ctx: ExecContext<'_>,
    ) -> Result<bool> {
        self.check_open()?;
        match check_format(table)? {
            TableFormat::Iceberg => self.iceberg().is_committed(table, ingest_id).await,
            _ => self.ops().is_committed(table, ingest_id).await,
        }
    }

    async fn ping(&self) -> Result<()> {
        self.check_open()?;
        self.session
            .sql("SELECT 1")
            .await
            .map_err(|e| errors::datafusion("ping", e))?
            .collect()
            .await
            .map_err(|e| errors::datafusion("ping", e))?;
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
