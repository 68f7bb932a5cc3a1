//! The migration set over its lifetime against a real server: reverts
//! (`NNN_name.down.sql`, stored down SQL), repeatable files
//! (`repeatable/NAME.sql`) and squashed histories.

use migrate_runtime::{embed_migrations, Error, Migrations, RepeatableState};
use migrate_tests::{dump, fresh, migrations_in, rows, value, write_files, Logs};
use std::time::Duration;

static EXAMPLE: Migrations = embed_migrations!("../migrations");

async fn history(pool: &deadpool_postgres::Pool) -> Vec<String> {
    rows(pool, "SELECT filename FROM schema_migrations ORDER BY id")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn example_set_goes_up_down_and_up_again_to_the_same_schema_and_rows() {
    let (url, _, pool) = fresh().await;
    let empty = dump(&url);
    EXAMPLE.run(&pool).await.unwrap();
    let migrated = dump(&url);
    assert!(migrated.contains("CREATE TABLE public.tier_features"), "{migrated}");

    let reverted = EXAMPLE.runner().revert_to(&pool, 0).await.unwrap();
    let names: Vec<&str> = reverted.iter().map(|r| r.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "003_add_email_verification.sql",
            "002_fix_features.sql",
            "001_subscription_system.sql"
        ]
    );
    assert!(reverted.iter().all(|r| !r.from_stored_sql));
    assert_eq!(dump(&url), empty, "down to 0 leaves what was there before");
    assert!(history(&pool).await.is_empty());

    EXAMPLE.run(&pool).await.unwrap();
    assert_eq!(dump(&url), migrated, "up again gives the same schema and rows");
}

#[tokio::test]
async fn the_down_sql_is_stored_with_the_row_and_steps_revert_the_newest() {
    let (_, _, pool) = fresh().await;
    EXAMPLE.run(&pool).await.unwrap();
    let stored = value(
        &pool,
        "SELECT down_sql FROM schema_migrations WHERE filename = '003_add_email_verification.sql'",
    )
    .await;
    assert_eq!(
        stored,
        include_str!("../migrations/003_add_email_verification.down.sql")
    );

    let reverted = EXAMPLE.runner().revert_steps(&pool, 1).await.unwrap();
    assert_eq!(reverted.len(), 1);
    assert_eq!(
        history(&pool).await,
        ["001_subscription_system.sql", "002_fix_features.sql"]
    );
    assert_eq!(
        value(
            &pool,
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'email_verified'"
        )
        .await,
        "0"
    );
    assert!(
        EXAMPLE.runner().revert_to(&pool, 2).await.unwrap().is_empty(),
        "nothing above 002"
    );
}

#[tokio::test]
async fn an_older_binary_reverts_a_version_it_does_not_embed_from_the_stored_sql() {
    let (_, _, pool) = fresh().await;
    let old_files = [
        ("001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);"),
        (
            "001_a.down.sql",
            "DROP TABLE IF EXISTS a; -- migrate: allow(destructive-change)",
        ),
    ];
    let mut new_files = old_files.to_vec();
    new_files.push((
        "002_b.sql",
        "CREATE TABLE IF NOT EXISTS b (id int);\nINSERT INTO b VALUES (1);",
    ));
    new_files.push((
        "002_b.down.sql",
        "DROP TABLE IF EXISTS b; -- migrate: allow(destructive-change)",
    ));
    let (_new_dir, new) = migrations_in(&new_files);
    new.run(&pool).await.unwrap();

    let (_old_dir, old) = migrations_in(&old_files);
    assert!(old.iter().all(|m| m.version() != 2), "the older binary lacks 002");
    let reverted = old.runner().revert_to(&pool, 1).await.unwrap();
    assert_eq!(reverted.len(), 1);
    assert_eq!(reverted[0].file_name, "002_b.sql");
    assert!(reverted[0].from_stored_sql);
    assert_eq!(value(&pool, "SELECT to_regclass('b') IS NULL").await, "t");
    assert_eq!(history(&pool).await, ["001_a.sql"]);
    assert!(
        old.run(&pool).await.unwrap().up_to_date(),
        "the older binary is now current"
    );
}

