use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(pk, nullable)]
    id: i64,
}

fn main() {}
