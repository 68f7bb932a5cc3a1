//! `Migrations::run` against a real PostgreSQL server.

use migrate_runtime::{embed_migrations, Migrations};
use migrate_tests::{fresh, log_len, logged_statements, migrations, rows, value, Logs};
use std::time::Duration;

static EXAMPLE: Migrations = embed_migrations!("../migrations");
static TRICKY: Migrations = embed_migrations!("fixtures/tricky");

#[tokio::test]
async fn applies_pending_files_once_then_finds_the_database_up_to_date() {
    let (_, _, pool) = fresh().await;
    let (logs, _guard) = Logs::capture();
    let report = EXAMPLE.run(&pool).await.unwrap();
    let applied: Vec<&str> = report.applied.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(
        applied,
        vec![
            "001_subscription_system.sql",
            "002_fix_features.sql",
            "003_add_email_verification.sql"
        ]
    );
    assert_eq!(value(&pool, "SELECT count(*) FROM tiers").await, "3");
    let history = rows(
        &pool,
        "SELECT filename, checksum, duration_ms IS NOT NULL FROM schema_migrations ORDER BY id",
    )
    .await;
    for (row, m) in history.iter().zip(EXAMPLE.iter()) {
        assert_eq!(row[0].as_deref(), Some(m.file_name()));
        assert_eq!(row[1], Some(m.checksum_hex()));
        assert_eq!(row[2].as_deref(), Some("t"));
    }
    let text = logs.text();
    assert!(text.contains("Found 3 pending migration(s)"), "{text}");
    assert!(text.contains("Applied: 003_add_email_verification.sql ("), "{text}");

    let again = EXAMPLE.run(&pool).await.unwrap();
    assert!(again.up_to_date());
    assert!(logs.text().contains("Database is up to date"));
}

#[tokio::test]
async fn tricky_but_valid_sql_runs_on_the_server_as_split() {
    let (_, _, pool) = fresh().await;
    let report = TRICKY.run(&pool).await.unwrap();
    assert_eq!(report.applied.len(), TRICKY.len());
    assert_eq!(value(&pool, "SELECT atomic_add(2, 3)").await, "5");
    assert_eq!(value(&pool, "SELECT tagged_body()").await, " $$ ; COMMIT; ");
    assert_eq!(
        value(&pool, r"SELECT v FROM literals WHERE v LIKE 'Ava%'").await,
        "Avañe'ẽ"
    );
    assert_eq!(
        value(
            &pool,
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_literals_v'::regclass"
        )
        .await,
        "t"
    );
}

#[tokio::test]
async fn a_database_migrated_by_db_init_py_is_adopted() {
    let (_, _, pool) = fresh().await;
    let client = pool.get().await.unwrap();
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 id SERIAL PRIMARY KEY,
                 filename VARCHAR(255) UNIQUE NOT NULL,
                 applied_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP);
             INSERT INTO schema_migrations (filename) VALUES ('001_subscription_system.sql'), ('002_fix_features.sql');",
        )
        .await
        .unwrap();
    client
        .batch_execute(EXAMPLE.iter().next().unwrap().sql())
        .await
        .unwrap();
    client
        .batch_execute(EXAMPLE.iter().nth(1).unwrap().sql())
        .await
        .unwrap();
    drop(client);
    let (logs, _guard) = Logs::capture();

    let report = EXAMPLE.run(&pool).await.unwrap();
    assert_eq!(
        report.adopted,
        vec!["001_subscription_system.sql", "002_fix_features.sql"]
    );
    assert_eq!(report.applied.len(), 1);
    assert!(
        logs.text().contains("Adopted checksum of 001_subscription_system.sql"),
        "{}",
        logs.text()
    );
    assert_eq!(
        value(&pool, "SELECT count(*) FROM schema_migrations WHERE checksum IS NULL").await,
        "0"
    );
    assert!(EXAMPLE.run(&pool).await.unwrap().up_to_date());
}

#[tokio::test]
async fn the_table_may_be_schema_qualified_and_is_quoted() {
    let (_, _, pool) = fresh().await;
    let runner = EXAMPLE.runner().table("tenant_42.\"Schema Migrations\"").unwrap();
    runner.run(&pool).await.unwrap();
    assert_eq!(
        value(&pool, "SELECT count(*) FROM tenant_42.\"Schema Migrations\"").await,
        "3"
    );
    assert_eq!(
        value(&pool, "SELECT to_regclass('public.schema_migrations') IS NULL").await,
        "t"
    );
    assert!(runner.run(&pool).await.unwrap().up_to_date());
}

