use lakeorm::Lake;

#[derive(Lake)]
struct User {
    id: i64,
    #[lake(skip, pk)]
    cache: String,
}

fn main() {}
