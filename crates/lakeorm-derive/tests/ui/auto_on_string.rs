use lakeorm::Lake;

#[derive(Lake)]
struct Event {
    #[lake(auto = "create_time")]
    created: String,
}

fn main() {}
