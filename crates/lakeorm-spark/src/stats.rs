//! Table statistics over Spark SQL: Delta's `DESCRIBE DETAIL` and `DESCRIBE HISTORY`, Iceberg's
//! `snapshots` and `files` metadata tables. A server that has none of them (Sail lacks some)
//! gets a typed [`Error::Unsupported`] naming the statement it refused.

use arrow::array::{Array, RecordBatch};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;
use lakeorm_core::{Error, ExecContext, Result, Statement, TableFormat, TableSpec, TableStats};

use crate::errors::ENGINE;
use crate::{SparkDriver, stream::stream_query};

impl SparkDriver {
    /// The version, live files, rows and bytes of `table`.
    pub(crate) async fn table_stats(
        &self,
        table: &TableSpec,
        ctx: ExecContext<'_>,
    ) -> Result<TableStats> {
        let name = lakeorm_core::sql::qualified_ref(ctx.dialect, &table.table);
        match table.format {
            TableFormat::Delta => {
                let [detail, history, rows] = delta_sql(&name);
                let detail = self.first_row(&detail, table).await?;
                let history = self.first_row(&history, table).await?;
                let rows = self.first_row(&rows, table).await?;
                Ok(TableStats {
                    version: history.long("version")?,
                    files: count(&detail, "numFiles")?,
                    rows: count(&rows, "n")?,
                    bytes: count(&detail, "sizeInBytes")?,
                })
            }
            TableFormat::Iceberg => {
                let [snapshot, files] = iceberg_sql(&name);
                let snapshot = self.first_row(&snapshot, table).await?;
                let files = self.first_row(&files, table).await?;
                Ok(TableStats {
                    // A table without a snapshot yet is at no version; 0 as for Delta's first.
                    version: snapshot.long_or("snapshot_id", 0)?,
                    files: count(&files, "files")?,
                    rows: count(&files, "rows")?,
                    bytes: count(&files, "bytes")?,
                })
            }
            other => Err(Error::unsupported(
                format!("stats of {other} table `{}`", table.table),
                ENGINE,
                "statistics are read from Delta and Iceberg tables",
            )),
        }
    }

    /// The first row of a statistics query, or a typed refusal when the server lacks the
    /// statement.
    async fn first_row(&self, sql: &str, table: &TableSpec) -> Result<FirstRow> {
        let server = self.inner.server;
        let refused = |error: Error| match error {
            // The table itself is missing; a missing metadata table (`snapshots`) is a server
            // without them.
            Error::TableNotFound {
                table: ref missing, ..
            } if *missing == table.table.name => error,
            error
                if crate::errors::unsupported_statement(&error)
                    || matches!(error, Error::TableNotFound { .. }) =>
            {
                Error::unsupported(
                    format!("stats of `{}` (`{sql}`)", table.table),
                    format!("{ENGINE} ({server:?})"),
                    format!("the server does not answer the statement: {error}"),
                )
            }
            error => error,
        };
        let lease = self.inner.pool.get().await?;
        let result = stream_query(lease, &Statement::new(sql))
            .await
            .map_err(refused)?;
        let batches: Vec<RecordBatch> = futures::TryStreamExt::try_collect(result.batches)
            .await
            .map_err(refused)?;
        Ok(FirstRow {
            batch: batches.into_iter().find(|b| b.num_rows() > 0),
            sql: sql.to_owned(),
        })
    }
}

/// Delta's statistics statements: the table's detail (files, bytes), its newest commit
/// (version) and its row count.
fn delta_sql(name: &str) -> [String; 3] {
    [
        format!("DESCRIBE DETAIL {name}"),
        format!("DESCRIBE HISTORY {name} LIMIT 1"),
        format!("SELECT COUNT(*) AS n FROM {name}"),
    ]
}

/// Iceberg's: the newest snapshot, and the live data files of the current one.
fn iceberg_sql(name: &str) -> [String; 2] {
    [
        format!("SELECT snapshot_id FROM {name}.snapshots ORDER BY committed_at DESC LIMIT 1"),
        format!(
            "SELECT COUNT(*) AS files, COALESCE(SUM(record_count), 0) AS rows, \
             COALESCE(SUM(file_size_in_bytes), 0) AS bytes FROM {name}.files"
        ),
    ]
}

/// The first row of a result (`None` for an empty one).
struct FirstRow {
    batch: Option<RecordBatch>,
    sql: String,
}

impl FirstRow {
    fn value(&self, column: &str) -> Result<Option<i64>> {
        let missing = || {
            Error::engine(
                ENGINE,
                format!("reading `{column}` from `{}`", self.sql),
                false,
                std::io::Error::other("the server's answer has no such column"),
            )
        };
        let Some(batch) = &self.batch else {
            return Ok(None);
        };
        let array = batch.column_by_name(column).ok_or_else(missing)?;
        let longs = cast_with_options(array, &DataType::Int64, &CastOptions::default())
            .map_err(|e| Error::engine(ENGINE, format!("reading `{column}`"), false, e))?;
        let longs = longs
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .ok_or_else(missing)?;
        Ok((!longs.is_null(0)).then(|| longs.value(0)))
    }

    fn long(&self, column: &str) -> Result<i64> {
        self.value(column)?.ok_or_else(|| {
            Error::engine(
                ENGINE,
                format!("reading `{column}` from `{}`", self.sql),
                false,
                std::io::Error::other("the server answered no value"),
            )
        })
    }

    fn long_or(&self, column: &str, default: i64) -> Result<i64> {
        Ok(self.value(column)?.unwrap_or(default))
    }
}

/// A non-negative count from `row` (0 when the server answered none).
fn count(row: &FirstRow, column: &str) -> Result<u64> {
    Ok(u64::try_from(row.long_or(column, 0)?).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements Spark with Delta or Iceberg (and Databricks) answer; Sail answers
    /// neither, which the e2e suite shows as a typed refusal.
    #[test]
    fn statistics_statements() {
        assert_eq!(
            delta_sql("`db`.`t`"),
            [
                "DESCRIBE DETAIL `db`.`t`",
                "DESCRIBE HISTORY `db`.`t` LIMIT 1",
                "SELECT COUNT(*) AS n FROM `db`.`t`",
            ]
        );
        let [snapshot, files] = iceberg_sql("`lakeorm`.`default`.`t`");
        assert_eq!(
            snapshot,
            "SELECT snapshot_id FROM `lakeorm`.`default`.`t`.snapshots ORDER BY committed_at DESC LIMIT 1"
        );
        assert!(
            files.ends_with("FROM `lakeorm`.`default`.`t`.files"),
            "{files}"
        );
    }
}
