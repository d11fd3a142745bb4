//! Parses `#[lake(…)]` attributes into a typed model of the struct. Checks that need more than
//! one attribute at a time live in `check.rs`.

use proc_macro2::Span;
use syn::spanned::Spanned as _;
use syn::{Attribute, DeriveInput, LitStr, Type};

use crate::check::INGEST_ID_COLUMN;
use crate::ctxt::Ctxt;
use crate::naming::{self, RenameRule};
use crate::rules::{self, Rule};

/// Which derive is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Derive {
    /// `#[derive(Lake)]`: a model (a table).
    Lake,
    /// `#[derive(Row)]`: a query shape.
    Row,
}

/// A partition transform as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transform {
    Identity,
    Bucket(u32),
    Truncate(u32),
    Year,
    Month,
    Day,
    Hour,
}

impl Transform {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let numbered = |name: &str| -> Option<Result<u32, String>> {
            let inner = text
                .strip_prefix(name)?
                .trim_start()
                .strip_prefix('(')?
                .strip_suffix(')')?;
            Some(match inner.trim().parse::<u32>() {
                Ok(0) | Err(_) => Err(format!(
                    "`{name}` takes a whole number greater than zero, as in `{name}(16)`; got `{inner}`"
                )),
                Ok(n) => Ok(n),
            })
        };
        Ok(match text {
            "identity" => Transform::Identity,
            "year" => Transform::Year,
            "month" => Transform::Month,
            "day" => Transform::Day,
            "hour" => Transform::Hour,
            _ => {
                if let Some(n) = numbered("bucket") {
                    Transform::Bucket(n?)
                } else if let Some(n) = numbered("truncate") {
                    Transform::Truncate(n?)
                } else {
                    return Err(format!(
                        "unknown partition transform `{text}`; expected identity, bucket(N), truncate(N), year, month, day or hour"
                    ));
                }
            }
        })
    }
}

/// `auto = "…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auto {
    CreateTime,
    UpdateTime,
}

/// An attribute value together with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// Records a value once; a second occurrence is an error at the second one.
fn set_once<T>(cx: &mut Ctxt, slot: &mut Option<Spanned<T>>, value: T, span: Span, key: &str) {
    if slot.is_some() {
        cx.error_at(span, format!("duplicate `{key}` attribute"));
    } else {
        *slot = Some(Spanned { value, span });
    }
}

/// Container attributes.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) table: Option<Spanned<String>>,
    pub(crate) rename_all: Option<Spanned<RenameRule>>,
    pub(crate) krate: Option<Spanned<syn::Path>>,
    pub(crate) key_buckets: Option<Spanned<u32>>,
    pub(crate) index_keys: Option<Spanned<bool>>,
}

/// Field attributes.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) pk: Option<Spanned<()>>,
    pub(crate) merge_key: Option<Spanned<()>>,
    pub(crate) column: Option<Spanned<String>>,
    pub(crate) partition: Option<Spanned<Transform>>,
    pub(crate) indexed: Option<Spanned<()>>,
    pub(crate) sortable: Option<Spanned<()>>,
    pub(crate) nullable: Option<Spanned<()>>,
    pub(crate) json: Option<Spanned<()>>,
    pub(crate) auto: Option<Spanned<Auto>>,
    pub(crate) validate: Vec<Spanned<Rule>>,
    pub(crate) skip: Option<Spanned<()>>,
    pub(crate) decimal: Option<Spanned<(u8, i8)>>,
    pub(crate) renamed_from: Option<Spanned<String>>,
    pub(crate) ingest_id: Option<Spanned<()>>,
}

impl FieldAttrs {
    /// Every attribute that only models (not query shapes) may carry, with its name.
    pub(crate) fn model_only(&self) -> Vec<(&'static str, Span)> {
        let mut found = Vec::new();
        let mut flag = |name, slot: Option<Span>| {
            if let Some(span) = slot {
                found.push((name, span));
            }
        };
        flag("pk", self.pk.as_ref().map(|s| s.span));
        flag("merge_key", self.merge_key.as_ref().map(|s| s.span));
        flag("partition", self.partition.as_ref().map(|s| s.span));
        flag("indexed", self.indexed.as_ref().map(|s| s.span));
        flag("sortable", self.sortable.as_ref().map(|s| s.span));
        flag("auto", self.auto.as_ref().map(|s| s.span));
        flag("renamed_from", self.renamed_from.as_ref().map(|s| s.span));
        for rule in &self.validate {
            found.push(("validate", rule.span));
        }
        found
    }

    /// Every attribute set on the field except `skip`, with its name (for `skip` conflicts).
    pub(crate) fn all_but_skip(&self) -> Vec<(&'static str, Span)> {
        let mut found = self.model_only();
        let mut flag = |name, slot: Option<Span>| {
            if let Some(span) = slot {
                found.push((name, span));
            }
        };
        flag("column", self.column.as_ref().map(|s| s.span));
        flag("nullable", self.nullable.as_ref().map(|s| s.span));
        flag("json", self.json.as_ref().map(|s| s.span));
        flag("decimal", self.decimal.as_ref().map(|s| s.span));
        flag("ingest_id", self.ingest_id.as_ref().map(|s| s.span));
        found
    }
}

