//! JSON bodies shaped like the public API reference's examples (our own values), for client
//! tests that deserialize them. Field names are exactly the documented ones.

/// Every fixture by name.
pub const FIXTURES: &[(&str, &str)] = &[
    (
        "execute_request_with_parameters",
        include_str!("../fixtures/execute_request_with_parameters.json"),
    ),
    (
        "statement_pending",
        include_str!("../fixtures/statement_pending.json"),
    ),
    (
        "statement_succeeded_inline",
        include_str!("../fixtures/statement_succeeded_inline.json"),
    ),
    (
        "statement_succeeded_external_links",
        include_str!("../fixtures/statement_succeeded_external_links.json"),
    ),
    (
        "statement_failed",
        include_str!("../fixtures/statement_failed.json"),
    ),
    (
        "result_chunk_external_links",
        include_str!("../fixtures/result_chunk_external_links.json"),
    ),
    (
        "result_chunk_inline",
        include_str!("../fixtures/result_chunk_inline.json"),
    ),
    ("oidc_token", include_str!("../fixtures/oidc_token.json")),
    (
        "directory_listing",
        include_str!("../fixtures/directory_listing.json"),
    ),
    (
        "error_not_found",
        include_str!("../fixtures/error_not_found.json"),
    ),
];

/// The fixture `name` (see [`FIXTURES`]).
///
/// # Panics
///
/// If there is no fixture of that name: a test asking for one is wrong.
pub fn fixture(name: &str) -> &'static str {
    FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| *body)
        .unwrap_or_else(|| {
            panic!(
                "no fixture `{name}`; the fixtures are {:?}",
                FIXTURES.iter().map(|(n, _)| n).collect::<Vec<_>>()
            )
        })
}
