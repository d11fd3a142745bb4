//! Table DDL on Iceberg tables: what migration files hold, carried out as Iceberg metadata
//! changes. Schema evolution keeps field ids (a renamed column is the same column, an added one
//! gets a fresh id, data files are not rewritten); partition evolution adds a spec that new
//! files follow while existing files keep theirs.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use iceberg::spec::{
    ListType, MapType, NestedField, NestedFieldRef, PrimitiveType, Schema, StructType, Type,
    UnboundPartitionField, UnboundPartitionSpec,
};
use iceberg::{TableCreation, TableRequirement, TableUpdate};
use lakeorm_core::{Error, ExecMetrics, INGEST_ID_COLUMN, Result, TableState};

use super::errors::iceberg as iceberg_error;
use super::schema::{partition_field_name, transform};
use super::{IcebergOps, Loaded, MAX_COMMIT_ATTEMPTS, back_off, with_attempts};
use crate::ddl::{AlterOp, ColumnDef, Ddl, PartitionDef};
use crate::errors::ENGINE;

fn sql_error(message: String) -> Error {
    Error::sql(message)
}

fn unsupported(what: String, why: &str) -> Error {
    Error::unsupported(what, ENGINE, why)
}

/// `field` and every field nested in it renumbered from `next` (fresh ids for a new column).
fn renumber(field: &NestedField, next: &mut i32) -> NestedField {
    *next += 1;
    let id = *next;
    let field_type = match field.field_type.as_ref() {
        Type::Struct(s) => Type::Struct(StructType::new(
            s.fields()
                .iter()
                .map(|f| Arc::new(renumber(f, next)))
                .collect(),
        )),
        Type::List(l) => Type::List(ListType::new(Arc::new(renumber(&l.element_field, next)))),
        Type::Map(m) => Type::Map(MapType::new(
            Arc::new(renumber(&m.key_field, next)),
            Arc::new(renumber(&m.value_field, next)),
        )),
        primitive => primitive.clone(),
    };
    let mut renumbered = NestedField::new(id, &field.name, field_type, field.required);
    renumbered.doc.clone_from(&field.doc);
    renumbered
}

/// The Iceberg fields of DDL columns (ids from 1; callers renumber).
fn fields_of(columns: &[ColumnDef], table: &str) -> Result<Vec<NestedFieldRef>> {
    let arrow: Vec<Field> = columns
        .iter()
        .map(|c| {
            if c.generated.is_some() {
                return Err(unsupported(
                    format!("the generated column `{}` on the Iceberg table `{table}`", c.name),
                    "Iceberg partitions by hidden transforms (`PARTITIONED BY (days(col))`), not by generated columns",
                ));
            }
            Ok(Field::new(&c.name, c.ty.to_arrow(), c.nullable))
        })
        .collect::<Result<_>>()?;
    let schema = iceberg::arrow::arrow_schema_to_schema_auto_assign_ids(&ArrowSchema::new(arrow))
        .map_err(|e| iceberg_error(table, "mapping columns", e))?;
    Ok(schema.as_struct().fields().to_vec())
}

/// Whether Iceberg allows changing a column of type `from` to `to` in place.
fn widens(from: &Type, to: &Type) -> bool {
    use PrimitiveType::*;
    match (from, to) {
        (Type::Primitive(a), Type::Primitive(b)) if a == b => true,
        (Type::Primitive(Int), Type::Primitive(Long))
        | (Type::Primitive(Float), Type::Primitive(Double)) => true,
        (
            Type::Primitive(Decimal {
                precision: p1,
                scale: s1,
            }),
            Type::Primitive(Decimal {
                precision: p2,
                scale: s2,
            }),
        ) => s1 == s2 && p2 >= p1,
        _ => false,
    }
}

