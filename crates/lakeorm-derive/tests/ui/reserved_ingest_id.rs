use lakeorm::Lake;

#[derive(Lake)]
struct User {
    id: i64,
    #[lake(column = "_ingest_id")]
    batch: String,
}

fn main() {}
