//! The tracking table's name: optionally schema-qualified, always quoted.

use std::fmt;

/// A table name such as `schema_migrations` or `tenant_42.schema_migrations`.
/// Unquoted parts fold to lowercase as in SQL; `"Quoted"` parts keep case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// The schema, when qualified.
    pub schema: Option<String>,
    /// The table.
    pub name: String,
}

impl Default for TableName {
    fn default() -> Self {
        TableName {
            schema: None,
            name: "schema_migrations".to_string(),
        }
    }
}

impl std::str::FromStr for TableName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = s.trim();
        loop {
            let (part, after) = if let Some(quoted) = rest.strip_prefix('"') {
                let mut end = None;
                let mut chars = quoted.char_indices().peekable();
                let mut value = String::new();
                while let Some((i, c)) = chars.next() {
                    if c == '"' {
                        if chars.peek().map(|&(_, n)| n) == Some('"') {
                            chars.next();
                            value.push('"');
                            continue;
                        }
                        end = Some(i + 1);
                        break;
                    }
                    value.push(c);
                }
                let end = end.ok_or_else(|| format!("`{s}`: unterminated quoted identifier"))?;
                (value, &quoted[end..])
            } else {
                let end = rest.find('.').unwrap_or(rest.len());
                let word = &rest[..end];
                let valid = word.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
                if !valid {
                    return Err(format!(
                        "`{s}` is not a table name: use letters, digits and `_` (or a \"quoted\" identifier), optionally `schema.table`"
                    ));
                }
                (word.to_ascii_lowercase(), &rest[end..])
            };
            if part.is_empty() {
                return Err(format!("`{s}`: empty identifier"));
            }
            parts.push(part);
            match after.strip_prefix('.') {
                Some(next) => rest = next,
                None if after.is_empty() => break,
                None => return Err(format!("`{s}`: unexpected `{after}`")),
            }
        }
        match parts.len() {
            1 => Ok(TableName {
                schema: None,
                name: parts.remove(0),
            }),
            2 => Ok(TableName {
                name: parts.remove(1),
                schema: Some(parts.remove(0)),
            }),
            _ => Err(format!("`{s}`: at most `schema.table`")),
        }
    }
}

impl TableName {
    /// The same table in `schema` unless it names its own.
    pub fn in_schema(&self, schema: &str) -> TableName {
        TableName {
            schema: Some(self.schema.clone().unwrap_or_else(|| schema.to_string())),
            name: self.name.clone(),
        }
    }
}

/// `"ident"` with inner quotes doubled.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `E'literal'`, with quotes and backslashes doubled: the one way this
/// crate writes a string literal, read the same whatever
/// `standard_conforming_strings` says.
pub fn quote_literal(s: &str) -> String {
    format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// `DO $tag$body$tag$;`, with a tag (`$guard$`, `$guard1$`, …) that does
/// not occur in `body`, so that no name or literal inside can end it.
pub(crate) fn do_block(body: &str) -> String {
    let tag = (0..)
        .map(|n| match n {
            0 => "$guard$".to_string(),
            n => format!("$guard{n}$"),
        })
        .find(|tag| !body.contains(tag.as_str()))
        .expect("a body is finite");
    format!("DO {tag}{body}{tag};")
}

impl fmt::Display for TableName {
    /// The quoted SQL form: `"schema"."table"` or `"table"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{}.", quote_ident(schema))?;
        }
        f.write_str(&quote_ident(&self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_quotes() {
        let t: TableName = "tenant_42.Schema_Migrations".parse().unwrap();
        assert_eq!(t.to_string(), "\"tenant_42\".\"schema_migrations\"");
        let t: TableName = "\"My \"\"App\"\"\".\"Hist.ory\"".parse().unwrap();
        assert_eq!(t.schema.as_deref(), Some("My \"App\""));
        assert_eq!(t.name, "Hist.ory");
        assert_eq!(t.to_string(), "\"My \"\"App\"\"\".\"Hist.ory\"");
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(quote_literal(r"it's a \ path"), r"E'it''s a \\ path'");
    }

    #[test]
    fn do_blocks_take_a_tag_their_body_does_not_hold() {
        assert_eq!(do_block(" BEGIN NULL; END "), "DO $guard$ BEGIN NULL; END $guard$;");
        let body = " PERFORM FROM \"x$guard$y\"; PERFORM FROM \"$guard1$\"; ";
        assert_eq!(do_block(body), format!("DO $guard2${body}$guard2$;"));
    }

    #[test]
    fn rejects_injection_and_junk() {
        for bad in ["x; DROP TABLE y", "a.b.c", "", "1abc", "\"open"] {
            assert!(bad.parse::<TableName>().is_err(), "{bad}");
        }
    }
}
