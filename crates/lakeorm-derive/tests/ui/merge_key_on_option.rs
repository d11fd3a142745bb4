use lakeorm::Lake;

#[derive(Lake)]
struct User {
    #[lake(merge_key)]
    email: Option<String>,
}

fn main() {}
