//! Code generation: from a checked [`Container`] to the trait implementations.
//!
//! Everything is emitted inside `const _: () = { … };` and refers to lakeorm through
//! `::lakeorm::__private` (or the path given by `#[lake(crate = "…")]`), so users need no direct
//! dependency on arrow or serde_json.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::{Auto, Container, Derive, Field, Transform};
use crate::check::is_option;
use crate::rules::Rule;

/// Gives every token of `tokens` the span `span`, so that the compiler reports a failed bound
/// at the attribute (or type) that asked for it rather than at the derive.
fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = proc_macro2::TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

struct Ctx<'a> {
    krate: TokenStream,
    container: &'a Container,
}

impl Ctx<'_> {
    fn private(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::__private)
    }

    fn columns(&self) -> impl Iterator<Item = (usize, &Field)> {
        self.container
            .fields
            .iter()
            .filter(|f| f.attrs.skip.is_none())
            .enumerate()
    }

    /// `<Codec as FieldCodec<Ty>>`, spanned at the field's type so that an unsupported type is
    /// reported there.
    fn codec(&self, field: &Field) -> TokenStream {
        let p = self.private();
        let ty = &field.ty;
        let codec = if field.attrs.json.is_some() {
            quote!(#p::Json)
        } else {
            quote!(#p::Native)
        };
        respan(quote!(<#codec as #p::FieldCodec<#ty>>), ty.span())
    }

    fn hint(&self, field: &Field) -> TokenStream {
        let decimal = match &field.attrs.decimal {
            Some(d) => {
                let (p, s) = d.value;
                quote!(::core::option::Option::Some((#p, #s)))
            }
            None => quote!(::core::option::Option::None),
        };
        let nullable =
            field.attrs.nullable.is_some() || (field.attrs.json.is_some() && is_option(&field.ty));
        let p = self.private();
        quote!(#p::TypeHint { decimal: #decimal, nullable: #nullable })
    }
}

fn builder_name(container: &Container) -> syn::Ident {
    format_ident!("__{}LakeBuilder", container.ident)
}

fn reader_name(container: &Container) -> syn::Ident {
    format_ident!("__{}LakeReader", container.ident)
}

fn field_slot(index: usize) -> syn::Ident {
    format_ident!("__c{}", index)
}

fn schema_fn(cx: &Ctx<'_>) -> TokenStream {
    let krate = &cx.krate;
    let p = cx.private();
    let c = cx.container;
    let type_name = c.ident.to_string();
    let table = &c.table;
    let fields = cx.columns().map(|(_, f)| {
        let name = f.ident.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
        let column = &f.column;
        let codec = cx.codec(f);
        let hint = cx.hint(f);
        let a = &f.attrs;
        let pk = a.pk.is_some();
        let mk = a.merge_key.is_some();
        let indexed = a.indexed.is_some();
        let sortable = a.sortable.is_some();
        let json = a.json.is_some();
        let renamed_from = match a.renamed_from.as_ref() {
            None => quote!(::core::option::Option::None),
            Some(r) => {
                let from = &r.value;
                quote!(::core::option::Option::Some(#p::String::from(#from)))
            }
        };
        let partition = match a.partition.as_ref().map(|p| p.value) {
            None => quote!(::core::option::Option::None),
            Some(t) => {
                let t = match t {
                    Transform::Identity => quote!(Identity),
                    Transform::Bucket(n) => quote!(Bucket(#n)),
                    Transform::Truncate(n) => quote!(Truncate(#n)),
                    Transform::Year => quote!(Year),
                    Transform::Month => quote!(Month),
                    Transform::Day => quote!(Day),
                    Transform::Hour => quote!(Hour),
                };
                quote!(::core::option::Option::Some(#krate::Partition::#t))
            }
        };
        let auto = match a.auto.as_ref().map(|a| a.value) {
            None => quote!(::core::option::Option::None),
            Some(Auto::CreateTime) => {
                quote!(::core::option::Option::Some(#krate::AutoKind::CreateTime))
            }
            Some(Auto::UpdateTime) => {
                quote!(::core::option::Option::Some(#krate::AutoKind::UpdateTime))
            }
        };
        let rules = a.validate.iter().map(|r| {
            let text = rule_text(&r.value);
            quote!(#krate::RuleSpec { rule: #p::String::from(#text) })
        });
        quote! {
            #krate::LakeField {
                field: #name,
                column: #p::String::from(#column),
                ty: #codec::column_type(&#hint),
                primary_key: #pk,
                merge_key: #mk,
                partition: #partition,
                indexed: #indexed,
                sortable: #sortable,
                json: #json,
                auto: #auto,
                rules: ::std::vec![#(#rules),*],
                renamed_from: #renamed_from,
            }
        }
    });
    let a = &c.attrs;
    let layout = if a.key_buckets.is_some() || a.index_keys.is_some() {
        let key_buckets = a
            .key_buckets
            .as_ref()
            .map_or(quote!(#krate::DEFAULT_KEY_BUCKETS), |n| {
                let n = n.value;
                quote!(#n)
            });
        let index_keys = a.index_keys.as_ref().map_or(quote!(true), |b| {
            let b = b.value;
            quote!(#b)
        });
        quote! {
            .with_layout_options(#krate::LayoutOptions {
                key_buckets: #key_buckets,
                index_keys: #index_keys,
            })
        }
    } else {
        TokenStream::new()
    };
    quote! {
        fn schema() -> &'static #krate::LakeSchema {
            static SCHEMA: #p::OnceLock<#krate::LakeSchema> = #p::OnceLock::new();
            SCHEMA.get_or_init(|| {
                #krate::LakeSchema::new(#type_name, #table, ::std::vec![#(#fields),*])#layout
            })
        }
    }
}

fn rule_text(rule: &Rule) -> String {
    match rule {
        Rule::Email => "email".into(),
        Rule::Url => "url".into(),
        Rule::Uuid => "uuid".into(),
        Rule::NonEmpty => "non_empty".into(),
        Rule::Length { min, max, equal } => {
            let parts: Vec<String> = [("min", min), ("max", max), ("equal", equal)]
                .iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k} = {v}")))
                .collect();
            format!("length({})", parts.join(", "))
        }
        Rule::Range { min, max } => {
            let parts: Vec<String> = [("min", min), ("max", max)]
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {}", v.text)))
                .collect();
            format!("range({})", parts.join(", "))
        }
        Rule::Regex(pattern) => format!("regex({pattern})"),
        Rule::Custom(name) => format!("custom({name})"),
    }
}

fn rule_message(rule: &Rule) -> String {
    match rule {
        Rule::Email => "must be a valid email address".into(),
        Rule::Url => "must be a valid URL".into(),
        Rule::Uuid => "must be a UUID".into(),
        Rule::NonEmpty => "must not be empty".into(),
        Rule::Length { min, max, equal } => match (min, max, equal) {
            (_, _, Some(n)) => format!("length must be exactly {n}"),
            (Some(lo), Some(hi), None) if lo == hi => format!("length must be exactly {lo}"),
            (Some(lo), Some(hi), None) => format!("length must be between {lo} and {hi}"),
            (Some(lo), None, None) => format!("length must be at least {lo}"),
            (None, Some(hi), None) => format!("length must be at most {hi}"),
            (None, None, None) => "invalid length".into(),
        },
        Rule::Range { min, max } => match (min, max) {
            (Some(lo), Some(hi)) => format!("must be between {} and {}", lo.text, hi.text),
            (Some(lo), None) => format!("must be at least {}", lo.text),
            (None, Some(hi)) => format!("must be at most {}", hi.text),
            (None, None) => "out of range".into(),
        },
        Rule::Regex(pattern) => format!("must match the pattern {pattern}"),
        Rule::Custom(name) => format!("rejected by validator {name}"),
    }
}

fn validate_fn(cx: &Ctx<'_>) -> TokenStream {
    let krate = &cx.krate;
    let p = cx.private();
    let type_name = cx.container.ident.to_string();
    let checks = cx.columns().flat_map(|(_, f)| {
        let ident = &f.ident;
        let name = ident.to_string();
        let column = &f.column;
        let p = p.clone();
        let krate = krate.clone();
        f.attrs.validate.iter().map(move |r| {
            let span = r.span;
            let text = rule_text(&r.value);
            let message = rule_message(&r.value);
            let push = |msg: TokenStream| {
                quote! {
                    __errors.push(#krate::FieldError {
                        field: #name,
                        column: #column,
                        rule: ::std::borrow::Cow::Borrowed(#text),
                        message: #msg,
                        row: ::core::option::Option::None,
                    });
                }
            };
            let fail = push(quote!(#p::String::from(#message)));
            let value = respan(quote!(&self.#ident), span);
            match &r.value {
                Rule::Email => quote_spanned! {span=>
                    if !#p::is_email(#value) { #fail }
                },
                Rule::Url => quote_spanned! {span=>
                    if !#p::is_url(#value) { #fail }
                },
                Rule::Uuid => quote_spanned! {span=>
                    if !#p::is_uuid(#value) { #fail }
                },
                Rule::NonEmpty => quote_spanned! {span=>
                    if !#p::validator::ValidateLength::<u64>::validate_length(
                        #value, ::core::option::Option::Some(1), ::core::option::Option::None, ::core::option::Option::None) { #fail }
                },
                Rule::Length { min, max, equal } => {
                    let opt = |v: &Option<u64>| match v {
                        Some(n) => quote!(::core::option::Option::Some(#n)),
                        None => quote!(::core::option::Option::None),
                    };
                    let (min, max, equal) = (opt(min), opt(max), opt(equal));
                    quote_spanned! {span=>
                        if !#p::validator::ValidateLength::<u64>::validate_length(#value, #min, #max, #equal) { #fail }
                    }
                }
                Rule::Range { min, max } => {
                    let opt = |v: &Option<crate::rules::Number>| match v {
                        Some(n) => {
                            let t = n.tokens();
                            quote!(::core::option::Option::Some(#t))
                        }
                        None => quote!(::core::option::Option::None),
                    };
                    let (min, max) = (opt(min), opt(max));
                    quote_spanned! {span=>
                        if !#p::validator::ValidateRange::validate_range(
                            #value, #min, #max, ::core::option::Option::None, ::core::option::Option::None) { #fail }
                    }
                }
                Rule::Regex(pattern) => quote_spanned! {span=>
                    {
                        static __RE: #p::LazyLock<#p::Option<#p::regex::Regex>> =
                            #p::LazyLock::new(|| #p::regex::Regex::new(#pattern).ok());
                        match &*__RE {
                            ::core::option::Option::Some(re) => if !#p::matches_regex(#value, re) { #fail },
                            ::core::option::Option::None => { #fail }
                        }
                    }
                },
                Rule::Custom(validator) => {
                    let failed = push(quote!(__message));
                    if is_option(&f.ty) {
                        quote_spanned! {span=>
                            if let ::core::option::Option::Some(__value) = #value {
                                if let ::core::result::Result::Err(__message) = #p::run_custom(#validator, __value) { #failed }
                            }
                        }
                    } else {
                        quote_spanned! {span=>
                            if let ::core::result::Result::Err(__message) = #p::run_custom(#validator, #value) { #failed }
                        }
                    }
                }
            }
        })
    });
    quote! {
        fn validate(&self) -> #p::Result<(), #krate::ValidationError> {
            #[allow(unused_mut)]
            let mut __errors: #p::Vec<#krate::FieldError> = #p::Vec::new();
            #(#checks)*
            #krate::ValidationError::new(#type_name, __errors).into_result()
        }
    }
}

/// `append_stamped`, for models with `auto` fields: each stamped value is computed from the
/// field and appended straight to its column, so writes neither copy nor change the records.
fn stamp_fn(cx: &Ctx<'_>) -> TokenStream {
    if cx.columns().all(|(_, f)| f.attrs.auto.is_none()) {
        return TokenStream::new();
    }
    let krate = &cx.krate;
    let p = cx.private();
    let appends = cx.columns().map(|(i, f)| {
        let slot = field_slot(i);
        let codec = cx.codec(f);
        let ident = &f.ident;
        let column = &f.column;
        let value = match &f.attrs.auto {
            Some(auto) => {
                let stamped = match auto.value {
                    Auto::CreateTime => quote!(stamped_create),
                    Auto::UpdateTime => quote!(stamped_update),
                };
                let value = respan(quote!(#p::#stamped(&self.#ident, __now)), auto.span);
                quote!(&#value)
            }
            None => quote!(&self.#ident),
        };
        quote!(#codec::append(#value, &mut __b.#slot).map_err(|e| e.in_column(#column))?;)
    });
    quote! {
        fn append_stamped(
            &self,
            __b: &mut <Self as #krate::ColumnValue>::Builder,
            __now: #p::chrono::DateTime<#p::chrono::Utc>,
        ) -> #p::Result<(), #krate::EncodeError> {
            #(#appends)*
            __b.__nulls.append_non_null();
            ::core::result::Result::Ok(())
        }
    }
}

/// Trait-bound assertions spanned at the attributes that need them, so that `partition =
/// "hour"` on a date or `pk` on an `Option` fails at the attribute with the trait's note, however
/// the type is spelled. (`auto` needs none: the stamping code itself is spanned at the
/// attribute.)
fn assertions(cx: &Ctx<'_>) -> TokenStream {
    let p = cx.private();
    let checks: Vec<TokenStream> = cx
        .columns()
        .flat_map(|(_, f)| {
            let ty = &f.ty;
            let partition = f.attrs.partition.as_ref().map(|part| {
                let bound = match part.value {
                    Transform::Identity => quote!(IdentityPartition),
                    Transform::Bucket(_) => quote!(BucketPartition),
                    Transform::Truncate(_) => quote!(TruncatePartition),
                    Transform::Year | Transform::Month | Transform::Day => quote!(DatePartition),
                    Transform::Hour => quote!(HourPartition),
                };
                respan(
                    quote!({ fn __check<T: #p::#bound>() {} __check::<#ty>(); }),
                    part.span,
                )
            });
            // Checked first and at the field's type, so that an unsupported type's first error
            // is there, with the list of supported types.
            let supported = f.attrs.json.is_none().then(|| {
                let krate = &cx.krate;
                respan(
                    quote!({ fn __check<T: #krate::ColumnValue>() {} __check::<#ty>(); }),
                    ty.span(),
                )
            });
            let keys = [&f.attrs.pk, &f.attrs.merge_key]
                .into_iter()
                .flatten()
                .map(|key| {
                    respan(
                        quote!({ fn __check<T: #p::KeyColumn>() {} __check::<#ty>(); }),
                        key.span,
                    )
                });
            let decimal = f.attrs.decimal.as_ref().map(|d| {
                respan(
                    quote!({ fn __check<T: #p::DecimalColumn>() {} __check::<#ty>(); }),
                    d.span,
                )
            });
            supported
                .into_iter()
                .chain(partition)
                .chain(keys.collect::<Vec<_>>())
                .chain(decimal)
        })
        .collect();
    // A type that needs `decimal(P, S)` is known only to the type system (an alias of Decimal
    // looks like any other name), so the check is a constant evaluated at compile time.
    let precision: Vec<TokenStream> = cx
        .columns()
        .filter(|(_, f)| f.attrs.json.is_none() && f.attrs.decimal.is_none())
        .map(|(_, f)| {
            let ty = &f.ty;
            let krate = &cx.krate;
            let message = format!(
                "field `{}` is a decimal without a precision and scale: add #[lake(decimal(P, S))], e.g. decimal(18, 2)",
                f.ident
            );
            respan(
                quote! {
                    const _: () = ::core::assert!(
                        !<#ty as #krate::ColumnValue>::NEEDS_PRECISION,
                        #message
                    );
                },
                ty.span(),
            )
        })
        .collect();
    if checks.is_empty() && precision.is_empty() {
        return TokenStream::new();
    }
    quote! {
        #[allow(dead_code)]
        fn __lake_assertions() {
            #(#checks)*
        }
        #(#precision)*
    }
}

fn column_value_impl(cx: &Ctx<'_>, schema_fn: &TokenStream) -> TokenStream {
    let krate = &cx.krate;
    let p = cx.private();
    let c = cx.container;
    let ident = &c.ident;
    let builder = builder_name(c);
    let reader = reader_name(c);
    let arrow = quote!(#p::arrow);

    let slots: Vec<_> = cx
        .columns()
        .map(|(i, f)| (field_slot(i), f, cx.codec(f)))
        .collect();

    let builder_fields = slots
        .iter()
        .map(|(slot, _, codec)| quote!(#slot: #codec::Builder));
    let reader_fields = slots
        .iter()
        .map(|(slot, _, codec)| quote!(#slot: #codec::Reader));
    let append_nulls = slots
        .iter()
        .map(|(slot, _, _)| quote!(#p::ColumnBuilder::append_null(&mut self.#slot);));
    let finish_columns = slots.iter().map(|(slot, f, _)| {
        let column = &f.column;
        quote!(#p::ColumnBuilder::finish(&mut __b.#slot).map_err(|e| e.in_column(#column))?)
    });
    let make_builders = slots.iter().enumerate().map(
        |(i, (slot, _, codec))| quote!(#slot: #codec::builder(&__fields[#i].ty.ty, __capacity)),
    );
    let appends = slots.iter().map(|(slot, f, codec)| {
        let field = &f.ident;
        let column = &f.column;
        quote!(#codec::append(&self.#field, &mut __b.#slot).map_err(|e| e.in_column(#column))?;)
    });
    let bind_readers = slots.iter().enumerate().map(|(i, (slot, f, codec))| {
        let column = &f.column;
        quote! {
            #slot: #codec::reader(#p::bind_child(__s, #column)?, &__fields[#i].ty.ty)
                .map_err(|e| e.in_column(#column))?
        }
    });
    // Each field is read into a local and the struct built from the locals, so that
    // `read_into` can write the row straight into the output vector.
    let local = |i: usize| format_ident!("__v{}", i);
    let read_locals = slots.iter().enumerate().map(|(i, (slot, f, codec))| {
        let column = &f.column;
        let v = local(i);
        quote!(let #v = #codec::read(&__r.#slot, __row).map_err(|e| e.in_column(#column))?;)
    });
    let read_locals = quote!(#(#read_locals)*);
    let from_locals = c.fields.iter().map(|f| {
        let field = &f.ident;
        match slots.iter().position(|(_, g, _)| g.ident == f.ident) {
            Some(i) => {
                let v = local(i);
                quote!(#field: #v)
            }
            None => quote!(#field: #p::default()),
        }
    });
    let row_from_locals = quote!(#ident { #(#from_locals,)* });
    let json_keys = slots.iter().map(|(_, f, _)| &f.column);
    let json_reads = c.fields.iter().map(|f| {
        let field = &f.ident;
        match slots.iter().find(|(_, g, _)| g.ident == f.ident) {
            Some(_) => {
                let column = &f.column;
                let ty = &f.ty;
                let codec = if f.attrs.json.is_some() {
                    quote!(#p::Json)
                } else {
                    quote!(#p::Native)
                };
                quote!(#field: #p::json_read_field::<#codec, #ty>(__o, #column)?)
            }
            None => quote!(#field: #p::default()),
        }
    });

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        pub struct #builder {
            __nulls: #arrow::array::NullBufferBuilder,
            __fields: #arrow::datatypes::Fields,
            #(#builder_fields,)*
        }

        impl #p::ColumnBuilder for #builder {
            fn append_null(&mut self) {
                self.__nulls.append_null();
                #(#append_nulls)*
            }
            fn finish(&mut self) -> #p::Result<#arrow::array::ArrayRef, #krate::EncodeError> {
                let __columns = <#ident as #krate::Row>::finish_columns(self)?;
                let __array = #arrow::array::StructArray::try_new(
                    ::core::clone::Clone::clone(&self.__fields),
                    __columns,
                    self.__nulls.finish(),
                )
                .map_err(|e| #krate::EncodeError::new(::std::string::ToString::to_string(&e)))?;
                ::core::result::Result::Ok(#p::Arc::new(__array))
            }
        }

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        pub struct #reader {
            __nulls: #p::Option<#arrow::buffer::NullBuffer>,
            #(#reader_fields,)*
        }

        impl #p::ColumnReader for #reader {
            #[inline]
            fn is_null(&self, __row: usize) -> bool {
                self.__nulls.as_ref().is_some_and(|n| n.is_null(__row))
            }
        }

        impl #krate::ColumnValue for #ident {
            type Builder = #builder;
            type Reader = #reader;

            fn column_type(__hint: &#p::TypeHint) -> #krate::ColumnType {
                #krate::ColumnType {
                    ty: ::core::clone::Clone::clone(<Self as #krate::Row>::schema().row_type()),
                    nullable: __hint.nullable,
                }
            }

            fn builder(_: &#krate::LakeType, __capacity: usize) -> Self::Builder {
                let __schema = <Self as #krate::Row>::schema();
                let __fields = __schema.fields();
                #builder {
                    __nulls: #arrow::array::NullBufferBuilder::new(__capacity),
                    __fields: ::core::clone::Clone::clone(__schema.arrow_schema().fields()),
                    #(#make_builders,)*
                }
            }

            #[inline]
            fn append(&self, __b: &mut Self::Builder) -> #p::Result<(), #krate::EncodeError> {
                #(#appends)*
                __b.__nulls.append_non_null();
                ::core::result::Result::Ok(())
            }

            fn reader(
                __array: &#arrow::array::ArrayRef,
                _: &#krate::LakeType,
            ) -> #p::Result<Self::Reader, #krate::DecodeError> {
                let __s = #p::as_struct(__array, "a struct")?;
                let __fields = <Self as #krate::Row>::schema().fields();
                ::core::result::Result::Ok(#reader {
                    __nulls: #p::nulls_of(__s),
                    #(#bind_readers,)*
                })
            }

            #[inline]
            fn read(__r: &Self::Reader, __row: usize) -> #p::Result<Self, #krate::DecodeError> {
                if #p::ColumnReader::is_null(__r, __row) {
                    return ::core::result::Result::Err(#krate::DecodeError::null(__row));
                }
                #read_locals
                ::core::result::Result::Ok(#row_from_locals)
            }

            #[inline]
            fn read_into(
                __r: &Self::Reader,
                __rows: ::core::ops::Range<::core::primitive::usize>,
                __out: &mut #p::Vec<Self>,
            ) -> #p::Result<(), #krate::DecodeError> {
                __out.reserve(::core::iter::ExactSizeIterator::len(&__rows));
                for __row in __rows {
                    if #p::ColumnReader::is_null(__r, __row) {
                        return ::core::result::Result::Err(#krate::DecodeError::null(__row));
                    }
                    #read_locals
                    #p::push_reserved(__out, #row_from_locals);
                }
                ::core::result::Result::Ok(())
            }

            fn from_json(
                __value: &#p::serde_json::Value,
            ) -> #p::Result<Self, #krate::JsonError> {
                let __o = #p::json_object(__value, &[#(#json_keys),*])?;
                ::core::result::Result::Ok(#ident {
                    #(#json_reads,)*
                })
            }
        }

        impl #p::ListElement for #ident {}

        impl #krate::Row for #ident {
            #schema_fn

            fn finish_columns(
                __b: &mut #builder,
            ) -> #p::Result<#p::Vec<#arrow::array::ArrayRef>, #krate::EncodeError> {
                ::core::result::Result::Ok(::std::vec![#(#finish_columns),*])
            }
        }
    }
}

/// Expands a checked container.
pub(crate) fn expand(container: &Container) -> TokenStream {
    let krate = match &container.attrs.krate {
        Some(path) => {
            let path = &path.value;
            quote!(#path)
        }
        None => quote!(::lakeorm),
    };
    let cx = Ctx {
        krate: krate.clone(),
        container,
    };
    let ident = &container.ident;
    let column_value = column_value_impl(&cx, &schema_fn(&cx));
    let lake = match container.derive {
        Derive::Lake => {
            let validate = validate_fn(&cx);
            let stamp = stamp_fn(&cx);
            quote! {
                impl #krate::Lake for #ident {
                    #validate
                    #stamp
                }
            }
        }
        Derive::Row => TokenStream::new(),
    };
    let assertions = assertions(&cx);
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::all)]
        const _: () = {
            #column_value
            #lake
            #assertions
        };
    }
}
