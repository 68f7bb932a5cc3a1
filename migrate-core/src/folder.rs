//! Reads a migrations folder: every `*.sql` file must be a valid migration.

use crate::baseline;
use crate::diagnostic::Diagnostic;
use crate::down;
use crate::files::{SourceDown, SourceMigration, SourceRepeatable};
use crate::name;
use crate::repeatable;
use crate::source::check_source;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a folder holds: its valid migrations in version order, and every
/// problem found. The folder is usable only when `problems` is empty.
#[derive(Debug, Clone, Default)]
pub struct Folder {
    pub migrations: Vec<SourceMigration>,
    /// Down files, in version order.
    pub downs: Vec<SourceDown>,
    /// Files of `repeatable/`, in name order.
    pub repeatables: Vec<SourceRepeatable>,
    pub problems: Vec<Diagnostic>,
    /// The newest version among the files named `NNN_name.sql`.
    pub newest: Option<u64>,
    /// The folder's lint baseline, when it has a valid one.
    pub baseline: Option<Baseline>,
}

/// A folder's `lint-baseline` file: files up to `through` are history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    pub through: u64,
    pub path: PathBuf,
}

const NAME_RULE: &str =
    "migration files are named `NNN_name.sql`: at least three digits, `_`, then lowercase letters, digits and `_`";

impl Folder {
    /// Lint warnings of the files newer than the baseline: versioned, down,
    /// then repeatable.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        let downs = self
            .downs
            .iter()
            .filter(|d| !self.is_history(d.version))
            .flat_map(|d| &d.file.warnings);
        let repeatables = self.repeatables.iter().flat_map(|r| &r.file.warnings);
        self.migrations
            .iter()
            .filter(|m| !self.is_history(m.version))
            .flat_map(|m| &m.file.warnings)
            .chain(downs)
            .chain(repeatables)
    }

    /// Lint warnings of every file, the history included.
    pub fn all_warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        let downs = self.downs.iter().flat_map(|d| &d.file.warnings);
        let repeatables = self.repeatables.iter().flat_map(|r| &r.file.warnings);
        self.migrations
            .iter()
            .flat_map(|m| &m.file.warnings)
            .chain(downs)
            .chain(repeatables)
    }

    /// The syntax errors of the files newer than the baseline (history ran
    /// in production already): versioned, down, then repeatable.
    #[cfg(feature = "syntax-check")]
    fn syntax_problems(&self, shown_as: &str) -> Vec<Diagnostic> {
        let downs = self
            .downs
            .iter()
            .filter(|d| !self.is_history(d.version))
            .map(|d| (&d.file_name, &d.file));
        let repeatables = self.repeatables.iter().map(|r| (&r.file_name, &r.file));
        self.migrations
            .iter()
            .filter(|m| !self.is_history(m.version))
            .map(|m| (&m.file_name, &m.file))
            .chain(downs)
            .chain(repeatables)
            .filter_map(|(name, file)| crate::syntax::diagnostic(&format!("{shown_as}/{name}"), file))
            .collect()
    }

    /// Whether the baseline makes `version` history, exempt from lints.
    pub fn is_history(&self, version: u64) -> bool {
        self.baseline.as_ref().is_some_and(|b| version <= b.through)
    }
}

