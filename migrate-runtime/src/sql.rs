//! SQL text shared by the layers above: the tracking table's name, the one
//! escaper each for literals and identifiers, and the statements that
//! frame every write (the pinned search_path, the session reset).

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

/// Starts every statement list of the runner's own (first in its implicit
/// transaction, or after the migration file it records): for the rest of
/// the transaction, names resolve in `pg_catalog` only, so a function,
/// operator, catalog view or type another role planted on the
/// search_path (CVE-2018-1058) cannot run as the migrating role. The
/// runner's tables are always schema-qualified. The few statements that
/// must resolve through the caller's search_path (finding the tracking
/// table, the guards that run before a file) spell out `pg_catalog.`
/// and `OPERATOR(pg_catalog.=)` instead.
pub(crate) const PINNED: &str = "SET LOCAL search_path = pg_catalog, pg_temp; ";

/// Returns a connection's session to how it was configured, as psql gives
/// each file a fresh session: settings, role, prepared statements, cursors,
/// listeners, cached plans, sequences state and temporary tables. Unlike
/// `DISCARD ALL` it keeps advisory locks, and it may run in a transaction.
pub(crate) const RESET_SESSION: &str = "SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; RESET ALL; \
     DEALLOCATE ALL; CLOSE ALL; UNLISTEN *; DISCARD PLANS; DISCARD SEQUENCES; DISCARD TEMP;";

/// `SET [LOCAL] search_path = "schema"; ` in ASCII, or empty for `None`.
pub(crate) fn search_path(schema: Option<&str>, local: bool) -> String {
    match schema {
        Some(schema) => {
            let scope = if local { "LOCAL " } else { "" };
            format!("SET {scope}search_path = {}; ", ascii_ident(schema))
        }
        None => String::new(),
    }
}

/// A quoted identifier in ASCII without `;`: settings sent before a file
/// must keep their length in characters (error positions) and their count
/// of statements. Other characters become `U&"..."` escapes.
fn ascii_ident(name: &str) -> String {
    if name.chars().all(|c| (' '..='~').contains(&c) && c != ';') {
        return quote_ident(name);
    }
    let mut out = String::from("U&\"");
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\{:04X}", c as u32)),
            c => out.push_str(&format!("\\+{:06X}", c as u32)),
        }
    }
    out.push('"');
    out
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
    fn search_path_settings_stay_ascii_without_semicolons() {
        assert_eq!(search_path(None, true), "");
        assert_eq!(
            search_path(Some("tenant_42"), true),
            "SET LOCAL search_path = \"tenant_42\"; "
        );
        assert_eq!(
            search_path(Some("Big \"One\""), false),
            "SET search_path = \"Big \"\"One\"\"\"; "
        );
        assert_eq!(ascii_ident("a;b"), "U&\"a\\003Bb\"");
        assert_eq!(ascii_ident("kundé\u{1F600}"), "U&\"kund\\00E9\\+01F600\"");
    }

    #[test]
    fn rejects_injection_and_junk() {
        for bad in ["x; DROP TABLE y", "a.b.c", "", "1abc", "\"open"] {
            assert!(bad.parse::<TableName>().is_err(), "{bad}");
        }
    }
}
