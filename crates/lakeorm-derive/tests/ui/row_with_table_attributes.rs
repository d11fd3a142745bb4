use lakeorm::Row;

#[derive(Row)]
struct CountryTotal {
    #[lake(pk)]
    country: String,
    #[lake(validate = "range(min = 0)")]
    total: i64,
}

fn main() {}