/// Loads `dir`, naming files in messages as `shown_as/FILE`. Fails only when
/// the folder itself cannot be read; problems with files are collected.
/// Sub-folders, hidden files and files not ending in `.sql` are ignored.
pub fn load_dir(dir: &Path, shown_as: &str) -> Result<Folder, Diagnostic> {
    let shown_as = shown_as.trim_end_matches('/');
    let entries = std::fs::read_dir(dir).map_err(|e| {
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        Diagnostic::error(
            shown_as,
            format!("cannot read the migrations folder `{}`: {e}", absolute.display()),
        )
        .help("create the folder, or pass the path of your migrations folder relative to the crate's Cargo.toml")
    })?;

    let mut folder = Folder::default();
    let shown = |file: &str| format!("{shown_as}/{file}");
    let mut candidates = Vec::new();
    let mut down_candidates = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Diagnostic::error(shown_as, format!("cannot list the folder: {e}")))?;
        let path = entry.path();
        if path.is_dir() {
            continue;
        }
        let raw = entry.file_name();
        let lossy = raw.to_string_lossy().into_owned();
        if lossy.starts_with('.') || !lossy.to_ascii_lowercase().ends_with(".sql") {
            continue;
        }
        match raw.into_string() {
            Ok(file_name) if down::is_down(&file_name) => down_candidates.push((file_name, path)),
            Ok(file_name) => candidates.push((file_name, path)),
            Err(_) => folder
                .problems
                .push(Diagnostic::error(shown(&lossy), "the file name is not valid UTF-8").help(NAME_RULE)),
        }
    }
    candidates.sort();

    // Suggested numbers for files without one continue after every number
    // in use, valid or not, so that no two suggestions collide.
    let mut next_free = candidates
        .iter()
        .filter_map(|(n, _)| leading_version(n))
        .max()
        .map_or(1, |v| v.saturating_add(1));
    let mut by_version: BTreeMap<u64, Vec<(String, PathBuf)>> = BTreeMap::new();
    folder.newest = candidates
        .iter()
        .filter_map(|(n, _)| name::parse(n, 0).ok().map(|p| p.version))
        .max();
    for (file_name, path) in candidates {
        match name::parse(&file_name, next_free) {
            Ok(parsed) => by_version.entry(parsed.version).or_default().push((file_name, path)),
            Err(problem) => {
                if leading_version(&file_name).is_none() {
                    next_free = next_free.saturating_add(1);
                }
                folder.problems.push(
                    Diagnostic::error(
                        shown(&file_name),
                        format!(
                            "`{file_name}` is not a valid migration file name: {}",
                            problem.reasons.join("; ")
                        ),
                    )
                    .help(format!("rename it to `{}` ({NAME_RULE})", problem.suggestion)),
                )
            }
        }
    }

    for (version, files) in by_version {
        if files.len() > 1 {
            let names: Vec<String> = files.iter().map(|(n, _)| format!("`{n}`")).collect();
            for (file_name, _) in &files[1..] {
                folder.problems.push(
                    Diagnostic::error(
                        shown(file_name),
                        format!(
                            "version {version} is used by {}; each version needs exactly one file",
                            names.join(" and ")
                        ),
                    )
                    .help(match name::parse(file_name, 0) {
                        Ok(parsed) => {
                            let renamed = name::file_name(next_free, &parsed.description);
                            next_free = next_free.saturating_add(1);
                            format!("rename it to `{renamed}` (the next free number), or merge the files")
                        }
                        Err(_) => "give it the next free number, or merge the files".to_string(),
                    }),
                );
            }
            continue;
        }
        let (file_name, path) = files.into_iter().next().expect("one file per version here");
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                folder.problems.push(Diagnostic::error(
                    shown(&file_name),
                    format!("cannot read the file: {e}"),
                ));
                continue;
            }
        };
        match check_source(&shown(&file_name), Some(version), &bytes) {
            Ok(file) => folder.migrations.push(SourceMigration {
                version,
                file_name,
                path,
                file,
            }),
            Err(problems) => folder.problems.extend(problems),
        }
    }
    read_baseline(dir, &shown(baseline::FILE_NAME), &mut folder);
    folder.problems.extend(crate::squash::check(&folder.migrations, &shown));
    let (downs, problems) = down::check(down_candidates, &folder.migrations, &shown);
    folder.downs = downs;
    folder.problems.extend(problems);
    let (repeatables, problems) = repeatable::load(dir, shown_as);
    folder.repeatables = repeatables;
    folder.problems.extend(problems);
    #[cfg(feature = "syntax-check")]
    {
        let problems = folder.syntax_problems(shown_as);
        folder.problems.extend(problems);
    }
    Ok(folder)
}

/// Reads `dir/lint-baseline` into `folder`, if the file exists.
fn read_baseline(dir: &Path, shown: &str, folder: &mut Folder) {
    let path = dir.join(baseline::FILE_NAME);
    let text = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            return folder
                .problems
                .push(Diagnostic::error(shown, format!("cannot read the file: {e}")))
        }
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    match baseline::parse(shown, &text) {
        Err(problem) => folder.problems.push(problem),
        Ok(through) if folder.newest.is_none_or(|newest| through > newest) => folder.problems.push(
            Diagnostic::error(
                shown,
                format!(
                    "the lint baseline is {through}, above the newest migration{}: files written later up to {through} would never be linted",
                    folder.newest.map_or(String::new(), |n| format!(" ({n})"))
                ),
            )
            .help("set it to the newest migration that already ran; `migrate lint-baseline` writes the newest version present"),
        ),
        Ok(through) => folder.baseline = Some(Baseline { through, path }),
    }
}

