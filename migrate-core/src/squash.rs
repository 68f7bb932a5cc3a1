//! Squashed files: `NNN_squashed.sql`, written by `migrate squash`, leads
//! with `-- migrate: squashes FROM-NNN` and replaces those versions.

use crate::diagnostic::Diagnostic;
use crate::files::SourceMigration;

/// The build-time rules of a squashed file: its range ends at its own
/// version, and it is the folder's first file.
pub fn check(migrations: &[SourceMigration], shown: &dyn Fn(&str) -> String) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for (i, m) in migrations.iter().enumerate() {
        let Some((from, through)) = m.file.squashes else {
            if !m.file.replaces.is_empty() {
                problems.push(
                    Diagnostic::error(
                        shown(&m.file_name),
                        "`-- migrate: replaces` needs `-- migrate: squashes FROM-THROUGH`",
                    )
                    .help("only a squashed file replaces other files; remove the `replaces` lines"),
                );
            }
            continue;
        };
        for file in &m.file.replaces {
            let version = crate::name::parse(file, 0).map_or(0, |n| n.version);
            if !(from..=through).contains(&version) {
                problems.push(
                    Diagnostic::error(
                        shown(&m.file_name),
                        format!("`-- migrate: replaces {file}` lies outside the squashed range {from:03}-{through:03}"),
                    )
                    .help("list only the files the squash replaced"),
                );
            }
        }
        if through != m.version {
            problems.push(
                Diagnostic::error(
                    shown(&m.file_name),
                    format!(
                        "`-- migrate: squashes {from:03}-{through:03}` must end at the file's own version {:03}",
                        m.version
                    ),
                )
                .help(format!("write `-- migrate: squashes {from:03}-{:03}`", m.version)),
            );
        }
        if i > 0 {
            problems.push(
                Diagnostic::error(
                    shown(&m.file_name),
                    format!(
                        "a squashed file must be the first migration, but `{}` comes before it",
                        migrations[0].file_name
                    ),
                )
                .help("delete the files the squash replaced, or squash again through this version"),
            );
        }
    }
    problems
}

/// Turns `pg_dump` output into a squashed migration that passes our
/// checks: drops the `\restrict`/`\unrestrict` meta-commands of pg_dump
/// 15.14+, makes its session settings (`SET x = y`, `set_config(..., false)`)
/// local to the file's transaction, and leads with `-- migrate: squashes`.
/// `replaced` names the files it replaces; `shown` names the result in
/// messages. The dump must hold rows as `INSERT`s (`--column-inserts`).
pub fn plain_sql(
    dump: &str,
    from: &str,
    through: &str,
    replaced: &[String],
    shown: &str,
) -> Result<String, Vec<Diagnostic>> {
    let kept: String = dump
        .lines()
        .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
        .map(|l| format!("{l}\n"))
        .collect();
    let split = crate::split::split(&kept).map_err(|e| {
        vec![Diagnostic::error(
            shown,
            format!("pg_dump output cannot be read as SQL: {e:?}"),
        )]
    })?;
    let mut body = String::with_capacity(kept.len());
    let mut copied = 0;
    for statement in &split.statements {
        let words = crate::statement::Words::of(&kept, &split.tokens, statement);
        let text = statement.text(&kept);
        let local = if words.is(0, "SET") && !words.is(1, "LOCAL") && !words.is(1, "SESSION") {
            Some(format!("SET LOCAL{}", &text[3..]))
        } else if text.starts_with("SELECT pg_catalog.set_config(") && text.ends_with(", false);") {
            Some(format!("{}, true);", &text[..text.len() - ", false);".len()]))
        } else {
            None
        };
        if let Some(local) = local {
            body.push_str(&kept[copied..statement.start]);
            body.push_str(&local);
            copied = statement.end;
        }
    }
    body.push_str(&kept[copied..]);
    let header = format!(
        "-- migrate: squashes {from}-{through}\n\
         -- Written by `migrate squash` from pg_dump output. A database that applied\n\
         -- every file below records this one without running it.\n{}\
         -- Its statements are what pg_dump wrote, so the lints do not apply.\n\
         -- migrate: allow({})\n",
        replaced
            .iter()
            .map(|f| format!("-- migrate: replaces {f}\n"))
            .collect::<String>(),
        crate::lint::Lint::ALL.map(|l| l.name()).join(", ")
    );
    let text = header + &body;
    crate::check_source(shown, None, text.as_bytes())?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_dump_output_becomes_a_checked_squashed_file() {
        let dump = "\\restrict AbC123\n--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n\
                    SELECT pg_catalog.set_config('search_path', '', false);\n\
                    CREATE TABLE public.t (id integer);\n\
                    CREATE FUNCTION public.f() RETURNS int LANGUAGE plpgsql\n    SET search_path TO 'public'\n    AS $$\nBEGIN\nRETURN 1;\nEND\n$$;\n\
                    INSERT INTO public.t (id) VALUES (1), (2);\n\\unrestrict AbC123\n";
        let text = plain_sql(dump, "001", "003", &["001_a.sql".into()], "m/003_squashed.sql").unwrap();
        assert!(text.starts_with("-- migrate: squashes 001-003\n"), "{text}");
        assert!(!text.contains("restrict"), "{text}");
        assert!(text.contains("\nSET LOCAL statement_timeout = 0;\n"), "{text}");
        assert!(text.contains("set_config('search_path', '', true);"), "{text}");
        assert!(
            text.contains("    SET search_path TO 'public'\n"),
            "function clauses stay: {text}"
        );
        let checked = crate::check_source("m/003_squashed.sql", Some(3), text.as_bytes()).unwrap();
        assert_eq!(checked.squashes, Some((1, 3)));
        assert_eq!(checked.replaces, ["001_a.sql"]);
        assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    }

    #[test]
    fn replaces_lines_need_a_squash_and_lie_in_its_range() {
        let dir = tempfile::tempdir().unwrap();
        let squashed =
            "-- migrate: squashes 001-003\n-- migrate: replaces 001_a.sql\n-- migrate: replaces 004_d.sql\nSELECT 1;";
        std::fs::write(dir.path().join("003_squashed.sql"), squashed).unwrap();
        std::fs::write(
            dir.path().join("004_d.sql"),
            "-- migrate: replaces 001_a.sql\nSELECT 1;",
        )
        .unwrap();
        let folder = crate::load_dir(dir.path(), "m").unwrap();
        let problems: Vec<String> = folder.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("`-- migrate: replaces 004_d.sql` lies outside the squashed range 001-003"));
        assert!(problems[1].starts_with("m/004_d.sql: `-- migrate: replaces` needs `-- migrate: squashes"));
    }

    #[test]
    fn other_meta_commands_are_refused() {
        let e = plain_sql("\\connect other\nSELECT 1;\n", "001", "001", &[], "f").unwrap_err();
        assert!(e[0].message.contains("`\\connect`"), "{e:?}");
    }
}
