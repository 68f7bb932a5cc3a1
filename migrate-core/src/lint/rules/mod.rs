//! One file per rule; each rule looks at one statement and pushes findings.

use super::{Context, Finding};

pub(super) mod blocking_index;
pub(super) mod destructive_change;
pub(super) mod foreign_key_without_on_delete;
pub(super) mod header_number_mismatch;
pub(super) mod missing_if_exists;
pub(super) mod missing_if_not_exists;

/// The rules that look at statements, in the order of `Lint::ALL`.
pub(super) const STATEMENT_RULES: &[fn(&Context, &mut Vec<Finding>)] = &[
    missing_if_not_exists::check,
    missing_if_exists::check,
    destructive_change::check,
    foreign_key_without_on_delete::check,
    blocking_index::check,
];

/// The word after `CREATE`'s modifiers (`UNIQUE`, `TEMP`, `MATERIALIZED`,
/// ...), uppercase, with its index; and whether `MATERIALIZED` was among them.
pub(super) fn created_kind(cx: &Context) -> Option<(String, usize, bool)> {
    let w = &cx.words;
    if !w.is(0, "CREATE") || w.starts_with(&["CREATE", "OR", "REPLACE"]) {
        return None;
    }
    let mut k = 1;
    while [
        "UNIQUE",
        "TEMP",
        "TEMPORARY",
        "UNLOGGED",
        "GLOBAL",
        "LOCAL",
        "MATERIALIZED",
        "RECURSIVE",
        "CONSTRAINT",
    ]
    .iter()
    .any(|m| w.is(k, m))
    {
        k += 1;
    }
    let kind = w.words.get(k).map_or(String::new(), |(s, _)| s.to_ascii_uppercase());
    let materialized = (1..k).any(|i| w.is(i, "MATERIALIZED"));
    Some((kind, k, materialized))
}
