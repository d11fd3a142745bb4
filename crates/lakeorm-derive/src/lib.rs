//! `#[derive(Lake)]` and `#[derive(Row)]` for [lakeorm](https://docs.rs/lakeorm).
//!
//! This crate is a thin shell; the expansion lives in `lakeorm-macros-core`. Use the derives
//! through the `lakeorm` crate, which re-exports them.

use proc_macro::TokenStream;

/// Makes a struct a lakeorm **model**: the schema contract of one Delta or Iceberg table.
///
/// The derive generates, at compile time, the table schema ([`Row::schema`]), `validate()`
/// (every rule of every field, all failures at once), the Arrow projection
/// (`to_record_batch`/`to_table_batch`, with columnar builders) and the decoder
/// (`from_record_batch`, binding columns by name once per batch). It also implements `Row`, so a
/// model can be read back, and `ColumnValue`, so a model can be nested in another as a struct
/// column.
///
/// ```
/// use chrono::{DateTime, Utc};
/// use lakeorm::{Lake, Row as _};
///
/// #[derive(Lake, Debug, Clone, PartialEq)]
/// struct User {
///     #[lake(pk)]
///     id: uuid::Uuid,
///     #[lake(merge_key, validate = "email")]
///     email: String,
///     #[lake(partition = "bucket(16)", validate = "length(min = 2, max = 2)")]
///     country: String,
///     #[lake(validate = "range(min = 0, max = 150)")]
///     age: Option<u8>,
///     #[lake(auto = "create_time", partition = "day")]
///     created_at: DateTime<Utc>,
/// }
///
/// let schema = User::schema();
/// assert_eq!(schema.table(), "users");
/// assert_eq!(schema.fields().len(), 5);
/// # let user = User { id: uuid::Uuid::nil(), email: "a@b.co".into(), country: "GB".into(), age: None, created_at: Utc::now() };
/// # use lakeorm::Lake as _;
/// # assert!(user.validate().is_ok());
/// ```
///
/// # Container attributes
///
/// | attribute | meaning |
/// |---|---|
/// | `#[lake(table = "name")]` | the table name; default: the snake_case plural of the type name (`OrderLine` → `order_lines`) |
/// | `#[lake(rename_all = "…")]` | column names from field names: `snake_case`, `camelCase`, `PascalCase`, `SCREAMING_SNAKE_CASE`, `kebab-case`, `lowercase`, `UPPERCASE` |
/// | `#[lake(crate = "path")]` | where lakeorm is, if not at `::lakeorm` |
/// | `#[lake(key_buckets = N)]` | how many buckets an Iceberg table splits its merge key into when nothing else partitions it (default 16); see *Layout intents* |
/// | `#[lake(index_keys = false)]` | merge keys are not laid out like `indexed` columns (no Z-order, bloom filters or Iceberg bucketing for them) |
///
/// # Field attributes
///
/// | attribute | meaning |
/// |---|---|
/// | `pk` | part of the primary key (composite allowed); never on an `Option` |
/// | `merge_key` | part of the merge key: `insert` upserts on it (composite allowed); never on an `Option` |
/// | `column = "name"` | the column name |
/// | `partition = "…"` | `identity`, `bucket(N)`, `truncate(N)`, `year`, `month`, `day`, `hour`; checked against the field's type. Iceberg stores the transform natively; Delta partitions by a generated column `<column>_<transform>` (`lakeorm_core::generated` lists the expressions and the types each takes) |
/// | `indexed` | a lookup column: Z-ordered by `optimize`, bloom filters in Parquet; see *Layout intents* |
/// | `sortable` | a sort column: files written sorted by it, Iceberg's sort order; see *Layout intents* |
/// | `nullable` | declare the column nullable although the field is not an `Option` |
/// | `json` | store any serde type as JSON text |
/// | `auto = "create_time"` / `"update_time"` | stamped by the client on write; timestamp fields only |
/// | `validate = "…"` | `email`, `url`, `uuid`, `non_empty`, `length(min = N, max = N, equal = N)`, `range(min = X, max = X)`, `regex(PATTERN)`, `custom(NAME)` (see `lakeorm::register_validator`); repeatable |
/// | `skip` | not a column; filled with `Default::default()` on reads |
/// | `decimal(P, S)` | precision and scale of a `rust_decimal::Decimal` column (required for them) |
/// | `renamed_from = "old"` | the column used to be called `old`: `migrate generate` writes a rename instead of a drop and an add |
///
/// # Layout intents
///
/// `sortable`, `indexed` and merge keys (unless `index_keys = false`) shape the table's files;
/// [`Layout`] says what a model's intents come to (`User::schema().layout()`):
///
/// | intent | Delta, embedded engine | Delta, Spark / Databricks | Iceberg, embedded engine | Iceberg, Spark |
/// |---|---|---|---|---|
/// | `sortable` | appends written sorted by it (a merge's source rows are sorted before it runs) | — (Delta has no table sort order) | sort order in the metadata; every write sorted by it | `ALTER TABLE … WRITE ORDERED BY` after `CREATE TABLE` (skipped with a warning where the server lacks it: Sail) |
/// | `sortable`, `indexed`, merge keys on `maintain().optimize::<T>()` | delta-rs Z-order of every file | `OPTIMIZE … ZORDER BY (…)` | Z-ordered rewrite of every file | `rewrite_data_files(strategy => 'sort', sort_order => 'zorder(…)')` |
/// | `indexed`, merge keys | Parquet bloom filters | — (no table property for them in Delta) | bloom filters, from the table property | `write.parquet.bloom-filter-enabled.column.<c>` in `TBLPROPERTIES` |
/// | merge key, no `partition` | — | — | `bucket(key_buckets, key)` partition | `PARTITIONED BY (bucket(N, key))` |
///
/// Columns a Delta table is partitioned by are left out of its Z-order. With
/// `DeltaDialect::with_liquid_clustering`, Delta tables are created `CLUSTER BY` the same
/// columns instead (on engines that write clustered tables; the embedded engine refuses them
/// with `Error::Unsupported`). `maintain().optimize::<T>()` takes other Z-order columns, a
/// target file size and a filter on partition columns. Migration files create the same tables
/// as `migrate::<T>()`.
///
/// [`Layout`]: https://docs.rs/lakeorm/latest/lakeorm/struct.Layout.html
///
/// # Types
///
/// `bool`, `i8`–`i64`, `u8`–`u64` (stored widened, as lake formats have no unsigned types; `u64`
/// as `decimal(20, 0)`), `f32`, `f64`, `String`, `Vec<u8>`, `chrono::DateTime<Utc>` (timestamp,
/// µs, UTC), `chrono::NaiveDateTime`, `chrono::NaiveDate`, `uuid::Uuid`, `rust_decimal::Decimal`,
/// `lakeorm::SortableId`, `Option<T>` of each, `Vec<T>` (a list column), and structs deriving
/// `Lake` or `Row` (a struct column). Anything else fails to compile with the list of supported
/// types; store it with `json` instead.
///
/// Misused attributes are compile errors pointing at the attribute, and `_ingest_id` is reserved
/// for the system column.
///
/// [`Row::schema`]: https://docs.rs/lakeorm/latest/lakeorm/trait.Row.html#tymethod.schema
#[proc_macro_derive(Lake, attributes(lake))]
pub fn derive_lake(input: TokenStream) -> TokenStream {
    lakeorm_macros_core::derive_lake(input.into()).into()
}

/// Makes a struct a **query shape**: the typed result of a query (a projection, a join, an
/// aggregate) that is not a table.
///
/// Columns bind by name (exactly, then case-insensitively); extra columns in the result are
/// ignored. Accepts the field attributes `column`, `json`, `decimal`, `nullable`, `skip` and
/// `ingest_id`, and the container attributes `rename_all` and `crate`; table attributes (`pk`,
/// `partition`, `validate`, `key_buckets`…) are an error, because a query shape is not a table.
///
/// `#[lake(ingest_id)]` on a `lakeorm::IngestId` field binds the `_ingest_id` system column:
/// which write stamped each row, for lineage queries without an SQL alias.
///
/// ```
/// use lakeorm::Row;
///
/// #[derive(Row, Debug)]
/// struct CountryTotal {
///     country: String,
///     #[lake(column = "n")]
///     users: i64,
/// }
/// # assert_eq!(CountryTotal::schema().fields()[1].column, "n");
/// ```
#[proc_macro_derive(Row, attributes(lake))]
pub fn derive_row(input: TokenStream) -> TokenStream {
    lakeorm_macros_core::derive_row(input.into()).into()
}
