use lakeorm::Lake;

#[derive(Lake)]
enum Status {
    Active,
    Banned,
}

fn main() {}
