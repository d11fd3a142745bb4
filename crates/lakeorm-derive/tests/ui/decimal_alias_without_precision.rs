use lakeorm::Lake;

// An alias of Decimal still needs its precision and scale.
type Money = rust_decimal::Decimal;

#[derive(Lake)]
struct Order {
    #[lake(pk)]
    id: i64,
    total: Money,
}

fn main() {}
