//! The table schema a model declares: columns, types, keys, partitioning and intents.
//!
//! `#[derive(Lake)]` builds one [`LakeSchema`] per model, once, from code generated at compile
//! time. Dialects render it as DDL, the projection and decoder follow it, migrations diff it and
//! [`LakeSchema::fingerprint`] hashes it.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::layout::LayoutOptions;

/// The name of the system column that carries each row's ingest id.
///
/// Every table lakeorm creates has it; a model may not declare it.
pub const INGEST_ID_COLUMN: &str = "_ingest_id";

/// The name of the element field of list columns (the Parquet and Delta convention).
pub const LIST_ELEMENT_NAME: &str = "element";

/// The time zone of timestamp columns: instants are stored as UTC microseconds.
pub const UTC: &str = "UTC";

/// The logical type of a column: what the table stores, independent of any engine.
///
/// Each has one Arrow representation ([`LakeType::to_arrow`]); dialects map it to their SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LakeType {
    /// `bool`.
    Boolean,
    /// `i8`.
    Int8,
    /// `i16` (and `u8`, widened: lake formats have no unsigned types).
    Int16,
    /// `i32` (and `u16`, widened).
    Int32,
    /// `i64` (and `u32`, widened).
    Int64,
    /// `f32`.
    Float32,
    /// `f64`.
    Float64,
    /// A fixed-point decimal (`rust_decimal::Decimal` with `decimal(P, S)`; `u64` as
    /// `decimal(20, 0)`).
    Decimal {
        /// Total number of digits, 1..=38.
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
    /// UTF-8 text.
    String,
    /// Raw bytes (`Vec<u8>`).
    Binary,
    /// A calendar date (`chrono::NaiveDate`).
    Date,
    /// An instant, microseconds since the epoch, UTC (`chrono::DateTime<Utc>`).
    Timestamp,
    /// A wall-clock date and time without zone, microseconds (`chrono::NaiveDateTime`).
    TimestampNtz,
    /// A UUID, stored as its canonical hyphenated text (portable across Spark, Delta and Iceberg).
    Uuid,
    /// Any serde value stored as a JSON text column (`#[lake(json)]`).
    Json,
    /// A list of values (`Vec<T>`).
    List(Box<ColumnType>),
    /// A nested struct (a field whose type derives `Lake` or `Row`).
    Struct(Vec<StructField>),
}

impl LakeType {
    /// The Arrow data type that carries this type in batches.
    pub fn to_arrow(&self) -> DataType {
        match self {
            LakeType::Boolean => DataType::Boolean,
            LakeType::Int8 => DataType::Int8,
            LakeType::Int16 => DataType::Int16,
            LakeType::Int32 => DataType::Int32,
            LakeType::Int64 => DataType::Int64,
            LakeType::Float32 => DataType::Float32,
            LakeType::Float64 => DataType::Float64,
            LakeType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            LakeType::String | LakeType::Uuid | LakeType::Json => DataType::Utf8,
            LakeType::Binary => DataType::Binary,
            LakeType::Date => DataType::Date32,
            LakeType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            LakeType::TimestampNtz => DataType::Timestamp(TimeUnit::Microsecond, None),
            LakeType::List(element) => DataType::List(Arc::new(Field::new(
                LIST_ELEMENT_NAME,
                element.ty.to_arrow(),
                element.nullable,
            ))),
            LakeType::Struct(fields) => DataType::Struct(struct_fields(fields)),
        }
    }

    /// A short, stable name of the type (used by fingerprints and error messages).
    pub fn name(&self) -> String {
        match self {
            LakeType::Boolean => "boolean".into(),
            LakeType::Int8 => "tinyint".into(),
            LakeType::Int16 => "smallint".into(),
            LakeType::Int32 => "int".into(),
            LakeType::Int64 => "bigint".into(),
            LakeType::Float32 => "float".into(),
            LakeType::Float64 => "double".into(),
            LakeType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            LakeType::String => "string".into(),
            LakeType::Binary => "binary".into(),
            LakeType::Date => "date".into(),
            LakeType::Timestamp => "timestamp".into(),
            LakeType::TimestampNtz => "timestamp_ntz".into(),
            LakeType::Uuid => "uuid".into(),
            LakeType::Json => "json".into(),
            LakeType::List(element) => format!(
                "array<{}{}>",
                element.ty.name(),
                if element.nullable { "" } else { " not null" }
            ),
            LakeType::Struct(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{}:{}{}",
                            f.name,
                            f.ty.ty.name(),
                            if f.ty.nullable { "" } else { " not null" }
                        )
                    })
                    .collect();
                format!("struct<{}>", inner.join(","))
            }
        }
    }
}