fn leading_version(file_name: &str) -> Option<u64> {
    let digits: String = file_name.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, Folder) {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql) in files {
            std::fs::write(dir.path().join(name), sql).unwrap();
        }
        let loaded = load_dir(dir.path(), "migrations").unwrap();
        (dir, loaded)
    }

    #[test]
    fn loads_in_numeric_order_and_ignores_other_files() {
        let (dir, f) = folder(&[
            ("1000_z.sql", "SELECT 3;"),
            ("002_b.sql", "SELECT 2;"),
            ("README.md", "x"),
            (".gitkeep", ""),
        ]);
        std::fs::create_dir(dir.path().join("old")).unwrap();
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        let names: Vec<_> = f.migrations.iter().map(|m| m.file_name.as_str()).collect();
        assert_eq!(names, vec!["002_b.sql", "1000_z.sql"]);
    }

    #[test]
    fn every_bad_file_is_reported() {
        let (_d, f) = folder(&[
            ("001_ok.sql", "SELECT 1;"),
            ("1_feature.sql", "SELECT 1;"),
            ("check_features.sql", "SELECT 1;"),
            ("002_a.sql", "BEGIN;"),
        ]);
        assert_eq!(f.problems.len(), 3, "{:?}", f.problems);
        let text: Vec<String> = f.problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.contains("rename it to `003_check_features.sql`")),
            "{text:?}"
        );
    }

    #[test]
    fn duplicate_versions_name_both_files() {
        let (_d, f) = folder(&[("001_a.sql", "SELECT 1;"), ("0001_b.sql", "SELECT 1;")]);
        assert_eq!(f.problems.len(), 1);
        assert!(
            f.problems[0].message.contains("`0001_b.sql` and `001_a.sql`"),
            "{}",
            f.problems[0]
        );
    }

    #[test]
    fn the_baseline_silences_history_but_not_errors() {
        let drop = "DROP TABLE IF EXISTS t;";
        let files = [("001_a.sql", drop), ("002_b.sql", drop), ("003_c.sql", drop)];
        let (_d, f) = folder(&files);
        assert_eq!(f.warnings().count(), 3);
        let (_d, f) = folder(&[files[0], files[1], files[2], ("lint-baseline", "# history\n002\n")]);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        assert_eq!(f.baseline.as_ref().map(|b| b.through), Some(2));
        let files_warned: Vec<_> = f.warnings().map(|w| w.file.as_str()).collect();
        assert_eq!(files_warned, vec!["migrations/003_c.sql"]);
        assert_eq!(f.all_warnings().count(), 3);
        let (_d, f) = folder(&[("001_a.sql", "BEGIN;"), ("002_b.sql", drop), ("lint-baseline", "2")]);
        assert_eq!(f.problems.len(), 1, "{:?}", f.problems);
        assert!(f.problems[0].message.contains("transaction control"));
    }

    #[test]
    fn a_baseline_above_the_newest_file_or_unreadable_is_an_error() {
        let (_d, f) = folder(&[("001_a.sql", "SELECT 1;"), ("lint-baseline", "5\n")]);
        assert_eq!(
            f.problems[0].to_string().lines().next().unwrap(),
            "migrations/lint-baseline: the lint baseline is 5, above the newest migration (1): files written later up to 5 would never be linted"
        );
        let (_d, f) = folder(&[("001_a.sql", "SELECT 1;"), ("lint-baseline", "001_a.sql\n")]);
        assert_eq!(f.problems[0].location(), "migrations/lint-baseline:1:1");
        assert!(f.baseline.is_none());
    }

    #[test]
    fn a_missing_folder_names_the_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = load_dir(&missing, "nope").unwrap_err();
        assert!(err.message.contains(&missing.display().to_string()), "{err}");
    }
}
