//! A database's schema as the catalog reader sees it: named objects, each
//! with text attributes, and its text form (`migrate schema`), which reads
//! back unchanged.

use std::collections::BTreeMap;
use std::fmt;

/// The kinds of object compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A schema (namespace).
    Schema,
    /// An extension.
    Extension,
    /// A table, partitioned table or foreign table.
    Table,
    /// A column of a table or of a composite type.
    Column,
    /// A table constraint (check, unique, primary key, foreign key, exclusion).
    Constraint,
    /// An index.
    Index,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
    /// A function (window functions included).
    Function,
    /// A procedure.
    Procedure,
    /// An aggregate.
    Aggregate,
    /// A trigger.
    Trigger,
    /// A rewrite rule (`CREATE RULE`).
    Rule,
    /// A sequence.
    Sequence,
    /// An enum, composite or range type.
    Type,
    /// A domain.
    Domain,
    /// A row-level security policy.
    Policy,
}

impl ObjectKind {
    /// Every kind, in the order of their names' words.
    pub const ALL: [ObjectKind; 17] = [
        ObjectKind::Schema,
        ObjectKind::Extension,
        ObjectKind::Table,
        ObjectKind::Column,
        ObjectKind::Constraint,
        ObjectKind::Index,
        ObjectKind::View,
        ObjectKind::MaterializedView,
        ObjectKind::Function,
        ObjectKind::Procedure,
        ObjectKind::Aggregate,
        ObjectKind::Trigger,
        ObjectKind::Rule,
        ObjectKind::Sequence,
        ObjectKind::Type,
        ObjectKind::Domain,
        ObjectKind::Policy,
    ];

    /// The word used in output and in the schema file: `materialized view`.
    pub fn word(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Extension => "extension",
            ObjectKind::Table => "table",
            ObjectKind::Column => "column",
            ObjectKind::Constraint => "constraint",
            ObjectKind::Index => "index",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Function => "function",
            ObjectKind::Procedure => "procedure",
            ObjectKind::Aggregate => "aggregate",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Rule => "rule",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Type => "type",
            ObjectKind::Domain => "domain",
            ObjectKind::Policy => "policy",
        }
    }

    /// The kind a [`word`](ObjectKind::word) names.
    pub fn from_word(word: &str) -> Option<ObjectKind> {
        ObjectKind::ALL.into_iter().find(|k| k.word() == word)
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Which object: its kind and its qualified name, such as
/// `column public.accounts.email` or `function public.touch(integer)`.
/// Ordered by name first, so that a table's columns, constraints and
/// triggers follow it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// The qualified name; identifiers quoted where SQL needs it.
    pub name: String,
    /// The kind.
    pub kind: ObjectKind,
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// The attribute naming the object a column, constraint, index, trigger,
/// rule or policy belongs to, as `table public.accounts`.
pub const OF: &str = "of";

/// One object's attributes, by name (`type`, `default`, `definition`, ...).
pub type Attributes = BTreeMap<String, String>;

/// A schema as read from a database or a schema file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Every object, with its attributes.
    pub objects: BTreeMap<ObjectId, Attributes>,
}

impl Schema {
    /// The object `id` belongs to (its [`OF`] attribute), if any.
    pub fn owner_of(&self, id: &ObjectId) -> Option<ObjectId> {
        parse_id(self.objects.get(id)?.get(OF)?)
    }

    /// Reads the text form written by `Display`.
    pub fn parse(text: &str) -> Result<Schema, ParseError> {
        let mut schema = Schema::default();
        let mut current: Option<ObjectId> = None;
        let mut lines = text.lines().enumerate().peekable();
        while let Some((index, line)) = lines.next() {
            let line_no = index + 1;
            let error = |message: String| ParseError { line: line_no, message };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if !line.starts_with(' ') {
                let id = parse_id(line).ok_or_else(|| {
                    error(format!(
                        "`{line}` does not start with a kind of object (table, column, index, ...)"
                    ))
                })?;
                if schema.objects.insert(id.clone(), Attributes::new()).is_some() {
                    return Err(error(format!("{id} appears twice")));
                }
                current = Some(id);
                continue;
            }
            let Some(id) = &current else {
                return Err(error("an attribute before the first object".into()));
            };
            let Some((name, value)) = line.strip_prefix("  ").and_then(|l| l.split_once(':')) else {
                return Err(error(format!("`{}` is not `  name: value`", line.trim())));
            };
            let value = if value == " |" {
                let mut block = Vec::new();
                while let Some((_, next)) = lines.peek() {
                    if let Some(text) = next.strip_prefix("    ") {
                        block.push(text);
                    } else if next.is_empty() {
                        block.push("");
                    } else {
                        break;
                    }
                    lines.next();
                }
                while block.last() == Some(&"") {
                    block.pop();
                }
                block.join("\n")
            } else {
                value.strip_prefix(' ').unwrap_or(value).to_string()
            };
            let attributes = schema.objects.get_mut(id).expect("inserted above");
            if attributes.insert(name.to_string(), value).is_some() {
                return Err(error(format!("{id} has `{name}` twice")));
            }
        }
        Ok(schema)
    }
}

