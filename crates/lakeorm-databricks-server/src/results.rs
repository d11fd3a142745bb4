//! A statement's result, spooled to chunk files as the engine produces it, and its manifest.
//!
//! Every chunk holds at most `chunk_rows` rows and is one file in the requested format:
//! `JSON_ARRAY` (an array of rows, each an array of strings or nulls), `ARROW_STREAM` (one Arrow
//! IPC stream: the schema, then the chunk's batches) or `CSV` (a header line, then the rows).
//! Batches are written as they arrive and nothing else of them is kept, so the memory a result
//! costs is one batch, whatever its size.
//!
//! Columns are given Databricks' Arrow types on the way out (strings as `Utf8`, never views;
//! timestamps in microseconds), and the manifest names them with Databricks' type names.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Field, Float32Type, Float64Type, Schema, SchemaRef, TimeUnit,
    TimestampMicrosecondType,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use base64::Engine as _;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::errors::SqlError;

/// The most bytes an `INLINE` result may hold (25 MiB, the documented limit).
pub(crate) const INLINE_LIMIT: u64 = 25 * 1024 * 1024;

/// `format` of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    JsonArray,
    ArrowStream,
    Csv,
}

impl Format {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "JSON_ARRAY" => Some(Format::JsonArray),
            "ARROW_STREAM" => Some(Format::ArrowStream),
            "CSV" => Some(Format::Csv),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::JsonArray => "JSON_ARRAY",
            Format::ArrowStream => "ARROW_STREAM",
            Format::Csv => "CSV",
        }
    }
}

/// What caps a result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) chunk_rows: usize,
    pub(crate) row_limit: Option<u64>,
    pub(crate) byte_limit: Option<u64>,
    /// `INLINE`: a result over [`INLINE_LIMIT`] fails the statement.
    pub(crate) inline: bool,
}

/// One chunk on disk.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub(crate) index: usize,
    pub(crate) row_offset: u64,
    pub(crate) row_count: u64,
    pub(crate) byte_count: u64,
    pub(crate) path: PathBuf,
}

/// A complete result.
#[derive(Debug)]
pub(crate) struct Spooled {
    pub(crate) format: Format,
    pub(crate) schema: SchemaRef,
    pub(crate) chunks: Vec<Chunk>,
    pub(crate) total_rows: u64,
    pub(crate) total_bytes: u64,
    pub(crate) truncated: bool,
    pub(crate) dir: PathBuf,
}

impl Spooled {
    /// The `manifest` of a statement response.
    pub(crate) fn manifest(&self) -> serde_json::Value {
        let columns: Vec<serde_json::Value> = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(position, field)| column_info(field, position))
            .collect();
        let chunks: Vec<serde_json::Value> = self
            .chunks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "chunk_index": c.index,
                    "row_offset": c.row_offset,
                    "row_count": c.row_count,
                    "byte_count": c.byte_count,
                })
            })
            .collect();
        let mut schema = serde_json::json!({ "column_count": columns.len() });
        if !columns.is_empty() {
            schema["columns"] = serde_json::Value::Array(columns);
        }
        serde_json::json!({
            "format": self.format.name(),
            "schema": schema,
            "total_chunk_count": self.chunks.len(),
            "chunks": chunks,
            "total_row_count": self.total_rows,
            "total_byte_count": self.total_bytes,
            "truncated": self.truncated,
        })
    }

    /// The `data_array` of an inline `JSON_ARRAY` chunk, read back from its file.
    pub(crate) fn data_array(&self, chunk: &Chunk) -> Result<serde_json::Value, std::io::Error> {
        let text = std::fs::read(&chunk.path)?;
        serde_json::from_slice(&text).map_err(std::io::Error::other)
    }

    /// Removes the chunk files.
    pub(crate) fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `ColumnInfo` of the manifest.
fn column_info(field: &Field, position: usize) -> serde_json::Value {
    let mut info = serde_json::json!({
        "name": field.name(),
        "position": position,
        "type_name": type_name(field.data_type()),
        "type_text": type_text(field.data_type()),
    });
    if let DataType::Decimal128(p, s) = field.data_type() {
        info["type_precision"] = serde_json::json!(p);
        info["type_scale"] = serde_json::json!(s);
    }
    info
}

