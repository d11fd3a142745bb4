use lakeorm::Lake;

#[derive(Lake)]
struct Order {
    #[lake(decimal(4, 6))]
    total: rust_decimal::Decimal,
}

fn main() {}