/// The text form: one object per paragraph, its attributes indented below
/// it; multi-line values as `name: |` and an indented block.
impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (id, attributes) in &self.objects {
            writeln!(f, "{id}")?;
            for (name, value) in attributes {
                if needs_block(value) {
                    writeln!(f, "  {name}: |")?;
                    for line in value.lines() {
                        if line.is_empty() {
                            writeln!(f)?;
                        } else {
                            writeln!(f, "    {line}")?;
                        }
                    }
                } else if value.is_empty() {
                    writeln!(f, "  {name}:")?;
                } else {
                    writeln!(f, "  {name}: {value}")?;
                }
            }
        }
        Ok(())
    }
}

fn needs_block(value: &str) -> bool {
    value.contains('\n') || value.starts_with(['|', ' '])
}

/// `kind name`, with the kind's words first.
fn parse_id(text: &str) -> Option<ObjectId> {
    ObjectKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let name = text.strip_prefix(kind.word())?.strip_prefix(' ')?;
            (!name.is_empty()).then(|| ObjectId {
                kind,
                name: name.to_string(),
            })
        })
        .max_by_key(|id| id.kind.word().len())
}

/// What the reader makes of a value: each line without trailing blanks,
/// and no blank lines before or after, so that layout the server keeps
/// (a function body's indentation at its end) never counts as a difference.
pub(crate) fn normalise(value: &str) -> String {
    let lines: Vec<&str> = value.lines().map(str::trim_end).collect();
    let first = lines.iter().position(|l| !l.is_empty()).unwrap_or(lines.len());
    let last = lines.iter().rposition(|l| !l.is_empty()).map_or(first, |p| p + 1);
    lines[first..last].join("\n")
}

/// A schema file that cannot be read, with the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: ObjectKind, name: &str) -> ObjectId {
        ObjectId {
            kind,
            name: name.into(),
        }
    }

    #[test]
    fn the_text_form_reads_back_unchanged() {
        let mut schema = Schema::default();
        let mut column = Attributes::new();
        column.insert("type".into(), "character varying(255)".into());
        column.insert(OF.into(), "table public.accounts".into());
        column.insert("default".into(), String::new());
        schema
            .objects
            .insert(id(ObjectKind::Column, "public.accounts.email"), column);
        let mut function = Attributes::new();
        function.insert("body".into(), normalise("\n  BEGIN\n\n    RETURN 1;  \n  END;\n\n"));
        function.insert("odd".into(), "| starts with a bar".into());
        schema
            .objects
            .insert(id(ObjectKind::Function, "public.f(integer, text)"), function);
        schema
            .objects
            .insert(id(ObjectKind::MaterializedView, "public.m"), Attributes::new());
        let text = schema.to_string();
        assert_eq!(Schema::parse(&text).unwrap(), schema, "{text}");
        assert!(
            text.contains("  body: |\n      BEGIN\n\n        RETURN 1;\n      END;\n"),
            "{text}"
        );
        assert!(text.contains("materialized view public.m\n"), "{text}");
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = Schema::parse("table public.t\n  kind: table\ntabel public.u\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("`tabel public.u`"), "{e}");
        let e = Schema::parse("  kind: table\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = Schema::parse("table public.t\ntable public.t\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: table public.t appears twice");
    }

    #[test]
    fn normalising_keeps_inner_blank_lines_only() {
        assert_eq!(normalise("\n\n a \n\n b\t\n\n"), " a\n\n b");
        assert_eq!(normalise(""), "");
        assert_eq!(normalise("  \n "), "");
    }
}