#[tokio::test]
async fn a_revert_blocked_by_an_irreversible_or_downless_version_changes_nothing() {
    let (url, _, pool) = fresh().await;
    let (_dir, set) = migrations_in(&[
        ("001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);"),
        (
            "001_a.down.sql",
            "DROP TABLE IF EXISTS a; -- migrate: allow(destructive-change)",
        ),
        (
            "002_b.sql",
            "-- migrate: irreversible\nCREATE TABLE IF NOT EXISTS b (id int);",
        ),
        ("003_c.sql", "CREATE TABLE IF NOT EXISTS c (id int);"),
        ("004_d.sql", "CREATE TABLE IF NOT EXISTS d (id int);"),
        (
            "004_d.down.sql",
            "DROP TABLE IF EXISTS d; -- migrate: allow(destructive-change)",
        ),
    ]);
    set.run(&pool).await.unwrap();
    let before = (dump(&url), history(&pool).await);

    let e = set.runner().revert_to(&pool, 0).await.unwrap_err();
    assert!(matches!(e, Error::CannotRevert { .. }), "{e}");
    let text = e.to_string();
    assert!(text.starts_with("nothing was reverted"), "{text}");
    assert!(
        text.contains("002_b.sql is marked `-- migrate: irreversible`"),
        "{text}"
    );
    assert!(
        text.contains("003_c.sql has no down SQL: no `003_c.down.sql` is embedded"),
        "{text}"
    );
    assert!(!text.contains("004_d.sql"), "{text}");
    assert_eq!(
        (dump(&url), history(&pool).await),
        before,
        "004 was not reverted either"
    );

    assert_eq!(
        set.runner().revert_to(&pool, 3).await.unwrap().len(),
        1,
        "above 003 it may go"
    );
}

#[tokio::test]
async fn a_failing_down_file_keeps_its_row_and_names_the_line() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations_in(&[
        ("001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);"),
        (
            "001_a.down.sql",
            "DROP TABLE IF EXISTS a;\nDROP TABLE nope; -- migrate: allow(missing-if-exists, destructive-change)\n",
        ),
        ("002_b.sql", "CREATE TABLE IF NOT EXISTS b (id int);"),
        (
            "002_b.down.sql",
            "DROP TABLE IF EXISTS b; -- migrate: allow(destructive-change)",
        ),
    ]);
    set.run(&pool).await.unwrap();
    let e = set.runner().revert_to(&pool, 0).await.unwrap_err();
    let Error::Migration(failure) = &e else { panic!("{e}") };
    assert_eq!(failure.file_name, "001_a.down.sql");
    assert_eq!((failure.line, failure.column, failure.code.as_str()), (2, 1, "42P01"));
    assert_eq!(
        history(&pool).await,
        ["001_a.sql"],
        "002 stays reverted, 001 stays applied"
    );
    assert_eq!(
        value(&pool, "SELECT to_regclass('a') IS NOT NULL").await,
        "t",
        "its DROP rolled back"
    );
}

#[tokio::test]
async fn a_revert_waits_for_the_lock_that_run_takes() {
    let (_, _, pool) = fresh().await;
    EXAMPLE.run(&pool).await.unwrap();
    let key = migrate_runtime::lock_key(&"public.schema_migrations".parse().unwrap());
    let holder = pool.get().await.unwrap();
    holder
        .batch_execute(&format!("SELECT pg_advisory_lock({key})"))
        .await
        .unwrap();
    let (logs, _guard) = Logs::capture();
    let reverting = {
        let pool = pool.clone();
        tokio::spawn(async move {
            EXAMPLE
                .runner()
                .lock_poll_max(Duration::from_millis(20))
                .revert_steps(&pool, 1)
                .await
        })
    };
    logs.wait_for("Waiting for the migration lock").await;
    assert_eq!(history(&pool).await.len(), 3, "nothing reverted while the lock is held");
    holder
        .batch_execute(&format!("SELECT pg_advisory_unlock({key})"))
        .await
        .unwrap();
    assert_eq!(reverting.await.unwrap().unwrap().len(), 1);
}

const VIEW_V1: &str = "CREATE OR REPLACE VIEW item_names AS SELECT name FROM items;";
const VIEW_V2: &str = "CREATE OR REPLACE VIEW item_names AS SELECT upper(name) AS name FROM items;";

fn repeatable_set(view: &str) -> (tempfile::TempDir, Migrations) {
    migrations_in(&[
        (
            "001_items.sql",
            "CREATE TABLE IF NOT EXISTS items (name text);\nINSERT INTO items VALUES ('x');",
        ),
        ("repeatable/item_names.sql", view),
        (
            "repeatable/a_first.sql",
            "CREATE OR REPLACE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
        ),
    ])
}

