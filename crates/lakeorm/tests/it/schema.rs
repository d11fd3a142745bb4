use lakeorm::{AutoKind, LakeType, Partition, Row, schema_fingerprint};

use crate::models::{Address, CountryTotal, Everything, User};

#[test]
fn table_names_and_columns() {
    assert_eq!(User::schema().table(), "users");
    assert_eq!(Address::schema().table(), "addresses");
    let s = Everything::schema();
    assert_eq!(s.table(), "everything");
    assert!(s.field("cache").is_none(), "skipped fields are not columns");
    assert_eq!(s.fields()[2].column, "mail");
    let pk: Vec<_> = s.primary_key().map(|f| f.column.as_str()).collect();
    assert_eq!(pk, ["id", "tenant"]);
    let mk: Vec<_> = s.merge_key().map(|f| f.column.as_str()).collect();
    assert_eq!(mk, ["mail", "region"]);
}

#[test]
fn types_and_nullability_come_from_the_type() {
    let s = Everything::schema();
    let ty = |c: &str| s.field(c).unwrap().ty.clone();
    assert_eq!(
        ty("qword").ty,
        LakeType::Decimal {
            precision: 20,
            scale: 0
        }
    );
    assert_eq!(ty("byte").ty, LakeType::Int16);
    assert_eq!(
        ty("balance").ty,
        LakeType::Decimal {
            precision: 18,
            scale: 4
        }
    );
    assert!(ty("discount").nullable);
    assert!(!ty("balance").nullable);
    assert!(ty("nickname").nullable, "#[lake(nullable)] overrides");
    assert_eq!(ty("prefs").ty, LakeType::Json);
    assert!(!ty("prefs").nullable);
    assert!(ty("extra").nullable, "an Option stored as JSON is nullable");
    assert!(matches!(ty("address").ty, LakeType::Struct(ref f) if f.len() == 4));
    assert!(matches!(ty("history").ty, LakeType::List(_)));
    assert_eq!(ty("user_id").ty, LakeType::Uuid);
}

#[test]
fn partitions_intents_and_auto_fields() {
    let s = Everything::schema();
    let parts: Vec<_> = s
        .partitions()
        .map(|(f, p)| (f.column.as_str(), p))
        .collect();
    assert_eq!(
        parts,
        [
            ("user_id", Partition::Bucket(16)),
            ("code", Partition::Truncate(4)),
            ("created_at", Partition::Day),
            ("flag", Partition::Identity),
            ("birthday", Partition::Month),
        ]
    );
    let autos: Vec<_> = s
        .auto_fields()
        .map(|(f, a)| (f.column.as_str(), a))
        .collect();
    assert_eq!(
        autos,
        [
            ("created_at", AutoKind::CreateTime),
            ("updated_at", AutoKind::UpdateTime)
        ]
    );
    assert!(s.field("region").unwrap().indexed);
    assert!(s.field("id").unwrap().sortable);
    assert_eq!(s.field("mail").unwrap().rules.len(), 2);
}

#[test]
fn arrow_schema_has_the_system_column_only_for_tables() {
    let s = User::schema();
    assert_eq!(s.arrow_schema().fields().len(), 4);
    let t = s.table_arrow_schema();
    assert_eq!(t.fields().len(), 5);
    assert_eq!(t.field(4).name(), lakeorm::INGEST_ID_COLUMN);
    assert_eq!(CountryTotal::schema().fields()[1].column, "n");
}

#[test]
fn fingerprints_are_stable_and_distinct() {
    let a = schema_fingerprint::<User>();
    assert_eq!(a, schema_fingerprint::<User>());
    assert_ne!(a, schema_fingerprint::<Address>());
    // The canonical text is sorted by column, so it is independent of field order.
    let text = User::schema().canonical_text();
    assert!(text.starts_with("table=users\ncol=age type=smallint null=true pk=false mk=false\n"));
}