impl fmt::Display for LakeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A type together with its nullability.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ColumnType {
    /// The logical type.
    pub ty: LakeType,
    /// Whether the column admits NULL.
    pub nullable: bool,
}

impl ColumnType {
    /// A non-nullable column of `ty`.
    pub const fn required(ty: LakeType) -> Self {
        ColumnType {
            ty,
            nullable: false,
        }
    }

    /// A nullable column of `ty`.
    pub const fn nullable(ty: LakeType) -> Self {
        ColumnType { ty, nullable: true }
    }
}

/// A field of a nested struct column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StructField {
    /// The column name inside the struct.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
}

fn struct_fields(fields: &[StructField]) -> Fields {
    fields
        .iter()
        .map(|f| Field::new(&f.name, f.ty.ty.to_arrow(), f.ty.nullable))
        .collect()
}

/// How a column partitions its table (the Iceberg transform set, which is closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Partition {
    /// One partition per distinct value.
    Identity,
    /// Hash into N buckets (Iceberg `bucket(N, col)`).
    Bucket(u32),
    /// Truncate to width W (Iceberg `truncate(W, col)`).
    Truncate(u32),
    /// By year of a date or timestamp.
    Year,
    /// By month.
    Month,
    /// By day.
    Day,
    /// By hour of a timestamp.
    Hour,
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partition::Identity => f.write_str("identity"),
            Partition::Bucket(n) => write!(f, "bucket({n})"),
            Partition::Truncate(n) => write!(f, "truncate({n})"),
            Partition::Year => f.write_str("year"),
            Partition::Month => f.write_str("month"),
            Partition::Day => f.write_str("day"),
            Partition::Hour => f.write_str("hour"),
        }
    }
}

/// A timestamp the client fills in on write (`#[lake(auto = "…")]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AutoKind {
    /// Set to the write time when the field is unset (the epoch or `None`).
    CreateTime,
    /// Set to the write time on every write.
    UpdateTime,
}

/// A validation rule attached to a field, as declared (for documentation and tooling; the checks
/// themselves are generated code).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleSpec {
    /// The rule as written, e.g. `length(min = 1, max = 64)`.
    pub rule: String,
}

/// One column of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeField {
    /// The Rust field name.
    pub field: &'static str,
    /// The column name in the table.
    pub column: String,
    /// Type and nullability.
    pub ty: ColumnType,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Part of the merge key (an insert of a model with merge keys upserts).
    pub merge_key: bool,
    /// The partition transform, if the table is partitioned by this column.
    pub partition: Option<Partition>,
    /// Declared as a lookup column (`#[lake(indexed)]`): Z-ordered by `optimize`, bloom
    /// filters in Parquet (see [`Layout`](crate::layout::Layout)).
    pub indexed: bool,
    /// Declared as a sort column (`#[lake(sortable)]`): files are written sorted by it, and
    /// Iceberg tables record it as their sort order (see [`Layout`](crate::layout::Layout)).
    pub sortable: bool,
    /// Stored as JSON text.
    pub json: bool,
    /// Filled in by the client on write.
    pub auto: Option<AutoKind>,
    /// The validation rules declared on the field.
    pub rules: Vec<RuleSpec>,
    /// The column's previous name (`#[lake(renamed_from = "…")]`), which migration authoring
    /// turns into a rename.
    pub renamed_from: Option<String>,
}

impl LakeField {
    /// A plain column with no keys, partitioning, intents or rules.
    pub fn new(field: &'static str, column: impl Into<String>, ty: ColumnType) -> Self {
        LakeField {
            field,
            column: column.into(),
            ty,
            primary_key: false,
            merge_key: false,
            partition: None,
            indexed: false,
            sortable: false,
            json: false,
            auto: None,
            rules: Vec::new(),
            renamed_from: None,
        }
    }

    /// The Arrow field of this column.
    pub fn to_arrow(&self) -> Field {
        Field::new(&self.column, self.ty.ty.to_arrow(), self.ty.nullable)
    }
}

