//! `-- migrate: ...` comments: instructions to the runner inside a file.

use std::time::Duration;

/// A recognised directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// Run the file statement by statement, outside a transaction block.
    NoTransaction,
    /// Silence these lints (by name) for the file or one statement.
    Allow(Vec<String>),
    /// The file cannot be reverted: `down` refuses to go below it.
    Irreversible,
    /// The file replaces versions `from..=through` (written by `migrate squash`).
    Squashes { from: u64, through: u64 },
    /// The file's `lock_timeout` (`-- migrate: lock-timeout 5s`).
    LockTimeout(Timeout),
    /// The file's `statement_timeout` (`-- migrate: statement-timeout 10min`).
    StatementTimeout(Timeout),
    /// A squashed file replaces this migration file (one line per file).
    Replaces(String),
}

/// A timeout a directive sets: a duration, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// No timeout.
    Off,
    /// Give up after this long.
    After(Duration),
}

/// Why a `-- migrate:` comment is not a directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The text after `migrate:` names no directive.
    Unknown(String),
    /// A timeout directive whose value is not a duration.
    BadDuration {
        /// `lock-timeout` or `statement-timeout`.
        directive: &'static str,
        /// What is wrong with the value.
        message: String,
    },
}

const KNOWN: &[&str] = &[
    "no-transaction",
    "allow(LINT, ...)",
    "lock-timeout DURATION",
    "statement-timeout DURATION",
    "irreversible",
    "squashes NNN-NNN",
    "replaces NNN_name.sql",
];

/// How to write a duration, for error messages.
pub const DURATION_HELP: &str =
    "write a whole number and a unit, `ms`, `s`, `min`, `h` or `d` (for example `5s` or `10min`), or `off`";

/// `None` for an ordinary comment; the directive, or why it is not one, for
/// a `-- migrate:` comment (the keyword in any case).
pub fn parse(comment: &str) -> Option<Result<Directive, Problem>> {
    let body = comment.strip_prefix("--")?.trim_start();
    let keyword = body.get(..8)?;
    if !keyword.eq_ignore_ascii_case("migrate:") {
        return None;
    }
    let value = body[8..].trim();
    if value == "no-transaction" {
        return Some(Ok(Directive::NoTransaction));
    }
    if value == "irreversible" {
        return Some(Ok(Directive::Irreversible));
    }
    if let Some(file) = value.strip_prefix("replaces ") {
        let file = file.trim();
        let valid = crate::name::parse(file, 0).is_ok();
        return Some(if valid {
            Ok(Directive::Replaces(file.to_string()))
        } else {
            Err(Problem::Unknown(value.to_string()))
        });
    }
    if let Some(range) = value.strip_prefix("squashes ") {
        return Some(squashes(range.trim()).ok_or_else(|| Problem::Unknown(value.to_string())));
    }
    for (directive, make) in [
        ("lock-timeout", Directive::LockTimeout as fn(Timeout) -> Directive),
        ("statement-timeout", Directive::StatementTimeout),
    ] {
        if let Some(duration) = value
            .strip_prefix(directive)
            .filter(|d| d.is_empty() || d.starts_with(' '))
        {
            return Some(
                parse_timeout(duration.trim())
                    .map(make)
                    .map_err(|message| Problem::BadDuration { directive, message }),
            );
        }
    }
    let allowed = value.strip_prefix("allow(").and_then(|v| v.strip_suffix(')'));
    Some(match allowed {
        Some(list) => Ok(Directive::Allow(
            list.split(',').map(|l| l.trim().to_string()).collect(),
        )),
        None => Err(Problem::Unknown(value.to_string())),
    })
}

/// `001-042`: two versions, the first not above the second.
fn squashes(range: &str) -> Option<Directive> {
    let (from, through) = range.split_once('-')?;
    let number = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (from, through) = (number(from)?, number(through)?);
    (from <= through).then_some(Directive::Squashes { from, through })
}

