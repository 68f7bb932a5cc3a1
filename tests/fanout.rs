//! One set applied to many targets: 200 tenant schemas under a role's
//! connection limit, 20 databases from a URL file, and one schema through
//! the library API. The CLI path runs through the mountable subcommand, as
//! an application's binary runs it.

use clap::Parser;
use deadpool_postgres::Pool;
use migrate_runtime::fanout::Outcome;
use migrate_runtime::{cli, embed_migrations, pool_from_url, Error, Migrations, Runner};
use migrate_tests::{cluster, fresh, migrations_in, rows, value};

static EXAMPLE: Migrations = embed_migrations!("../migrations");

#[derive(Parser)]
struct App {
    #[command(subcommand)]
    command: cli::Command,
}

/// `app migrate ARGS...` through the mountable subcommand.
async fn migrate(runner: Runner, pool: &Pool, args: &[&str]) -> Result<String, Error> {
    let app = App::try_parse_from(std::iter::once("app").chain(args.iter().copied())).unwrap();
    app.command.run(runner, pool).await.map(|output| output.text)
}

const TENANT_SET: &[(&str, &str)] = &[
    (
        "001_accounts.sql",
        "CREATE TABLE IF NOT EXISTS accounts (id bigint PRIMARY KEY, name text NOT NULL);\n\
         CREATE TABLE IF NOT EXISTS audit (id bigint, at timestamptz);\n",
    ),
    (
        "002_audit_index.sql",
        "-- Migration 002: index the audit log\nCREATE INDEX IF NOT EXISTS audit_at ON audit (at);\n",
    ),
    (
        "003_owner.sql",
        "INSERT INTO accounts VALUES (1, 'owner') ON CONFLICT DO NOTHING;\n",
    ),
];

const BROKEN: [&str; 3] = ["tenant_013", "tenant_077", "tenant_150"];

/// `(target, outcome)` of every failed target, as `file:line:col SQLSTATE`.
fn failures(e: &Error) -> Vec<(String, String)> {
    let Error::Fanout(summary) = e else {
        panic!("not a fan-out failure: {e}")
    };
    summary
        .failed()
        .map(|t| match &t.outcome {
            Outcome::Failed(Error::Migration(m)) => (
                t.target.to_string(),
                format!("{}:{}:{} {}", m.file_name, m.line, m.column, m.code),
            ),
            other => panic!("{}: {other:?}", t.target),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tenants_under_a_connection_limit_with_three_broken() {
    let (_, db, admin) = fresh().await;
    let role = format!("fanout_{}", std::process::id());
    let mut setup = format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'fanout' CONNECTION LIMIT 5; GRANT CREATE ON DATABASE {db} TO {role};"
    );
    for i in 0..200 {
        setup.push_str(&format!("CREATE SCHEMA tenant_{i:03} AUTHORIZATION {role};"));
    }
    for broken in BROKEN {
        // An older `audit` without `at`: 001 keeps it, 002's index fails.
        setup.push_str(&format!(
            "CREATE TABLE {broken}.audit (id bigint); ALTER TABLE {broken}.audit OWNER TO {role};"
        ));
    }
    admin.get().await.unwrap().batch_execute(&setup).await.unwrap();
    let (_dir, set) = migrations_in(TENANT_SET);
    // The pool allows more connections than the role may open: the
    // fan-out meets SQLSTATE 53300 and must wait instead of failing.
    let pool = pool_from_url(&cluster().url_as(&role, "fanout", &db), 12).unwrap();
    let args = ["up", "--schemas", "tenant\\_%", "--jobs", "8"];

    let e = migrate(set.runner(), &pool, &args).await.unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("3 of 200 target(s) failed:\n"), "{text}");
    let Error::Fanout(summary) = &e else { unreachable!() };
    assert_eq!(summary.targets.len(), 200);
    assert!(summary.refused > 0, "the role's limit was never hit: {text}");
    let expected: Vec<(String, String)> = BROKEN
        .iter()
        .map(|t| (t.to_string(), "002_audit_index.sql:2:1 42703".to_string()))
        .collect();
    assert_eq!(failures(&e), expected, "{text}");
    assert!(
        text.contains("tenant_077: failed at 002_audit_index.sql:2:1, SQLSTATE 42703: column \"at\" does not exist"),
        "{text}"
    );
    for t in &summary.targets {
        if !BROKEN.contains(&t.target.to_string().as_str()) {
            assert!(
                matches!(t.outcome, Outcome::Applied(3)),
                "{}: {:?}",
                t.target,
                t.outcome
            );
        }
    }
    assert!(
        text.contains("\n200 target(s): 197 applied, 0 up to date, 0 checked, 3 failed, 0 not started; "),
        "{text}"
    );

    // Every tenant's history and tables are in its own schema.
    let union: Vec<String> = (0..200)
        .map(|i| format!("SELECT filename FROM tenant_{i:03}.schema_migrations"))
        .collect();
    let history = rows(
        &admin,
        &format!(
            "SELECT filename, count(*) FROM ({}) h GROUP BY 1 ORDER BY 1",
            union.join(" UNION ALL ")
        ),
    )
    .await;
    let counts: Vec<(String, String)> = history
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("001_accounts.sql".into(), "200".into()),
            ("002_audit_index.sql".into(), "197".into()),
            ("003_owner.sql".into(), "197".into())
        ]
    );
    assert_eq!(
        value(
            &admin,
            "SELECT count(*) FILTER (WHERE c.relname = 'audit_at') || ' ' || count(*) FILTER (WHERE n.nspname = 'public') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname IN ('accounts', 'audit', 'audit_at')"
        )
        .await,
        "197 0",
        "indexes in the healthy tenants, nothing in public"
    );

    // A second run: the healthy are up to date, the broken fail the same way.
    let e = migrate(set.runner(), &pool, &args).await.unwrap_err();
    assert_eq!(failures(&e), expected);
    let text = e.to_string();
    assert!(
        text.contains("200 target(s): 0 applied, 197 up to date, 0 checked, 3 failed, 0 not started"),
        "{text}"
    );

    // status and verify take the same flags; verify passes on every tenant.
    let status = migrate(set.runner(), &pool, &["status", "--schemas", "tenant\\_01%"])
        .await
        .unwrap();
    assert!(status.contains("tenant_012: 3 applied, 0 pending\n"), "{status}");
    assert!(status.contains("tenant_013: 1 applied, 2 pending\n"), "{status}");
    assert!(status.ends_with("10 target(s): 0 applied, 0 up to date, 10 checked, 0 failed, 0 not started\n"));
    let verified = migrate(
        set.runner(),
        &pool,
        &["verify", "--schemas", "tenant\\_%", "--jobs", "8"],
    )
    .await
    .unwrap();
    assert!(
        verified.contains("tenant_199: 3 applied migration(s) match their files\n"),
        "{verified}"
    );

    // --fail-fast starts nothing after the first failure.
    let e = migrate(
        set.runner(),
        &pool,
        &["up", "--schemas", "tenant\\_%", "--jobs", "1", "--fail-fast"],
    )
    .await
    .unwrap_err();
    let Error::Fanout(summary) = &e else { unreachable!() };
    let not_started = summary
        .targets
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::NotStarted))
        .count();
    assert_eq!((failures(&e).len(), not_started), (1, 200 - 14), "{e}");
}