/// Databricks' `ColumnInfoTypeName` of an output type.
fn type_name(ty: &DataType) -> &'static str {
    match ty {
        DataType::Boolean => "BOOLEAN",
        DataType::Int8 => "BYTE",
        DataType::Int16 => "SHORT",
        DataType::Int32 => "INT",
        DataType::Int64 => "LONG",
        DataType::Float32 => "FLOAT",
        DataType::Float64 => "DOUBLE",
        DataType::Decimal128(..) => "DECIMAL",
        DataType::Utf8 => "STRING",
        DataType::Binary => "BINARY",
        DataType::Date32 => "DATE",
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP",
        DataType::Timestamp(_, None) => "TIMESTAMP_NTZ",
        DataType::List(_) => "ARRAY",
        DataType::Struct(_) => "STRUCT",
        DataType::Map(..) => "MAP",
        DataType::Null => "NULL",
        DataType::Interval(_) | DataType::Duration(_) => "INTERVAL",
        _ => "USER_DEFINED_TYPE",
    }
}

/// Databricks' `type_text` (Spark's simple string) of an output type.
fn type_text(ty: &DataType) -> String {
    match ty {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        DataType::Utf8 => "string".into(),
        DataType::Binary => "binary".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp".into(),
        DataType::Timestamp(_, None) => "timestamp_ntz".into(),
        DataType::List(f) => format!("array<{}>", type_text(f.data_type())),
        DataType::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}:{}", f.name(), type_text(f.data_type())))
                .collect::<Vec<_>>()
                .join(",")
        ),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map<{},{}>",
                type_text(kv[0].data_type()),
                type_text(kv[1].data_type())
            ),
            _ => "map".into(),
        },
        DataType::Null => "void".into(),
        DataType::Interval(_) | DataType::Duration(_) => "interval".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// The type a column is served as: what Databricks' own results hold.
fn output_type(ty: &DataType) -> DataType {
    let field = |f: &Field| {
        Arc::new(Field::new(
            f.name(),
            output_type(f.data_type()),
            f.is_nullable(),
        ))
    };
    match ty {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
            DataType::Binary
        }
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Date64 => DataType::Date32,
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => DataType::Decimal128(*p, *s),
        DataType::Dictionary(_, value) => output_type(value),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => DataType::List(field(f)),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(|f| field(f)).collect()),
        DataType::Map(entries, sorted) => DataType::Map(field(entries), *sorted),
        other => other.clone(),
    }
}

/// The schema a result is served with.
pub(crate) fn output_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), output_type(f.data_type()), f.is_nullable()))
            .collect::<Vec<_>>(),
    ))
}

fn normalize(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, SqlError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                arrow::compute::cast(column, field.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SqlError::internal(format!("converting a result column: {e}")))?;
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| SqlError::internal(format!("converting a result batch: {e}")))
}

/// The file of one chunk being written.
enum ChunkWriter {
    Arrow(arrow::ipc::writer::StreamWriter<BufWriter<File>>),
    Json { out: BufWriter<File>, rows: u64 },
    // Boxed: the CSV writer is several times the size of the others.
    Csv(Box<arrow::csv::Writer<BufWriter<File>>>),
}

fn io(e: impl std::fmt::Display) -> SqlError {
    SqlError::internal(format!("spooling the result: {e}"))
}

