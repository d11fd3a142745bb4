//! `OPTIMIZE t [ZORDER BY (…)]`, `VACUUM t [RETAIN n HOURS] [DRY RUN]`, `DESCRIBE DETAIL t`,
//! `DESCRIBE HISTORY t [LIMIT n]` and `DESCRIBE [TABLE] t`, on delta-rs.
//!
//! `VACUUM` below the default retention (168 hours) is refused while
//! [`ServerConfig::retention_check`](crate::ServerConfig::retention_check) is on, as Databricks
//! refuses it while `spark.databricks.delta.retentionDurationCheck.enabled` is true; with the
//! check off the retention asked for is honoured exactly.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Int32Array, Int64Array, Int64Builder, ListBuilder, MapBuilder,
    RecordBatch, StringArray, StringBuilder, StructArray, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, Schema};
use deltalake::operations::optimize::OptimizeType;
use lakeorm_core::Param;
use sqlparser::ast::{Ident, ObjectName};
use sqlparser::tokenizer::Token;

use super::dml::open_table;
use super::{Engine, Output, delta_error, params};
use crate::errors::SqlError;

/// The retention `VACUUM` uses when none is given, and the least it accepts with the check on.
const DEFAULT_RETENTION_HOURS: u64 = 7 * 24;

/// The statement's significant tokens.
struct Cursor {
    tokens: Vec<Token>,
    pos: usize,
}

impl Cursor {
    fn new(sql: &str) -> Result<Self, SqlError> {
        Ok(Cursor {
            tokens: params::tokens(sql)?
                .into_iter()
                .map(|(_, t)| t)
                .filter(|t| !params::is_space(t) && *t != Token::EOF)
                .collect(),
            pos: 0,
        })
    }

