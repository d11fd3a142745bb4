use lakeorm::Lake;

#[derive(Lake)]
struct Reading {
    #[lake(merge_key)]
    value: f64,
}

fn main() {}
