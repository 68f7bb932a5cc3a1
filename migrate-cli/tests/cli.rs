//! The `migrate` binary, run as a user would.

use std::path::Path;
use std::process::{Command, Output};

fn migrate(dir: &Path, args: &[&str], url: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migrate"));
    cmd.args(args).current_dir(dir).env_remove("DATABASE_URL");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cluster() -> &'static throwaway_pg::Cluster {
    throwaway_pg::shared().unwrap_or_else(|e| panic!("cannot start a throwaway PostgreSQL: {e}"))
}

#[test]
fn new_numbers_names_and_never_clobbers() {
    let dir = tempfile::tempdir().unwrap();
    let out = migrate(dir.path(), &["new", "Add", "Email Verification"], None);
    assert!(out.status.success(), "{:?}", text(&out));
    let created = dir.path().join("migrations/001_add_email_verification.sql");
    let header = std::fs::read_to_string(&created).unwrap();
    assert!(
        header.contains("-- Migration 001: Add Email Verification\n"),
        "{header}"
    );
    assert!(header.contains("-- Date: 20"), "{header}");
    std::fs::write(dir.path().join("migrations/007_x.sql"), "SELECT 1;").unwrap();
    let out = migrate(dir.path(), &["new", "next one"], None);
    assert_eq!(text(&out).0.trim(), "Created migrations/008_next_one.sql");
    std::fs::write(&created, "SELECT 'kept';").unwrap();
    let out = migrate(dir.path(), &["new", "add email verification"], None);
    assert!(!out.status.success());
    assert_eq!(
        text(&out).1.trim(),
        "error: migrations/001_add_email_verification.sql already exists with this name; give the new migration another name"
    );
    assert_eq!(std::fs::read_to_string(&created).unwrap(), "SELECT 'kept';");
    assert!(!dir.path().join("migrations/009_add_email_verification.sql").exists());
}

#[test]
fn check_prints_every_problem_as_file_line_col_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("001_ok.sql"), "SELECT 1;").unwrap();
    std::fs::write(m.join("002_tx.sql"), "BEGIN;\nSELECT 1;\n  COMMIT;").unwrap();
    std::fs::write(m.join("1_feature.sql"), "SELECT 1;").unwrap();
    let out = migrate(dir.path(), &["check"], None);
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = text(&out);
    assert!(stdout.is_empty());
    let problems: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("  help:")).collect();
    assert_eq!(problems.len(), 3, "{stderr}");
    assert!(
        problems[0].starts_with("migrations/1_feature.sql: `1_feature.sql` is not a valid"),
        "{stderr}"
    );
    assert!(
        problems[1].starts_with("migrations/002_tx.sql:1:1: transaction control `BEGIN`"),
        "{stderr}"
    );
    assert!(
        problems[2].starts_with("migrations/002_tx.sql:3:3: transaction control `COMMIT`"),
        "{stderr}"
    );

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let out = migrate(dir.path(), &["check", example.to_str().unwrap()], None);
    assert!(out.status.success());
    assert_eq!(text(&out), (String::new(), String::new()), "the example prints nothing");
}

#[test]
fn check_reports_syntax_errors_where_the_server_would() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(
        m.join("001_a.sql"),
        "CREATE TABLE IF NOT EXISTS a (id int)\nCREATE TABLE IF NOT EXISTS b (id int);\n",
    )
    .unwrap();
    std::fs::write(
        m.join("002_b.sql"),
        "-- migrate: allow(syntax)\nCREAT TABLE IF NOT EXISTS c (id int);\n",
    )
    .unwrap();
    let out = migrate(dir.path(), &["check"], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out).1;
    let problems: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("  help:")).collect();
    assert_eq!(
        problems,
        ["migrations/001_a.sql:2:1: syntax error at or near \"CREATE\""],
        "{stderr}"
    );
}

