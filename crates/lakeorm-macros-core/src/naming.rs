//! Table and column names: the default table name of a model, and `rename_all`.

use heck::{ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// A `rename_all` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Snake,
    Camel,
    Pascal,
    ScreamingSnake,
    Kebab,
    Lower,
    Upper,
}

impl RenameRule {
    pub(crate) const NAMES: &'static str =
        "snake_case, camelCase, PascalCase, SCREAMING_SNAKE_CASE, kebab-case, lowercase, UPPERCASE";

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "snake_case" => RenameRule::Snake,
            "camelCase" => RenameRule::Camel,
            "PascalCase" => RenameRule::Pascal,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            _ => return None,
        })
    }

    pub(crate) fn apply(self, field: &str) -> String {
        match self {
            RenameRule::Snake => field.to_snake_case(),
            RenameRule::Camel => field.to_lower_camel_case(),
            RenameRule::Pascal => field.to_upper_camel_case(),
            RenameRule::ScreamingSnake => field.to_shouty_snake_case(),
            RenameRule::Kebab => field.to_kebab_case(),
            RenameRule::Lower => field.to_lowercase(),
            RenameRule::Upper => field.to_uppercase(),
        }
    }
}

/// The default table name of a model: the snake_case plural of its type name
/// (`User` → `users`, `OrderLine` → `order_lines`, `Category` → `categories`).
pub(crate) fn default_table_name(type_name: &str) -> String {
    let snake = type_name.to_snake_case();
    let (head, last) = match snake.rfind('_') {
        Some(i) => (&snake[..=i], &snake[i + 1..]),
        None => ("", snake.as_str()),
    };
    format!("{head}{}", pluralize(last))
}

fn pluralize(word: &str) -> String {
    const VOWELS: &[char] = &['a', 'e', 'i', 'o', 'u'];
    if word.is_empty() {
        return word.to_owned();
    }
    if let Some(stem) = word.strip_suffix('y')
        && !stem.ends_with(VOWELS)
        && !stem.is_empty()
    {
        return format!("{stem}ies");
    }
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|s| word.ends_with(s))
    {
        return format!("{word}es");
    }
    format!("{word}s")
}

/// Whether `name` is usable as a table or column name in every engine lakeorm targets.
pub(crate) fn invalid_identifier(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("must not be empty");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || ".`,;{}()=\"'".contains(c))
    {
        return Some("must not contain whitespace or any of . ` , ; { } ( ) = \" '");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert_eq!(default_table_name("User"), "users");
        assert_eq!(default_table_name("OrderLine"), "order_lines");
        assert_eq!(default_table_name("Category"), "categories");
        assert_eq!(default_table_name("Key"), "keys");
        assert_eq!(default_table_name("Address"), "addresses");
        assert_eq!(default_table_name("Box"), "boxes");
        assert_eq!(default_table_name("Match"), "matches");
        assert_eq!(default_table_name("HTTPRequest"), "http_requests");
    }

    #[test]
    fn rename_rules() {
        assert_eq!(
            RenameRule::parse("camelCase").unwrap().apply("created_at"),
            "createdAt"
        );
        assert_eq!(
            RenameRule::parse("SCREAMING_SNAKE_CASE")
                .unwrap()
                .apply("created_at"),
            "CREATED_AT"
        );
        assert!(RenameRule::parse("Title Case").is_none());
    }
}
