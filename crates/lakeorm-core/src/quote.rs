//! Quoting of Spark SQL identifiers and string literals: the one place both are escaped, a leaf
//! that the dialects' defaults, the SQL renderers and the generated-column expressions share.

/// `ident` as a Spark SQL identifier: backticks, inner backticks doubled.
pub fn quote_ident(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// Escapes `text` as a single-quoted SQL string literal.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}
