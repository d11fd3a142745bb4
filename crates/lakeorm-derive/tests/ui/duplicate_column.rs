use lakeorm::Lake;

#[derive(Lake)]
struct User {
    email: String,
    #[lake(column = "email")]
    backup_email: String,
}

fn main() {}
