use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(validate = "emial")]
    email: String,
}

fn main() {}
