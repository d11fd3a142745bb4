//! Compile-fail tests: every misuse of `#[derive(Lake)]` is a compile error pointing at the
//! attribute (or type) at fault. Regenerate the expected output with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
