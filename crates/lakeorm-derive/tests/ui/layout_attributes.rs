use lakeorm::{Lake, Row};

#[derive(Lake)]
#[lake(key_buckets = 0)]
struct User {
    #[lake(merge_key)]
    email: String,
}

// Layout belongs to tables, not query shapes.
#[derive(Row)]
#[lake(key_buckets = 8, index_keys = false)]
struct Totals {
    total: i64,
}

fn main() {}
