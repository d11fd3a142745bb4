use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(validate = "email")]
    id: i64,
}

fn main() {}
