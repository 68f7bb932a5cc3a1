//! Without `DATABASE_URL` the example keeps a cluster in
//! `$TMPDIR/migrate-example-postgres`: a folder of its own, never one that
//! someone planted there.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

const FOLDER: &str = "migrate-example-postgres";

fn app(tmpdir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_example-app"))
        .env_remove("DATABASE_URL")
        .env("TMPDIR", tmpdir)
        .output()
        .unwrap()
}

/// A temporary folder others may enter, as the cluster's user must when
/// the tests run as root.
fn tmpdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn a_planted_symbolic_link_is_refused_and_its_target_left_alone() {
    let tmp = tmpdir();
    let target = tmp.path().join("someone-elses");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(target.join("theirs.txt"), "x").unwrap();
    std::os::unix::fs::symlink(&target, tmp.path().join(FOLDER)).unwrap();
    let before = std::fs::metadata(&target).unwrap();

    let out = app(tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{FOLDER}: it is a symbolic link")) && stderr.contains("remove it"),
        "{stderr}"
    );
    assert!(stderr.contains("TMPDIR"), "{stderr}");

    let after = std::fs::metadata(&target).unwrap();
    assert_eq!(
        (after.mode(), after.uid(), after.gid()),
        (before.mode(), before.uid(), before.gid())
    );
    let entries: Vec<_> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["theirs.txt"]);
}

#[test]
fn a_second_run_finds_its_folder_and_the_database_up_to_date() {
    let tmp = tmpdir();
    let first = app(tmp.path());
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.contains("complete: 3 applied, 0 already up to date"), "{stdout}");
    let folder = std::fs::symlink_metadata(tmp.path().join(FOLDER)).unwrap();
    assert!(folder.is_dir());
    assert_eq!(folder.mode() & 0o777, 0o700);

    let second = app(tmp.path());
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(stdout.contains("complete: 0 applied, 3 already up to date"), "{stdout}");
}
