//! Migration authoring for lakeorm, with no lake needed.
//!
//! - [`ModelSpec`] and [`Registry`]: the models a project migrates, as the state their
//!   `#[derive(Lake)]` declares (serialisable, so a small user binary can hand them to the
//!   `lakeorm` CLI).
//! - [`Generator`]: diffs each model against the state recorded in the newest migration file of
//!   its table and writes one goose-format file per changed table, in the dialect's SQL, with
//!   destructive steps marked.
//! - [`MigrationDir`]: reads a directory of migration files and checks them against the
//!   [`lakeorm.sum`](SUM_FILE) manifest, so that an edited file is caught before it is applied.
//!
//! Applying files to a lake is the Client's job (`lakeorm::Migrator`); this crate only reads and
//! writes files.

mod dir;
mod file;
mod generate;
mod model;
mod sum;

pub use dir::MigrationDir;
pub use file::{MigrationFile, STATE_MARKER};
pub use generate::{GenerateReport, Generated, Generator};
pub use model::{ModelSpec, Registry, Rename};
pub use sum::{SUM_FILE, SumFile};
