//! Adding, editing or removing a migration file makes the next
//! `cargo build` re-embed the folder, given the documented one-line
//! build script; editing the lint baseline rebuilds even without it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/rebuild-test")
}

fn cargo(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target())
        .env_remove("MIGRATE_MACROS_MANIFEST_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn build_and_run(dir: &Path) -> String {
    cargo(dir, &["build", "--quiet", "--offline"]);
    cargo(dir, &["run", "--quiet", "--offline"])
}

/// A crate outside the workspace that embeds `migrations` with `macro_args`,
/// and, when asked, the documented one-line build script.
fn probe(macro_args: &str, build_script: bool) -> tempfile::TempDir {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    let krate = tempfile::tempdir().unwrap();
    let dir = krate.path();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"rebuild-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n\
             migrate-runtime = {{ path = \"{}\" }}\n\n[workspace]\n",
            workspace.join("migrate-runtime").display()
        ),
    )
    .unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    if build_script {
        std::fs::write(
            dir.join("build.rs"),
            "fn main() { println!(\"cargo:rerun-if-changed=migrations\"); }\n",
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        format!(
            "static M: migrate_runtime::Migrations = migrate_runtime::embed_migrations!({macro_args});\n\
             fn main() {{ for m in M.iter() {{ println!(\"{{}} {{}}\", m.file_name(), m.sql().trim()); }} }}\n"
        ),
    )
    .unwrap();
    krate
}

#[test]
fn adding_editing_and_removing_files_re_embeds_the_folder() {
    let krate = probe("\"migrations\"", true);
    let dir = krate.path();
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("001_first.sql"), "SELECT 1;\n").unwrap();
    assert_eq!(build_and_run(dir), "001_first.sql SELECT 1;\n");

    std::fs::write(migrations.join("002_added.sql"), "SELECT 2;\n").unwrap();
    assert_eq!(build_and_run(dir), "001_first.sql SELECT 1;\n002_added.sql SELECT 2;\n");

    std::fs::write(migrations.join("001_first.sql"), "SELECT 'edited';\n").unwrap();
    assert_eq!(
        build_and_run(dir),
        "001_first.sql SELECT 'edited';\n002_added.sql SELECT 2;\n"
    );

    std::fs::remove_file(migrations.join("001_first.sql")).unwrap();
    assert_eq!(build_and_run(dir), "002_added.sql SELECT 2;\n");
}

#[test]
fn editing_the_lint_baseline_rebuilds_even_without_a_build_script() {
    let krate = probe("\"migrations\", deny_warnings", false);
    let dir = krate.path();
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("001_first.sql"), "SELECT 1;\n").unwrap();
    std::fs::write(migrations.join("002_drop.sql"), "DROP TABLE IF EXISTS legacy;\n").unwrap();
    std::fs::write(migrations.join("lint-baseline"), "002\n").unwrap();
    assert_eq!(
        build_and_run(dir),
        "001_first.sql SELECT 1;\n002_drop.sql DROP TABLE IF EXISTS legacy;\n"
    );

    std::fs::write(migrations.join("lint-baseline"), "001\n").unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--offline"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target())
        .env_remove("MIGRATE_MACROS_MANIFEST_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "002 is no longer history: {stderr}");
    assert!(
        stderr.contains("migrations/002_drop.sql:1:1: `DROP TABLE` destroys"),
        "{stderr}"
    );

    std::fs::write(migrations.join("lint-baseline"), "002\n").unwrap();
    cargo(dir, &["build", "--quiet", "--offline"]);
}
