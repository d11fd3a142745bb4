use lakeorm::Lake;

#[derive(Lake)]
struct Order {
    id: i64,
    #[lake(json, decimal(10, 2))]
    meta: serde_json::Value,
}

fn main() {}
