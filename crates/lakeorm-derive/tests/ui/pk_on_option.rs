use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(pk)]
    id: Option<i64>,
}

fn main() {}
