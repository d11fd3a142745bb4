use lakeorm::Lake;

#[derive(Lake)]
struct Event {
    #[lake(partition = "hour")]
    day: chrono::NaiveDate,
}

fn main() {}