/// One field of the struct.
pub(crate) struct Field {
    pub(crate) ident: syn::Ident,
    pub(crate) ty: Type,
    pub(crate) attrs: FieldAttrs,
    /// The column name after `column` and `rename_all`.
    pub(crate) column: String,
}

/// The struct being derived.
pub(crate) struct Container {
    pub(crate) derive: Derive,
    pub(crate) ident: syn::Ident,
    pub(crate) attrs: ContainerAttrs,
    pub(crate) table: String,
    pub(crate) fields: Vec<Field>,
}

const CONTAINER_KEYS: &str = "table, rename_all, crate, key_buckets, index_keys";
const FIELD_KEYS: &str = "pk, merge_key, column, partition, indexed, sortable, nullable, json, auto, validate, skip, decimal, renamed_from, ingest_id";

/// Consumes the value of an unknown key (`= …` or `(…)`), so that the keys after it are still
/// parsed and reported.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|_| Ok(()));
    }
    Ok(())
}

fn lake_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("lake"))
}

fn parse_container_attrs(cx: &mut Ctxt, input: &DeriveInput) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in lake_attrs(&input.attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            if meta.path.is_ident("table") {
                let lit: LitStr = meta.value()?.parse()?;
                let table = lit.value();
                if let Some(problem) = naming::invalid_identifier(&table) {
                    cx.error_spanned_by(&lit, format!("table name {problem}"));
                }
                set_once(cx, &mut out.table, table, lit.span(), "table");
            } else if meta.path.is_ident("rename_all") {
                let lit: LitStr = meta.value()?.parse()?;
                match RenameRule::parse(&lit.value()) {
                    Some(rule) => set_once(cx, &mut out.rename_all, rule, lit.span(), "rename_all"),
                    None => cx.error_spanned_by(
                        &lit,
                        format!(
                            "unknown rename_all rule `{}`; expected one of: {}",
                            lit.value(),
                            RenameRule::NAMES
                        ),
                    ),
                }
            } else if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                let path: syn::Path = lit.parse()?;
                set_once(cx, &mut out.krate, path, lit.span(), "crate");
            } else if meta.path.is_ident("key_buckets") {
                let lit: syn::LitInt = meta.value()?.parse()?;
                match lit.base10_parse::<u32>() {
                    Ok(n) if n > 0 => set_once(cx, &mut out.key_buckets, n, lit.span(), "key_buckets"),
                    _ => cx.error_spanned_by(
                        &lit,
                        "`key_buckets` takes a whole number greater than zero, as in `key_buckets = 16`",
                    ),
                }
            } else if meta.path.is_ident("index_keys") {
                let lit: syn::LitBool = meta.value()?.parse()?;
                set_once(cx, &mut out.index_keys, lit.value, lit.span(), "index_keys");
            } else {
                let key = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let hint = if FIELD_KEYS.split(", ").any(|k| k == key) {
                    format!("`{key}` is a field attribute; put it on a field")
                } else {
                    format!(
                        "unknown container attribute `{key}`; expected one of: {CONTAINER_KEYS}"
                    )
                };
                cx.error_at(span, hint);
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    out
}