#[tokio::test]
async fn repeatables_run_after_versioned_files_in_name_order_and_again_exactly_once_when_changed() {
    let (_, _, pool) = fresh().await;
    let (_d1, v1) = repeatable_set(VIEW_V1);
    let report = v1.run(&pool).await.unwrap();
    let applied: Vec<&str> = report.applied.iter().map(|a| a.file_name.as_str()).collect();
    let repeated: Vec<&str> = report.repeated.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(applied, ["001_items.sql"]);
    assert_eq!(repeated, ["repeatable/a_first.sql", "repeatable/item_names.sql"]);
    assert!(
        v1.run(&pool).await.unwrap().up_to_date(),
        "unchanged files do not run again"
    );

    let (_d2, v2) = repeatable_set(VIEW_V2);
    let status = v2.runner().status(&pool).await.unwrap();
    let states: Vec<_> = status
        .repeatables
        .iter()
        .map(|r| (r.repeatable.file_name(), r.state))
        .collect();
    assert_eq!(
        states,
        [
            ("repeatable/a_first.sql", RepeatableState::Current),
            ("repeatable/item_names.sql", RepeatableState::Outdated)
        ]
    );
    assert!(
        status.render().contains("repeatable/item_names.sql  outdated"),
        "{}",
        status.render()
    );

    // Four instances start at once with the changed file: it runs once.
    let runs = (0..4).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move { v2.run(&pool).await })
    });
    let mut repeated = 0;
    for run in runs {
        repeated += run.await.unwrap().unwrap().repeated.len();
    }
    assert_eq!(repeated, 1);
    assert_eq!(value(&pool, "SELECT name FROM item_names").await, "X");
    assert_eq!(
        value(
            &pool,
            "SELECT count(*) FROM schema_migrations WHERE filename LIKE 'repeatable/%'"
        )
        .await,
        "2",
        "one row per repeatable file"
    );
    assert!(v2.runner().verify(&pool).await.is_ok());
}

#[tokio::test]
async fn a_failing_repeatable_records_nothing_and_stops_the_run() {
    let (_, _, pool) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("001_t.sql", "CREATE TABLE IF NOT EXISTS t (id int);"),
            ("repeatable/a.sql", "CREATE OR REPLACE VIEW a AS SELECT 1 AS one;"),
            (
                "repeatable/b.sql",
                "CREATE OR REPLACE VIEW b AS SELECT 1 AS one;\nCREATE OR REPLACE VIEW b2 AS SELECT nope FROM t;",
            ),
            ("repeatable/c.sql", "CREATE OR REPLACE VIEW c AS SELECT 1 AS one;"),
        ],
    );
    let set = Migrations::from_dir(dir.path()).unwrap();
    let e = set.run(&pool).await.unwrap_err();
    let Error::Migration(failure) = &e else { panic!("{e}") };
    assert_eq!(failure.file_name, "repeatable/b.sql");
    assert_eq!((failure.line, failure.statement), (2, 2), "{e}");
    assert_eq!(history(&pool).await, ["001_t.sql", "repeatable/a.sql"]);
    assert_eq!(
        value(&pool, "SELECT to_regclass('b') IS NULL AND to_regclass('c') IS NULL").await,
        "t"
    );
}

#[tokio::test]
async fn repeatables_wait_for_a_target_below_the_newest_version() {
    let (_, _, pool) = fresh().await;
    let (_d, set) = migrations_in(&[
        ("001_t.sql", "CREATE TABLE IF NOT EXISTS t (id int);"),
        ("002_u.sql", "CREATE TABLE IF NOT EXISTS u (id int);"),
        ("repeatable/v.sql", "CREATE OR REPLACE VIEW v AS SELECT id FROM u;"),
    ]);
    let report = set.runner().target(1).run(&pool).await.unwrap();
    assert!(report.repeated.is_empty());
    let report = set.run(&pool).await.unwrap();
    assert_eq!(report.repeated.len(), 1);
}

const BEFORE_SQUASH: [(&str, &str); 4] = [
    ("001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);"),
    ("002_b.sql", "CREATE TABLE IF NOT EXISTS b (id int);"),
    ("003_c.sql", "CREATE TABLE IF NOT EXISTS c (id int);"),
    ("004_d.sql", "CREATE TABLE IF NOT EXISTS d (id int);"),
];

