//! status, dry runs, verify, baseline and forget against a real server.

use migrate_runtime::{embed_migrations, Error, Migrations, State};
use migrate_tests::{fresh, migrations, rows, value};

static EXAMPLE: Migrations = embed_migrations!("../migrations");

#[tokio::test]
async fn db_init_py_scenario_baseline_then_up() {
    let (_, _, pool) = fresh().await;
    let client = pool.get().await.unwrap();
    for m in EXAMPLE.iter().take(2) {
        client.batch_execute(m.sql()).await.unwrap();
    }
    drop(client);
    let recorded = EXAMPLE.runner().baseline(&pool, 2).await.unwrap();
    assert_eq!(recorded, vec!["001_subscription_system.sql", "002_fix_features.sql"]);
    assert!(
        EXAMPLE.runner().baseline(&pool, 2).await.unwrap().is_empty(),
        "a second baseline records nothing"
    );
    let report = EXAMPLE.run(&pool).await.unwrap();
    let applied: Vec<&str> = report.applied.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(applied, vec!["003_add_email_verification.sql"]);
    let history = rows(
        &pool,
        "SELECT filename, checksum IS NOT NULL, duration_ms IS NULL FROM schema_migrations ORDER BY id",
    )
    .await;
    assert_eq!(
        history[0],
        vec![
            Some("001_subscription_system.sql".into()),
            Some("t".into()),
            Some("t".into())
        ]
    );
    assert_eq!(history[2][2].as_deref(), Some("f"), "the applied file has a duration");
}

#[tokio::test]
async fn baseline_refuses_unknown_versions_and_databases_with_later_ones() {
    let (_, _, pool) = fresh().await;
    let e = EXAMPLE.runner().baseline(&pool, 7).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("no embedded migration has it (embedded: 001, 002, 003)"),
        "{e}"
    );
    EXAMPLE.run(&pool).await.unwrap();
    let (_d, shorter) = migrations(&[("001_subscription_system.sql", "SELECT 1;")]);
    let e = shorter.runner().baseline(&pool, 1).await.unwrap_err();
    assert!(matches!(e, Error::CannotBaseline { through: 1, .. }), "{e}");
    assert!(e.to_string().contains("002_fix_features.sql is already applied"), "{e}");
}

#[migrate_runtime::test(EXAMPLE)]
async fn forget_removes_exactly_one_named_row_so_the_file_runs_again(pool: deadpool_postgres::Pool) {
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "3");
    let e = EXAMPLE.runner().forget(&pool, "003_add_email.sql").await.unwrap_err();
    assert!(
        e.to_string().contains("did you mean 003_add_email_verification.sql?"),
        "{e}"
    );
    let row = EXAMPLE
        .runner()
        .forget(&pool, "003_add_email_verification.sql")
        .await
        .unwrap();
    assert_eq!(row.file_name, "003_add_email_verification.sql");
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "2");
    let report = EXAMPLE.run(&pool).await.unwrap();
    assert_eq!(
        report.applied[0].file_name, "003_add_email_verification.sql",
        "idempotent file runs again"
    );
}

#[tokio::test]
async fn status_shows_every_state_and_verify_fails_on_changes() {
    let (_, _, pool) = fresh().await;
    let (_d, old) = migrations(&[
        ("001_a.sql", "SELECT 1;"),
        ("002_b.sql", "SELECT 2;"),
        ("003_c.sql", "SELECT 3;"),
        ("009_z.sql", "SELECT 9;"),
    ]);
    old.run(&pool).await.unwrap();
    let (_d, new) = migrations(&[
        ("001_a.sql", "SELECT 1;"),
        ("003_c.sql", "SELECT 'changed';"),
        ("004_d.sql", "SELECT 4;"),
    ]);
    let plan = new.runner().status(&pool).await.unwrap();
    let states: Vec<(&str, &State)> = plan.entries.iter().map(|e| (e.file_name.as_str(), &e.state)).collect();
    assert_eq!(states[0], ("001_a.sql", &State::Applied));
    assert_eq!(states[1], ("002_b.sql", &State::Missing));
    assert!(matches!(states[2], ("003_c.sql", State::Changed { .. })));
    assert_eq!(states[3], ("004_d.sql", &State::Pending));
    assert_eq!(states[4], ("009_z.sql", &State::Future));
    let table = plan.render();
    assert!(table.starts_with("VERSION  FILE       STATE    APPLIED AT"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("004      004_d.sql  pending")),
        "{table}"
    );

    let e = new.runner().verify(&pool).await.unwrap_err().to_string();
    assert!(
        e.contains("003_c.sql was edited") && e.contains("002_b.sql is recorded as applied"),
        "{e}"
    );
    assert!(old.runner().verify(&pool).await.is_ok());
}

#[tokio::test]
async fn a_dry_run_lists_the_plan_and_applies_nothing() {
    let (_, _, pool) = fresh().await;
    let pending = EXAMPLE.runner().target(2).dry_run(&pool).await.unwrap();
    let names: Vec<&str> = pending.iter().map(|m| m.file_name()).collect();
    assert_eq!(names, vec!["001_subscription_system.sql", "002_fix_features.sql"]);
    assert_eq!(
        value(
            &pool,
            "SELECT to_regclass('schema_migrations') IS NULL AND to_regclass('tiers') IS NULL"
        )
        .await,
        "t"
    );
}
