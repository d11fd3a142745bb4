use lakeorm::Lake;

// An alias hides the `Option` from the attribute's syntax, not from the type system.
type UserId = Option<i64>;

#[derive(Lake)]
struct User {
    #[lake(pk)]
    id: UserId,
    email: String,
}

fn main() {}
