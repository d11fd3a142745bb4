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

/// Writes `batches` as data files of `table`'s current schema and default partition spec.
/// The files are not part of the table until a snapshot that adds them is committed.
pub(crate) async fn data_files(table: &Table, batches: &[RecordBatch]) -> Result<Vec<DataFile>> {
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
        .build();
    // Batches are conformed to the table's Arrow schema by name first, so name matching finds
    // every column.
    let file_writer =
        ParquetWriterBuilder::new_with_match_mode(parquet, schema.clone(), FieldMatchMode::Name);
    let rolling = RollingFileWriterBuilder::new(
        file_writer,
        target_file_size(&props),
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

fn target_file_size(props: &TableProperties) -> usize {
    props.write_target_file_size_bytes
}
