//! The implementation of `#[derive(Lake)]` and `#[derive(Row)]`, on `proc_macro2` so that it can
//! be unit-tested without a compiler round trip (the sqlx-macros-core pattern). The proc-macro
//! crate `lakeorm-derive` is a thin shell over [`derive_lake`] and [`derive_row`].
//!
//! The pipeline is parse (`attr`) → check (`check`) → generate (`expand`); every error found on
//! the way is collected and reported with the span of the attribute at fault.

mod attr;
mod check;
mod ctxt;
mod expand;
mod naming;
mod rules;

use proc_macro2::TokenStream;

use crate::attr::Derive;
use crate::ctxt::Ctxt;

fn derive(input: TokenStream, kind: Derive) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return ctxt::to_compile_errors(e),
    };
    let mut cx = Ctxt::default();
    let container = attr::parse(&mut cx, &input, kind);
    if let Some(container) = &container {
        check::check(&mut cx, container);
    }
    match (cx.check(), container) {
        (Ok(()), Some(container)) => expand::expand(&container),
        (Err(e), _) => ctxt::to_compile_errors(e),
        (Ok(()), None) => TokenStream::new(),
    }
}

/// Expands `#[derive(Lake)]`.
pub fn derive_lake(input: TokenStream) -> TokenStream {
    derive(input, Derive::Lake)
}

/// Expands `#[derive(Row)]`.
pub fn derive_row(input: TokenStream) -> TokenStream {
    derive(input, Derive::Row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn pretty(tokens: TokenStream) -> String {
        let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a file");
        prettyplease::unparse(&file)
    }

    #[test]
    fn expansion_snapshot() {
        let out = derive_lake(quote! {
            #[lake(table = "people")]
            struct Person {
                #[lake(pk)]
                id: uuid::Uuid,
                #[lake(column = "mail", validate = "email", merge_key)]
                email: String,
                #[lake(partition = "day", auto = "create_time")]
                created_at: chrono::DateTime<chrono::Utc>,
                #[lake(skip)]
                cache: Option<String>,
            }
        });
        insta::assert_snapshot!(pretty(out));
    }

    #[test]
    fn errors_are_collected_not_panicked() {
        let out = derive_lake(quote! {
            struct Bad {
                #[lake(pk, wat)]
                id: Option<i64>,
                #[lake(column = "_ingest_id")]
                x: i32,
                #[lake(validate = "emial")]
                y: String,
            }
        })
        .to_string();
        // `pk` on an `Option` is the type system's to reject (a `KeyColumn` bound, so that an
        // alias cannot hide the `Option`): see the compile-fail suite.
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        assert!(out.contains("unknown field attribute `wat`"));
        assert!(out.contains("system column"));
        assert!(out.contains("unknown validation rule"));
    }

    #[test]
    fn row_rejects_table_attributes() {
        let out = derive_row(quote! {
            struct Totals { #[lake(pk)] user: String, total: i64 }
        })
        .to_string();
        assert!(out.contains("belongs on a #[derive(Lake)] model"), "{out}");
    }
}