    fn keyword(&mut self, word: &str) -> bool {
        match self.tokens.get(self.pos) {
            Some(Token::Word(w))
                if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word) =>
            {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn name(&mut self) -> Result<ObjectName, SqlError> {
        let mut parts = Vec::new();
        loop {
            match self.tokens.get(self.pos) {
                Some(Token::Word(w)) => {
                    parts.push(Ident {
                        value: w.value.clone(),
                        quote_style: w.quote_style,
                        span: sqlparser::tokenizer::Span::empty(),
                    });
                    self.pos += 1;
                }
                other => {
                    return Err(SqlError::syntax(format!(
                        "Syntax error at or near {}: expected a table name.",
                        other.map_or("end of input".to_owned(), |t| format!("'{t}'"))
                    )));
                }
            }
            if matches!(self.tokens.get(self.pos), Some(Token::Period)) {
                self.pos += 1;
            } else {
                return Ok(ObjectName::from(parts));
            }
        }
    }

    /// `(a, b)` or `a, b`: column names.
    fn columns(&mut self) -> Result<Vec<String>, SqlError> {
        let parens = matches!(self.tokens.get(self.pos), Some(Token::LParen));
        if parens {
            self.pos += 1;
        }
        let mut columns = Vec::new();
        loop {
            match self.tokens.get(self.pos) {
                Some(Token::Word(w)) => {
                    columns.push(w.value.clone());
                    self.pos += 1;
                }
                other => {
                    return Err(SqlError::syntax(format!(
                        "Syntax error at or near {}: expected a column name.",
                        other.map_or("end of input".to_owned(), |t| format!("'{t}'"))
                    )));
                }
            }
            if matches!(self.tokens.get(self.pos), Some(Token::Comma)) {
                self.pos += 1;
            } else {
                break;
            }
        }
        if parens {
            if !matches!(self.tokens.get(self.pos), Some(Token::RParen)) {
                return Err(SqlError::syntax("Syntax error: expected ')'."));
            }
            self.pos += 1;
        }
        Ok(columns)
    }

    fn number(&mut self) -> Result<u64, SqlError> {
        match self.tokens.get(self.pos) {
            Some(Token::Number(n, _)) => {
                self.pos += 1;
                n.parse::<f64>()
                    .ok()
                    .filter(|v| *v >= 0.0)
                    .map(|v| v.ceil() as u64)
                    .ok_or_else(|| SqlError::syntax(format!("Syntax error at or near '{n}'.")))
            }
            other => Err(SqlError::syntax(format!(
                "Syntax error at or near {}: expected a number.",
                other.map_or("end of input".to_owned(), |t| format!("'{t}'"))
            ))),
        }
    }

    fn end(&self) -> Result<(), SqlError> {
        match self.tokens.get(self.pos) {
            None => Ok(()),
            Some(t) => Err(SqlError::unsupported(format!(
                "The clause starting at '{t}'"
            ))),
        }
    }
}

pub(super) async fn execute(
    engine: &Engine,
    sql: &str,
    values: &[Param],
) -> Result<Output, SqlError> {
    if !values.is_empty() {
        return Err(SqlError::class(
            "UNSUPPORTED_FEATURE",
            "0A000",
            "Parameter markers are not allowed in this statement.",
        ));
    }
    let mut c = Cursor::new(sql)?;
    if c.keyword("OPTIMIZE") {
        let name = c.name()?;
        if c.keyword("WHERE") {
            return Err(SqlError::unsupported(
                "OPTIMIZE … WHERE in lakeorm-databricks-server (a workspace accepts it)",
            ));
        }
        let mut zorder = Vec::new();
        if c.keyword("ZORDER") {
            if !c.keyword("BY") {
                return Err(SqlError::syntax("Syntax error: expected BY after ZORDER."));
            }
            zorder = c.columns()?;
        }
        c.end()?;
        return optimize(engine, &name, zorder).await;
    }
    if c.keyword("VACUUM") {
        let name = c.name()?;
        let mut hours = None;
        if c.keyword("RETAIN") {
            hours = Some(c.number()?);
            if !c.keyword("HOURS") {
                return Err(SqlError::syntax(
                    "Syntax error: expected HOURS after RETAIN n.",
                ));
            }
        }
        let dry_run = c.keyword("DRY") && c.keyword("RUN");
        c.end()?;
        return vacuum(engine, &name, hours, dry_run).await;
    }
    if c.keyword("DESCRIBE") || c.keyword("DESC") {
        if c.keyword("DETAIL") {
            let name = c.name()?;
            c.end()?;
            return detail(engine, &name).await;
        }
        if c.keyword("HISTORY") {
            let name = c.name()?;
            let limit = if c.keyword("LIMIT") {
                Some(c.number()?)
            } else {
                None
            };
            c.end()?;
            return history(engine, &name, limit).await;
        }
        c.keyword("TABLE");
        c.keyword("EXTENDED");
        let name = c.name()?;
        c.end()?;
        return columns(engine, &name).await;
    }
    Err(SqlError::syntax(
        "Syntax error: not a maintenance statement.",
    ))
}

fn batch(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<Output, SqlError> {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map(Output::batch)
        .map_err(|e| SqlError::internal(e.to_string()))
}

fn location_text(engine: &Engine, table: &str) -> String {
    engine.backend.table_location(table).as_str().to_owned()
}

async fn optimize(
    engine: &Engine,
    name: &ObjectName,
    zorder: Vec<String>,
) -> Result<Output, SqlError> {
    let table_name = engine.table_name(name)?;
    let table = open_table(engine, &table_name).await?;
    let kind = if zorder.is_empty() {
        OptimizeType::Compact
    } else {
        OptimizeType::ZOrder(zorder)
    };
    let (_, metrics) = table
        .optimize()
        .with_type(kind)
        .await
        .map_err(|e| delta_error(&table_name, e))?;
    let numbers = [
        ("numFilesAdded", metrics.num_files_added),
        ("numFilesRemoved", metrics.num_files_removed),
        ("partitionsOptimized", metrics.partitions_optimized),
        ("numBatches", metrics.num_batches),
        (
            "totalConsideredFiles",
            metrics.total_considered_files as u64,
        ),
        ("totalFilesSkipped", metrics.total_files_skipped as u64),
    ];
    let fields: Fields = numbers
        .iter()
        .map(|(n, _)| Field::new(*n, DataType::Int64, false))
        .collect();
    let arrays: Vec<ArrayRef> = numbers
        .iter()
        .map(|(_, v)| Arc::new(Int64Array::from(vec![*v as i64])) as ArrayRef)
        .collect();
    let metrics = StructArray::new(fields.clone(), arrays, None);
    batch(
        vec![
            Field::new("path", DataType::Utf8, true),
            Field::new("metrics", DataType::Struct(fields), true),
        ],
        vec![
            Arc::new(StringArray::from(vec![location_text(engine, &table_name)])),
            Arc::new(metrics),
        ],
    )
}

async fn vacuum(
    engine: &Engine,
    name: &ObjectName,
    hours: Option<u64>,
    dry_run: bool,
) -> Result<Output, SqlError> {
    let table_name = engine.table_name(name)?;
    let hours = hours.unwrap_or(DEFAULT_RETENTION_HOURS);
    if engine.retention_check && hours < DEFAULT_RETENTION_HOURS {
        return Err(SqlError {
            error_code: "BAD_REQUEST".into(),
            message: format!(
                "requirement failed: VACUUM with a retention of {hours} hours is below the table's retention of {DEFAULT_RETENTION_HOURS} hours. Writers still reading or writing files of older versions could be corrupted. To vacuum anyway, turn off spark.databricks.delta.retentionDurationCheck.enabled (on this server: ServerConfig::retention_check)."
            ),
            sql_state: None,
        });
    }
    let table = open_table(engine, &table_name).await?;
    let retention = chrono::Duration::hours(i64::try_from(hours).unwrap_or(i64::MAX / 3_600_000));
    let (_, metrics) = table
        .vacuum()
        .with_retention_period(retention)
        .with_enforce_retention_duration(false)
        .with_dry_run(dry_run)
        .await
        .map_err(|e| delta_error(&table_name, e))?;
    let paths: Vec<String> = if dry_run {
        metrics.files_deleted
    } else {
        vec![location_text(engine, &table_name)]
    };
    batch(
        vec![Field::new("path", DataType::Utf8, true)],
        vec![Arc::new(StringArray::from(paths))],
    )
}

fn string_list<'a>(items: impl IntoIterator<Item = &'a str>) -> ArrayRef {
    let mut list = ListBuilder::new(StringBuilder::new());
    for item in items {
        list.values().append_value(item);
    }
    list.append(true);
    Arc::new(list.finish())
}

fn string_map<'a>(
    entries: impl IntoIterator<Item = (&'a str, String)>,
) -> MapBuilder<StringBuilder, StringBuilder> {
    let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for (k, v) in entries {
        map.keys().append_value(k);
        map.values().append_value(v);
    }
    map
}

fn timestamp_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
        true,
    )
}

