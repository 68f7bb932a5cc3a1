//! The syntax check (feature `syntax-check`) against a live server: every
//! compile-fail case of `ui/syntax/` is sent to PostgreSQL as one simple
//! query, and the server's error message and position must be the ones the
//! build printed (the case's checked-in `.stderr`, which `compile_fail`
//! holds to the build's real output).

use migrate_core::position::line_col;
use migrate_core::syntax::offset_of;
use std::path::{Path, PathBuf};
use tokio_postgres::error::ErrorPosition;

/// Each case: its migration file, and the `file:line:col: message` the
/// build reported for it.
fn cases() -> Vec<(PathBuf, (u32, u32), String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/syntax");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "stderr"))
        .map(|stderr| {
            let first = std::fs::read_to_string(&stderr)
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string();
            let reported = first.strip_prefix("error: ui/syntax/").unwrap();
            let (path, rest) = reported.split_once(".sql:").unwrap();
            let mut parts = rest.splitn(3, ':');
            let line = parts.next().unwrap().parse().unwrap();
            let column = parts.next().unwrap().parse().unwrap();
            let message = parts.next().unwrap().trim().to_string();
            (root.join(format!("{path}.sql")), (line, column), message)
        })
        .collect();
    cases.sort();
    cases
}

#[tokio::test]
async fn the_build_reports_each_syntax_error_where_the_server_does() {
    let cases = cases();
    assert!(cases.len() >= 12, "{} cases", cases.len());
    let (_, _, pool) = migrate_tests::fresh().await;
    let client = pool.get().await.unwrap();
    for (file, built, built_message) in cases {
        let text = std::fs::read_to_string(&file).unwrap();
        let error = client
            .batch_execute(&text)
            .await
            .expect_err(&format!("the server accepted {}", file.display()));
        let db = error
            .as_db_error()
            .unwrap_or_else(|| panic!("{}: {error}", file.display()));
        let position = match db.position() {
            Some(ErrorPosition::Original(p)) => *p as usize,
            other => panic!("{}: the server gave position {other:?}", file.display()),
        };
        let server = line_col(&text, offset_of(&text, position));
        assert_eq!(
            (built, built_message.as_str()),
            (server, db.message()),
            "{}: the build's line, column and message, then the server's",
            file.display()
        );
    }
}
