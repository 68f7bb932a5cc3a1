//! `-- migrate: ...` comments: instructions to the runner inside a file.

/// A recognised directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// Run the file statement by statement, outside a transaction block.
    NoTransaction,
    /// Silence these lints (by name) for the file or one statement.
    Allow(Vec<String>),
}

const KNOWN: &[&str] = &["no-transaction", "allow(LINT, ...)"];

/// `None` for an ordinary comment; the directive, or the unknown text after
/// `migrate:`, for a `-- migrate:` comment (the keyword in any case).
pub fn parse(comment: &str) -> Option<Result<Directive, String>> {
    let body = comment.strip_prefix("--")?.trim_start();
    let keyword = body.get(..8)?;
    if !keyword.eq_ignore_ascii_case("migrate:") {
        return None;
    }
    let value = body[8..].trim();
    if value == "no-transaction" {
        return Some(Ok(Directive::NoTransaction));
    }
    let allowed = value.strip_prefix("allow(").and_then(|v| v.strip_suffix(')'));
    Some(match allowed {
        Some(list) => Ok(Directive::Allow(
            list.split(',').map(|l| l.trim().to_string()).collect(),
        )),
        None => Err(value.to_string()),
    })
}

/// Help for an unknown directive: the closest known one, and the list.
pub fn suggest(unknown: &str) -> String {
    let closest = KNOWN
        .iter()
        .min_by_key(|k| edit_distance(unknown, k))
        .filter(|k| edit_distance(unknown, k) <= 3);
    let list = KNOWN
        .iter()
        .map(|k| format!("`-- migrate: {k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest {
        Some(k) => format!("did you mean `-- migrate: {k}`? Known directives: {list}"),
        None => format!("known directives: {list}"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directives_and_ignores_other_comments() {
        assert_eq!(parse("-- migrate: no-transaction"), Some(Ok(Directive::NoTransaction)));
        assert_eq!(parse("--Migrate:no-transaction  "), Some(Ok(Directive::NoTransaction)));
        assert_eq!(parse("-- migrate: notx"), Some(Err("notx".into())));
        assert_eq!(
            parse("-- migrate: allow(destructive-change, blocking-index)"),
            Some(Ok(Directive::Allow(vec![
                "destructive-change".into(),
                "blocking-index".into()
            ])))
        );
        assert_eq!(parse("-- Migration 003: add email"), None);
        assert_eq!(parse("-- a comment"), None);
    }

    #[test]
    fn suggests_the_closest_directive() {
        assert!(suggest("no-transactions").starts_with("did you mean `-- migrate: no-transaction`?"));
        assert!(suggest("frobnicate").starts_with("known directives"));
    }
}