fn list_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        true,
    )
}

fn map_field(name: &str, sample: &arrow::array::MapArray) -> Field {
    Field::new(name, sample.data_type().clone(), true)
}

async fn detail(engine: &Engine, name: &ObjectName) -> Result<Output, SqlError> {
    let table_name = engine.table_name(name)?;
    let table = open_table(engine, &table_name).await?;
    let state = table.snapshot().map_err(|e| delta_error(&table_name, e))?;
    let metadata = state.metadata();
    let protocol = state.protocol();
    let files = state.log_data();
    let (num_files, size): (i64, i64) =
        files.iter().fold((0, 0), |(n, s), f| (n + 1, s + f.size()));
    let last_modified = table
        .history(Some(1))
        .await
        .map_err(|e| delta_error(&table_name, e))?
        .next()
        .and_then(|c| c.timestamp);
    let mut properties: Vec<(&str, String)> = metadata
        .configuration()
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    properties.sort();
    let mut properties = string_map(properties);
    properties
        .append(true)
        .map_err(|e| SqlError::internal(e.to_string()))?;
    let properties = properties.finish();
    let mut features: Vec<String> = protocol
        .reader_features()
        .into_iter()
        .flatten()
        .chain(protocol.writer_features().into_iter().flatten())
        .map(|f| f.to_string())
        .collect();
    features.sort();
    features.dedup();
    let micros = |ms: Option<i64>| {
        Arc::new(TimestampMicrosecondArray::from(vec![ms.map(|m| m * 1000)]).with_timezone("UTC"))
            as ArrayRef
    };
    batch(
        vec![
            Field::new("format", DataType::Utf8, true),
            Field::new("id", DataType::Utf8, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("description", DataType::Utf8, true),
            Field::new("location", DataType::Utf8, true),
            timestamp_field("createdAt"),
            timestamp_field("lastModified"),
            list_field("partitionColumns"),
            list_field("clusteringColumns"),
            Field::new("numFiles", DataType::Int64, true),
            Field::new("sizeInBytes", DataType::Int64, true),
            map_field("properties", &properties),
            Field::new("minReaderVersion", DataType::Int32, true),
            Field::new("minWriterVersion", DataType::Int32, true),
            list_field("tableFeatures"),
        ],
        vec![
            Arc::new(StringArray::from(vec!["delta"])),
            Arc::new(StringArray::from(vec![metadata.id().to_owned()])),
            Arc::new(StringArray::from(vec![format!(
                "{}.{}.{table_name}",
                engine.catalog, engine.schema
            )])),
            Arc::new(StringArray::from(vec![
                metadata.description().map(str::to_owned),
            ])),
            Arc::new(StringArray::from(vec![location_text(engine, &table_name)])),
            micros(metadata.created_time()),
            micros(last_modified),
            string_list(metadata.partition_columns().iter().map(String::as_str)),
            string_list([]),
            Arc::new(Int64Array::from(vec![num_files])),
            Arc::new(Int64Array::from(vec![size])),
            Arc::new(properties),
            Arc::new(Int32Array::from(vec![protocol.min_reader_version()])),
            Arc::new(Int32Array::from(vec![protocol.min_writer_version()])),
            string_list(features.iter().map(String::as_str)),
        ],
    )
}

fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn history(
    engine: &Engine,
    name: &ObjectName,
    limit: Option<u64>,
) -> Result<Output, SqlError> {
    let table_name = engine.table_name(name)?;
    let table = open_table(engine, &table_name).await?;
    let latest = table.version().unwrap_or(0);
    let commits: Vec<_> = table
        .history(limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)))
        .await
        .map_err(|e| delta_error(&table_name, e))?
        .collect();
    let mut version = Int64Builder::new();
    let mut timestamp = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut operation = StringBuilder::new();
    let mut parameters = string_map(std::iter::empty());
    let mut read_version = Int64Builder::new();
    let mut isolation = StringBuilder::new();
    let mut blind = BooleanBuilder::new();
    let mut metrics = string_map(std::iter::empty());
    let mut user_metadata = StringBuilder::new();
    let mut engine_info = StringBuilder::new();
    let mut user = StringBuilder::new();
    for (i, commit) in commits.iter().enumerate() {
        version.append_value(i64::try_from(latest).unwrap_or(i64::MAX) - i as i64);
        timestamp.append_option(commit.timestamp.map(|ms| ms * 1000));
        user.append_option(commit.user_id.as_deref());
        operation.append_option(commit.operation.as_deref());
        let mut params: Vec<(String, String)> = commit
            .operation_parameters
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), value_text(v)))
            .collect();
        params.sort();
        for (k, v) in params {
            parameters.keys().append_value(k);
            parameters.values().append_value(v);
        }
        parameters
            .append(true)
            .map_err(|e| SqlError::internal(e.to_string()))?;
        read_version.append_option(commit.read_version.and_then(|v| i64::try_from(v).ok()));
        isolation.append_option(commit.isolation_level.as_ref().map(|l| format!("{l:?}")));
        blind.append_option(commit.is_blind_append);
        let mut numbers: Vec<(String, String)> = commit
            .info
            .get("operationMetrics")
            .and_then(serde_json::Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), value_text(v)))
            .collect();
        numbers.sort();
        for (k, v) in numbers {
            metrics.keys().append_value(k);
            metrics.values().append_value(v);
        }
        metrics
            .append(true)
            .map_err(|e| SqlError::internal(e.to_string()))?;
        user_metadata.append_option(commit.user_metadata.as_deref());
        engine_info.append_option(commit.engine_info.as_deref());
    }
    let parameters = parameters.finish();
    let metrics = metrics.finish();
    batch(
        vec![
            Field::new("version", DataType::Int64, true),
            timestamp_field("timestamp"),
            Field::new("userId", DataType::Utf8, true),
            Field::new("operation", DataType::Utf8, true),
            map_field("operationParameters", &parameters),
            Field::new("readVersion", DataType::Int64, true),
            Field::new("isolationLevel", DataType::Utf8, true),
            Field::new("isBlindAppend", DataType::Boolean, true),
            map_field("operationMetrics", &metrics),
            Field::new("userMetadata", DataType::Utf8, true),
            Field::new("engineInfo", DataType::Utf8, true),
        ],
        vec![
            Arc::new(version.finish()),
            Arc::new(timestamp.finish()),
            Arc::new(user.finish()),
            Arc::new(operation.finish()),
            Arc::new(parameters),
            Arc::new(read_version.finish()),
            Arc::new(isolation.finish()),
            Arc::new(blind.finish()),
            Arc::new(metrics),
            Arc::new(user_metadata.finish()),
            Arc::new(engine_info.finish()),
        ],
    )
}

/// `DESCRIBE [TABLE] t`: `col_name, data_type, comment` per column.
async fn columns(engine: &Engine, name: &ObjectName) -> Result<Output, SqlError> {
    let table_name = engine.table_name(name)?;
    let table = open_table(engine, &table_name).await?;
    let state = table.snapshot().map_err(|e| delta_error(&table_name, e))?;
    let schema = state.schema();
    let mut names = StringBuilder::new();
    let mut types = StringBuilder::new();
    let mut comments = StringBuilder::new();
    for field in schema.fields() {
        names.append_value(field.name());
        types.append_value(field.data_type().to_string().to_ascii_lowercase());
        comments.append_null();
    }
    batch(
        vec![
            Field::new("col_name", DataType::Utf8, true),
            Field::new("data_type", DataType::Utf8, true),
            Field::new("comment", DataType::Utf8, true),
        ],
        vec![
            Arc::new(names.finish()),
            Arc::new(types.finish()),
            Arc::new(comments.finish()),
        ],
    )
}
