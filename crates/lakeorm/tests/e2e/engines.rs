//! The engines under test, and the models the scenarios write.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lakeorm::backends::ObjectStoreBackend;
use lakeorm::delta::DeltaDialect;
use lakeorm::iceberg::IcebergDialect;
use lakeorm::spark::{ParquetDialect, SparkDriver, SparkServer};
use lakeorm::{Client, ClientOptions, Lake, LocalBuilder, Row};

/// One order line: a primary key (inserts append, upserts merge on it), a partition column,
/// nullable and typed columns.
#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "orders")]
pub(crate) struct Order {
    #[lake(pk)]
    pub(crate) id: i64,
    pub(crate) line: i32,
    #[lake(partition = "identity")]
    pub(crate) region: String,
    pub(crate) sku: String,
    pub(crate) quantity: i64,
    pub(crate) price: f64,
    pub(crate) note: Option<String>,
    pub(crate) placed_at: DateTime<Utc>,
}

/// What `SELECT region, COUNT(*) …` returns.
#[derive(Row, Debug, PartialEq)]
pub(crate) struct RegionCount {
    pub(crate) region: String,
    pub(crate) n: i64,
}

pub(crate) fn order(id: i64, generation: i64) -> Order {
    Order {
        id,
        line: (id % 3) as i32,
        region: ["eu", "us", "ap"][(id % 3) as usize].into(),
        sku: format!("sku-{id:07}"),
        quantity: id % 17 + generation * 1000,
        price: id as f64 * 0.25,
        note: (id % 5 == 0).then(|| format!("it's #{id}")),
        placed_at: DateTime::from_timestamp(1_700_000_000 + id, 0).unwrap(),
    }
}

pub(crate) fn orders(range: std::ops::Range<i64>, generation: i64) -> Vec<Order> {
    range.map(|id| order(id, generation)).collect()
}

fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("LAKEORM_TEST_E2E_REQUIRED").is_none(),
                "LAKEORM_TEST_E2E_REQUIRED is set but {var} is not"
            );
            eprintln!("{var} is not set: run through `cargo xtask e2e`; skipping");
            None
        }
    }
}

/// Sail's URL, if a Sail server runs for the tests.
pub(crate) fn sail_url() -> Option<String> {
    server_url("LAKEORM_TEST_SAIL_URL")
}

/// Apache Spark's URL, if a Spark Connect server runs for the tests.
pub(crate) fn spark_url() -> Option<String> {
    server_url("LAKEORM_TEST_SPARK_URL")
}

/// A lake in a fresh temporary directory.
pub(crate) struct TestLake {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) backend: Arc<ObjectStoreBackend>,
}

impl TestLake {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(ObjectStoreBackend::file(dir.path()).unwrap());
        TestLake { dir, backend }
    }

    /// A lake under a fresh prefix of the S3 test server's bucket (the server Sail was started
    /// against), if one runs.
    pub(crate) fn s3() -> Option<Self> {
        Self::s3_at("LAKEORM_TEST_S3_ENDPOINT")
    }

    /// A lake on the second S3 test server, which Sail was not started against.
    pub(crate) fn other_s3() -> Option<Self> {
        Self::s3_at("LAKEORM_TEST_S3_ALT_ENDPOINT")
    }

    fn s3_at(var: &str) -> Option<Self> {
        let Ok(endpoint) = std::env::var(var) else {
            assert!(
                std::env::var_os("LAKEORM_TEST_E2E_REQUIRED").is_none(),
                "LAKEORM_TEST_E2E_REQUIRED is set but {var} is not"
            );
            return None;
        };
        let bucket = std::env::var("LAKEORM_TEST_S3_BUCKET").unwrap_or_else(|_| "lakeorm".into());
        let options = lakeorm::backends::S3Options::new(bucket)
            .prefix(format!("e2e/{}", lakeorm::IngestId::new()))
            .endpoint(endpoint)
            .region("us-east-1")
            .credentials("lakeorm", "lakeorm")
            .allow_http(true);
        Some(TestLake {
            dir: tempfile::tempdir().unwrap(),
            backend: Arc::new(ObjectStoreBackend::s3(options).unwrap()),
        })
    }
}

/// The table formats a Sail client can be opened with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Format {
    Delta,
    Iceberg,
}

pub(crate) fn sail_driver(url: &str) -> SparkDriver {
    SparkDriver::builder(url)
        .unwrap()
        .server(SparkServer::Sail)
        .pool_size(4)
        .build()
}

/// A client on Sail over `lake`.
pub(crate) fn sail(url: &str, lake: &TestLake, format: Format, options: ClientOptions) -> Client {
    sail_on(sail_driver(url), lake, format, options)
}

/// A client on Sail through `driver` (a clone of which the caller may keep, to watch its pool).
pub(crate) fn sail_on(
    driver: SparkDriver,
    lake: &TestLake,
    format: Format,
    options: ClientOptions,
) -> Client {
    let driver = Arc::new(driver);
    let dialect: Arc<dyn lakeorm::Dialect> = match format {
        Format::Delta => Arc::new(DeltaDialect::new()),
        // Sail has one catalog (the session's): tables unqualified, at the lake's locations.
        Format::Iceberg => Arc::new(
            IcebergDialect::new()
                .with_catalog(None)
                .with_explicit_locations(true),
        ),
    };
    Client::with_options(driver, dialect, lake.backend.clone(), options)
}

/// A client on Apache Spark (plain Parquet tables) over `lake`.
pub(crate) fn spark(url: &str, lake: &TestLake) -> Client {
    let driver = SparkDriver::builder(url)
        .unwrap()
        .server(SparkServer::SparkParquet)
        .build();
    lakeorm::open(driver, ParquetDialect::new(), (*lake.backend).clone())
}

/// The embedded engine over `lake`.
pub(crate) async fn embedded(lake: &TestLake) -> Client {
    LocalBuilder::new()
        .path(lake.dir.path())
        .open()
        .await
        .unwrap()
}
