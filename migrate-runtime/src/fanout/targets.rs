//! What the fan-out runs on: schemas found by a `LIKE` pattern, databases
//! listed in a file.

use crate::connector::Connector;
use crate::error::Target;
use crate::sql::quote_literal;
use crate::Error;
use deadpool_postgres::Pool;
use std::path::Path;

/// The schemas of the pool's database whose names match the SQL `LIKE`
/// `pattern` (`%` any run, `_` one character, `\` escapes), in name order;
/// PostgreSQL's own schemas (`pg_*`, `information_schema`) never match.
pub async fn schemas_like(pool: &Pool, pattern: &str) -> Result<Vec<Target>, Error> {
    let client = pool
        .get()
        .await
        .map_err(|e| Error::Connect(format!("listing the schemas that match `{pattern}`: {e}")))?;
    let sql = format!(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE {} AND nspname NOT LIKE 'pg\\_%' \
         AND nspname <> 'information_schema' ORDER BY nspname COLLATE \"C\"",
        quote_literal(pattern)
    );
    let names: Vec<Target> = client
        .simple_query(&crate::session::pinned(&sql))
        .await
        .map_err(Error::db(format!("listing the schemas that match `{pattern}`")))?
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(|n| Target::Schema(n.to_string())),
            _ => None,
        })
        .collect();
    if names.is_empty() {
        return Err(Error::SchemaPattern(format!(
            "no schema of this database matches `{pattern}` (SQL LIKE: `%` matches any run of characters, \
             `_` one character, `\\_` an underscore); check the pattern and the database"
        )));
    }
    Ok(names)
}

/// The one schema a pattern without `%` names, for creating it: `LIKE`'s
/// `\` escapes are dropped and `_` is an underscore.
#[cfg(feature = "cli")]
pub(crate) fn exact_schema(pattern: &str) -> Result<Target, Error> {
    if pattern.contains('%') || pattern.is_empty() {
        return Err(Error::SchemaPattern(format!(
            "--create-schemas creates the one schema the pattern names, but `{pattern}` {}; \
             name one schema (e.g. tenant_42), or drop --create-schemas to migrate the schemas that exist",
            if pattern.is_empty() {
                "is empty"
            } else {
                "has `%` and may match many"
            }
        )));
    }
    let mut name = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        name.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
    }
    Ok(Target::Schema(name))
}

/// The databases listed in `file`: one URL (or libpq key=value string) a
/// line, each with its own TLS settings; empty lines and lines starting
/// with `#` are skipped. Errors name the line and never show a password.
pub fn read_url_file(file: &Path) -> Result<Vec<Target>, Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::UrlFile(vec![format!("{}: cannot read the file: {e}", file.display())]))?;
    parse_urls(&text, &file.display().to_string())
}

fn parse_urls(text: &str, file: &str) -> Result<Vec<Target>, Error> {
    let mut targets: Vec<(usize, Target)> = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let url = line.trim();
        if url.is_empty() || url.starts_with('#') {
            continue;
        }
        if let Err(e) = Connector::new(url) {
            problems.push(format!(
                "{file}:{line_no}: {e}; write postgresql://user:password@host:port/database?sslmode=verify-full&..."
            ));
            continue;
        }
        match targets.iter().find(|(_, t)| t == &Target::Database(url.to_string())) {
            Some((first, _)) => problems.push(format!(
                "{file}:{line_no}: the same URL as line {first}; list each database once"
            )),
            None => targets.push((line_no, Target::Database(url.to_string()))),
        }
    }
    if targets.is_empty() && problems.is_empty() {
        problems.push(format!(
            "{file}: lists no database URL (one a line; `#` starts a comment line)"
        ));
    }
    if !problems.is_empty() {
        return Err(Error::UrlFile(problems));
    }
    Ok(targets.into_iter().map(|(_, t)| t).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_files_skip_comments_and_blank_lines_and_name_bad_lines() {
        let text = "# shard list\n\npostgresql://u:secret@a:5432/one\n  postgresql://u@b/two  \n";
        let targets = parse_urls(text, "urls.txt").unwrap();
        assert_eq!(
            targets,
            vec![
                Target::Database("postgresql://u:secret@a:5432/one".into()),
                Target::Database("postgresql://u@b/two".into())
            ]
        );
        assert_eq!(targets[0].to_string(), "postgresql://u:***@a:5432/one");
        assert_eq!(
            format!("{:?}", targets[0]),
            "Database(\"postgresql://u:***@a:5432/one\")"
        );
        assert_ne!(targets[0].server(), targets[1].server());

        let e = parse_urls(
            "postgresql://u:secret@a:x/one\npostgresql://a/b\npostgresql://a/b\n",
            "f",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("the database URL file cannot be used:"), "{e}");
        assert!(e.contains("f:1: the database URL is malformed"), "{e}");
        assert!(e.contains("f:3: the same URL as line 2"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = parse_urls("postgresql://a/b?sslmode=verify-everything\n", "f").unwrap_err();
        assert!(
            matches!(&e, Error::UrlFile(lines) if lines[0].starts_with("f:1: sslmode=verify-everything is not valid")),
            "{e}"
        );
        let e = parse_urls("# nothing\n", "f").unwrap_err().to_string();
        assert!(e.contains("f: lists no database URL"), "{e}");
    }

    #[test]
    fn debug_never_shows_a_password() {
        for text in [
            "host=h user=u password='s3 cr3t'",
            "postgresql://u@h/db?password=s3cr3t",
            "postgresql://u:s3/cr3t@h/db",
            "postgresql://u:s3@cr3t@h/db",
        ] {
            let shown = format!("{:?}", vec![Target::Database(text.into()), Target::Schema("s".into())]);
            assert!(!shown.contains("cr3t"), "{shown}");
            assert!(shown.contains("Schema(\"s\")"), "{shown}");
        }
    }

    #[test]
    #[cfg(feature = "cli")]
    fn creating_takes_one_exact_name() {
        assert_eq!(exact_schema("tenant_42").unwrap(), Target::Schema("tenant_42".into()));
        assert_eq!(exact_schema("a\\_b\\\\").unwrap(), Target::Schema("a_b\\".into()));
        let e = exact_schema("tenant_%").unwrap_err().to_string();
        assert!(e.contains("has `%` and may match many"), "{e}");
    }
}