#[tokio::test]
async fn operations_against_a_database() {
    let url = cluster().create_database().await.unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = migrate(&root, &["up", "--dry-run", "--target", "2"], Some(&url));
    assert_eq!(
        text(&out).0,
        "Would apply 2 migration(s), in this order:\n  001_subscription_system.sql\n  002_fix_features.sql\n"
    );
    let out = migrate(&root, &["up"], Some(&url));
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out).1.contains("Applied: 003_add_email_verification.sql"),
        "{:?}",
        text(&out)
    );
    let (status, _) = text(&migrate(&root, &["status"], Some(&url)));
    assert_eq!(status.lines().count(), 4, "{status}");
    assert!(
        status
            .lines()
            .nth(3)
            .unwrap()
            .starts_with("003      003_add_email_verification.sql  applied"),
        "{status}"
    );
    let out = migrate(&root, &["verify"], Some(&url));
    assert_eq!(text(&out).0, "OK: 3 applied migration(s) match their files\n");
    let out = migrate(&root, &["forget", "003_add_email_verification.sql"], Some(&url));
    assert!(
        text(&out)
            .0
            .starts_with("Removed 003_add_email_verification.sql (applied at 20"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn connection_problems_are_one_clear_line_without_the_password() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let port = cluster().port();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cases = [
        (
            "postgresql://bob:s3cr3t@127.0.0.1:notaport/db",
            "the database URL is malformed",
        ),
        (
            &format!("postgresql://bob:s3cr3t@127.0.0.1:{closed}/db") as &str,
            "PostgreSQL did not accept connections within",
        ),
        (
            &format!("postgresql://bob:s3cr3t@127.0.0.1:{port}/postgres"),
            "password authentication failed for user \"bob\"",
        ),
        (&cluster().url("nope"), "database \"nope\" does not exist"),
    ];
    for (url, expected) in cases {
        let out = migrate(&root, &["status", "--connect-timeout", "1"], Some(url));
        assert_eq!(out.status.code(), Some(1), "{url}");
        let (_, stderr) = text(&out);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains(expected), "{url}: {stderr}");
        assert!(
            !stderr.contains("s3cr3t") && !stderr.contains(cluster().password()),
            "{stderr}"
        );
    }
}

#[test]
fn check_reports_lint_warnings_and_can_deny_them() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("001_drop.sql"), "SELECT 1;\nDROP TABLE IF EXISTS legacy;\n").unwrap();
    let out = migrate(dir.path(), &["check"], None);
    assert!(out.status.success(), "warnings alone do not fail");
    let (_, stderr) = text(&out);
    assert!(
        stderr.starts_with("migrations/001_drop.sql:2:1: `DROP TABLE` destroys"),
        "{stderr}"
    );
    assert!(stderr.contains("[destructive-change]"), "{stderr}");
    let out = migrate(dir.path(), &["check", "--deny-warnings"], None);
    assert_eq!(out.status.code(), Some(1));
    std::fs::write(
        m.join("001_drop.sql"),
        "SELECT 1;\nDROP TABLE IF EXISTS legacy; -- migrate: allow(destructive-change)\n",
    )
    .unwrap();
    let out = migrate(dir.path(), &["check", "--deny-warnings"], None);
    assert!(out.status.success());
    assert_eq!(text(&out).1, "");
}

