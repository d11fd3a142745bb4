use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(primary)]
    id: i64,
}

fn main() {}
