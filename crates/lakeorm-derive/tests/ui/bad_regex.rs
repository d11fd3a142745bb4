use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(validate = "regex([a-)")]
    code: String,
}

fn main() {}