#[test]
fn lint_baseline_makes_the_history_quiet_and_check_all_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("001_old.sql"), "CREATE TABLE t (id int);\n").unwrap();
    std::fs::write(m.join("002_old.sql"), "DROP TABLE IF EXISTS legacy;\n").unwrap();
    let out = migrate(dir.path(), &["check", "--deny-warnings"], None);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));

    let out = migrate(dir.path(), &["lint-baseline"], None);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        text(&out).0,
        "Wrote migrations/lint-baseline: lints are silent for files up to 002 (2 finding(s); `migrate check --all` lists them) and speak for every newer file\n"
    );
    let written = std::fs::read_to_string(m.join("lint-baseline")).unwrap();
    assert_eq!(written.lines().last(), Some("002"), "{written}");

    let out = migrate(dir.path(), &["check", "--deny-warnings"], None);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        text(&out).1,
        "2 finding(s) in files up to the lint baseline (2) not shown; `migrate check --all migrations` shows them\n"
    );
    let out = migrate(dir.path(), &["check", "--all"], None);
    let (_, stderr) = text(&out);
    let findings: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("  help:")).collect();
    assert_eq!(findings.len(), 2, "{stderr}");
    assert!(findings[0].starts_with("migrations/001_old.sql:1:1:"), "{stderr}");
    assert!(findings[1].starts_with("migrations/002_old.sql:1:1:"), "{stderr}");

    std::fs::write(m.join("003_new.sql"), "ALTER TABLE t RENAME COLUMN id TO key;\n").unwrap();
    let out = migrate(dir.path(), &["check", "--deny-warnings"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .starts_with("migrations/003_new.sql:1:15: renaming a column of `t`"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn the_baseline_never_silences_errors_and_must_be_valid() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("001_tx.sql"), "SELECT 1;\nCOMMIT;\n").unwrap();
    std::fs::write(m.join("lint-baseline"), "1\n").unwrap();
    let out = migrate(dir.path(), &["check"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .starts_with("migrations/001_tx.sql:2:1: transaction control `COMMIT`"),
        "{:?}",
        text(&out)
    );

    std::fs::write(m.join("001_tx.sql"), "SELECT 1;\n").unwrap();
    std::fs::write(m.join("lint-baseline"), "# history\n12\n").unwrap();
    let out = migrate(dir.path(), &["check"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .starts_with("migrations/lint-baseline: the lint baseline is 12, above the newest migration (1)"),
        "{:?}",
        text(&out)
    );

    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("migrations")).unwrap();
    let out = migrate(empty.path(), &["lint-baseline"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out).1,
        "error: migrations holds no migration file, so there is no history to exempt from the lints\n"
    );
}

/// The cluster's own client program `name`, else the one on PATH.
fn pg_program(name: &str) -> std::path::PathBuf {
    let local = cluster().bin_dir().join(name);
    if local.exists() {
        local
    } else {
        name.into()
    }
}

/// pg_dump's output for the database at `url`, without the tracking table.
fn raw_dump(url: &str) -> String {
    let out = Command::new(pg_program("pg_dump"))
        .args([
            "--no-owner",
            "--no-privileges",
            "--exclude-table=schema_migrations*",
            "--dbname",
            url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// [`raw_dump`] without the random `\restrict` key and row timestamps.
fn dump(url: &str) -> String {
    raw_dump(url)
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .map(|l| {
            let fields: Vec<&str> = l
                .split('\t')
                .map(|f| {
                    if f.len() > 20 && f.ends_with("+00") && f.as_bytes()[4] == b'-' {
                        "<timestamp>"
                    } else {
                        f
                    }
                })
                .collect();
            fields.join("\t") + "\n"
        })
        .collect()
}

/// A project folder holding the repository's example set and a 004.
fn example_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    for entry in std::fs::read_dir(example).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), m.join(entry.file_name())).unwrap();
    }
    std::fs::write(
        m.join("004_add_nickname.sql"),
        "ALTER TABLE profiles ADD COLUMN IF NOT EXISTS nickname TEXT;\n",
    )
    .unwrap();
    std::fs::write(
        m.join("004_add_nickname.down.sql"),
        "ALTER TABLE profiles DROP COLUMN IF EXISTS nickname; -- migrate: allow(destructive-change)\n",
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn a_squashed_set_builds_the_same_database_as_the_files_it_replaced() {
    let project = example_project();
    let by_files = cluster().create_database().await.unwrap();
    let out = migrate(project.path(), &["up"], Some(&by_files));
    assert!(out.status.success(), "{:?}", text(&out));

    let scratch = cluster().create_database().await.unwrap();
    let out = migrate(
        project.path(),
        &["squash", "--through", "003", "--scratch-url", &scratch],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("Wrote migrations/003_squashed.sql (squashes 001-003), replacing 3 file(s)"),
        "{stdout}"
    );
    let mut left: Vec<String> = std::fs::read_dir(project.path().join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["003_squashed.sql", "004_add_nickname.down.sql", "004_add_nickname.sql"]
    );
    let squashed = std::fs::read_to_string(project.path().join("migrations/003_squashed.sql")).unwrap();
    assert!(squashed.starts_with("-- migrate: squashes 001-003\n"), "{squashed}");
    assert!(!squashed.contains("\\restrict"), "{squashed}");
    let out = migrate(project.path(), &["check", "--deny-warnings"], None);
    assert!(out.status.success(), "{:?}", text(&out));

    let from_squash = cluster().create_database().await.unwrap();
    let out = migrate(project.path(), &["up"], Some(&from_squash));
    assert!(out.status.success(), "{:?}", text(&out));
    // pg_dump prints some expressions differently once they have been
    // restored from its own output, so compare with a restored copy of
    // the database migrated file by file.
    let restored = cluster().create_database().await.unwrap();
    let dump_file = project.path().join("by_files.sql");
    std::fs::write(&dump_file, raw_dump(&by_files)).unwrap();
    let out = Command::new(pg_program("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", &restored, "-f"])
        .arg(&dump_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(dump(&from_squash), dump(&restored), "same schema and rows");

    // The database migrated file by file records the squash without running it.
    let before = dump(&by_files);
    let out = migrate(project.path(), &["up"], Some(&by_files));
    assert!(out.status.success(), "{:?}", text(&out));
    let out = migrate(project.path(), &["verify"], Some(&by_files));
    assert!(out.status.success(), "{:?}", text(&out));
    let (status, _) = text(&migrate(project.path(), &["status"], Some(&by_files)));
    assert!(status.contains("002_fix_features.sql"), "{status}");
    assert!(status.contains("applied (squashed)"), "{status}");
    assert_eq!(dump(&by_files), before, "recorded, not run");
}

#[test]
fn squash_uses_a_throwaway_cluster_by_default_and_down_reverts() {
    let project = example_project();
    let out = migrate(project.path(), &["squash", "--through", "002"], None);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("replacing 2 file(s): 001_subscription_system.sql, 002_fix_features.sql"),
        "{stdout}"
    );
    assert!(project.path().join("migrations/002_squashed.sql").exists());
    assert!(project
        .path()
        .join("migrations/003_add_email_verification.down.sql")
        .exists());
    assert!(!project
        .path()
        .join("migrations/001_subscription_system.down.sql")
        .exists());

    let url = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(cluster().create_database())
        .unwrap();
    assert!(migrate(project.path(), &["up"], Some(&url)).status.success());
    let out = migrate(project.path(), &["down", "--steps", "1"], Some(&url));
    assert_eq!(
        text(&out).0,
        "Reverted 1 migration(s):\n  004_add_nickname.sql\n",
        "{:?}",
        text(&out)
    );
    let out = migrate(project.path(), &["down", "--to", "0"], Some(&url));
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("002_squashed.sql has no down SQL"), "{stderr}");
    assert!(
        !stderr.contains("003_add"),
        "refusals name only what cannot be reverted: {stderr}"
    );
}

#[tokio::test]
async fn repeatable_files_show_in_dry_runs_up_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir_all(m.join("repeatable")).unwrap();
    std::fs::write(m.join("001_t.sql"), "CREATE TABLE IF NOT EXISTS t (id int);").unwrap();
    std::fs::write(
        m.join("repeatable/t_ids.sql"),
        "CREATE OR REPLACE VIEW t_ids AS SELECT id FROM t;",
    )
    .unwrap();
    let url = cluster().create_database().await.unwrap();
    let out = migrate(dir.path(), &["up", "--dry-run"], Some(&url));
    assert_eq!(
        text(&out).0,
        "Would apply 1 migration(s) and 1 repeatable file(s), in this order:\n  001_t.sql\n  repeatable/t_ids.sql (repeatable)\n"
    );
    let out = migrate(dir.path(), &["up"], Some(&url));
    assert_eq!(
        text(&out).0,
        "Applied 1 migration(s) and 1 repeatable file(s)\n",
        "{:?}",
        text(&out)
    );
    std::fs::write(
        m.join("repeatable/t_ids.sql"),
        "CREATE OR REPLACE VIEW t_ids AS SELECT id, 1 AS one FROM t;",
    )
    .unwrap();
    let (status, _) = text(&migrate(dir.path(), &["status"], Some(&url)));
    assert!(status.contains("R        repeatable/t_ids.sql  outdated"), "{status}");
}

#[tokio::test]
async fn up_on_many_schemas_exits_non_zero_and_names_the_broken_one() {
    let url = cluster().create_database().await.unwrap();
    let db = url.rsplit('/').next().unwrap();
    cluster()
        .execute(
            db,
            "CREATE SCHEMA shop_a; CREATE SCHEMA shop_b; CREATE SCHEMA shop_c; CREATE TABLE shop_b.items (id int, name int);",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/001_items.sql"),
        "CREATE TABLE IF NOT EXISTS items (id int);\nALTER TABLE items ADD COLUMN IF NOT EXISTS name text;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("migrations/002_first.sql"),
        "-- the first item\nINSERT INTO items (id, name) VALUES (1, 'x');\n",
    )
    .unwrap();
    let out = migrate(dir.path(), &["up", "--schemas", "shop\\_%", "--jobs", "2"], Some(&url));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("[3/3] "),
        "plain progress lines off a terminal: {stderr}"
    );
    assert!(
        stderr.ends_with(
            "error: 1 of 3 target(s) failed:\nshop_a: applied 2\n\
             shop_b: failed at 002_first.sql:2:41, SQLSTATE 22P02: invalid input syntax for type integer: \"x\"\n\
             shop_c: applied 2\n\
             3 target(s): 2 applied, 0 up to date, 0 checked, 1 failed, 0 not started\n"
        ),
        "{stderr}"
    );

    cluster()
        .execute(db, "ALTER TABLE shop_b.items ALTER COLUMN name TYPE text")
        .await
        .unwrap();
    let out = migrate(dir.path(), &["up", "--schemas", "shop\\_%"], Some(&url));
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        text(&out).0,
        "shop_a: up to date\nshop_b: applied 1\nshop_c: up to date\n\
         3 target(s): 1 applied, 2 up to date, 0 checked, 0 failed, 0 not started\n"
    );
    let out = migrate(
        dir.path(),
        &["up", "--schemas", "shop_new", "--create-schemas"],
        Some(&url),
    );
    assert_eq!(
        text(&out).0.lines().next(),
        Some("shop_new: applied 2"),
        "{:?}",
        text(&out)
    );
    let other = cluster().create_database().await.unwrap();
    std::fs::write(dir.path().join("urls.txt"), format!("# shards\n{url}\n\n{other}\n")).unwrap();
    let out = migrate(dir.path(), &["up", "--database-urls", "urls.txt"], None);
    assert!(out.status.success(), "no DATABASE_URL needed: {:?}", text(&out));
    assert!(
        text(&out)
            .0
            .ends_with("2 target(s): 2 applied, 0 up to date, 0 checked, 0 failed, 0 not started\n"),
        "{:?}",
        text(&out)
    );
    let out = migrate(dir.path(), &["verify", "--schemas", "shop%"], Some(&url));
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        text(&out)
            .0
            .matches(": 2 applied migration(s) match their files\n")
            .count(),
        4
    );
}