impl ChunkWriter {
    fn open(path: &Path, format: Format, schema: &SchemaRef) -> Result<Self, SqlError> {
        let out = BufWriter::new(File::create(path).map_err(io)?);
        Ok(match format {
            Format::ArrowStream => ChunkWriter::Arrow(
                arrow::ipc::writer::StreamWriter::try_new(out, schema).map_err(io)?,
            ),
            Format::JsonArray => {
                let mut out = out;
                out.write_all(b"[").map_err(io)?;
                ChunkWriter::Json { out, rows: 0 }
            }
            Format::Csv => ChunkWriter::Csv(Box::new(
                arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(out),
            )),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), SqlError> {
        match self {
            ChunkWriter::Arrow(w) => w.write(batch).map_err(io),
            ChunkWriter::Csv(w) => w.write(batch).map_err(|e| {
                SqlError::class(
                    "UNSUPPORTED_FEATURE",
                    "0A000",
                    format!("the CSV format cannot hold this result: {e}"),
                )
            }),
            ChunkWriter::Json { out, rows } => {
                let formatters = batch
                    .columns()
                    .iter()
                    .map(|c| CellFormatter::new(c.as_ref()))
                    .collect::<Result<Vec<_>, _>>()?;
                for row in 0..batch.num_rows() {
                    let cells: Vec<serde_json::Value> = formatters
                        .iter()
                        .map(|f| {
                            f.cell(row)
                                .map_or(serde_json::Value::Null, serde_json::Value::String)
                        })
                        .collect();
                    if *rows > 0 {
                        out.write_all(b",").map_err(io)?;
                    }
                    serde_json::to_writer(&mut *out, &cells).map_err(io)?;
                    *rows += 1;
                }
                Ok(())
            }
        }
    }

    /// Finishes the file and returns its size.
    fn finish(self, path: &Path) -> Result<u64, SqlError> {
        match self {
            ChunkWriter::Arrow(mut w) => {
                w.finish().map_err(io)?;
                w.into_inner().map_err(io)?.flush().map_err(io)?;
            }
            ChunkWriter::Json { mut out, .. } => {
                out.write_all(b"]").map_err(io)?;
                out.flush().map_err(io)?;
            }
            ChunkWriter::Csv(w) => {
                w.into_inner().flush().map_err(io)?;
            }
        }
        Ok(std::fs::metadata(path).map_err(io)?.len())
    }
}

/// Spools `batches` into chunk files under `dir`.
pub(crate) async fn spool(
    schema: &Schema,
    mut batches: BoxStream<'static, Result<RecordBatch, SqlError>>,
    dir: &Path,
    format: Format,
    limits: Limits,
) -> Result<Spooled, SqlError> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let schema = output_schema(schema);
    let chunk_rows = limits.chunk_rows.max(1) as u64;
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut current: Option<(ChunkWriter, Chunk)> = None;
    let mut total_rows = 0u64;
    let mut total_bytes = 0u64;
    let mut truncated = false;
    let extension = match format {
        Format::ArrowStream => "arrows",
        Format::JsonArray => "json",
        Format::Csv => "csv",
    };
    let close = |(writer, mut chunk): (ChunkWriter, Chunk),
                 total_bytes: &mut u64|
     -> Result<Chunk, SqlError> {
        chunk.byte_count = writer.finish(&chunk.path)?;
        *total_bytes += chunk.byte_count;
        Ok(chunk)
    };
    'batches: while let Some(batch) = batches.next().await {
        let batch = normalize(&batch?, &schema)?;
        let mut offset = 0usize;
        while offset < batch.num_rows() {
            if limits.row_limit.is_some_and(|limit| total_rows >= limit)
                || limits.byte_limit.is_some_and(|limit| total_bytes >= limit)
            {
                truncated = true;
                break 'batches;
            }
            if current.is_none() {
                let index = chunks.len();
                let path = dir.join(format!("chunk-{index:06}.{extension}"));
                let writer = ChunkWriter::open(&path, format, &schema)?;
                current = Some((
                    writer,
                    Chunk {
                        index,
                        row_offset: total_rows,
                        row_count: 0,
                        byte_count: 0,
                        path,
                    },
                ));
            }
            let Some((writer, chunk)) = current.as_mut() else {
                break;
            };
            let mut take = (chunk_rows - chunk.row_count).min((batch.num_rows() - offset) as u64);
            if let Some(limit) = limits.row_limit {
                take = take.min(limit - total_rows);
            }
            let take = usize::try_from(take).unwrap_or(usize::MAX);
            writer.write(&batch.slice(offset, take))?;
            offset += take;
            chunk.row_count += take as u64;
            total_rows += take as u64;
            if chunk.row_count >= chunk_rows
                && let Some(full) = current.take()
            {
                chunks.push(close(full, &mut total_bytes)?);
                if limits.inline && total_bytes > INLINE_LIMIT {
                    return Err(inline_too_large());
                }
            }
        }
    }
    if let Some(open) = current.take() {
        chunks.push(close(open, &mut total_bytes)?);
    }
    if limits.inline && total_bytes > INLINE_LIMIT {
        return Err(inline_too_large());
    }
    Ok(Spooled {
        format,
        schema,
        chunks,
        total_rows,
        total_bytes,
        truncated,
        dir: dir.to_path_buf(),
    })
}