/// The schema of a model: its table and its columns in declaration order.
///
/// Built once per type (the derive caches it in a `static`), so the Arrow schemas it holds are
/// shared by every batch the model produces.
#[derive(Debug, Clone)]
pub struct LakeSchema {
    type_name: &'static str,
    table: String,
    fields: Vec<LakeField>,
    arrow: SchemaRef,
    table_arrow: SchemaRef,
    row_type: LakeType,
    layout: LayoutOptions,
}

impl PartialEq for LakeSchema {
    fn eq(&self, other: &Self) -> bool {
        self.type_name == other.type_name
            && self.table == other.table
            && self.fields == other.fields
            && self.layout == other.layout
    }
}

impl LakeSchema {
    /// Builds the schema of `type_name`, stored in `table`.
    pub fn new(type_name: &'static str, table: impl Into<String>, fields: Vec<LakeField>) -> Self {
        let arrow_fields: Vec<Field> = fields.iter().map(LakeField::to_arrow).collect();
        let arrow = Arc::new(Schema::new(arrow_fields.clone()));
        let mut with_system = arrow_fields;
        with_system.push(Field::new(INGEST_ID_COLUMN, DataType::Utf8, true));
        let table_arrow = Arc::new(Schema::new(with_system));
        let row_type = LakeType::Struct(
            fields
                .iter()
                .map(|f| StructField {
                    name: f.column.clone(),
                    ty: f.ty.clone(),
                })
                .collect(),
        );
        LakeSchema {
            type_name,
            table: table.into(),
            fields,
            arrow,
            table_arrow,
            row_type,
            layout: LayoutOptions::default(),
        }
    }

    /// This schema with the model's layout options (`#[lake(key_buckets = N)]`,
    /// `#[lake(index_keys = false)]`).
    pub fn with_layout_options(mut self, options: LayoutOptions) -> Self {
        self.layout = options;
        self
    }

    /// The model's layout options.
    pub fn layout_options(&self) -> LayoutOptions {
        self.layout
    }

    /// The Rust type name of the model.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The table name (unqualified).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The columns, in declaration order (without the system column).
    pub fn fields(&self) -> &[LakeField] {
        &self.fields
    }

    /// The column named `column`.
    pub fn field(&self, column: &str) -> Option<&LakeField> {
        self.fields.iter().find(|f| f.column == column)
    }

    /// The Arrow schema of the model's own columns (what `to_record_batch` produces and what the
    /// decoder expects).
    pub fn arrow_schema(&self) -> &SchemaRef {
        &self.arrow
    }

    /// The Arrow schema of the table: the model's columns plus [`INGEST_ID_COLUMN`].
    pub fn table_arrow_schema(&self) -> &SchemaRef {
        &self.table_arrow
    }

    /// The columns as one struct type (how a model nests inside another, and how the decoder
    /// binds a whole batch).
    pub fn row_type(&self) -> &LakeType {
        &self.row_type
    }

    /// The primary-key columns, in declaration order.
    pub fn primary_key(&self) -> impl Iterator<Item = &LakeField> {
        self.fields.iter().filter(|f| f.primary_key)
    }

    /// The merge-key columns, in declaration order.
    pub fn merge_key(&self) -> impl Iterator<Item = &LakeField> {
        self.fields.iter().filter(|f| f.merge_key)
    }

    /// The keys that identify a row for upserts, updates and deletes: the merge key if declared,
    /// otherwise the primary key.
    pub fn row_key(&self) -> Vec<&LakeField> {
        let merge: Vec<_> = self.merge_key().collect();
        if merge.is_empty() {
            self.primary_key().collect()
        } else {
            merge
        }
    }

    /// The partitioned columns with their transforms, in declaration order.
    pub fn partitions(&self) -> impl Iterator<Item = (&LakeField, Partition)> {
        self.fields
            .iter()
            .filter_map(|f| f.partition.map(|p| (f, p)))
    }

    /// The columns that a matched row takes from the source in an upsert or an update, system
    /// column last: every column but the `keys` and the `create_time` columns, which keep the
    /// value written when the row was first inserted (so "created" never means "last written").
    pub fn update_columns<'a>(&'a self, keys: &'a [String]) -> impl Iterator<Item = &'a str> {
        self.fields
            .iter()
            .filter(move |f| f.auto != Some(AutoKind::CreateTime) && !keys.contains(&f.column))
            .map(|f| f.column.as_str())
            .chain(std::iter::once(INGEST_ID_COLUMN))
    }

