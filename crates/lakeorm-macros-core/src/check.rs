//! Checks across attributes and fields, run after parsing so that every problem is reported.
//!
//! Checks that depend on what a type *is* (a timestamp for `auto`, a bucketable type for
//! `partition`, a type that can be a key, a decimal that needs its precision) are left to the
//! compiler: the generated code asserts trait bounds spanned at the attribute, so an alias
//! cannot hide the type. What is checked here is what the attributes alone decide.

use std::collections::HashMap;

use syn::{GenericArgument, PathArguments, Type};

use crate::attr::{Container, Derive};
use crate::ctxt::Ctxt;
use crate::naming;

/// The reserved system column.
pub(crate) const INGEST_ID_COLUMN: &str = "_ingest_id";

/// The single generic argument of `ty` if its last path segment is `name` (e.g. `Option<T>`).
fn generic_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    if args.args.len() != 1 {
        return None;
    }
    match args.args.first()? {
        GenericArgument::Type(inner) => Some(inner),
        _ => None,
    }
}

/// Whether the field's type is written as `Option<…>` (for key checks and JSON nullability;
/// column nullability itself comes from the type system).
pub(crate) fn is_option(ty: &Type) -> bool {
    generic_arg(ty, "Option").is_some()
}

pub(crate) fn check(cx: &mut Ctxt, container: &Container) {
    if container.derive == Derive::Row {
        let layout = [
            (
                "key_buckets",
                container.attrs.key_buckets.as_ref().map(|s| s.span),
            ),
            (
                "index_keys",
                container.attrs.index_keys.as_ref().map(|s| s.span),
            ),
        ];
        for (name, span) in layout {
            if let Some(span) = span {
                cx.error_at(
                    span,
                    format!("`{name}` describes a table's layout; it belongs on a #[derive(Lake)] model, not on a #[derive(Row)] query shape"),
                );
            }
        }
    }
    let mut seen: HashMap<&str, &syn::Ident> = HashMap::new();
    let mut columns = 0usize;
    for field in &container.fields {
        let a = &field.attrs;
        if a.skip.is_some() {
            for (name, span) in a.all_but_skip() {
                cx.error_at(span, format!("`{name}` has no effect on a `skip`ped field"));
            }
            continue;
        }
        columns += 1;

        if container.derive == Derive::Row {
            for (name, span) in a.model_only() {
                cx.error_at(
                    span,
                    format!("`{name}` describes a table; it belongs on a #[derive(Lake)] model, not on a #[derive(Row)] query shape"),
                );
            }
        }

        // The system column, read by query shapes only.
        if let Some(id) = &a.ingest_id {
            if container.derive == Derive::Lake {
                cx.error_at(
                    id.span,
                    "`ingest_id` reads the system column lakeorm stamps on every row; it belongs on a #[derive(Row)] query shape, not on a #[derive(Lake)] model, whose writes set it",
                );
            }
            if let Some(c) = &a.column {
                cx.error_at(
                    c.span,
                    "`column` contradicts `ingest_id`: the field binds the `_ingest_id` column",
                );
            }
            let typed = [
                ("json", a.json.as_ref().map(|s| s.span)),
                ("decimal", a.decimal.as_ref().map(|s| s.span)),
            ];
            for (name, span) in typed {
                if let Some(span) = span {
                    cx.error_at(
                        span,
                        format!("`{name}` contradicts `ingest_id`: the ingest id is a UUID column"),
                    );
                }
            }
        }

        // Column names.
        let column_span = a.column.as_ref().map_or(field.ident.span(), |c| c.span);
        if a.ingest_id.is_some() {
            // Bound to the system column by name (checked above).
        } else if field.column == INGEST_ID_COLUMN {
            cx.error_at(
                column_span,
                "`_ingest_id` is the system column lakeorm stamps on every row; choose another column name",
            );
        } else if let Some(problem) = naming::invalid_identifier(&field.column) {
            cx.error_at(
                column_span,
                format!("column name `{}` {problem}", field.column),
            );
        }
        if let Some(first) = seen.insert(field.column.as_str(), &field.ident) {
            cx.error_at(
                column_span,
                format!(
                    "column `{}` is already used by field `{first}`",
                    field.column
                ),
            );
        }

        // Keys.
        for (key, slot) in [("pk", &a.pk), ("merge_key", &a.merge_key)] {
            if slot.is_none() {
                continue;
            }
            if let Some(n) = &a.nullable {
                cx.error_at(
                    n.span,
                    format!("`nullable` contradicts `{key}`: a key must always have a value"),
                );
            }
            if let Some(j) = &a.json {
                cx.error_at(
                    j.span,
                    format!("`json` contradicts `{key}`: keys must be plain columns"),
                );
            }
            if let Some(auto) = &a.auto {
                cx.error_at(
                    auto.span,
                    format!("`auto` contradicts `{key}`: a key must come from the record"),
                );
            }
        }

        // JSON columns are opaque text.
        if a.json.is_some() {
            if let Some(d) = &a.decimal {
                cx.error_at(
                    d.span,
                    "`decimal` contradicts `json`: a JSON column is text",
                );
            }
            if let Some(p) = &a.partition {
                cx.error_at(
                    p.span,
                    "`partition` contradicts `json`: a JSON column cannot partition a table",
                );
            }
            if let Some(auto) = &a.auto {
                cx.error_at(auto.span, "`auto` contradicts `json`");
            }
        }
    }
    if columns == 0 {
        cx.error_spanned_by(
            &container.ident,
            "a struct needs at least one column that is not `skip`ped",
        );
    }
}