#[tokio::test]
async fn twenty_databases_from_a_url_file() {
    let urls: Vec<String> = futures_join(20).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("databases.txt");
    let mut text = String::from("# every shard\n\n");
    for url in &urls {
        text.push_str(url);
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let any = pool_from_url(&urls[0], 1).unwrap();

    let out = migrate(EXAMPLE.runner(), &any, &["up", "--database-urls", file, "--jobs", "4"])
        .await
        .unwrap();
    assert_eq!(out.matches(": applied 3\n").count(), 20, "{out}");
    assert!(out.ends_with("20 target(s): 20 applied, 0 up to date, 0 checked, 0 failed, 0 not started\n"));
    for url in &urls {
        let pool = pool_from_url(url, 1).unwrap();
        assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "3");
    }
    let out = migrate(EXAMPLE.runner(), &any, &["up", "--database-urls", file])
        .await
        .unwrap();
    assert!(out.ends_with("20 target(s): 0 applied, 20 up to date, 0 checked, 0 failed, 0 not started\n"));
    let out = migrate(EXAMPLE.runner(), &any, &["status", "--database-urls", file])
        .await
        .unwrap();
    assert_eq!(out.matches(": 3 applied, 0 pending\n").count(), 20, "{out}");

    // A database that is gone fails alone, named without its password.
    let gone = format!("{}_gone", urls[7]);
    std::fs::write(dir.path().join("databases.txt"), format!("{}\n{gone}\n", urls[0])).unwrap();
    let e = migrate(EXAMPLE.runner(), &any, &["verify", "--database-urls", file])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("1 of 2 target(s) failed:\n"), "{e}");
    assert!(
        e.contains("postgres:***@") && !e.contains(migrate_tests::cluster().password()),
        "{e}"
    );
    assert!(e.contains("_gone: failed: cannot connect to PostgreSQL"), "{e}");
}

/// `n` new databases, created at once.
async fn futures_join(n: usize) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        tasks.spawn(async move { (i, cluster().create_database().await.unwrap()) });
    }
    let mut urls: Vec<(usize, String)> = tasks.join_all().await;
    urls.sort();
    urls.into_iter().map(|(_, url)| url).collect()
}