impl IcebergOps<'_> {
    /// Carries out a table DDL statement on an Iceberg table (or creates one).
    pub(crate) async fn ddl(&self, ddl: Ddl) -> Result<ExecMetrics> {
        match ddl {
            Ddl::Create {
                name,
                replace,
                if_not_exists,
                columns,
                partitions,
                properties,
                query,
                ..
            } => {
                if query.is_some() {
                    return Err(unsupported(
                        format!("CREATE TABLE `{name}` USING iceberg AS <query>"),
                        "create the table from its columns, then insert",
                    ));
                }
                let location = self.catalog.location_of(&name);
                let exists = self.tables().is_table(&location).await?;
                if exists && !replace {
                    if if_not_exists {
                        return Ok(ExecMetrics::default());
                    }
                    return Err(sql_error(format!("table `{name}` already exists")));
                }
                if exists {
                    self.catalog.drop_table(&name).await?;
                }
                let mut columns = columns;
                if !columns.iter().any(|c| c.name == INGEST_ID_COLUMN) {
                    columns.push(ColumnDef {
                        name: INGEST_ID_COLUMN.to_owned(),
                        ty: lakeorm_core::LakeType::String,
                        nullable: true,
                        generated: None,
                    });
                }
                let mut next = 0;
                let fields: Vec<NestedFieldRef> = fields_of(&columns, &name)?
                    .iter()
                    .map(|f| Arc::new(renumber(f, &mut next)))
                    .collect();
                let schema = Schema::builder()
                    .with_fields(fields)
                    .build()
                    .map_err(|e| iceberg_error(&name, "building the schema", e))?;
                let spec = spec_of(&name, &schema, &partitions)?;
                let creation = TableCreation::builder()
                    .name(name.clone())
                    .location(location.to_string())
                    .schema(schema)
                    .partition_spec(spec)
                    .properties(properties.into_iter().collect::<HashMap<_, _>>())
                    .build();
                let table = self.tables().create(&name, &location, creation).await?;
                self.catalog.register_iceberg(&name, table).await?;
                Ok(ExecMetrics::default())
            }
            Ddl::Alter { name, op } => self.alter(&name, op).await,
            Ddl::CreateNamespace { .. } => Ok(ExecMetrics::default()),
            Ddl::Drop { name, if_exists } => {
                if !self.catalog.drop_table(&name).await? && !if_exists {
                    return Err(sql_error(format!("table `{name}` does not exist")));
                }
                Ok(ExecMetrics::default())
            }
        }
    }

    async fn alter(&self, name: &str, op: AlterOp) -> Result<ExecMetrics> {
        let location = self.catalog.location_of(name);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self
                .tables()
                .load(name, &location)
                .await?
                .ok_or_else(|| sql_error(format!("table `{name}` does not exist")))?;
            let Some((requirements, updates)) = alteration(name, &current, &op)? else {
                return Ok(ExecMetrics::default());
            };
            match self.tables().commit(&current, &requirements, updates).await {
                Ok(table) => {
                    self.catalog.register_iceberg(name, table).await?;
                    return Ok(ExecMetrics::default());
                }
                Err(Error::CommitConflict { .. }) if attempt < MAX_COMMIT_ATTEMPTS => {
                    back_off(attempt).await;
                }
                Err(e) => return Err(with_attempts(e, attempt)),
            }
        }
    }
}

/// The partition spec of DDL partition fields over `schema`.
fn spec_of(
    table: &str,
    schema: &Schema,
    partitions: &[PartitionDef],
) -> Result<UnboundPartitionSpec> {
    let mut builder = UnboundPartitionSpec::builder();
    for p in partitions {
        let source = schema.field_by_name(&p.column).ok_or_else(|| {
            sql_error(format!(
                "partition column `{}` is not a column of `{table}`",
                p.column
            ))
        })?;
        builder = builder
            .add_partition_field(
                source.id,
                partition_field_name(&p.column, p.transform),
                transform(p.transform),
            )
            .map_err(|e| iceberg_error(table, "building the partition spec", e))?;
    }
    Ok(builder.build())
}

