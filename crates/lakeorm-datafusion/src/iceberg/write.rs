//! Rows to Iceberg data files: batches are put in the table's shape, split by the table's
//! partition spec (the spec's transforms, computed by the `iceberg` crate), and written as
//! zstd Parquet with field ids, rolling at the table's target file size.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use iceberg::arrow::{FieldMatchMode, RecordBatchPartitionSplitter};
use iceberg::spec::{DataFile, DataFileFormat, TableProperties};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::partitioning::PartitioningWriter as _;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use iceberg::writer::{IcebergWriter as _, IcebergWriterBuilder as _};
use lakeorm_core::Result;

use super::errors::iceberg as iceberg_error;
use super::schema::conform;

/// Rows below which a write is not split over several writers (a file per writer per
/// partition: splitting small writes would only make small files).
const MIN_ROWS_PER_WRITER: usize = 256 * 1024;

/// How many writers `rows` rows are written by: one per core, each with at least
/// [`MIN_ROWS_PER_WRITER`] rows.
fn writers_for(rows: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (rows / MIN_ROWS_PER_WRITER).clamp(1, cores)
}

/// `batches` cut (without copying) into `n` runs of about the same number of rows.
fn split(batches: &[RecordBatch], n: usize) -> Vec<Vec<RecordBatch>> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let per = total.div_ceil(n.max(1));
    let mut runs = vec![Vec::new()];
    let mut in_run = 0;
    for batch in batches {
        let mut offset = 0;
        while offset < batch.num_rows() {
            if in_run == per {
                runs.push(Vec::new());
                in_run = 0;
            }
            let take = (per - in_run).min(batch.num_rows() - offset);
            if let Some(run) = runs.last_mut() {
                run.push(batch.slice(offset, take));
            }
            offset += take;
            in_run += take;
        }
    }
    runs
}

/// Writes `batches` as data files of `table`'s current schema and default partition spec,
/// sorted by its default sort order, a large write by one writer per core (Parquet encoding
/// and compression are CPU-bound). The files are not part of the table until a snapshot that
/// adds them is committed.
pub(crate) async fn data_files(table: &Table, batches: &[RecordBatch]) -> Result<Vec<DataFile>> {
    data_files_ordered(table, batches, Order::default()).await
}

/// How a rewrite orders and sizes its files.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Order<'a> {
    /// Z-order the rows by these columns (empty: sort by the table's sort order).
    pub(crate) zorder: &'a [String],
    /// Roll files at this size (`None`: the table's `write.target-file-size-bytes`).
    pub(crate) target_size: Option<u64>,
}

/// [`data_files`], ordered and sized as `order` says.
pub(crate) async fn data_files_ordered(
    table: &Table,
    batches: &[RecordBatch],
    order: Order<'_>,
) -> Result<Vec<DataFile>> {
    let ordered = if order.zorder.is_empty() {
        let columns = super::schema::sort_columns(table);
        if columns.is_empty() {
            None
        } else {
            Some(crate::layout::sorted(batches.to_vec(), &columns)?)
        }
    } else {
        Some(crate::layout::zorder_sorted(
            batches.to_vec(),
            order.zorder,
        )?)
    };
    let batches = ordered.as_deref().unwrap_or(batches);
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let writers = writers_for(rows);
    let target_size = order.target_size;
    if writers <= 1 {
        return write_run(table, batches, target_size).await;
    }
    let tasks: Vec<_> = split(batches, writers)
        .into_iter()
        .map(|run| {
            let table = table.clone();
            tokio::spawn(async move { write_run(&table, &run, target_size).await })
        })
        .collect();
    let mut written = Vec::new();
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok(files)) => written.extend(files),
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => {
                failure = failure.or(Some(lakeorm_core::Error::engine(
                    crate::errors::ENGINE,
                    format!("writing data files of `{}`", table.identifier().name()),
                    false,
                    e,
                )))
            }
        }
    }
    match failure {
        None => Ok(written),
        Some(e) => {
            // The other writers' files are not part of the table; remove them.
            for file in &written {
                let _ = table.file_io().delete(file.file_path()).await;
            }
            Err(e)
        }
    }
}