#[tokio::test]
async fn one_schema_through_the_library_api() {
    let (_, _, pool) = fresh().await;
    let e = EXAMPLE
        .runner()
        .schema("tenant_42")
        .run(&pool)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the schema \"tenant_42\" does not exist") && e.contains("create_schema(true)"),
        "{e}"
    );
    let report = EXAMPLE
        .runner()
        .schema("tenant_42")
        .create_schema(true)
        .run(&pool)
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 3);
    assert_eq!(
        value(
            &pool,
            "SELECT (SELECT count(*) FROM tenant_42.schema_migrations) || ' ' \
             || (to_regclass('tenant_42.tiers') IS NOT NULL) || ' ' || (to_regclass('public.tiers') IS NULL) \
             || ' ' || (to_regclass('public.schema_migrations') IS NULL)"
        )
        .await,
        "3 true true true"
    );
    assert!(EXAMPLE
        .runner()
        .schema("tenant_42")
        .run(&pool)
        .await
        .unwrap()
        .up_to_date());

    // A no-transaction file, a repeatable file and a failure's position,
    // in a schema whose name needs quoting and escapes.
    let (_dir, set) = migrations_in(&[
        ("001_t.sql", "CREATE TABLE IF NOT EXISTS t (id int, name text);\n"),
        (
            "002_index.sql",
            "-- migrate: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_name ON t (name);\n",
        ),
        (
            "003_broken.sql",
            "INSERT INTO t VALUES (1, 'a');\nSELECT nope FROM t;\n",
        ),
        (
            "repeatable/names.sql",
            "CREATE OR REPLACE VIEW names AS SELECT name FROM t;\n",
        ),
    ]);
    let odd = "Kundé;1";
    let e = set
        .runner()
        .schema(odd)
        .create_schema(true)
        .run(&pool)
        .await
        .unwrap_err();
    let Error::Migration(m) = &e else { panic!("{e}") };
    assert_eq!(
        (m.file_name.as_str(), m.line, m.column, m.code.as_str()),
        ("003_broken.sql", 2, 8, "42703"),
        "{e}"
    );
    assert_eq!(
        value(
            &pool,
            "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'Kundé;1' AND c.relname IN ('t', 't_name', 'names')"
        )
        .await,
        "t,t_name"
    );
    let (_dir, fixed) = migrations_in(&[
        ("001_t.sql", "CREATE TABLE IF NOT EXISTS t (id int, name text);\n"),
        (
            "002_index.sql",
            "-- migrate: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_name ON t (name);\n",
        ),
        (
            "003_broken.sql",
            "INSERT INTO t VALUES (1, 'a');\nSELECT name FROM t;\n",
        ),
        (
            "repeatable/names.sql",
            "CREATE OR REPLACE VIEW names AS SELECT name FROM t;\n",
        ),
    ]);
    let report = fixed.runner().schema(odd).run(&pool).await.unwrap();
    assert_eq!((report.applied.len(), report.repeated.len()), (1, 1));
    assert_eq!(
        value(&pool, "SELECT name FROM \"Kundé;1\".names").await,
        "a",
        "the view was created in the schema and reads its table"
    );
    assert_eq!(
        value(&pool, "SELECT count(*) FROM pg_views WHERE viewname = 'names'").await,
        "1"
    );
}

#[tokio::test]
async fn two_fan_outs_over_the_same_schemas_apply_each_file_once() {
    let (url, db, admin) = fresh().await;
    let schemas: String = (0..30).map(|i| format!("CREATE SCHEMA t_{i:02};")).collect();
    cluster().execute(&db, &schemas).await.unwrap();
    let (_dir, set) = migrations_in(TENANT_SET);
    let (one, two) = (pool_from_url(&url, 4).unwrap(), pool_from_url(&url, 4).unwrap());
    let args = ["up", "--schemas", "t\\_%", "--jobs", "4"];
    let (a, b) = tokio::join!(migrate(set.runner(), &one, &args), migrate(set.runner(), &two, &args));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.matches(": applied 3\n").count() + b.matches(": applied 3\n").count(),
        30,
        "each schema migrated by one of them, the other found it up to date:\n{a}\n{b}"
    );
    assert_eq!(
        a.matches(": up to date\n").count() + b.matches(": up to date\n").count(),
        30
    );
    let union: Vec<String> = (0..30)
        .map(|i| format!("SELECT filename FROM t_{i:02}.schema_migrations"))
        .collect();
    assert_eq!(
        value(
            &admin,
            &format!("SELECT count(*) FROM ({}) h", union.join(" UNION ALL "))
        )
        .await,
        "90"
    );
}
