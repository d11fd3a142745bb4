use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(partition = "bucket(x)")]
    id: i64,
}

fn main() {}
