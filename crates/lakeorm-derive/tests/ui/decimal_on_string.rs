use lakeorm::Lake;

#[derive(Lake)]
struct Order {
    #[lake(decimal(10, 2))]
    total: String,
}

fn main() {}