/// A role that logs in with `password`, over TCP with SCRAM, and a
/// database of the same name that it owns.
async fn role_and_database(role: &str, password: &str) {
    let create = [
        format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
        format!("CREATE DATABASE {role} OWNER {role}"),
    ];
    for sql in create {
        cluster().execute("postgres", &sql).await.unwrap();
    }
}

#[tokio::test]
async fn fan_out_output_never_holds_a_password_whatever_the_form() {
    role_and_database("redact_kv", "Kv S3cret").await;
    role_and_database("redact_qp", "Qp-S3cret").await;
    role_and_database("redact_sl", "Sl/S3cret").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let forms = |port: u16| {
        [
            format!("host=127.0.0.1 port={port} user=redact_kv password='Kv S3cret' dbname=redact_kv"),
            format!("postgresql://redact_qp@127.0.0.1:{port}/redact_qp?password=Qp-S3cret"),
            format!("postgresql://redact_sl:Sl/S3cret@127.0.0.1:{port}/redact_sl"),
        ]
    };
    let port = cluster().port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("urls.txt");
    std::fs::write(&file, [forms(port), forms(closed)].concat().join("\n")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");

    let out = migrate(
        &root,
        &[
            "up",
            "--database-urls",
            file.to_str().unwrap(),
            "--connect-timeout",
            "1",
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        !stdout.contains("S3cret") && !stderr.contains("S3cret"),
        "{stdout}{stderr}"
    );
    for (role, port, outcome) in [
        ("redact_kv", port, "applied 3"),
        ("redact_qp", port, "applied 3"),
        ("redact_sl", port, "applied 3"),
        ("redact_kv", closed, "failed: PostgreSQL did not accept connections"),
        ("redact_qp", closed, "failed: PostgreSQL did not accept connections"),
        ("redact_sl", closed, "failed: PostgreSQL did not accept connections"),
    ] {
        let shown = format!("postgresql://{role}:***@127.0.0.1:{port}/{role}");
        assert!(
            stderr.contains(&format!("\n{shown}: {outcome}")),
            "the summary names {shown}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("target{{name={shown}}}: PostgreSQL not ready")) == (port == closed),
            "the retries name {shown}: {stderr}"
        );
    }
}

#[tokio::test]
async fn squash_keeps_the_password_off_pg_dumps_command_line() {
    role_and_database("redact_sq", "Sq-S3cret").await;
    let project = example_project();
    // A stand-in pg_dump first on PATH records its arguments, then runs the real one.
    let bin = tempfile::tempdir().unwrap();
    let argv = bin.path().join("argv");
    let stand_in = bin.path().join("pg_dump");
    std::fs::write(
        &stand_in,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexec '{}' \"$@\"\n",
            argv.display(),
            cluster().tool("pg_dump").unwrap().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&stand_in, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.path().to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();

    let scratch = format!(
        "postgresql://redact_sq@127.0.0.1:{}/redact_sq?password=Sq-S3cret",
        cluster().port()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args(["squash", "--through", "003", "--scratch-url", &scratch])
        .current_dir(project.path())
        .env_remove("DATABASE_URL")
        .env("PATH", path)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        !stdout.contains("S3cret") && !stderr.contains("S3cret"),
        "{stdout}{stderr}"
    );
    let args = std::fs::read_to_string(&argv).unwrap();
    assert!(args.contains("--exclude-schema=migrate_squash\n"), "{args}");
    assert!(!args.contains("S3cret"), "pg_dump's arguments: {args}");
    let squashed = std::fs::read_to_string(project.path().join("migrations/003_squashed.sql")).unwrap();
    assert!(squashed.contains("CREATE TABLE public.tier_features"), "{squashed}");
}

fn database_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

/// `diff` answers as diff(1) does: 0 the same, 1 different, 2 trouble.
#[tokio::test]
async fn diff_exits_0_1_or_2_and_names_each_difference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let live = cluster().create_database().await.unwrap();
    let scratch = cluster().create_database().await.unwrap();
    assert!(migrate(&root, &["up"], Some(&live)).status.success());

    let out = migrate(&root, &["diff", "--scratch-url", &scratch], Some(&live));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let shown = migrate_runtime::redact_url(&scratch);
    assert_eq!(
        stdout,
        format!("No differences from the schema the migrations build on {shown} (3 migration(s) applied now)\n")
    );

    cluster()
        .execute(
            database_of(&live),
            "ALTER TABLE profiles ALTER COLUMN email TYPE text; CREATE TABLE hand_made (id int);",
        )
        .await
        .unwrap();
    let out = migrate(&root, &["diff", "--scratch-url", &scratch], Some(&live));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout,
        format!(
            "table public.hand_made: not created by the migrations\n\
             column public.profiles.email: type text, expected character varying(255)\n\
             2 difference(s) from the schema the migrations build on {shown} (no migration pending)\n"
        )
    );

    let out = migrate(
        &root,
        &["diff", "--scratch-url", &scratch, "--format", "json"],
        Some(&live),
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let email = &json["differences"][1];
    assert_eq!(email["kind"], "column");
    assert_eq!(email["name"], "public.profiles.email");
    assert_eq!(email["change"], "differs");
    assert_eq!(email["attribute"], "type");
    assert_eq!(email["live"], "text");
    assert_eq!(email["expected"], "character varying(255)");
    assert_eq!(json["differences"][0]["change"], "unexpected");
    assert_eq!(json["differences"].as_array().unwrap().len(), 2);
    assert_eq!(json["scratch"], format!("{shown} (no migration pending)"));

    // The database being compared is no scratch database.
    let out = migrate(&root, &["diff", "--scratch-url", &live], Some(&live));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stderr.contains(
            "is not empty: it holds the history table \"public\".\"schema_migrations\", which `diff` did not make"
        ),
        "{stderr}"
    );
    let fresh = cluster().create_database().await.unwrap();
    cluster()
        .execute(database_of(&fresh), "CREATE TABLE notes (id int)")
        .await
        .unwrap();
    let out = migrate(&root, &["diff", "--scratch-url", &fresh], Some(&live));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("it holds table public.notes and no history of these migrations"),
        "{:?}",
        text(&out)
    );

    let closed = "postgresql://postgres:s3cret@127.0.0.1:1/nowhere";
    let out = migrate(&root, &["diff", "--connect-timeout", "0"], Some(closed));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: PostgreSQL did not accept connections"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

/// Without --scratch-url the set goes into a template on a throwaway
/// cluster that outlives the process, so the next diff only reads it.
#[tokio::test]
async fn diff_builds_its_scratch_template_once() {
    let dir = example_project();
    let live = cluster().create_database().await.unwrap();
    // A set no other test has, so its template is new.
    let unique = format!("t{}_{}", std::process::id(), database_of(&live));
    std::fs::write(
        dir.path().join(format!("migrations/005_{unique}.sql")),
        format!("CREATE TABLE {unique} (id int);\n"),
    )
    .unwrap();
    assert!(migrate(dir.path(), &["up"], Some(&live)).status.success());
    let first = migrate(dir.path(), &["diff"], Some(&live));
    let (stdout, stderr) = text(&first);
    assert_eq!(first.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.starts_with("No differences from the schema the migrations build on template migrate_tpl_"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("(built now)"), "{stdout}");
    assert!(stderr.contains("Built test template"), "{stderr}");
    let second = migrate(dir.path(), &["diff"], Some(&live));
    let (stdout, stderr) = text(&second);
    assert_eq!(second.status.code(), Some(0), "{stderr}");
    assert!(stdout.trim_end().ends_with("(cached)"), "{stdout}");
    assert!(!stderr.contains("Built test template"), "{stderr}");
}

/// `schema` prints what `schema --check` reads back.
#[tokio::test]
async fn schema_check_compares_the_database_with_a_committed_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let live = cluster().create_database().await.unwrap();
    assert!(migrate(&root, &["up"], Some(&live)).status.success());
    let out = migrate(&root, &["schema"], Some(&live));
    assert!(out.status.success(), "{:?}", text(&out));
    let (schema, _) = text(&out);
    assert!(
        schema.contains("column public.profiles.email\n  null: allowed\n  of: table public.profiles\n  type: character varying(255)\n"),
        "{schema}"
    );
    assert!(!schema.contains("schema_migrations"), "{schema}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.txt");
    std::fs::write(&file, &schema).unwrap();
    let check = ["schema", "--check", file.to_str().unwrap()];

    let out = migrate(&root, &check, Some(&live));
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(text(&out).0, format!("The database matches {}\n", file.display()));

    cluster()
        .execute(
            database_of(&live),
            "ALTER TABLE profiles ALTER COLUMN display_name DROP NOT NULL",
        )
        .await
        .unwrap();
    let out = migrate(&root, &check, Some(&live));
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert_eq!(
        text(&out).0.lines().next().unwrap(),
        "column public.profiles.display_name: null allowed, expected not allowed"
    );

    std::fs::write(
        &file,
        schema.replacen("\ntable public.profiles\n", "\ntabel public.profiles\n", 1),
    )
    .unwrap();
    let out = migrate(&root, &check, Some(&live));
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains(&format!("cannot use the schema file {}: line ", file.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("`tabel public.profiles` does not start with a kind of object"),
        "{stderr}"
    );
}