#[migrate_runtime::test(EXAMPLE)]
async fn nothing_pending_is_one_statement_with_no_lock_and_no_ddl(pool: deadpool_postgres::Pool) {
    let db = value(&pool, "SELECT current_database()").await;
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "3");
    migrate_tests::cluster()
        .execute("postgres", &format!("ALTER DATABASE {db} SET log_statement = 'all'"))
        .await
        .unwrap();
    let fresh_pool = migrate_runtime::pool_from_url(&migrate_tests::cluster().url(&db), 2).unwrap();
    let from = log_len();
    assert!(EXAMPLE.run(&fresh_pool).await.unwrap().up_to_date());
    let statements = logged_statements(&db, from);
    assert_eq!(statements.len(), 1, "{statements:#?}");
    assert!(statements[0].contains(" AS current FROM "), "{statements:?}");
}

#[tokio::test]
async fn the_server_digests_the_history_as_the_build_did() {
    let (_, _, pool) = fresh().await;
    EXAMPLE.run(&pool).await.unwrap();
    let server = format!(
        "SELECT {} FROM schema_migrations",
        migrate_core::history_digest::SERVER_EXPRESSION
    );
    // What the macro embedded.
    let built = EXAMPLE.history_digest();
    assert_eq!(value(&pool, &server).await, built.to_string());

    // A row `db_init.py` wrote, without a checksum, digests differently.
    rows(
        &pool,
        "UPDATE schema_migrations SET checksum = NULL WHERE filename = '002_fix_features.sql'",
    )
    .await;
    assert_ne!(value(&pool, &server).await, built.to_string());
    let report = EXAMPLE.run(&pool).await.unwrap();
    assert_eq!(report.adopted, vec!["002_fix_features.sql"]);
    assert_eq!(value(&pool, &server).await, built.to_string());
}

#[tokio::test]
async fn the_client_hashes_text_as_the_server_does() {
    let (_, _, pool) = fresh().await;
    // Every length around the 12-byte blocks, multi-byte characters, tabs,
    // newlines, and one long text, from a fixed pseudo-random sequence.
    let alphabet: Vec<char> = "ab_0.9\t\n'\\é€😀Z".chars().collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut texts: Vec<String> = (0..600)
        .map(|i| {
            (0..i % 300)
                .map(|_| alphabet[next() as usize % alphabet.len()])
                .collect()
        })
        .collect();
    texts.push("001_create_users.sql\t".repeat(5_000));
    let client = pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT hashtextextended(t, 0) FROM unnest($1::text[]) WITH ORDINALITY u(t, n) ORDER BY n",
            &[&texts],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), texts.len());
    for (text, row) in texts.iter().zip(&rows) {
        let server: i64 = row.get(0);
        assert_eq!(
            migrate_core::pg_hash::hashtextextended(text.as_bytes()),
            server,
            "{text:?}"
        );
    }
}

