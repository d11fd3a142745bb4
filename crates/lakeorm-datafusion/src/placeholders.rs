//! `?` → `$n`: positional placeholders for DataFusion, which rejects `?` but binds `$1`, `$2`,
//! … through `with_param_values`.

use lakeorm_core::{Result, Statement, placeholders};

/// The SQL of `statement` with `$n` placeholders, checked to have exactly one bound parameter
/// per placeholder.
pub fn bind_statement(statement: &Statement) -> Result<String> {
    placeholders::rewrite_statement(statement, |n| format!("${n}"))
}
