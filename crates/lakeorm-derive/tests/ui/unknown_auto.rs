use lakeorm::Lake;

#[derive(Lake)]
struct Event {
    #[lake(auto = "delete_time")]
    at: chrono::DateTime<chrono::Utc>,
}

fn main() {}
