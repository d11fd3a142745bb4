//! Models shared by the tests: one that uses every attribute and every supported type.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use lakeorm::{Lake, Row, SortableId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Lake, Debug, Clone, PartialEq)]
pub(crate) struct Address {
    pub(crate) street: String,
    pub(crate) city: String,
    pub(crate) zip: Option<String>,
    #[lake(column = "geo")]
    pub(crate) coordinates: Option<Vec<f64>>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Preferences {
    pub(crate) theme: String,
    pub(crate) tags: Vec<String>,
}

#[derive(Lake, Debug, Clone, PartialEq)]
#[lake(table = "everything")]
pub(crate) struct Everything {
    #[lake(pk, sortable)]
    pub(crate) id: SortableId,
    #[lake(pk)]
    pub(crate) tenant: i32,
    #[lake(
        merge_key,
        column = "mail",
        validate = "email",
        validate = "length(max = 128)"
    )]
    pub(crate) email: String,
    #[lake(merge_key, indexed)]
    pub(crate) region: String,
    #[lake(partition = "bucket(16)")]
    pub(crate) user_id: uuid::Uuid,
    #[lake(partition = "truncate(4)")]
    pub(crate) code: String,
    #[lake(partition = "day", auto = "create_time")]
    pub(crate) created_at: DateTime<Utc>,
    #[lake(auto = "update_time")]
    pub(crate) updated_at: Option<DateTime<Utc>>,
    #[lake(partition = "identity")]
    pub(crate) flag: bool,
    pub(crate) tiny: i8,
    pub(crate) small: i16,
    #[lake(validate = "range(min = -1000000, max = 1000000)")]
    pub(crate) medium: i64,
    pub(crate) byte: u8,
    pub(crate) word: u16,
    pub(crate) dword: u32,
    pub(crate) qword: u64,
    pub(crate) ratio: f32,
    pub(crate) score: f64,
    pub(crate) blob: Vec<u8>,
    pub(crate) local_time: NaiveDateTime,
    #[lake(partition = "month")]
    pub(crate) birthday: NaiveDate,
    #[lake(decimal(18, 4))]
    pub(crate) balance: Decimal,
    #[lake(decimal(10, 2))]
    pub(crate) discount: Option<Decimal>,
    #[lake(validate = "non_empty")]
    pub(crate) tags: Vec<String>,
    pub(crate) scores: Vec<Option<i32>>,
    pub(crate) maybe_tags: Option<Vec<String>>,
    pub(crate) address: Address,
    pub(crate) previous: Option<Address>,
    pub(crate) history: Vec<Address>,
    #[lake(json)]
    pub(crate) prefs: Preferences,
    #[lake(json)]
    pub(crate) extra: Option<serde_json::Value>,
    #[lake(nullable)]
    pub(crate) nickname: String,
    #[lake(validate = "uuid")]
    pub(crate) external_ref: Option<String>,
    #[lake(validate = "regex(^[A-Z]{2}$)")]
    pub(crate) country: String,
    #[lake(validate = "url")]
    pub(crate) homepage: Option<String>,
    pub(crate) maybe_date: Option<NaiveDate>,
    pub(crate) maybe_id: Option<uuid::Uuid>,
    pub(crate) maybe_bytes: Option<Vec<u8>>,
    #[lake(skip)]
    pub(crate) cache: Option<String>,
}

#[derive(Lake, Debug, Clone, PartialEq)]
pub(crate) struct User {
    #[lake(pk)]
    pub(crate) id: i64,
    #[lake(validate = "email")]
    pub(crate) email: String,
    #[lake(validate = "length(min = 2, max = 2)")]
    pub(crate) country: String,
    #[lake(validate = "range(min = 0, max = 150)")]
    pub(crate) age: Option<u8>,
}

/// A query shape: the result of an aggregate.
#[derive(Row, Debug, Clone, PartialEq)]
pub(crate) struct CountryTotal {
    pub(crate) country: String,
    #[lake(column = "n")]
    pub(crate) users: i64,
    pub(crate) avg_age: Option<f64>,
}
