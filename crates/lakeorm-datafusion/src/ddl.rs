//! Spark SQL DDL, as migration files and users write it, parsed for the embedded engine.
//!
//! DataFusion has no `CREATE TABLE … USING delta`, `ALTER TABLE … RENAME COLUMN` or
//! `ALTER COLUMN … TYPE` for Delta tables, and sqlparser does not parse Spark's
//! `CREATE TABLE … USING` nor its `STRUCT<… NOT NULL>` fields. This module reads exactly the
//! DDL shapes Spark SQL defines for tables (on sqlparser's tokenizer), so that the same migration
//! file applies on the embedded engine and on Spark; delta-rs then carries each statement out
//! (`alter.rs`). Statements that are not table DDL go to DataFusion unchanged.

use std::collections::BTreeMap;

use lakeorm_core::{ColumnType, Error, LakeType, Partition, Result, StructField};
use sqlparser::dialect::DatabricksDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A column as DDL declares it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnDef {
    pub(crate) name: String,
    pub(crate) ty: LakeType,
    pub(crate) nullable: bool,
    /// The expression of a `GENERATED ALWAYS AS (…)` column, as written.
    pub(crate) generated: Option<String>,
}

/// One ALTER TABLE action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AlterOp {
    AddColumns(Vec<ColumnDef>),
    DropColumns {
        names: Vec<String>,
        if_exists: bool,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    SetType {
        column: String,
        ty: LakeType,
    },
    SetNotNull(String),
    DropNotNull(String),
    SetProperties(BTreeMap<String, String>),
    /// Iceberg partition evolution: `ADD PARTITION FIELD bucket(16, id)`.
    AddPartitionField(PartitionDef),
    /// `DROP PARTITION FIELD …`.
    DropPartitionField(PartitionDef),
    /// Iceberg's `WRITE ORDERED BY a, b`: the table's sort order (ascending, nulls first).
    WriteOrderedBy(Vec<String>),
}

/// One partition field as written: a column, or a transform of one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartitionDef {
    pub(crate) column: String,
    pub(crate) transform: Partition,
}

/// A table DDL statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ddl {
    Create {
        name: String,
        replace: bool,
        if_not_exists: bool,
        columns: Vec<ColumnDef>,
        format: Option<String>,
        /// Every partition field, identity or transform, in order.
        partitions: Vec<PartitionDef>,
        properties: BTreeMap<String, String>,
        /// The query of `CREATE … AS <query>`.
        query: Option<String>,
    },
    Alter {
        name: String,
        op: AlterOp,
    },
    Drop {
        name: String,
        if_exists: bool,
    },
    /// `CREATE NAMESPACE [IF NOT EXISTS] …` (what the Iceberg dialect issues before a table):
    /// the lake's tables share one flat namespace, so there is nothing to create.
    CreateNamespace {
        name: String,
    },
}

/// Refuses an ALTER of lakeorm's system column, whichever the format.
pub(crate) fn alterable(column: &str) -> Result<()> {
    if column == lakeorm_core::INGEST_ID_COLUMN {
        return Err(Error::sql(format!(
            "`{column}` is lakeorm's system column and cannot be altered"
        )));
    }
    Ok(())
}

fn syntax(sql: &str, message: impl Into<String>) -> Error {
    Error::sql(format!("{}: in `{}`", message.into(), sql.trim()))
}

