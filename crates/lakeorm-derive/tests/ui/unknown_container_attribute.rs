use lakeorm::Lake;

#[derive(Lake)]
#[lake(tabel = "people")]
struct User {
    id: i64,
}

fn main() {}
