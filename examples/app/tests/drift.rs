//! `example-app migrate diff`: the mounted subcommand compares the database
//! with what the binary embeds, and exits as diff(1) does.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn app(url: &str, tmpdir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_example-app"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("TMPDIR", tmpdir)
        .output()
        .unwrap()
}

#[test]
fn migrate_diff_compares_with_the_embedded_set() {
    let cluster = throwaway_pg::shared().unwrap_or_else(|e| panic!("cannot start a throwaway PostgreSQL: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = runtime.block_on(cluster.create_database()).unwrap();
    // The scratch cluster's folder goes here; as root the cluster's user must enter it.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    assert!(app(&url, tmp.path(), &[]).status.success());
    let out = app(&url, tmp.path(), &["migrate", "diff"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.contains("No differences from the schema the migrations build on template migrate_tpl_"),
        "{stdout}"
    );
    assert!(stdout.contains("(built now)"), "{stdout}");

    let database = url.rsplit('/').next().unwrap();
    runtime
        .block_on(cluster.execute(database, "CREATE INDEX hotfix_idx ON profiles (display_name)"))
        .unwrap();
    let out = app(&url, tmp.path(), &["migrate", "diff"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stdout.contains("\nindex public.hotfix_idx: not created by the migrations\n1 difference(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("(cached)"), "{stdout}");

    // A database that is not there: an error, not a difference.
    let out = app(&cluster.url("no_such_database"), tmp.path(), &["migrate", "diff"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no_such_database"),
        "{out:?}"
    );
}
