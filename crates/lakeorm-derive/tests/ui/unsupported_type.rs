use lakeorm::Lake;

#[derive(Lake)]
struct User {
    id: i64,
    attributes: std::collections::HashMap<String, String>,
}

fn main() {}
