//! Two schemas compared: what the migrations build (expected) against what
//! a database holds (live), one [`Difference`] per object or attribute.

use super::model::{ObjectId, ObjectKind, Schema};
use std::fmt;

/// How one object differs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// The migrations create it; the database lacks it.
    Missing,
    /// The database has it; the migrations do not create it.
    Unexpected,
    /// Both have it; one attribute differs (`None`: absent on that side).
    Differs {
        /// The attribute, such as `type` or `definition`.
        attribute: String,
        /// In the database.
        live: Option<String>,
        /// As the migrations make it.
        expected: Option<String>,
    },
}

/// One difference between the expected and the live schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The object.
    pub object: ObjectId,
    /// How it differs.
    pub change: Change,
}

/// `column public.accounts.email: type text, expected character varying(255)`.
impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.object)?;
        match &self.change {
            Change::Missing => f.write_str("missing"),
            Change::Unexpected => f.write_str("not created by the migrations"),
            Change::Differs {
                attribute,
                live,
                expected,
            } => {
                let (live, expected) = (live.as_deref(), expected.as_deref());
                if attribute == "privileges" {
                    return write!(f, "privileges {}", grants(live, expected));
                }
                if [live, expected]
                    .iter()
                    .any(|v| v.is_some_and(|v| v.contains('\n') || v.len() > 100))
                {
                    return write!(f, "{attribute} differs ({})", first_difference(live, expected));
                }
                write!(f, "{attribute} {}, expected {}", shown(live), shown(expected))
            }
        }
    }
}

/// What was granted and revoked: `granted reader:SELECT; revoked PUBLIC:EXECUTE`.
fn grants(live: Option<&str>, expected: Option<&str>) -> String {
    let items = |v: Option<&str>| -> Vec<String> {
        v.unwrap_or_default()
            .split(", ")
            .filter(|i| !i.is_empty() && *i != "none")
            .map(str::to_string)
            .collect()
    };
    let (live, expected) = (items(live), items(expected));
    let granted: Vec<&str> = live
        .iter()
        .filter(|i| !expected.contains(i))
        .map(String::as_str)
        .collect();
    let revoked: Vec<&str> = expected
        .iter()
        .filter(|i| !live.contains(i))
        .map(String::as_str)
        .collect();
    let mut parts = Vec::new();
    if !granted.is_empty() {
        parts.push(format!("granted {}", granted.join(", ")));
    }
    if !revoked.is_empty() {
        parts.push(format!("revoked {}", revoked.join(", ")));
    }
    parts.join("; ")
}

/// A value as the line shows it: in backticks when it holds a comma, so
/// that `, expected` stays the only separator.
fn shown(value: Option<&str>) -> String {
    match value {
        None => "none".to_string(),
        Some("") => "empty".to_string(),
        Some(v) if v.contains(',') => format!("`{v}`"),
        Some(v) => v.to_string(),
    }
}

/// `line 3: live `x := 2;`, expected `x := 1;``: the first line that differs.
fn first_difference(live: Option<&str>, expected: Option<&str>) -> String {
    let (live, expected) = (live.unwrap_or(""), expected.unwrap_or(""));
    let mut l = live.lines();
    let mut e = expected.lines();
    let mut line = 1;
    loop {
        match (l.next(), e.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (a, b) => {
                let side = |v: Option<&str>| v.map_or("nothing".to_string(), |v| format!("`{}`", v.trim()));
                return format!("line {line}: live {}, expected {}", side(a), side(b));
            }
        }
    }
}

/// What [`compare`] found, and what it leaves out of the count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drift {
    /// Every difference that counts, ordered by object.
    pub differences: Vec<Difference>,
    /// Differences reported but not counted: extension versions, unless
    /// [`CompareOptions::strict`].
    pub not_counted: Vec<Difference>,
}

impl Drift {
    /// No difference that counts.
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }
}

/// How to compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompareOptions {
    /// An extension's version counts as a difference.
    pub strict: bool,
}

impl CompareOptions {
    /// Counts extension versions too.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
}

