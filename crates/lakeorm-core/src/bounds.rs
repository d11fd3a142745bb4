//! Marker traits the derive asserts at compile time, so that a misplaced attribute fails to
//! compile with an error at the attribute rather than at run time.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::sortable::SortableId;

/// Types that `#[lake(auto = "create_time" | "update_time")]` can stamp.
#[diagnostic::on_unimplemented(
    message = "`auto` needs a timestamp field, but this field is `{Self}`",
    label = "not a timestamp",
    note = "use chrono::DateTime<Utc>, chrono::NaiveDateTime, or an Option of either"
)]
pub trait AutoTimestamp {
    /// Whether the field still holds its unset value (the epoch, or `None`).
    fn is_unset(&self) -> bool;
    /// Sets the field to `now`.
    fn set(&mut self, now: DateTime<Utc>);
}

impl AutoTimestamp for DateTime<Utc> {
    fn is_unset(&self) -> bool {
        *self == DateTime::<Utc>::UNIX_EPOCH
    }
    fn set(&mut self, now: DateTime<Utc>) {
        *self = now;
    }
}

impl AutoTimestamp for NaiveDateTime {
    fn is_unset(&self) -> bool {
        *self == DateTime::<Utc>::UNIX_EPOCH.naive_utc()
    }
    fn set(&mut self, now: DateTime<Utc>) {
        *self = now.naive_utc();
    }
}

impl<T: AutoTimestamp + Default> AutoTimestamp for Option<T> {
    fn is_unset(&self) -> bool {
        self.as_ref().is_none_or(AutoTimestamp::is_unset)
    }
    fn set(&mut self, now: DateTime<Utc>) {
        self.get_or_insert_with(T::default).set(now);
    }
}

/// Tables store microseconds; stamping at that precision keeps the record equal to what is
/// written.
fn stored_precision(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    now.trunc_subsecs(6)
}

/// Stamps a `create_time` field (only when unset).
pub fn stamp_create<T: AutoTimestamp>(field: &mut T, now: DateTime<Utc>) {
    if field.is_unset() {
        field.set(stored_precision(now));
    }
}

/// Stamps an `update_time` field (always).
pub fn stamp_update<T: AutoTimestamp>(field: &mut T, now: DateTime<Utc>) {
    field.set(stored_precision(now));
}

/// The value a write at `now` stores for a `create_time` field, leaving the record as it is.
pub fn stamped_create<T: AutoTimestamp + Clone>(field: &T, now: DateTime<Utc>) -> T {
    let mut value = field.clone();
    stamp_create(&mut value, now);
    value
}

/// The value a write at `now` stores for an `update_time` field, leaving the record as it is.
pub fn stamped_update<T: AutoTimestamp + Clone>(field: &T, now: DateTime<Utc>) -> T {
    let mut value = field.clone();
    stamp_update(&mut value, now);
    value
}

/// Types that can be a key (`#[lake(pk)]`, `#[lake(merge_key)]`): scalars that always have a
/// value and compare exactly. Not `Option` (a key must have a value), not floats (NaN and
/// rounding make equality unreliable), not lists or structs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a key column",
    label = "not a key type",
    note = "a key must always have a value and compare exactly: keys take bool, integers, String, \
            Vec<u8>, dates, timestamps, rust_decimal::Decimal, uuid::Uuid or lakeorm::SortableId, \
            never an Option"
)]
pub trait KeyColumn {}

macro_rules! key_columns {
    ($($ty:ty),* $(,)?) => { $(impl KeyColumn for $ty {})* };
}

key_columns!(
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    String,
    Vec<u8>,
    NaiveDate,
    DateTime<Utc>,
    NaiveDateTime,
    rust_decimal::Decimal,
    uuid::Uuid,
    SortableId,
);

/// Types `#[lake(decimal(P, S))]` applies to: `rust_decimal::Decimal`, and `Option`s and `Vec`s
/// of it.
#[diagnostic::on_unimplemented(
    message = "`decimal(P, S)` applies to rust_decimal::Decimal fields, but this field is `{Self}`",
    label = "not a decimal",
    note = "use rust_decimal::Decimal, or an Option or Vec of it"
)]
pub trait DecimalColumn {}

impl DecimalColumn for rust_decimal::Decimal {}
impl<T: DecimalColumn> DecimalColumn for Option<T> {}
impl<T: DecimalColumn> DecimalColumn for Vec<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_at_microsecond_precision_and_respects_set_values() {
        let now = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let mut created = DateTime::<Utc>::UNIX_EPOCH;
        stamp_create(&mut created, now);
        assert_eq!(created.timestamp_subsec_nanos(), 123_456_000);
        let earlier = created;
        stamp_create(&mut created, now + chrono::Duration::seconds(5));
        assert_eq!(created, earlier, "create_time is kept once set");
        let mut updated: Option<NaiveDateTime> = None;
        stamp_update(&mut updated, now);
        assert_eq!(updated, Some(stored_precision(now).naive_utc()));
    }
}

macro_rules! marker {
    ($(#[$meta:meta])* $name:ident: $($ty:ty),* $(,)?) => {
        $(#[$meta])*
        pub trait $name {}
        $(impl $name for $ty {})*
        impl<T: $name> $name for Option<T> {}
    };
}

marker! {
    /// Types a table can be partitioned by identity (one partition per value).
    #[diagnostic::on_unimplemented(
        message = "`partition = \"identity\"` is not supported on `{Self}`",
        label = "cannot partition by this type",
        note = "identity partitions take bool, integers, String, dates, timestamps, decimals, Uuid or SortableId"
    )]
    IdentityPartition: bool, i8, i16, i32, i64, u8, u16, u32, u64, String, NaiveDate, DateTime<Utc>,
        NaiveDateTime, rust_decimal::Decimal, uuid::Uuid, SortableId,
}

marker! {
    /// Types a table can be bucketed by (`bucket(N)`).
    #[diagnostic::on_unimplemented(
        message = "`partition = \"bucket(N)\"` is not supported on `{Self}`",
        label = "cannot bucket by this type",
        note = "buckets take integers, String, Vec<u8>, dates, timestamps, decimals, Uuid or SortableId"
    )]
    BucketPartition: i8, i16, i32, i64, u8, u16, u32, u64, String, Vec<u8>, NaiveDate, DateTime<Utc>,
        NaiveDateTime, rust_decimal::Decimal, uuid::Uuid, SortableId,
}

marker! {
    /// Types a table can be partitioned by truncation (`truncate(W)`).
    #[diagnostic::on_unimplemented(
        message = "`partition = \"truncate(W)\"` is not supported on `{Self}`",
        label = "cannot truncate this type",
        note = "truncate takes integers, String, Vec<u8> or decimals"
    )]
    TruncatePartition: i8, i16, i32, i64, u8, u16, u32, u64, String, Vec<u8>, rust_decimal::Decimal,
}

marker! {
    /// Types a table can be partitioned by year, month or day.
    #[diagnostic::on_unimplemented(
        message = "a year/month/day partition is not supported on `{Self}`",
        label = "not a date or timestamp",
        note = "year, month and day partitions take NaiveDate, DateTime<Utc> or NaiveDateTime"
    )]
    DatePartition: NaiveDate, DateTime<Utc>, NaiveDateTime,
}

marker! {
    /// Types a table can be partitioned by hour.
    #[diagnostic::on_unimplemented(
        message = "an hour partition is not supported on `{Self}`",
        label = "not a timestamp",
        note = "hour partitions take DateTime<Utc> or NaiveDateTime"
    )]
    HourPartition: DateTime<Utc>, NaiveDateTime,
}
