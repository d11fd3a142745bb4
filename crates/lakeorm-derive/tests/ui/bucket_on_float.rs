use lakeorm::Lake;

#[derive(Lake)]
struct Reading {
    #[lake(partition = "bucket(8)")]
    value: f64,
}

fn main() {}