struct Parser<'a> {
    sql: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// A `>` left over after splitting a `>>` token that closed two nested types.
    pending_gt: bool,
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while matches!(self.tokens.get(self.pos), Some(Token::Whitespace(_))) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<&Token> {
        self.skip_ws();
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        self.skip_ws();
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn err(&self, message: impl Into<String>) -> Error {
        syntax(self.sql, message)
    }

    /// The next token if it is the bare keyword `word` (case-insensitive).
    fn keyword(&mut self, word: &str) -> bool {
        if let Some(Token::Word(w)) = self.peek()
            && w.quote_style.is_none()
            && w.value.eq_ignore_ascii_case(word)
        {
            self.pos += 1;
            return true;
        }
        false
    }

    fn keywords(&mut self, words: &[&str]) -> bool {
        let start = self.pos;
        for word in words {
            if !self.keyword(word) {
                self.pos = start;
                return false;
            }
        }
        true
    }

    fn expect_keyword(&mut self, word: &str) -> Result<()> {
        if self.keyword(word) {
            Ok(())
        } else {
            Err(self.err(format!("expected {word}")))
        }
    }

    fn token(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn expect(&mut self, token: Token) -> Result<()> {
        if self.token(&token) {
            Ok(())
        } else {
            Err(self.err(format!("expected `{token}`")))
        }
    }

    fn close_angle(&mut self) -> Result<()> {
        if self.pending_gt {
            self.pending_gt = false;
            return Ok(());
        }
        match self.next() {
            Some(Token::Gt) => Ok(()),
            Some(Token::ShiftRight) => {
                self.pending_gt = true;
                Ok(())
            }
            _ => Err(self.err("expected `>`")),
        }
    }

    fn ident(&mut self) -> Result<String> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w.value),
            other => Err(self.err(format!(
                "expected a name, found {}",
                other.map_or("the end".into(), |t| format!("`{t}`"))
            ))),
        }
    }

    /// A possibly qualified name; tables are addressed by their last part.
    fn table_name(&mut self) -> Result<String> {
        let mut name = self.ident()?;
        while self.token(&Token::Period) {
            name = self.ident()?;
        }
        Ok(name)
    }

    fn number(&mut self) -> Result<u32> {
        match self.next() {
            Some(Token::Number(n, _)) => n.parse().map_err(|_| self.err("expected a number")),
            _ => Err(self.err("expected a number")),
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.next() {
            Some(Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => Ok(s),
            _ => Err(self.err("expected a quoted string")),
        }
    }

    fn data_type(&mut self) -> Result<LakeType> {
        let name = self.ident()?.to_ascii_uppercase();
        let ty = match name.as_str() {
            "BOOLEAN" | "BOOL" => LakeType::Boolean,
            "TINYINT" | "BYTE" => LakeType::Int8,
            "SMALLINT" | "SHORT" => LakeType::Int16,
            "INT" | "INTEGER" => LakeType::Int32,
            "BIGINT" | "LONG" => LakeType::Int64,
            "FLOAT" | "REAL" => LakeType::Float32,
            "DOUBLE" => LakeType::Float64,
            "DATE" => LakeType::Date,
            "TIMESTAMP" | "TIMESTAMP_LTZ" => LakeType::Timestamp,
            "TIMESTAMP_NTZ" => LakeType::TimestampNtz,
            "BINARY" => LakeType::Binary,
            "STRING" => LakeType::String,
            "VARCHAR" | "CHAR" => {
                if self.token(&Token::LParen) {
                    self.number()?;
                    self.expect(Token::RParen)?;
                }
                LakeType::String
            }
            "DECIMAL" | "DEC" | "NUMERIC" => {
                let (mut precision, mut scale) = (10, 0);
                if self.token(&Token::LParen) {
                    precision = self.number()?;
                    if self.token(&Token::Comma) {
                        scale = self.number()?;
                    }
                    self.expect(Token::RParen)?;
                }
                LakeType::Decimal {
                    precision: u8::try_from(precision)
                        .map_err(|_| self.err("decimal precision out of range"))?,
                    scale: i8::try_from(scale)
                        .map_err(|_| self.err("decimal scale out of range"))?,
                }
            }
            "ARRAY" => {
                self.expect(Token::Lt)?;
                let element = self.data_type()?;
                self.close_angle()?;
                LakeType::List(Box::new(ColumnType::nullable(element)))
            }
            "STRUCT" => {
                self.expect(Token::Lt)?;
                let mut fields = Vec::new();
                loop {
                    let name = self.ident()?;
                    self.token(&Token::Colon);
                    let ty = self.data_type()?;
                    let nullable = !self.keywords(&["NOT", "NULL"]);
                    self.comment()?;
                    fields.push(StructField {
                        name,
                        ty: ColumnType { ty, nullable },
                    });
                    if !self.pending_gt && self.token(&Token::Comma) {
                        continue;
                    }
                    break;
                }
                self.close_angle()?;
                LakeType::Struct(fields)
            }
            other => {
                return Err(self.err(format!(
                    "the type {other} has no lakeorm mapping (supported: BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(P, S), STRING, BINARY, DATE, TIMESTAMP, TIMESTAMP_NTZ, ARRAY<…>, STRUCT<…>)"
                )));
            }
        };
        Ok(ty)
    }

    fn comment(&mut self) -> Result<()> {
        if self.keyword("COMMENT") {
            self.string()?;
        }
        Ok(())
    }

    fn column_def(&mut self) -> Result<ColumnDef> {
        let name = self.ident()?;
        let ty = self.data_type()?;
        let nullable = !self.keywords(&["NOT", "NULL"]);
        let generated = if self.keywords(&["GENERATED", "ALWAYS", "AS"]) {
            Some(self.parenthesized()?)
        } else {
            None
        };
        self.comment()?;
        Ok(ColumnDef {
            name,
            ty,
            nullable,
            generated,
        })
    }

    /// The text between a `(` and its matching `)`, exactly as written (a generation
    /// expression is kept verbatim in the table's metadata).
    fn parenthesized(&mut self) -> Result<String> {
        self.expect(Token::LParen)?;
        let mut depth = 0usize;
        let mut text = String::new();
        while let Some(token) = self.tokens.get(self.pos) {
            self.pos += 1;
            match token {
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => return Ok(text.trim().to_owned()),
                Token::RParen => depth -= 1,
                _ => {}
            }
            text.push_str(&token.to_string());
        }
        Err(self.err("expected `)`"))
    }

    fn column_defs(&mut self) -> Result<Vec<ColumnDef>> {
        self.expect(Token::LParen)?;
        let mut columns = vec![self.column_def()?];
        while self.token(&Token::Comma) {
            columns.push(self.column_def()?);
        }
        self.expect(Token::RParen)?;
        Ok(columns)
    }

    fn properties(&mut self) -> Result<BTreeMap<String, String>> {
        self.expect(Token::LParen)?;
        let mut properties = BTreeMap::new();
        loop {
            let key = self.string()?;
            self.expect(Token::Eq)?;
            let value = match self.next() {
                Some(Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => s,
                Some(Token::Number(n, _)) => n,
                Some(Token::Word(w)) => w.value,
                _ => return Err(self.err("expected a property value")),
            };
            properties.insert(key, value);
            if !self.token(&Token::Comma) {
                break;
            }
        }
        self.expect(Token::RParen)?;
        Ok(properties)
    }

    /// The rest of the statement, as written.
    fn rest(&mut self) -> String {
        let rest: String = self.tokens[self.pos..]
            .iter()
            .map(ToString::to_string)
            .collect();
        self.pos = self.tokens.len();
        rest.trim().to_owned()
    }

    fn end(&mut self) -> Result<()> {
        self.token(&Token::SemiColon);
        match self.peek() {
            None | Some(Token::EOF) => Ok(()),
            Some(t) => {
                let t = t.to_string();
                Err(self.err(format!("unexpected `{t}`")))
            }
        }
    }

    fn create(&mut self) -> Result<Ddl> {
        let replace = self.keywords(&["OR", "REPLACE"]);
        self.expect_keyword("TABLE")?;
        let if_not_exists = self.keywords(&["IF", "NOT", "EXISTS"]);
        let name = self.table_name()?;
        let columns = if self.peek() == Some(&Token::LParen) {
            self.column_defs()?
        } else {
            Vec::new()
        };
        let mut format = None;
        let mut partitions = Vec::new();
        let mut properties = BTreeMap::new();
        let mut query = None;
        loop {
            if self.keyword("USING") {
                format = Some(self.ident()?.to_ascii_lowercase());
            } else if self.keywords(&["PARTITIONED", "BY"]) {
                self.expect(Token::LParen)?;
                loop {
                    partitions.push(self.partition_def()?);
                    if !self.token(&Token::Comma) {
                        break;
                    }
                }
                self.expect(Token::RParen)?;
            } else if self.keyword("LOCATION") {
                // The embedded engine places tables under the Backend's `tables/`; a location
                // elsewhere would split the lake.
                let location = self.string()?;
                tracing::debug!(%location, "LOCATION ignored: tables live under the lake's tables/");
            } else if self.keyword("TBLPROPERTIES") {
                properties = self.properties()?;
            } else if self.keyword("COMMENT") {
                self.string()?;
            } else if self.keyword("AS") {
                query = Some(self.rest());
            } else {
                break;
            }
        }
        self.end()?;
        if columns.is_empty() && query.is_none() {
            return Err(self.err("CREATE TABLE needs columns or AS <query>"));
        }
        Ok(Ddl::Create {
            name,
            replace,
            if_not_exists,
            columns,
            format,
            partitions,
            properties,
            query,
        })
    }

    /// A partition field: `col`, `bucket(N, col)`, `truncate(W, col)`, `years(col)`,
    /// `months(col)`, `days(col)`, `hours(col)` (and Spark's singular and `date`/`date_hour`
    /// spellings).
    fn partition_def(&mut self) -> Result<PartitionDef> {
        let name = self.ident()?;
        if !self.token(&Token::LParen) {
            return Ok(PartitionDef {
                column: name,
                transform: Partition::Identity,
            });
        }
        let transform = match name.to_ascii_lowercase().as_str() {
            "bucket" | "truncate" => {
                let n = self.number()?;
                self.expect(Token::Comma)?;
                if name.eq_ignore_ascii_case("bucket") {
                    Partition::Bucket(n)
                } else {
                    Partition::Truncate(n)
                }
            }
            "years" | "year" => Partition::Year,
            "months" | "month" => Partition::Month,
            "days" | "day" | "date" => Partition::Day,
            "hours" | "hour" | "date_hour" => Partition::Hour,
            other => return Err(self.err(format!("unknown partition transform `{other}`"))),
        };
        let column = self.ident()?;
        self.expect(Token::RParen)?;
        Ok(PartitionDef { column, transform })
    }

    /// One column of `WRITE ORDERED BY`, ascending with nulls first (the order lakeorm
    /// writes); other directions are refused rather than recorded wrongly.
    fn sort_column(&mut self) -> Result<String> {
        let column = self.ident()?;
        self.keyword("ASC");
        if self.keyword("DESC") || self.keywords(&["NULLS", "LAST"]) {
            return Err(Error::unsupported(
                format!("`{}`", self.sql.trim()),
                "the embedded engine",
                "it records ascending sort orders with nulls first",
            ));
        }
        self.keywords(&["NULLS", "FIRST"]);
        Ok(column)
    }

    fn alter(&mut self) -> Result<Ddl> {
        self.expect_keyword("TABLE")?;
        let name = self.table_name()?;
        let op = if self.keywords(&["ADD", "PARTITION", "FIELD"]) {
            AlterOp::AddPartitionField(self.partition_def()?)
        } else if self.keywords(&["DROP", "PARTITION", "FIELD"]) {
            AlterOp::DropPartitionField(self.partition_def()?)
        } else if self.keyword("ADD") {
            if !self.keyword("COLUMNS") {
                self.keyword("COLUMN");
            }
            if self.peek() == Some(&Token::LParen) {
                AlterOp::AddColumns(self.column_defs()?)
            } else {
                let mut columns = vec![self.column_def()?];
                while self.token(&Token::Comma) {
                    columns.push(self.column_def()?);
                }
                AlterOp::AddColumns(columns)
            }
        } else if self.keyword("DROP") {
            if !self.keyword("COLUMNS") {
                self.expect_keyword("COLUMN")?;
            }
            let if_exists = self.keywords(&["IF", "EXISTS"]);
            let parens = self.token(&Token::LParen);
            let mut names = vec![self.ident()?];
            while self.token(&Token::Comma) {
                names.push(self.ident()?);
            }
            if parens {
                self.expect(Token::RParen)?;
            }
            AlterOp::DropColumns { names, if_exists }
        } else if self.keywords(&["RENAME", "COLUMN"]) {
            let from = self.ident()?;
            self.expect_keyword("TO")?;
            AlterOp::RenameColumn {
                from,
                to: self.ident()?,
            }
        } else if self.keyword("ALTER") || self.keyword("CHANGE") {
            self.keyword("COLUMN");
            let column = self.ident()?;
            if self.keyword("TYPE") {
                AlterOp::SetType {
                    column,
                    ty: self.data_type()?,
                }
            } else if self.keywords(&["SET", "NOT", "NULL"]) {
                AlterOp::SetNotNull(column)
            } else if self.keywords(&["DROP", "NOT", "NULL"]) {
                AlterOp::DropNotNull(column)
            } else {
                return Err(self.err("expected TYPE, SET NOT NULL or DROP NOT NULL"));
            }
        } else if self.keywords(&["SET", "TBLPROPERTIES"]) {
            AlterOp::SetProperties(self.properties()?)
        } else if self.keywords(&["WRITE", "ORDERED", "BY"]) {
            let mut columns = vec![self.sort_column()?];
            while self.token(&Token::Comma) {
                columns.push(self.sort_column()?);
            }
            AlterOp::WriteOrderedBy(columns)
        } else {
            return Err(Error::unsupported(
                format!("`{}`", self.sql.trim()),
                "the embedded engine",
                "it alters tables by adding, dropping, renaming or retyping columns, changing nullability and setting properties",
            ));
        };
        self.end()?;
        Ok(Ddl::Alter { name, op })
    }
}

/// Parses `sql` when it is table DDL; `Ok(None)` for every other statement.
pub(crate) fn parse(sql: &str) -> Result<Option<Ddl>> {
    let tokens = Tokenizer::new(&DatabricksDialect {}, sql)
        .tokenize()
        .map_err(|e| syntax(sql, e.to_string()))?;
    let mut p = Parser {
        sql,
        tokens,
        pos: 0,
        pending_gt: false,
    };
    let ddl = if p.keywords(&["CREATE", "NAMESPACE"]) {
        p.keywords(&["IF", "NOT", "EXISTS"]);
        let name = p.table_name()?;
        p.end()?;
        Ddl::CreateNamespace { name }
    } else if p.keyword("CREATE") {
        let start = p.pos;
        let is_table = p.keywords(&["OR", "REPLACE", "TABLE"]) || p.keyword("TABLE");
        p.pos = start;
        if !is_table {
            return Ok(None);
        }
        p.create()?
    } else if p.keywords(&["ALTER", "TABLE"]) {
        p.pos -= 1;
        p.alter()?
    } else if p.keywords(&["DROP", "TABLE"]) {
        let if_exists = p.keywords(&["IF", "EXISTS"]);
        let name = p.table_name()?;
        p.end()?;
        Ddl::Drop { name, if_exists }
    } else {
        return Ok(None);
    };
    Ok(Some(ddl))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ddl(sql: &str) -> Ddl {
        parse(sql).unwrap().unwrap()
    }

    fn columns_of(partitions: &[PartitionDef]) -> Vec<&str> {
        partitions.iter().map(|p| p.column.as_str()).collect()
    }

    #[test]
    fn iceberg_partition_transforms_and_evolution() {
        let Ddl::Create {
            partitions, format, ..
        } = ddl(
            "CREATE TABLE IF NOT EXISTS lakeorm.default.`t` (`id` BIGINT NOT NULL, `at` TIMESTAMP, \
             `code` STRING) USING iceberg \
             PARTITIONED BY (bucket(16, `id`), days(`at`), truncate(3, code), `code`)",
        )
        else {
            panic!("not a create")
        };
        assert_eq!(format.as_deref(), Some("iceberg"));
        let transforms: Vec<_> = partitions
            .iter()
            .map(|p| (p.column.as_str(), p.transform))
            .collect();
        assert_eq!(
            transforms,
            [
                ("id", Partition::Bucket(16)),
                ("at", Partition::Day),
                ("code", Partition::Truncate(3)),
                ("code", Partition::Identity)
            ]
        );
        assert_eq!(
            ddl("ALTER TABLE lakeorm.default.t ADD PARTITION FIELD hours(`at`)"),
            Ddl::Alter {
                name: "t".into(),
                op: AlterOp::AddPartitionField(PartitionDef {
                    column: "at".into(),
                    transform: Partition::Hour
                })
            }
        );
        assert!(matches!(
            ddl("ALTER TABLE t DROP PARTITION FIELD bucket(16, id)"),
            Ddl::Alter {
                op: AlterOp::DropPartitionField(_),
                ..
            }
        ));
        assert!(parse("CREATE TABLE t (a INT) USING iceberg PARTITIONED BY (zorder(a))").is_err());
        assert_eq!(
            ddl("ALTER TABLE lakeorm.default.t WRITE ORDERED BY `id`, at ASC NULLS FIRST"),
            Ddl::Alter {
                name: "t".into(),
                op: AlterOp::WriteOrderedBy(vec!["id".into(), "at".into()])
            }
        );
        assert!(parse("ALTER TABLE t WRITE ORDERED BY id DESC").is_err());
    }

    #[test]
    fn generated_columns_keep_their_expression_verbatim() {
        let Ddl::Create {
            columns,
            partitions,
            ..
        } = ddl(
            "CREATE TABLE IF NOT EXISTS `t` (`at` TIMESTAMP NOT NULL, `_ingest_id` STRING, \
             `at_month` DATE GENERATED ALWAYS AS (CAST(DATE_TRUNC('MONTH', `at`) AS DATE))) \
             USING delta PARTITIONED BY (`at_month`)",
        )
        else {
            panic!("not a create")
        };
        assert_eq!(columns_of(&partitions), ["at_month"]);
        assert_eq!(columns[0].generated, None);
        assert_eq!(
            columns[2].generated.as_deref(),
            Some("CAST(DATE_TRUNC('MONTH', `at`) AS DATE)")
        );
        assert!(columns[2].nullable);
    }

    #[test]
    fn create_table_with_every_clause() {
        let Ddl::Create {
            name,
            columns,
            format,
            partitions,
            properties,
            if_not_exists,
            ..
        } = ddl(
            "CREATE TABLE IF NOT EXISTS `lakeorm`.`default`.`users` (`id` STRING NOT NULL, `tags` ARRAY<STRUCT<`k`: STRING NOT NULL, v INT>>, `d` DECIMAL(10, 2) COMMENT 'x', `day` DATE) USING delta PARTITIONED BY (`day`) LOCATION 'file:///x' TBLPROPERTIES ('a' = 'b');",
        )
        else {
            panic!("not a create")
        };
        assert_eq!(name, "users");
        assert!(if_not_exists);
        assert_eq!(format.as_deref(), Some("delta"));
        assert_eq!(columns_of(&partitions), ["day"]);
        assert_eq!(properties.get("a").map(String::as_str), Some("b"));
        assert_eq!(columns.len(), 4);
        assert!(!columns[0].nullable);
        assert_eq!(
            columns[1].ty,
            LakeType::List(Box::new(ColumnType::nullable(LakeType::Struct(vec![
                StructField {
                    name: "k".into(),
                    ty: ColumnType::required(LakeType::String)
                },
                StructField {
                    name: "v".into(),
                    ty: ColumnType::nullable(LakeType::Int32)
                },
            ]))))
        );
        assert_eq!(
            columns[2].ty,
            LakeType::Decimal {
                precision: 10,
                scale: 2
            }
        );
    }

    #[test]
    fn replace_as_select_keeps_the_query() {
        let Ddl::Create {
            replace,
            query,
            partitions,
            ..
        } = ddl(
            "CREATE OR REPLACE TABLE `t` USING delta PARTITIONED BY (`a`) AS SELECT * FROM `t`",
        )
        else {
            panic!("not a create")
        };
        assert!(replace);
        assert_eq!(columns_of(&partitions), ["a"]);
        assert_eq!(query.as_deref(), Some("SELECT * FROM `t`"));
    }

    #[test]
    fn alter_table_actions() {
        let alter = |sql| match ddl(sql) {
            Ddl::Alter { name, op } => {
                assert_eq!(name, "t");
                op
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            alter("ALTER TABLE `t` ADD COLUMN `e` STRING"),
            AlterOp::AddColumns(vec![ColumnDef {
                name: "e".into(),
                ty: LakeType::String,
                nullable: true,
                generated: None,
            }])
        );
        assert!(matches!(
            alter("ALTER TABLE t ADD COLUMNS (a INT, b BIGINT NOT NULL)"),
            AlterOp::AddColumns(c) if c.len() == 2 && !c[1].nullable
        ));
        assert_eq!(
            alter("ALTER TABLE t DROP COLUMN `e`"),
            AlterOp::DropColumns {
                names: vec!["e".into()],
                if_exists: false
            }
        );
        assert_eq!(
            alter("ALTER TABLE t RENAME COLUMN a TO b"),
            AlterOp::RenameColumn {
                from: "a".into(),
                to: "b".into()
            }
        );
        assert_eq!(
            alter("ALTER TABLE t ALTER COLUMN a TYPE BIGINT"),
            AlterOp::SetType {
                column: "a".into(),
                ty: LakeType::Int64
            }
        );
        assert_eq!(
            alter("ALTER TABLE t ALTER COLUMN a SET NOT NULL"),
            AlterOp::SetNotNull("a".into())
        );
        assert_eq!(
            alter("alter table t alter column a drop not null"),
            AlterOp::DropNotNull("a".into())
        );
        assert!(matches!(
            alter("ALTER TABLE t SET TBLPROPERTIES ('delta.columnMapping.mode' = 'name')"),
            AlterOp::SetProperties(p) if p["delta.columnMapping.mode"] == "name"
        ));
    }

    #[test]
    fn other_statements_pass_through_and_errors_quote_the_statement() {
        assert_eq!(parse("SELECT 1").unwrap(), None);
        assert_eq!(parse("CREATE VIEW v AS SELECT 1").unwrap(), None);
        assert_eq!(
            ddl("CREATE NAMESPACE IF NOT EXISTS `lakeorm`.`default`"),
            Ddl::CreateNamespace {
                name: "default".into()
            }
        );
        assert_eq!(
            ddl("DROP TABLE IF EXISTS `t`"),
            Ddl::Drop {
                name: "t".into(),
                if_exists: true
            }
        );
        let e = parse("CREATE TABLE t (a MAP<STRING, INT>) USING delta").unwrap_err();
        assert!(e.to_string().contains("MAP"), "{e}");
        let e = parse("CREATE TABLE t (a INT) USING delta PARTITIONED BY (a b)").unwrap_err();
        assert!(matches!(e, Error::Sql { .. }), "{e}");
    }
}