#[tokio::test]
async fn a_hundred_pending_files_cost_one_statement_each_plus_a_constant() {
    let (_, db, pool) = fresh().await;
    migrate_tests::cluster()
        .execute("postgres", &format!("ALTER DATABASE {db} SET log_statement = 'all'"))
        .await
        .unwrap();
    let files: Vec<(String, String)> = (1..=100)
        .map(|i| {
            (
                format!("{i:03}_step.sql"),
                format!("CREATE TABLE IF NOT EXISTS t{i} (id int);\nINSERT INTO t{i} VALUES ({i});\n"),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (_dir, set) = migrations(&files);
    let from = log_len();
    set.run(&pool).await.unwrap();
    let applying = logged_statements(&db, from).len();
    // One per file (pipelined), plus: the fast-path read (no table yet)
    // and the question what the server is that replaces it, the schema of
    // the table, the lock, the proof that it holds on this backend, the
    // table probe, its creation, the history read under the lock, the one
    // wait for the disk, and the unlock.
    assert_eq!(applying, 100 + 10, "statements to apply 100 files");
    let from = log_len();
    assert!(set.run(&pool).await.unwrap().up_to_date());
    assert_eq!(logged_statements(&db, from).len(), 1);
    eprintln!("statements logged: applying 100 files: {applying}; no-op start-up with 100 applied: 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_apply_each_migration_exactly_once() {
    let (url, _, pool) = fresh().await;
    let mut files = vec![(
        "001_effects.sql".to_string(),
        "CREATE TABLE IF NOT EXISTS effects (name text);".to_string(),
    )];
    for i in 2..=12 {
        let sql = if i == 6 {
            "-- migrate: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_effects ON effects (name);\nINSERT INTO effects VALUES ('006');".to_string()
        } else {
            format!("INSERT INTO effects VALUES ('{i:03}');")
        };
        files.push((format!("{i:03}_effect.sql"), sql));
    }
    let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (_dir, set) = migrations(&files);
    let runs: Vec<_> = (0..10)
        .map(|_| {
            let pool = migrate_runtime::pool_from_url(&url, 2).unwrap();
            tokio::spawn(async move { set.runner().lock_poll_max(Duration::from_millis(50)).run(&pool).await })
        })
        .collect();
    let mut applied = 0;
    for run in runs {
        applied += run.await.unwrap().unwrap().applied.len();
    }
    assert_eq!(applied, 12, "every file applied by exactly one instance");
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "12");
    assert_eq!(value(&pool, "SELECT count(*) FROM effects").await, "11");
    assert_eq!(value(&pool, "SELECT count(DISTINCT name) FROM effects").await, "11");
    assert!(
        migrate_tests::advisory_locks(&pool).await.is_empty(),
        "the lock outlived the run"
    );
}

#[tokio::test]
async fn a_waiter_polls_outside_any_transaction_and_logs_the_holder() {
    let (url, _, pool) = fresh().await;
    let (_dir, set) = migrations(&[("001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);")]);
    let key = migrate_runtime::lock_key(&"public.schema_migrations".parse().unwrap());
    let holder = pool.get().await.unwrap();
    holder
        .batch_execute(&format!(
            "SET application_name = 'holder'; SELECT pg_advisory_lock({key})"
        ))
        .await
        .unwrap();
    let holder_pid = migrate_tests::client_value(&holder, "SELECT pg_backend_pid()").await;

    let (logs, _guard) = Logs::capture();
    let waiter_pool = migrate_runtime::pool_from_url(&format!("{url}?application_name=waiter"), 1).unwrap();
    let waiting = tokio::spawn(async move {
        set.runner()
            .lock_poll_max(Duration::from_millis(20))
            .run(&waiter_pool)
            .await
    });
    logs.wait_for("Waiting for the migration lock").await;
    assert!(
        logs.text()
            .contains(&format!("held by pid {holder_pid} (application_name 'holder'")),
        "{}",
        logs.text()
    );
    let waiter = rows(
        &pool,
        "SELECT state, wait_event_type FROM pg_stat_activity WHERE application_name = 'waiter'",
    )
    .await;
    assert_eq!(waiter.len(), 1);
    assert_ne!(waiter[0][0].as_deref(), Some("idle in transaction"), "{waiter:?}");
    assert_ne!(waiter[0][1].as_deref(), Some("Lock"), "{waiter:?}");

    holder
        .batch_execute(&format!("SELECT pg_advisory_unlock({key})"))
        .await
        .unwrap();
    assert_eq!(waiting.await.unwrap().unwrap().applied.len(), 1);
}

#[tokio::test]
async fn a_debug_build_warns_loudly_about_files_it_did_not_embed() {
    use migrate_runtime::__private::Embedded;
    // What the macro embedded: one file. The folder has gained another since.
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("001_a.sql"), "SELECT 1;").unwrap();
    let built = migrate_core::load_dir(folder.path(), "migrations").unwrap();
    let packed = migrate_core::layout::pack(&built).unwrap();
    std::fs::write(folder.path().join("002_added_after_build.sql"), "SELECT 2;").unwrap();
    let source_dir: &'static str = Box::leak(folder.path().to_string_lossy().into_owned().into_boxed_str());
    let embedded: &'static Embedded = Embedded::leak(packed, Some(source_dir));
    let (_, _, pool) = fresh().await;
    let (logs, _guard) = Logs::capture();
    Migrations::__embedded(embedded).run(&pool).await.unwrap();
    let text = logs.text();
    assert!(text.contains("STALE BUILD"), "{text}");
    assert!(
        text.contains("002_added_after_build.sql exists but is not embedded in this binary"),
        "{text}"
    );
    assert!(text.contains("cargo:rerun-if-changed=migrations"), "{text}");
}

#[tokio::test]
async fn a_repeatable_file_added_to_an_applied_history_still_runs() {
    let (_, _, pool) = fresh().await;
    let versioned = ("001_items.sql", "CREATE TABLE IF NOT EXISTS items (name text);");
    let (_d1, before) = migrate_tests::migrations_in(&[versioned]);
    before.run(&pool).await.unwrap();
    // The versioned history is complete and digests as expected, but the
    // new repeatable file never ran: no shortcut may skip it.
    let (_d2, after) = migrate_tests::migrations_in(&[
        versioned,
        (
            "repeatable/item_names.sql",
            "CREATE OR REPLACE VIEW item_names AS SELECT name FROM items;",
        ),
    ]);
    let report = after.run(&pool).await.unwrap();
    let repeated: Vec<&str> = report.repeated.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(repeated, ["repeatable/item_names.sql"]);
    assert!(after.run(&pool).await.unwrap().repeated.is_empty());
}
