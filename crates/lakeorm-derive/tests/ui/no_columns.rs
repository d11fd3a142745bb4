use lakeorm::Lake;

#[derive(Lake)]
struct Nothing {
    #[lake(skip)]
    cache: String,
}

fn main() {}
