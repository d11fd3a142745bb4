use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(validate = "length(min = 10, max = 2)")]
    name: String,
}

fn main() {}