/// Compares `live` with `expected`. An object missing (or unexpected)
/// together with the object it belongs to is reported once, for the owner.
pub fn compare(expected: &Schema, live: &Schema, options: CompareOptions) -> Drift {
    let mut drift = Drift::default();
    let only_in = |side: &Schema, other: &Schema, id: &ObjectId| {
        let owner_also = side
            .owner_of(id)
            .is_some_and(|owner| !other.objects.contains_key(&owner));
        !other.objects.contains_key(id) && !owner_also
    };
    let mut ids: Vec<&ObjectId> = expected.objects.keys().chain(live.objects.keys()).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let change = match (expected.objects.get(id), live.objects.get(id)) {
            (Some(_), None) if only_in(expected, live, id) => vec![Change::Missing],
            (None, Some(_)) if only_in(live, expected, id) => vec![Change::Unexpected],
            (Some(e), Some(l)) => {
                let mut names: Vec<&String> = e.keys().chain(l.keys()).collect();
                names.sort();
                names.dedup();
                names
                    .into_iter()
                    .filter(|name| e.get(*name) != l.get(*name))
                    .map(|name| Change::Differs {
                        attribute: name.clone(),
                        live: l.get(name).cloned(),
                        expected: e.get(name).cloned(),
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        for change in change {
            let counted = options.strict
                || !(id.kind == ObjectKind::Extension
                    && matches!(&change, Change::Differs { attribute, .. } if attribute == "version"));
            let difference = Difference {
                object: id.clone(),
                change,
            };
            if counted {
                drift.differences.push(difference);
            } else {
                drift.not_counted.push(difference);
            }
        }
    }
    drift
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Attributes, OF};

    /// An object: its kind, name and attributes.
    type Object<'a> = (ObjectKind, &'a str, &'a [(&'a str, &'a str)]);

    fn schema(objects: &[Object]) -> Schema {
        let mut s = Schema::default();
        for (kind, name, attributes) in objects {
            let attributes: Attributes = attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            s.objects.insert(
                ObjectId {
                    kind: *kind,
                    name: name.to_string(),
                },
                attributes,
            );
        }
        s
    }

    #[test]
    fn each_change_reads_as_one_line() {
        let expected = schema(&[
            (ObjectKind::Table, "public.accounts", &[("kind", "table")]),
            (
                ObjectKind::Column,
                "public.accounts.email",
                &[("type", "character varying(255)"), (OF, "table public.accounts")],
            ),
            (
                ObjectKind::Index,
                "public.accounts_created_idx",
                &[(OF, "table public.accounts")],
            ),
            (ObjectKind::Table, "public.gone", &[("kind", "table")]),
            (ObjectKind::Column, "public.gone.id", &[(OF, "table public.gone")]),
        ]);
        let live = schema(&[
            (ObjectKind::Table, "public.accounts", &[("kind", "table")]),
            (
                ObjectKind::Column,
                "public.accounts.email",
                &[("type", "text"), (OF, "table public.accounts")],
            ),
            (ObjectKind::Table, "public.hand_made", &[("kind", "table")]),
            (
                ObjectKind::Column,
                "public.hand_made.id",
                &[(OF, "table public.hand_made")],
            ),
        ]);
        let drift = compare(&expected, &live, CompareOptions::default());
        let lines: Vec<String> = drift.differences.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "column public.accounts.email: type text, expected character varying(255)",
                "index public.accounts_created_idx: missing",
                "table public.gone: missing",
                "table public.hand_made: not created by the migrations",
            ]
        );
        let owner = expected.owner_of(&drift.differences[1].object).unwrap();
        assert_eq!(owner.to_string(), "table public.accounts");
        assert!(compare(&live, &live, CompareOptions::default()).is_empty());
    }

    #[test]
    fn a_long_value_shows_its_first_different_line() {
        let expected = schema(&[(ObjectKind::Function, "public.f()", &[("body", "BEGIN\n  x := 1;\nEND")])]);
        let live = schema(&[(ObjectKind::Function, "public.f()", &[("body", "BEGIN\n  x := 2;\nEND")])]);
        let drift = compare(&expected, &live, CompareOptions::default());
        assert_eq!(
            drift.differences[0].to_string(),
            "function public.f(): body differs (line 2: live `x := 2;`, expected `x := 1;`)"
        );
    }

    #[test]
    fn lists_read_unambiguously() {
        let expected = schema(&[
            (ObjectKind::Type, "public.mood", &[("labels", "'sad', 'ok'")]),
            (
                ObjectKind::Table,
                "public.t",
                &[("privileges", "(reading role):SELECT, PUBLIC:SELECT")],
            ),
        ]);
        let live = schema(&[
            (ObjectKind::Type, "public.mood", &[("labels", "'sad', 'ok', 'happy'")]),
            (
                ObjectKind::Table,
                "public.t",
                &[("privileges", "(reading role):SELECT, reader:SELECT")],
            ),
        ]);
        let lines: Vec<String> = compare(&expected, &live, CompareOptions::default())
            .differences
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "type public.mood: labels `'sad', 'ok', 'happy'`, expected `'sad', 'ok'`",
                "table public.t: privileges granted reader:SELECT; revoked PUBLIC:SELECT",
            ]
        );
    }

    #[test]
    fn extension_versions_count_only_when_strict() {
        let expected = schema(&[(ObjectKind::Extension, "pg_trgm", &[("version", "1.6")])]);
        let live = schema(&[(ObjectKind::Extension, "pg_trgm", &[("version", "1.5")])]);
        let drift = compare(&expected, &live, CompareOptions::default());
        assert!(drift.is_empty());
        assert_eq!(
            drift.not_counted[0].to_string(),
            "extension pg_trgm: version 1.5, expected 1.6"
        );
        let strict = compare(&expected, &live, CompareOptions::default().strict(true));
        assert_eq!(strict.differences.len(), 1);
    }
}