fn inline_too_large() -> SqlError {
    SqlError {
        error_code: "BAD_REQUEST".into(),
        message: format!(
            "Inline byte limit exceeded. Statements executed with disposition=INLINE can have a result size of at most {INLINE_LIMIT} bytes. Use disposition=EXTERNAL_LINKS for larger results."
        ),
        sql_state: Some("54000".into()),
    }
}

/// Formats the cells of one column for `JSON_ARRAY`: every non-null value as a string.
struct CellFormatter<'a> {
    array: &'a dyn Array,
    display: Option<ArrayFormatter<'a>>,
}

impl<'a> CellFormatter<'a> {
    fn new(array: &'a dyn Array) -> Result<Self, SqlError> {
        let plain = !matches!(
            array.data_type(),
            DataType::Float32
                | DataType::Float64
                | DataType::Binary
                | DataType::Timestamp(..)
                | DataType::List(_)
                | DataType::Struct(_)
                | DataType::Map(..)
        );
        let display = if plain {
            Some(
                ArrayFormatter::try_new(array, &FormatOptions::default())
                    .map_err(|e| SqlError::internal(format!("formatting a result column: {e}")))?,
            )
        } else {
            None
        };
        Ok(CellFormatter { array, display })
    }

    fn cell(&self, row: usize) -> Option<String> {
        if self.array.is_null(row) {
            return None;
        }
        if let Some(display) = &self.display {
            return Some(display.value(row).to_string());
        }
        Some(match self.array.data_type() {
            DataType::Float32 => spark_double(f64::from(
                self.array.as_primitive::<Float32Type>().value(row),
            )),
            DataType::Float64 => spark_double(self.array.as_primitive::<Float64Type>().value(row)),
            DataType::Binary => base64::engine::general_purpose::STANDARD
                .encode(self.array.as_binary::<i32>().value(row)),
            DataType::Timestamp(_, tz) => timestamp_text(
                self.array
                    .as_primitive::<TimestampMicrosecondType>()
                    .value(row),
                tz.is_some(),
            ),
            _ => json_value(self.array, row).to_string(),
        })
    }
}

/// A double as Spark prints one (`1.0`, `NaN`, `Infinity`).
fn spark_double(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        format!("{v:?}")
    }
}

/// An ISO-8601 timestamp, `…Z` for an instant, milliseconds or microseconds as needed.
fn timestamp_text(micros: i64, instant: bool) -> String {
    let Some(time) = chrono::DateTime::from_timestamp_micros(micros) else {
        return micros.to_string();
    };
    let fraction = if micros.rem_euclid(1000) == 0 {
        "%.3f"
    } else {
        "%.6f"
    };
    let mut text = time
        .naive_utc()
        .format(&format!("%Y-%m-%dT%H:%M:%S{fraction}"))
        .to_string();
    if instant {
        text.push('Z');
    }
    text
}

/// A nested value as JSON (what Databricks' `JSON_ARRAY` shows for arrays, structs and maps).
fn json_value(array: &dyn Array, row: usize) -> serde_json::Value {
    use serde_json::Value;
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(row);
            Value::Array(
                (0..list.len())
                    .map(|i| json_value(list.as_ref(), i))
                    .collect(),
            )
        }
        DataType::Struct(fields) => {
            let strukt = array.as_struct();
            Value::Object(
                fields
                    .iter()
                    .zip(strukt.columns())
                    .map(|(f, c)| (f.name().clone(), json_value(c.as_ref(), row)))
                    .collect(),
            )
        }
        DataType::Map(..) => {
            let map = array.as_map();
            let entries = map.value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            Value::Object(
                (0..entries.len())
                    .map(|i| {
                        let key = match json_value(keys.as_ref(), i) {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, json_value(values.as_ref(), i))
                    })
                    .collect(),
            )
        }
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64 => {
            let text = CellFormatter::new(array)
                .ok()
                .and_then(|f| f.cell(row))
                .unwrap_or_default();
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
        _ => CellFormatter::new(array)
            .ok()
            .and_then(|f| f.cell(row))
            .map_or(Value::Null, Value::String),
    }
}
