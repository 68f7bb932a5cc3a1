//! Many findings at once (a history no one wrote with these lints in
//! mind): one line per lint instead of hundreds.

use super::Lint;
use crate::diagnostic::{Diagnostic, Severity};

/// Above this many findings, a build prints [`summarize`]'s lines instead.
pub const SUMMARY_ABOVE: usize = 20;

/// How many file names a summary line shows.
const FIRST_FILES: usize = 3;

/// The lint a warning of `check_source` reports: the `[name]` its message ends with.
pub fn lint_of(warning: &Diagnostic) -> Option<Lint> {
    let name = warning.message.strip_suffix(']')?.rsplit_once('[')?.1;
    Lint::from_name(name)
}

/// One warning per lint among `warnings` of the folder shown as `dir`:
/// how many, in how many files, the first few, and the command that lists
/// them all.
pub fn summarize(warnings: &[Diagnostic], dir: &str) -> Vec<Diagnostic> {
    let dir = dir.trim_end_matches('/');
    Lint::ALL
        .iter()
        .filter_map(|&lint| {
            let found: Vec<&Diagnostic> = warnings.iter().filter(|w| lint_of(w) == Some(lint)).collect();
            let mut files: Vec<&str> = found.iter().map(|w| w.file.as_str()).collect();
            files.dedup();
            files.first()?;
            let shown: Vec<&str> = files
                .iter()
                .take(FIRST_FILES)
                .map(|f| f.strip_prefix(dir).map_or(*f, |f| f.trim_start_matches('/')))
                .collect();
            let more = if files.len() > FIRST_FILES { ", ..." } else { "" };
            Some(Diagnostic {
                severity: Severity::Warning,
                file: dir.to_string(),
                position: None,
                message: format!(
                    "{} of `{}` in {}: {}{more}",
                    plural(found.len(), "finding"),
                    lint.name(),
                    plural(files.len(), "file"),
                    shown.join(", ")
                ),
                help: Some(format!(
                    "`migrate check {dir}` lists them all; for files that already ran, `migrate lint-baseline {dir}` makes them history"
                )),
            })
        })
        .collect()
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_source;

    #[test]
    fn one_line_per_lint_with_the_first_files() {
        let mut warnings = Vec::new();
        for v in 1..=5 {
            let sql = "CREATE TABLE t (id int);\nDROP TABLE IF EXISTS u;";
            let file = check_source(&format!("m/{v:03}_x.sql"), Some(v), sql.as_bytes()).unwrap();
            warnings.extend(file.warnings);
        }
        let file = check_source("m/006_y.sql", Some(6), b"TRUNCATE t;").unwrap();
        warnings.extend(file.warnings);
        let lines: Vec<String> = summarize(&warnings, "m/").iter().map(|d| d.message.clone()).collect();
        assert_eq!(
            lines,
            vec![
                "5 findings of `missing-if-not-exists` in 5 files: 001_x.sql, 002_x.sql, 003_x.sql, ...",
                "6 findings of `destructive-change` in 6 files: 001_x.sql, 002_x.sql, 003_x.sql, ...",
            ]
        );
        assert_eq!(lint_of(&warnings[0]), Some(Lint::MissingIfNotExists));
        let one = summarize(&warnings[10..], "m");
        assert_eq!(one[0].message, "1 finding of `destructive-change` in 1 file: 006_y.sql");
        assert_eq!(one[0].location(), "m");
    }
}
