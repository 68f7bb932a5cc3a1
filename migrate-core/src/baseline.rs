//! The lint baseline: the file `lint-baseline` in the migrations folder
//! holds the newest version whose files are history. Lints stay silent for
//! files up to it and speak in full for newer ones; errors are never
//! silenced. The macro and `migrate check` both read it through `load_dir`.

use crate::diagnostic::Diagnostic;
use crate::position::line_col;

/// The baseline's file name, inside the migrations folder.
pub const FILE_NAME: &str = "lint-baseline";

/// The text `migrate lint-baseline` writes for `through`.
pub fn render(through: u64) -> String {
    format!(
        "# Lints stay silent for migration files up to this version: they ran before\n\
         # the lints did, and nobody edits them. Newer files are linted in full.\n\
         # `migrate check --all` lists every finding; `migrate lint-baseline` rewrites this file.\n\
         {through:03}\n"
    )
}

/// The version in a baseline file's text: one line of digits; blank lines
/// and `#` comments are ignored. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<u64, Diagnostic> {
    let help = "the file holds one line with the version of the newest migration that is history, e.g. `042`; `migrate lint-baseline` writes it";
    let mut found = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset + (line.len() - line.trim_start().len());
        offset += line.len();
        let value = line.trim();
        if value.is_empty() || value.starts_with('#') {
            continue;
        }
        let at = line_col(text, start);
        if found.is_some() {
            return Err(Diagnostic::error(file, "the lint baseline holds more than one version")
                .at(at)
                .help(help));
        }
        match value.parse::<u64>() {
            Ok(v) if value.bytes().all(|b| b.is_ascii_digit()) => found = Some(v),
            _ => {
                return Err(Diagnostic::error(file, format!("`{value}` is not a migration version"))
                    .at(at)
                    .help(help))
            }
        }
    }
    found.ok_or_else(|| Diagnostic::error(file, "the lint baseline holds no version").help(help))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes() {
        assert_eq!(parse("b", &render(342)), Ok(342));
        assert_eq!(parse("b", "  7\r\n\n"), Ok(7));
    }

    #[test]
    fn bad_baselines_are_errors_at_their_line() {
        let e = parse("m/lint-baseline", "# history\n 342_init.sql\n").unwrap_err();
        assert_eq!(e.location(), "m/lint-baseline:2:2");
        assert_eq!(e.message, "`342_init.sql` is not a migration version");
        assert!(parse("b", "1\n2\n").unwrap_err().message.contains("more than one"));
        assert!(parse("b", "# nothing\n").unwrap_err().message.contains("no version"));
        assert!(parse("b", "-1").is_err());
    }
}
