use lakeorm::Lake;

#[derive(Lake)]
#[lake(rename_all = "Title Case")]
struct User {
    id: i64,
}

fn main() {}
