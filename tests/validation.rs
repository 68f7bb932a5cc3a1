//! History is validated against the migrations before anything is applied.

use migrate_runtime::{Error, Policies, Policy};
use migrate_tests::{fresh, migrations, value, Logs};

const A: (&str, &str) = ("001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);");
const B: (&str, &str) = ("002_b.sql", "CREATE TABLE IF NOT EXISTS b (id int);");
const C: (&str, &str) = ("003_c.sql", "CREATE TABLE IF NOT EXISTS c (id int);");

fn validation(e: Error) -> Vec<String> {
    match e {
        Error::Validation(invalid) => invalid.problems.into_iter().map(|p| p.message).collect(),
        other => panic!("expected a validation error, got {other}"),
    }
}

#[tokio::test]
async fn an_edited_applied_file_is_an_error_naming_both_checksums() {
    let (_, _, pool) = fresh().await;
    let (_d, before) = migrations(&[A, B]);
    before.run(&pool).await.unwrap();
    let (_d, after) = migrations(&[A, ("002_b.sql", "CREATE TABLE IF NOT EXISTS b (id bigint);"), C]);
    let problems = validation(after.run(&pool).await.unwrap_err());
    let old = before.find("002_b.sql").unwrap().checksum_hex();
    let new = after.find("002_b.sql").unwrap().checksum_hex();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("002_b.sql was edited after it was applied"),
        "{problems:?}"
    );
    assert!(problems[0].contains(&old) && problems[0].contains(&new), "{problems:?}");
    assert_eq!(
        value(&pool, "SELECT to_regclass('c') IS NULL").await,
        "t",
        "nothing applied"
    );

    let lenient = Policies {
        changed: Policy::Warn,
        ..Policies::default()
    };
    let report = after.runner().policies(lenient).run(&pool).await.unwrap();
    assert_eq!(report.applied.len(), 1);
    assert!(report.warnings[0].contains("was edited"));
}

#[tokio::test]
async fn line_endings_are_not_an_edit() {
    let (_, _, pool) = fresh().await;
    let (_d, lf) = migrations(&[("001_a.sql", "SELECT 1;\nSELECT 2;\n")]);
    lf.run(&pool).await.unwrap();
    let (_d, crlf) = migrations(&[("001_a.sql", "\u{feff}SELECT 1;\r\nSELECT 2;\r\n")]);
    assert!(crlf.run(&pool).await.unwrap().up_to_date());
}

#[tokio::test]
async fn a_missing_file_inside_the_range_is_an_error() {
    let (_, _, pool) = fresh().await;
    let (_d, all) = migrations(&[A, B, C]);
    all.run(&pool).await.unwrap();
    let (_d, without_b) = migrations(&[A, C]);
    let problems = validation(without_b.run(&pool).await.unwrap_err());
    assert!(
        problems[0].starts_with("002_b.sql is recorded as applied but no such migration exists"),
        "{problems:?}"
    );
    let ignore = Policies {
        missing: Policy::Ignore,
        ..Policies::default()
    };
    assert!(without_b
        .runner()
        .policies(ignore)
        .run(&pool)
        .await
        .unwrap()
        .warnings
        .is_empty());
}

#[tokio::test]
async fn a_renamed_applied_file_is_not_run_again() {
    let (_, _, pool) = fresh().await;
    let (_d, before) = migrations(&[A, B]);
    before.run(&pool).await.unwrap();
    let (_d, renamed) = migrations(&[A, ("002_b_renamed.sql", B.1)]);
    let problems = validation(renamed.run(&pool).await.unwrap_err());
    assert!(
        problems[0].contains("has the version of the applied 002_b.sql"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn newer_rows_from_a_newer_release_are_tolerated_with_a_warning() {
    let (_, _, pool) = fresh().await;
    let (_d, newer) = migrations(&[A, B, C]);
    newer.run(&pool).await.unwrap();
    let (_d, older) = migrations(&[A, B]);
    let (logs, _guard) = Logs::capture();
    let report = older.run(&pool).await.unwrap();
    assert!(report.up_to_date());
    assert!(
        report.warnings[0].starts_with("003_c.sql is applied but newer than every migration"),
        "{report:?}"
    );
    assert!(logs.text().contains("WARN"), "{}", logs.text());
    let strict = Policies {
        future: Policy::Fail,
        ..Policies::default()
    };
    assert_eq!(
        validation(older.runner().policies(strict).run(&pool).await.unwrap_err()).len(),
        1
    );
}

#[tokio::test]
async fn a_late_merged_file_is_applied_with_a_warning() {
    let (_, _, pool) = fresh().await;
    let (_d, without_b) = migrations(&[A, C]);
    without_b.run(&pool).await.unwrap();
    let (_d, all) = migrations(&[A, B, C]);
    let strict = Policies {
        out_of_order: Policy::Fail,
        ..Policies::default()
    };
    assert!(validation(all.runner().policies(strict).run(&pool).await.unwrap_err())[0].contains("out of order"));
    let report = all.run(&pool).await.unwrap();
    assert_eq!(report.applied[0].file_name, "002_b.sql");
    assert!(
        report.warnings[0].starts_with("002_b.sql is older than the newest applied migration"),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_target_stops_at_its_version() {
    let (_, _, pool) = fresh().await;
    let (_d, all) = migrations(&[A, B, C]);
    assert_eq!(all.runner().target(2).run(&pool).await.unwrap().applied.len(), 2);
    assert!(all.runner().target(2).run(&pool).await.unwrap().up_to_date());
    assert_eq!(all.run(&pool).await.unwrap().applied.len(), 1);
}
