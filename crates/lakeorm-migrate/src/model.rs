//! The models a project migrates.

use lakeorm_core::{Error, Lake, LakeSchema, Layout, Result, TableState};
use serde::{Deserialize, Serialize};

/// A column rename declared with `#[lake(renamed_from = "…")]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    /// The previous column name.
    pub from: String,
    /// The current one.
    pub to: String,
}

/// One model as migrations see it: its type name, the table state it declares and its renames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The Rust type name.
    pub model: String,
    /// The table the model declares.
    pub state: TableState,
    /// Declared renames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renames: Vec<Rename>,
    /// What the model's layout intents ask of its table; the dialect turns it into table
    /// structure ([`Dialect::table_state`](lakeorm_core::Dialect::table_state)) when a migration
    /// is written, as `migrate::<T>()` does when it creates the table.
    #[serde(default)]
    pub layout: Layout,
}

impl ModelSpec {
    /// The spec of model `T`.
    pub fn of<T: Lake>() -> Self {
        Self::from_schema(T::schema())
    }

    /// The spec of a model schema.
    pub fn from_schema(schema: &LakeSchema) -> Self {
        ModelSpec {
            model: schema.type_name().to_owned(),
            state: TableState::from_schema(schema),
            renames: schema
                .fields()
                .iter()
                .filter_map(|f| {
                    f.renamed_from.as_ref().map(|from| Rename {
                        from: from.clone(),
                        to: f.column.clone(),
                    })
                })
                .collect(),
            layout: schema.layout(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.state.table
    }

    pub(crate) fn rename_pairs(&self) -> Vec<(String, String)> {
        self.renames
            .iter()
            .map(|r| (r.from.clone(), r.to.clone()))
            .collect()
    }
}

/// The set of models a project migrates.
///
/// The `lakeorm` CLI cannot see an application's types, so a project registers them in a tiny
/// binary and the CLI runs it (`lakeorm migrate generate --models 'cargo run -q --bin models'`):
///
/// ```no_run
/// # use lakeorm_migrate::Registry;
/// # #[derive(lakeorm_derive::Lake)]
/// # #[lake(crate = "lakeorm_core")]
/// # struct User { #[lake(pk)] id: String }
/// fn main() -> lakeorm_core::Result<()> {
///     Registry::new().model::<User>().print()
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// The registered models.
    pub models: Vec<ModelSpec>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers model `T`.
    pub fn model<T: Lake>(mut self) -> Self {
        self.models.push(ModelSpec::of::<T>());
        self
    }

    /// Registers a model spec.
    pub fn with(mut self, spec: ModelSpec) -> Self {
        self.models.push(spec);
        self
    }

    /// The registry as JSON (what `print` writes and the CLI reads).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::data_invalid("the model registry", e.to_string()))
    }

    /// Reads a registry printed by a models binary.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| {
            Error::data_invalid(
                "the output of the models command",
                format!("not a lakeorm model registry ({e}); the command should end with `Registry::new().model::<…>().print()`"),
            )
        })
    }

    /// Prints the registry to stdout, for the `lakeorm` CLI to read.
    pub fn print(&self) -> Result<()> {
        println!("{}", self.to_json()?);
        Ok(())
    }

    /// Fails when two models claim one table.
    pub(crate) fn check(models: &[ModelSpec]) -> Result<()> {
        for (i, a) in models.iter().enumerate() {
            if let Some(b) = models[..i].iter().find(|b| b.table() == a.table()) {
                return Err(Error::InvalidModel {
                    model: a.model.clone(),
                    reason: format!(
                        "table `{}` is also declared by `{}`; one model per table writes migrations",
                        a.table(),
                        b.model
                    ),
                });
            }
        }
        Ok(())
    }
}
