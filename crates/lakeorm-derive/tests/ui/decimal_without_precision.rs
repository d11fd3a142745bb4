use lakeorm::Lake;

#[derive(Lake)]
struct Order {
    id: i64,
    total: rust_decimal::Decimal,
}

fn main() {}
