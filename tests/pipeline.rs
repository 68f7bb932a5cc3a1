//! Pending files are sent without waiting for each reply; each one applies
//! only if the one before it did, so a failure stops everything after it.

use migrate_runtime::Error;
use migrate_tests::{fresh, migrations, value};

/// Fifty files, each recording itself in `effects`; file `fail` divides by
/// the number of rows in `switch`, which the test fills to let it pass.
fn fifty(fail: usize) -> Vec<(String, String)> {
    (1..=50)
        .map(|n| {
            let body = match n {
                1 => "CREATE TABLE effects (n int PRIMARY KEY);\nCREATE TABLE switch (on_ int);\n".to_string(),
                n if n == fail => {
                    "CREATE TABLE blocked (n int);\nSELECT 1 / (SELECT count(*) FROM switch)::int;\n".to_string()
                }
                n => format!("CREATE TABLE step_{n} (id int);\n"),
            };
            (
                format!("{n:03}_step.sql"),
                format!("{body}INSERT INTO effects VALUES ({n});"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_failure_in_file_k_leaves_exactly_the_files_before_it_and_a_rerun_finishes() {
    for k in [2, 30, 50] {
        let (_, _, pool) = fresh().await;
        let files = fifty(k);
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
        let (_dir, set) = migrations(&borrowed);
        let Error::Migration(m) = set.run(&pool).await.unwrap_err() else {
            panic!("expected a migration error")
        };
        assert_eq!(
            (m.file_name.as_str(), m.line, m.code.as_str()),
            (format!("{k:03}_step.sql").as_str(), 2, "22012")
        );
        let before = (k - 1).to_string();
        assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, before);
        assert_eq!(value(&pool, "SELECT count(*) FROM effects").await, before);
        assert_eq!(value(&pool, "SELECT max(n) FROM effects").await, before);
        assert_eq!(value(&pool, "SELECT to_regclass('blocked') IS NULL").await, "t");
        value(&pool, "INSERT INTO switch VALUES (1) RETURNING 1").await;
        let report = set.run(&pool).await.unwrap();
        assert_eq!(report.applied.len(), 51 - k);
        assert_eq!(value(&pool, "SELECT count(*) FROM effects").await, "50");
    }
}
