use lakeorm::Lake;

#[derive(Lake)]
struct Wrapper<T> {
    value: T,
}

fn main() {}