/// One writer's share of a write.
async fn write_run(
    table: &Table,
    batches: &[RecordBatch],
    target_size: Option<u64>,
) -> Result<Vec<DataFile>> {
    let name = table.identifier().name();
    let fail = |what: &'static str| move |e| iceberg_error(name, what, e);
    let metadata = table.metadata();
    let schema = metadata.current_schema().clone();
    let arrow = Arc::new(
        iceberg::arrow::schema_to_arrow_schema(&schema).map_err(fail("mapping the schema"))?,
    );
    let props = metadata
        .table_properties()
        .map_err(fail("reading table properties"))?;
    let parquet = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(crate::ROW_GROUP_ROWS));
    let parquet = crate::layout::with_bloom_filters(parquet, &bloom_filter_columns(table)).build();
    // Batches are conformed to the table's Arrow schema by name first, so name matching finds
    // every column.
    let file_writer =
        ParquetWriterBuilder::new_with_match_mode(parquet, schema.clone(), FieldMatchMode::Name);
    let rolling = RollingFileWriterBuilder::new(
        file_writer,
        target_size.map_or_else(
            || target_file_size(&props),
            |size| usize::try_from(size).unwrap_or(usize::MAX),
        ),
        table.file_io().clone(),
        DefaultLocationGenerator::new(metadata).map_err(fail("locating data files"))?,
        DefaultFileNameGenerator::new(
            uuid::Uuid::now_v7().to_string(),
            None,
            DataFileFormat::Parquet,
        ),
    );
    let builder = DataFileWriterBuilder::new(rolling);
    let spec = metadata.default_partition_spec().clone();
    let mut written = Vec::new();
    if spec.is_unpartitioned() {
        let mut writer = builder
            .build(None)
            .await
            .map_err(fail("writing data files"))?;
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            writer
                .write(conform(batch, &arrow)?)
                .await
                .map_err(fail("writing data files"))?;
        }
        written.extend(writer.close().await.map_err(fail("writing data files"))?);
    } else {
        let splitter = RecordBatchPartitionSplitter::try_new_with_computed_values(schema, spec)
            .map_err(fail("partitioning rows"))?;
        let mut writer = FanoutWriter::new(builder);
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            for (key, part) in splitter
                .split(&conform(batch, &arrow)?)
                .map_err(fail("partitioning rows"))?
            {
                writer
                    .write(key, part)
                    .await
                    .map_err(fail("writing data files"))?;
            }
        }
        written.extend(writer.close().await.map_err(fail("writing data files"))?);
    }
    Ok(written)
}

/// The columns `table`'s properties ask bloom filters for
/// (`write.parquet.bloom-filter-enabled.column.<name>` = `true`, as Spark's writer reads them).
fn bloom_filter_columns(table: &Table) -> Vec<String> {
    let mut columns: Vec<String> = table
        .metadata()
        .properties()
        .iter()
        .filter(|(_, v)| v.eq_ignore_ascii_case("true"))
        .filter_map(|(k, _)| k.strip_prefix(lakeorm_core::layout::ICEBERG_BLOOM_FILTER_PROPERTY))
        .map(str::to_owned)
        .collect();
    columns.sort();
    columns
}

