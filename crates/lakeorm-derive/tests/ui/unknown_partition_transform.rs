use lakeorm::Lake;

#[derive(Lake)]
struct Event {
    #[lake(partition = "weekly")]
    day: chrono::NaiveDate,
}

fn main() {}