/// Parses `500ms`, `5s`, `10min`, `1h`, `1d` (PostgreSQL's unit names) or
/// `off`; the error says what is wrong (see [`DURATION_HELP`] for the fix).
pub fn parse_timeout(text: &str) -> Result<Timeout, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(Timeout::Off);
    }
    if text.is_empty() {
        return Err("the duration is missing".to_string());
    }
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let unit = text[digits..].trim_start();
    let Ok(number) = text[..digits].parse::<u64>() else {
        return Err(format!("`{text}` does not start with a whole number"));
    };
    let millis = match unit {
        "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "" => return Err(format!("`{text}` has no unit")),
        _ if unit.starts_with('.') => {
            return Err(format!(
                "`{text}` is not a whole number; use a smaller unit, such as `ms`"
            ))
        }
        other => return Err(format!("`{other}` is not a unit of time")),
    };
    // PostgreSQL keeps timeouts in milliseconds as a 32-bit integer.
    match number.checked_mul(millis).filter(|&ms| ms <= i32::MAX as u64) {
        Some(0) => Err(format!("`{text}` is zero; write `off` for no timeout")),
        Some(ms) => Ok(Timeout::After(Duration::from_millis(ms))),
        None => Err(format!("`{text}` is longer than PostgreSQL allows (about 24 days)")),
    }
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
        assert_eq!(parse("-- migrate: notx"), Some(Err(Problem::Unknown("notx".into()))));
        assert_eq!(parse("-- migrate: irreversible"), Some(Ok(Directive::Irreversible)));
        assert_eq!(
            parse("-- migrate: squashes 001-042"),
            Some(Ok(Directive::Squashes { from: 1, through: 42 }))
        );
        assert_eq!(
            parse("-- migrate: squashes 042-001"),
            Some(Err(Problem::Unknown("squashes 042-001".into())))
        );
        assert_eq!(
            parse("-- migrate: replaces 001_a.sql"),
            Some(Ok(Directive::Replaces("001_a.sql".into())))
        );
        assert_eq!(
            parse("-- migrate: replaces a.sql"),
            Some(Err(Problem::Unknown("replaces a.sql".into())))
        );
        assert_eq!(
            parse("-- migrate: lock-timeout 5s"),
            Some(Ok(Directive::LockTimeout(Timeout::After(Duration::from_secs(5)))))
        );
        assert_eq!(
            parse("-- migrate: statement-timeout off"),
            Some(Ok(Directive::StatementTimeout(Timeout::Off)))
        );
        assert!(matches!(
            parse("-- migrate: lock-timeout 5 seconds"),
            Some(Err(Problem::BadDuration {
                directive: "lock-timeout",
                ..
            }))
        ));
        assert_eq!(
            parse("-- migrate: lock-timeouts 5s"),
            Some(Err(Problem::Unknown("lock-timeouts 5s".into())))
        );
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
    fn durations_take_postgresql_units() {
        let ms = |t: &str| match parse_timeout(t) {
            Ok(Timeout::After(d)) => Ok(d.as_millis()),
            Ok(Timeout::Off) => Ok(0),
            Err(e) => Err(e),
        };
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms("5s"), Ok(5_000));
        assert_eq!(ms("10 min"), Ok(600_000));
        assert_eq!(ms("2h"), Ok(7_200_000));
        assert_eq!(ms("OFF"), Ok(0));
        assert_eq!(ms("5"), Err("`5` has no unit".into()));
        assert_eq!(ms("5sec"), Err("`sec` is not a unit of time".into()));
        assert!(ms("1.5s").unwrap_err().contains("not a whole number"));
        assert_eq!(ms("s"), Err("`s` does not start with a whole number".into()));
        assert_eq!(ms("0s"), Err("`0s` is zero; write `off` for no timeout".into()));
        assert!(ms("30d").unwrap_err().contains("longer than PostgreSQL allows"));
        assert_eq!(ms(""), Err("the duration is missing".into()));
    }

    #[test]
    fn suggests_the_closest_directive() {
        assert!(suggest("no-transactions").starts_with("did you mean `-- migrate: no-transaction`?"));
        assert!(suggest("frobnicate").starts_with("known directives"));
    }
}