fn target_file_size(props: &TableProperties) -> usize {
    props.write_target_file_size_bytes
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, BinaryArray, Date32Array, Decimal128Array, Int32Array, Int64Array, RecordBatch,
        StringArray, TimestampMicrosecondArray,
    };
    use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema, TimeUnit};
    use iceberg::TableCreation;
    use iceberg::spec::{Literal, Transform, UnboundPartitionSpec};

    use super::{data_files, split};
    use crate::iceberg::tables::IcebergTables;
    use crate::iceberg::test_support::memory_lake;

    #[test]
    fn writes_split_into_even_runs_without_copying() {
        let schema = Arc::new(ArrowSchema::new(vec![Field::new(
            "i",
            DataType::Int32,
            false,
        )]));
        let batch = |n: i32| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(Int32Array::from((0..n).collect::<Vec<_>>())) as ArrayRef],
            )
            .unwrap()
        };
        let runs = split(&[batch(5), batch(7)], 3);
        let sizes: Vec<usize> = runs
            .iter()
            .map(|r| r.iter().map(RecordBatch::num_rows).sum())
            .collect();
        assert_eq!(sizes, [4, 4, 4]);
        assert_eq!(split(&[batch(3)], 1).len(), 1);
    }

    /// The hash and transform test vectors of the Iceberg spec (Appendix B), written through
    /// the engine's own write path from the Arrow types lakeorm's models produce: bucket
    /// values are `(murmur3_x86_32(bytes) & i32::MAX) % N`, so with N = i32::MAX they expose
    /// the hash itself.
    #[tokio::test]
    async fn partition_values_follow_the_spec_test_vectors() {
        let backend = memory_lake();
        let tables = IcebergTables::new(Arc::clone(&backend));
        let arrow = ArrowSchema::new(vec![
            Field::new("i", DataType::Int32, false),
            Field::new("l", DataType::Int64, false),
            Field::new("d", DataType::Decimal128(9, 2), false),
            Field::new("day", DataType::Date32, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("s", DataType::Utf8, false),
            Field::new("b", DataType::Binary, false),
            // Time transforms of one source are redundant with each other: one source each.
            Field::new("y", DataType::Date32, false),
            Field::new("m", DataType::Date32, false),
        ]);
        let schema = iceberg::arrow::arrow_schema_to_schema_auto_assign_ids(&arrow).unwrap();
        let n = i32::MAX as u32;
        let spec: Vec<(i32, &str, Transform)> = vec![
            (1, "i_bucket", Transform::Bucket(n)),
            (2, "l_bucket", Transform::Bucket(n)),
            (3, "d_bucket", Transform::Bucket(n)),
            (4, "day_bucket", Transform::Bucket(n)),
            (5, "ts_bucket", Transform::Bucket(n)),
            (6, "s_bucket", Transform::Bucket(n)),
            (7, "b_bucket", Transform::Bucket(n)),
            (1, "i_trunc", Transform::Truncate(10)),
            (2, "l_trunc", Transform::Truncate(10)),
            (3, "d_trunc", Transform::Truncate(50)),
            (6, "s_trunc", Transform::Truncate(3)),
            (8, "y_year", Transform::Year),
            (9, "m_month", Transform::Month),
            (4, "day_day", Transform::Day),
            (5, "ts_hour", Transform::Hour),
        ];
        let mut builder = UnboundPartitionSpec::builder();
        for (source, name, transform) in &spec {
            builder = builder
                .add_partition_field(*source, *name, *transform)
                .unwrap();
        }
        let location = backend.root().join("tables/vectors");
        let created = tables
            .create(
                "vectors",
                &location,
                TableCreation::builder()
                    .name("vectors".into())
                    .location(location.to_string())
                    .schema(schema)
                    .partition_spec(builder.build())
                    .build(),
            )
            .await
            .unwrap();
        // 2017-11-16, and 2017-11-16T22:31:08 UTC.
        let (date, instant) = (17_486, 1_510_871_468_000_000i64);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![34])),
            Arc::new(Int64Array::from(vec![34])),
            Arc::new(
                Decimal128Array::from(vec![1420])
                    .with_precision_and_scale(9, 2)
                    .unwrap(),
            ),
            Arc::new(Date32Array::from(vec![date])),
            Arc::new(TimestampMicrosecondArray::from(vec![instant]).with_timezone("UTC")),
            Arc::new(StringArray::from(vec!["iceberg"])),
            Arc::new(BinaryArray::from(vec![&[0u8, 1, 2, 3][..]])),
            Arc::new(Date32Array::from(vec![date])),
            Arc::new(Date32Array::from(vec![date])),
        ];
        let batch = RecordBatch::try_new(Arc::new(arrow), columns).unwrap();
        let files = data_files(&created.table, &[batch]).await.unwrap();
        assert_eq!(files.len(), 1);
        let bucket = |hash: i32| Literal::int((hash & i32::MAX) % i32::MAX);
        let expected = [
            bucket(2017239379),
            bucket(2017239379),
            bucket(-500754589),
            bucket(-653330422),
            bucket(-2047944441),
            bucket(1210000089),
            bucket(-188683207),
            Literal::int(30),
            Literal::long(30),
            Literal::decimal(1400),
            Literal::string("ice"),
            Literal::int(47),
            Literal::int(47 * 12 + 10),
            Literal::date(date),
            Literal::int(date * 24 + 22),
        ];
        let got: Vec<Option<Literal>> = files[0].partition().fields().to_vec();
        for ((name, want), got) in spec.iter().map(|s| s.1).zip(expected).zip(got) {
            assert_eq!(got.as_ref(), Some(&want), "{name}");
        }
    }
}