/// The set after `squash --through 003`, with the `replaces` lines the
/// command writes when `listed`. Its squashed file fails if it runs on a
/// database that has the tables already, so "recorded, not run" shows.
fn after_squash(listed: bool) -> (tempfile::TempDir, Migrations) {
    let list = if listed {
        "-- migrate: replaces 001_a.sql\n-- migrate: replaces 002_b.sql\n-- migrate: replaces 003_c.sql\n"
    } else {
        ""
    };
    let squashed = format!(
        "-- migrate: squashes 001-003\n{list}-- migrate: allow(missing-if-not-exists)\n\
         CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nCREATE TABLE c (id int);"
    );
    migrations_in(&[("003_squashed.sql", &squashed), BEFORE_SQUASH[3]])
}

#[tokio::test]
async fn a_squashed_file_runs_on_a_fresh_database() {
    let (_, _, pool) = fresh().await;
    let (_d, set) = after_squash(true);
    let report = set.run(&pool).await.unwrap();
    let applied: Vec<&str> = report.applied.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(applied, ["003_squashed.sql", "004_d.sql"]);
    assert_eq!(report.recorded_squash, None);
    assert_eq!(
        value(
            &pool,
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('a','b','c','d')"
        )
        .await,
        "4"
    );
}

#[tokio::test]
async fn a_squashed_file_is_recorded_without_running_where_everything_it_replaces_is_applied() {
    let (_, _, pool) = fresh().await;
    let (_d0, before) = migrations_in(&BEFORE_SQUASH[..3]);
    before.run(&pool).await.unwrap();
    let (_d, set) = after_squash(true);
    let report = set.run(&pool).await.unwrap();
    assert_eq!(report.recorded_squash.as_deref(), Some("003_squashed.sql"));
    let applied: Vec<&str> = report.applied.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(applied, ["004_d.sql"]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        history(&pool).await,
        ["001_a.sql", "002_b.sql", "003_c.sql", "003_squashed.sql", "004_d.sql"],
        "the replaced rows stay"
    );
    let plan = set.runner().verify(&pool).await.unwrap();
    assert!(
        plan.render().contains("001_a.sql         applied (squashed)"),
        "{}",
        plan.render()
    );
    assert!(set.run(&pool).await.unwrap().up_to_date());
}

/// Applies `files` of the pre-squash set, runs the squashed set, and
/// returns its refusal after checking that nothing changed.
async fn refused_squash(files: &[(&str, &str)], listed: bool) -> String {
    let (url, _, pool) = fresh().await;
    let (_d0, before) = migrations_in(files);
    before.run(&pool).await.unwrap();
    let snapshot = (dump(&url), history(&pool).await);
    let (_d, set) = after_squash(listed);
    let e = set.run(&pool).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::PartialSquash { .. }), "{text}");
    assert!(text.contains("Deploy a release from before the squash first"), "{text}");
    assert_eq!((dump(&url), history(&pool).await), snapshot, "nothing ran");
    text
}

#[tokio::test]
async fn a_squashed_file_is_refused_where_only_some_of_what_it_replaces_is_applied() {
    let text = refused_squash(&BEFORE_SQUASH[..1], true).await;
    assert!(text.contains("missing: 002_b.sql, 003_c.sql."), "{text}");
    let hole = [BEFORE_SQUASH[0], BEFORE_SQUASH[2]];
    let text = refused_squash(&hole, true).await;
    assert!(text.contains("missing: 002_b.sql."), "{text}");
    let text = refused_squash(&BEFORE_SQUASH[..1], false).await;
    assert!(text.contains("missing: the versions after 001 through 003."), "{text}");
}

#[tokio::test]
async fn with_repeatables_and_down_files_a_no_op_start_is_still_one_statement() {
    let (_, db, pool) = fresh().await;
    let (_d, set) = repeatable_set(VIEW_V1);
    set.run(&pool).await.unwrap();
    EXAMPLE
        .runner()
        .table("other.schema_migrations")
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    migrate_tests::cluster()
        .execute("postgres", &format!("ALTER DATABASE {db} SET log_statement = 'all'"))
        .await
        .unwrap();
    let logged = migrate_runtime::pool_from_url(&migrate_tests::cluster().url(&db), 2).unwrap();
    let from = migrate_tests::log_len();
    assert!(set.run(&logged).await.unwrap().up_to_date());
    assert!(EXAMPLE
        .runner()
        .table("other.schema_migrations")
        .unwrap()
        .run(&logged)
        .await
        .unwrap()
        .up_to_date());
    let statements = migrate_tests::logged_statements(&db, from);
    assert_eq!(statements.len(), 2, "one per run: {statements:#?}");
}
