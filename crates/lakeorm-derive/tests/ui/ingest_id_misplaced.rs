use lakeorm::{IngestId, Lake, Row};

// The system column is read by query shapes; a model's writes set it.
#[derive(Lake)]
struct User {
    id: i64,
    #[lake(ingest_id)]
    batch: IngestId,
}

// It has one name, so a column name would contradict it.
#[derive(Row)]
struct Lineage {
    id: i64,
    #[lake(ingest_id, column = "batch")]
    written_by: IngestId,
}

fn main() {}
