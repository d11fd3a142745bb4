//! The kinds of Spark Connect server, and what each can do.

use lakeorm_core::{DriverCapabilities, EngineFlavor, TableFormat};

/// Which kind of Spark Connect server the driver talks to; it sets the default capabilities
/// and how the server addresses storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SparkServer {
    /// Apache Spark 4 with the Delta Lake or Iceberg runtime on its classpath (Hadoop file
    /// systems: `s3a://`).
    #[default]
    Spark,
    /// Apache Spark 4 without table-format jars: plain Parquet tables, append and read only.
    SparkParquet,
    /// [Sail](https://github.com/lakehq/sail): Delta, Iceberg and Parquet on `object_store`
    /// (`s3://`); no OPTIMIZE, VACUUM or table history. Sail does not detect concurrent
    /// Iceberg commits, so the driver runs one write at a time per Iceberg table (writers in
    /// other processes are not covered).
    Sail,
    /// A Databricks cluster through Databricks Connect.
    Databricks,
}

impl SparkServer {
    pub(crate) fn capabilities(self) -> DriverCapabilities {
        let all = |formats| DriverCapabilities {
            formats,
            merge: true,
            update: true,
            delete: true,
            staged_writes: true,
            staging_helps: true,
            maintenance: true,
            time_travel: true,
        };
        match self {
            SparkServer::Spark => all(vec![
                TableFormat::Delta,
                TableFormat::Iceberg,
                TableFormat::Parquet,
            ]),
            SparkServer::Databricks => all(vec![TableFormat::Delta, TableFormat::Iceberg]),
            SparkServer::SparkParquet => DriverCapabilities {
                formats: vec![TableFormat::Parquet],
                merge: false,
                update: false,
                delete: false,
                staged_writes: true,
                staging_helps: true,
                maintenance: false,
                time_travel: false,
            },
            SparkServer::Sail => DriverCapabilities {
                formats: vec![
                    TableFormat::Delta,
                    TableFormat::Iceberg,
                    TableFormat::Parquet,
                ],
                merge: true,
                update: true,
                delete: true,
                staged_writes: true,
                staging_helps: true,
                maintenance: false,
                time_travel: false,
            },
        }
    }

    pub(crate) fn flavor(self) -> EngineFlavor {
        match self {
            SparkServer::Sail => EngineFlavor::Native,
            _ => EngineFlavor::Hadoop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_differ_in_what_they_can_do() {
        assert!(!SparkServer::Sail.capabilities().maintenance);
        assert!(!SparkServer::SparkParquet.capabilities().merge);
        assert_eq!(SparkServer::Sail.flavor(), EngineFlavor::Native);
        assert_eq!(SparkServer::Databricks.flavor(), EngineFlavor::Hadoop);
    }
}