    /// Fields filled in by the client on write.
    pub fn auto_fields(&self) -> impl Iterator<Item = (&LakeField, AutoKind)> {
        self.fields.iter().filter_map(|f| f.auto.map(|a| (f, a)))
    }

    /// The canonical text that [`fingerprint`](Self::fingerprint) hashes: the table name, then one
    /// line per column sorted by column name.
    pub fn canonical_text(&self) -> String {
        let mut columns: Vec<&LakeField> = self.fields.iter().collect();
        columns.sort_by(|a, b| a.column.cmp(&b.column));
        let mut text = format!("table={}\n", self.table);
        for f in columns {
            text.push_str(&format!(
                "col={} type={} null={} pk={} mk={}\n",
                f.column,
                f.ty.ty.name(),
                f.ty.nullable,
                f.primary_key,
                f.merge_key
            ));
        }
        text
    }

    /// A stable SHA-256 of the schema, as `sha256:<hex>`.
    ///
    /// Insensitive to field order; sensitive to the table name and to each column's name, type,
    /// nullability and key flags.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.canonical_text().as_bytes());
        let mut hex = String::with_capacity(7 + 64);
        hex.push_str("sha256:");
        for byte in digest {
            hex.push_str(&format!("{byte:02x}"));
        }
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_display_in_the_attribute_grammar() {
        let all = [
            (Partition::Identity, "identity"),
            (Partition::Bucket(8), "bucket(8)"),
            (Partition::Truncate(3), "truncate(3)"),
            (Partition::Year, "year"),
            (Partition::Month, "month"),
            (Partition::Day, "day"),
            (Partition::Hour, "hour"),
        ];
        for (partition, text) in all {
            assert_eq!(partition.to_string(), text);
        }
    }

    fn schema(fields: Vec<LakeField>) -> LakeSchema {
        LakeSchema::new("User", "users", fields)
    }

    #[test]
    fn fingerprint_ignores_order_but_not_content() {
        let id = LakeField {
            primary_key: true,
            ..LakeField::new("id", "id", ColumnType::required(LakeType::String))
        };
        let age = LakeField::new("age", "age", ColumnType::nullable(LakeType::Int32));
        let a = schema(vec![id.clone(), age.clone()]);
        let b = schema(vec![age.clone(), id.clone()]);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert!(a.fingerprint().starts_with("sha256:"));
        assert_eq!(a.fingerprint().len(), 7 + 64);

        let renamed = LakeSchema::new("User", "people", vec![id.clone(), age.clone()]);
        assert_ne!(a.fingerprint(), renamed.fingerprint());
        let not_null = LakeField {
            ty: ColumnType::required(LakeType::Int32),
            ..age.clone()
        };
        assert_ne!(
            a.fingerprint(),
            schema(vec![id.clone(), not_null]).fingerprint()
        );
        let widened = LakeField {
            ty: ColumnType::nullable(LakeType::Int64),
            ..age.clone()
        };
        assert_ne!(
            a.fingerprint(),
            schema(vec![id.clone(), widened]).fingerprint()
        );
        let keyed = LakeField {
            merge_key: true,
            ..age
        };
        assert_ne!(a.fingerprint(), schema(vec![id, keyed]).fingerprint());
    }

    #[test]
    fn table_schema_appends_ingest_id() {
        let s = schema(vec![LakeField::new(
            "id",
            "id",
            ColumnType::required(LakeType::Uuid),
        )]);
        assert_eq!(s.arrow_schema().fields().len(), 1);
        let t = s.table_arrow_schema();
        assert_eq!(t.fields().len(), 2);
        assert_eq!(t.field(1).name(), INGEST_ID_COLUMN);
        assert_eq!(t.field(0).data_type(), &DataType::Utf8);
    }

    #[test]
    fn type_names() {
        let list = LakeType::List(Box::new(ColumnType::nullable(LakeType::Decimal {
            precision: 10,
            scale: 2,
        })));
        assert_eq!(list.name(), "array<decimal(10,2)>");
        assert_eq!(
            LakeType::Timestamp.to_arrow(),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }
}