/// The metadata updates of one ALTER TABLE on `current`, or `None` when nothing changes.
fn alteration(
    name: &str,
    current: &Loaded,
    op: &AlterOp,
) -> Result<Option<(Vec<TableRequirement>, Vec<TableUpdate>)>> {
    let metadata = current.metadata();
    let schema = metadata.current_schema();
    let mut fields: Vec<NestedFieldRef> = schema.as_struct().fields().to_vec();
    let position = |fields: &[NestedFieldRef], column: &str| {
        fields
            .iter()
            .position(|f| f.name == column)
            .ok_or_else(|| sql_error(format!("table `{name}` has no column `{column}`")))
    };
    let system = crate::ddl::alterable;
    let schema_changed = |fields: Vec<NestedFieldRef>| -> Result<Vec<TableUpdate>> {
        let schema = Schema::builder()
            .with_fields(fields)
            .with_identifier_field_ids(schema.identifier_field_ids())
            .build()
            .map_err(|e| iceberg_error(name, "building the new schema", e))?;
        Ok(vec![
            TableUpdate::AddSchema { schema },
            TableUpdate::SetCurrentSchema { schema_id: -1 },
        ])
    };
    let schema_requirement = vec![
        TableRequirement::UuidMatch {
            uuid: metadata.uuid(),
        },
        TableRequirement::CurrentSchemaIdMatch {
            current_schema_id: metadata.current_schema_id(),
        },
    ];
    let updates = match op {
        AlterOp::AddColumns(columns) => {
            if let Some(required) = columns.iter().find(|c| !c.nullable) {
                return Err(unsupported(
                    format!(
                        "adding the required column `{}` to the Iceberg table `{name}`",
                        required.name
                    ),
                    "rows already written have no value for it; add it as nullable",
                ));
            }
            let mut next = metadata.last_column_id();
            for field in fields_of(columns, name)? {
                if fields.iter().any(|f| f.name == field.name) {
                    return Err(sql_error(format!(
                        "table `{name}` already has a column `{}`",
                        field.name
                    )));
                }
                fields.push(Arc::new(renumber(&field, &mut next)));
            }
            schema_changed(fields)?
        }
        AlterOp::DropColumns { names, if_exists } => {
            let spec = metadata.default_partition_spec();
            for column in names {
                system(column)?;
                match position(&fields, column) {
                    Ok(i) => {
                        if spec.fields().iter().any(|p| p.source_id == fields[i].id) {
                            return Err(unsupported(
                                format!("dropping `{column}`, a partition source of `{name}`"),
                                "drop its partition field first (`DROP PARTITION FIELD …`)",
                            ));
                        }
                        fields.remove(i);
                    }
                    Err(_) if *if_exists => {}
                    Err(e) => return Err(e),
                }
            }
            if fields.len() == schema.as_struct().fields().len() {
                return Ok(None);
            }
            schema_changed(fields)?
        }
        AlterOp::RenameColumn { from, to } => {
            system(from)?;
            let i = position(&fields, from)?;
            if fields.iter().any(|f| &f.name == to) {
                return Err(sql_error(format!(
                    "table `{name}` already has a column `{to}`"
                )));
            }
            let mut renamed = fields[i].as_ref().clone();
            renamed.name.clone_from(to);
            fields[i] = Arc::new(renamed);
            schema_changed(fields)?
        }
        AlterOp::SetType { column, ty } => {
            system(column)?;
            let i = position(&fields, column)?;
            let target = iceberg::arrow::arrow_type_to_type(&ty.to_arrow())
                .map_err(|e| iceberg_error(name, "mapping the type", e))?;
            // Iceberg has no 8- or 16-bit integers: they are stored as int already.
            let target = match (ty.to_arrow(), target) {
                (DataType::Int8 | DataType::Int16, _) => Type::Primitive(PrimitiveType::Int),
                (_, t) => t,
            };
            if *fields[i].field_type == target {
                return Ok(None);
            }
            if !widens(&fields[i].field_type, &target) {
                return Err(unsupported(
                    format!(
                        "changing `{column}` of `{name}` from {} to {target}",
                        fields[i].field_type
                    ),
                    "Iceberg widens int to bigint, float to double and decimal precision in place; other changes need a new column",
                ));
            }
            let mut changed = fields[i].as_ref().clone();
            changed.field_type = Box::new(target);
            fields[i] = Arc::new(changed);
            schema_changed(fields)?
        }
        AlterOp::SetNotNull(column) => {
            let i = position(&fields, column)?;
            if fields[i].required {
                return Ok(None);
            }
            return Err(unsupported(
                format!("making `{column}` of the Iceberg table `{name}` NOT NULL"),
                "Iceberg cannot make an optional column required",
            ));
        }
        AlterOp::DropNotNull(column) => {
            let i = position(&fields, column)?;
            if !fields[i].required {
                return Ok(None);
            }
            let mut optional = fields[i].as_ref().clone();
            optional.required = false;
            fields[i] = Arc::new(optional);
            schema_changed(fields)?
        }
        AlterOp::SetProperties(properties) => {
            if properties.is_empty() {
                return Ok(None);
            }
            return Ok(Some((
                vec![TableRequirement::UuidMatch {
                    uuid: metadata.uuid(),
                }],
                vec![TableUpdate::SetProperties {
                    updates: properties.clone().into_iter().collect(),
                }],
            )));
        }
        AlterOp::WriteOrderedBy(columns) => {
            let mut state = TableState::new(name, Vec::new());
            state.sorted_by.clone_from(columns);
            let sort_order = super::schema::sort_order(&state, schema)?;
            if sort_order.fields == metadata.default_sort_order().fields {
                return Ok(None);
            }
            return Ok(Some((
                vec![
                    TableRequirement::UuidMatch {
                        uuid: metadata.uuid(),
                    },
                    TableRequirement::DefaultSortOrderIdMatch {
                        default_sort_order_id: metadata.default_sort_order_id(),
                    },
                ],
                vec![
                    TableUpdate::AddSortOrder { sort_order },
                    TableUpdate::SetDefaultSortOrder { sort_order_id: -1 },
                ],
            )));
        }
        AlterOp::AddPartitionField(p) | AlterOp::DropPartitionField(p) => {
            let source = schema
                .field_by_name(&p.column)
                .ok_or_else(|| sql_error(format!("table `{name}` has no column `{}`", p.column)))?;
            let wanted = transform(p.transform);
            let mut spec_fields: Vec<UnboundPartitionField> = metadata
                .default_partition_spec()
                .fields()
                .iter()
                .cloned()
                .map(|f| f.into_unbound())
                .collect();
            let present = spec_fields
                .iter()
                .position(|f| f.source_id == source.id && f.transform == wanted);
            let adding = matches!(op, AlterOp::AddPartitionField(_));
            match (adding, present) {
                (true, Some(_)) | (false, None) => return Ok(None),
                (true, None) => spec_fields.push(UnboundPartitionField {
                    source_id: source.id,
                    field_id: None,
                    name: partition_field_name(&p.column, p.transform),
                    transform: wanted,
                }),
                (false, Some(i)) => {
                    spec_fields.remove(i);
                }
            }
            let spec = UnboundPartitionSpec::builder()
                .add_partition_fields(spec_fields)
                .map_err(|e| iceberg_error(name, "building the partition spec", e))?
                .build();
            return Ok(Some((
                vec![
                    TableRequirement::UuidMatch {
                        uuid: metadata.uuid(),
                    },
                    TableRequirement::DefaultSpecIdMatch {
                        default_spec_id: metadata.default_partition_spec_id(),
                    },
                ],
                vec![
                    TableUpdate::AddSpec { spec },
                    TableUpdate::SetDefaultSpec { spec_id: -1 },
                ],
            )));
        }
    };
    Ok(Some((schema_requirement, updates)))
}
