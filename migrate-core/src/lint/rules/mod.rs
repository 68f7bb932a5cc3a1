//! One file per rule; each rule looks at one statement and pushes findings.

use super::{Context, Finding};
use crate::lexer::Token;

pub(super) mod adding_required_column;
pub(super) mod adding_volatile_default;
pub(super) mod blocking_index;
pub(super) mod blocking_maintenance;
pub(super) mod changing_column_type;
pub(super) mod constraint_without_index;
pub(super) mod constraint_without_not_valid;
pub(super) mod destructive_change;
pub(super) mod explicit_lock;
pub(super) mod foreign_key_without_on_delete;
pub(super) mod header_number_mismatch;
pub(super) mod missing_if_exists;
pub(super) mod missing_if_not_exists;
pub(super) mod non_idempotent;
pub(super) mod renaming;
pub(super) mod setting_not_null;

/// The rules that look at statements, in the order of `Lint::ALL`.
pub(super) const STATEMENT_RULES: &[fn(&Context, &mut Vec<Finding>)] = &[
    missing_if_not_exists::check,
    missing_if_exists::check,
    destructive_change::check,
    foreign_key_without_on_delete::check,
    blocking_index::check,
    changing_column_type::check,
    setting_not_null::check,
    adding_required_column::check,
    adding_volatile_default::check,
    constraint_without_not_valid::check,
    constraint_without_index::check,
    renaming::check,
    blocking_maintenance::check,
    explicit_lock::check,
];

/// For an `ALTER TABLE` action `ADD [COLUMN] [IF NOT EXISTS] name type ...`,
/// the index of the column's name in the clause; `None` for other actions.
pub(super) fn added_column(cx: &Context, clause: &[&Token]) -> Option<usize> {
    if !clause.first().is_some_and(|t| cx.is(t, "ADD")) {
        return None;
    }
    let mut j = if clause.get(1).is_some_and(|t| cx.is(t, "COLUMN")) {
        2
    } else {
        1
    };
    let starts_constraint = clause.get(j).is_some_and(|t| {
        ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE"]
            .iter()
            .any(|k| cx.is(t, k))
    });
    if j == 1 && starts_constraint {
        return None;
    }
    if cx.find_seq(clause, j, &["IF", "NOT", "EXISTS"]) == Some(j) {
        j += 3;
    }
    (j < clause.len()).then_some(j)
}

/// For an `ALTER TABLE` action `ALTER [COLUMN] name REST...`, the index of
/// the word after the column's name.
pub(super) fn altered_column(cx: &Context, clause: &[&Token]) -> Option<usize> {
    if !clause.first().is_some_and(|t| cx.is(t, "ALTER")) {
        return None;
    }
    let j = if clause.get(1).is_some_and(|t| cx.is(t, "COLUMN")) {
        2
    } else {
        1
    };
    (j + 1 < clause.len()).then_some(j + 1)
}

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
