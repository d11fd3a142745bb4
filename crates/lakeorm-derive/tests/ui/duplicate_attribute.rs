use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(pk, pk)]
    id: i64,
}

fn main() {}
