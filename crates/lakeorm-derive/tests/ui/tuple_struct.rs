use lakeorm::Lake;

#[derive(Lake)]
struct Pair(i64, String);

fn main() {}