fn parse_decimal(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<(u8, i8, Span)> {
    let content;
    syn::parenthesized!(content in meta.input);
    let precision: syn::LitInt = content.parse()?;
    let _: syn::Token![,] = content.parse()?;
    let scale: syn::LitInt = content.parse()?;
    let span = meta.path.span();
    let p: u8 = precision
        .base10_parse()
        .map_err(|_| syn::Error::new(precision.span(), "decimal precision must be 1..=38"))?;
    let s: i8 = scale
        .base10_parse()
        .map_err(|_| syn::Error::new(scale.span(), "decimal scale must be 0..=38"))?;
    if !(1..=38).contains(&p) {
        return Err(syn::Error::new(
            precision.span(),
            "decimal precision must be 1..=38",
        ));
    }
    if s < 0 || s > i8::try_from(p).unwrap_or(38) {
        return Err(syn::Error::new(
            scale.span(),
            "decimal scale must be between 0 and the precision",
        ));
    }
    Ok((p, s, span))
}

fn parse_field_attrs(cx: &mut Ctxt, field: &syn::Field) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in lake_attrs(&field.attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match key.as_str() {
                "pk" => set_once(cx, &mut out.pk, (), span, "pk"),
                "merge_key" => set_once(cx, &mut out.merge_key, (), span, "merge_key"),
                "indexed" => set_once(cx, &mut out.indexed, (), span, "indexed"),
                "sortable" => set_once(cx, &mut out.sortable, (), span, "sortable"),
                "nullable" => set_once(cx, &mut out.nullable, (), span, "nullable"),
                "json" => set_once(cx, &mut out.json, (), span, "json"),
                "skip" => set_once(cx, &mut out.skip, (), span, "skip"),
                "ingest_id" => set_once(cx, &mut out.ingest_id, (), span, "ingest_id"),
                "column" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.column, lit.value(), lit.span(), "column");
                }
                "renamed_from" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    if lit.value().trim().is_empty() {
                        cx.error_spanned_by(&lit, "`renamed_from` names the column's previous name and cannot be empty");
                    } else {
                        set_once(cx, &mut out.renamed_from, lit.value(), lit.span(), "renamed_from");
                    }
                }
                "partition" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    match Transform::parse(&lit.value()) {
                        Ok(t) => set_once(cx, &mut out.partition, t, lit.span(), "partition"),
                        Err(e) => cx.error_spanned_by(&lit, e),
                    }
                }
                "auto" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let auto = match lit.value().as_str() {
                        "create_time" => Some(Auto::CreateTime),
                        "update_time" => Some(Auto::UpdateTime),
                        other => {
                            cx.error_spanned_by(
                                &lit,
                                format!("unknown auto behaviour `{other}`; expected `create_time` or `update_time`"),
                            );
                            None
                        }
                    };
                    if let Some(auto) = auto {
                        set_once(cx, &mut out.auto, auto, lit.span(), "auto");
                    }
                }
                "validate" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    match rules::parse(&lit.value()) {
                        Ok(rule) => out.validate.push(Spanned { value: rule, span: lit.span() }),
                        Err(e) => cx.error_spanned_by(&lit, e),
                    }
                }
                "decimal" => match parse_decimal(&meta) {
                    Ok((p, s, span)) => set_once(cx, &mut out.decimal, (p, s), span, "decimal"),
                    Err(e) => cx.syn_error(e),
                },
                _ => {
                    let hint = if CONTAINER_KEYS.split(", ").any(|k| k == key) {
                        format!("`{key}` is a container attribute; put it on the struct")
                    } else {
                        format!("unknown field attribute `{key}`; expected one of: {FIELD_KEYS}")
                    };
                    cx.error_at(span, hint);
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    out
}

/// Parses the whole struct. Returns `None` when its shape rules out a derive altogether.
pub(crate) fn parse(cx: &mut Ctxt, input: &DeriveInput, derive: Derive) -> Option<Container> {
    let what = match derive {
        Derive::Lake => "#[derive(Lake)]",
        Derive::Row => "#[derive(Row)]",
    };
    let data = match &input.data {
        syn::Data::Struct(data) => data,
        syn::Data::Enum(e) => {
            cx.error_spanned_by(
                e.enum_token,
                format!("{what} supports structs with named fields only, not enums"),
            );
            return None;
        }
        syn::Data::Union(u) => {
            cx.error_spanned_by(
                u.union_token,
                format!("{what} supports structs with named fields only, not unions"),
            );
            return None;
        }
    };
    let syn::Fields::Named(named) = &data.fields else {
        cx.error_spanned_by(
            &input.ident,
            format!("{what} needs a struct with named fields; each field is a column"),
        );
        return None;
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            format!("{what} does not support generic structs: a table has one concrete schema"),
        );
    }
    let attrs = parse_container_attrs(cx, input);
    let table = attrs
        .table
        .as_ref()
        .map(|t| t.value.clone())
        .unwrap_or_else(|| naming::default_table_name(&input.ident.to_string()));
    let rename = attrs.rename_all.as_ref().map(|r| r.value);
    let fields = named
        .named
        .iter()
        .filter_map(|f| {
            let ident = f.ident.clone()?;
            let attrs = parse_field_attrs(cx, f);
            let rust_name = ident.to_string();
            let rust_name = rust_name
                .strip_prefix("r#")
                .unwrap_or(&rust_name)
                .to_owned();
            let column = match (&attrs.column, rename) {
                (Some(c), _) => c.value.clone(),
                // The system column keeps its name whatever `rename_all` says.
                (None, _) if attrs.ingest_id.is_some() => INGEST_ID_COLUMN.to_owned(),
                (None, Some(rule)) => rule.apply(&rust_name),
                (None, None) => rust_name,
            };
            Some(Field {
                ident,
                ty: f.ty.clone(),
                attrs,
                column,
            })
        })
        .collect();
    Some(Container {
        derive,
        ident: input.ident.clone(),
        attrs,
        table,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_grammar() {
        assert_eq!(Transform::parse("bucket(16)"), Ok(Transform::Bucket(16)));
        assert_eq!(
            Transform::parse(" truncate( 4 ) "),
            Ok(Transform::Truncate(4))
        );
        assert_eq!(Transform::parse("day"), Ok(Transform::Day));
        assert!(Transform::parse("bucket(0)").is_err());
        assert!(
            Transform::parse("bucket(x)")
                .unwrap_err()
                .contains("bucket(16)")
        );
        assert!(
            Transform::parse("weekly")
                .unwrap_err()
                .contains("unknown partition")
        );
        for (text, expected) in [
            ("identity", Transform::Identity),
            ("truncate(3)", Transform::Truncate(3)),
            ("year", Transform::Year),
            ("month", Transform::Month),
            ("hour", Transform::Hour),
        ] {
            assert_eq!(Transform::parse(text), Ok(expected));
        }
    }
}
