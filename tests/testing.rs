//! Test databases cloned from a migrated template (feature `testing`): the
//! attribute and `TestDatabase` under cargo test's threads, and this test
//! binary run one process per test, as cargo-nextest runs it, against a
//! server of its own.

use deadpool_postgres::Pool;
use migrate_runtime::testing::TestDatabase;
use migrate_runtime::{embed_migrations, Migrations};
use migrate_tests::children::{line_after, output};
use migrate_tests::{migrations, rows, value};
use std::process::{Command, Output};
use std::time::Duration;
use throwaway_pg::{Cluster, Options};

/// How long a child test process may take.
const LIMIT: Duration = Duration::from_secs(300);

static EXAMPLE: Migrations = embed_migrations!("../migrations");

#[migrate_runtime::test(EXAMPLE)]
async fn the_attribute_hands_in_a_migrated_database(pool: Pool) {
    assert_eq!(value(&pool, "SELECT count(*) FROM tiers").await, "3");
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "3");
    assert!(
        value(&pool, "SELECT current_database()")
            .await
            .starts_with("mt_the_attribute_hands_in_a_migra"),
        "the database's name shows the test"
    );
    assert!(EXAMPLE.run(&pool).await.unwrap().up_to_date());
}

#[migrate_runtime::test(EXAMPLE)]
async fn an_attribute_test_may_return_a_result(pool: Pool) -> Result<(), Box<dyn std::error::Error>> {
    let client = pool.get().await?;
    client
        .batch_execute("INSERT INTO profiles (display_name) VALUES ('Ada')")
        .await?;
    assert_eq!(value(&pool, "SELECT count(*) FROM profiles").await, "1");
    Ok(())
}

#[tokio::test]
async fn each_test_gets_its_own_database_and_a_passing_one_is_dropped() {
    let a = TestDatabase::new(&EXAMPLE).await.unwrap();
    let b = TestDatabase::new(&EXAMPLE).await.unwrap();
    assert_ne!(a.name(), b.name());
    assert_eq!(a.template(), b.template());
    assert!(a.template().starts_with("migrate_tpl_"), "{}", a.template());
    a.pool()
        .get()
        .await
        .unwrap()
        .batch_execute("INSERT INTO profiles (display_name) VALUES ('only in a')")
        .await
        .unwrap();
    assert_eq!(value(b.pool(), "SELECT count(*) FROM profiles").await, "0");
    let by_url = migrate_runtime::pool_from_url(a.url(), 1).unwrap();
    assert_eq!(value(&by_url, "SELECT current_database()").await, a.name());
    assert_eq!(value(&by_url, "SELECT count(*) FROM profiles").await, "1");
    drop(by_url);
    assert_eq!(
        rows(
            b.pool(),
            &format!(
                "SELECT datistemplate::text, datallowconn::text FROM pg_database WHERE datname = '{}'",
                a.template()
            )
        )
        .await,
        vec![vec![Some("true".to_string()), Some("false".to_string())]],
        "the template is marked and takes no connections"
    );

    let a_name = a.name().to_string();
    a.close().await.unwrap();
    let left = format!("SELECT count(*) FROM pg_database WHERE datname = '{a_name}'");
    assert_eq!(value(b.pool(), &left).await, "0", "a closed database is gone");
}

#[tokio::test]
async fn a_changed_or_added_file_gets_a_new_template_and_old_ones_are_pruned() {
    let (dir, v1) = migrations(&[("001_a.sql", "CREATE TABLE a (id int);")]);
    let db1 = TestDatabase::builder().keep_templates(1).create(&v1).await.unwrap();
    std::fs::write(dir.path().join("001_a.sql"), "CREATE TABLE a (id int, changed int);").unwrap();
    let v2 = Migrations::from_dir(dir.path()).unwrap();
    let db2 = TestDatabase::builder().keep_templates(1).create(&v2).await.unwrap();
    assert_ne!(db1.template(), db2.template(), "an edited file names a new template");
    let columns = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'a'";
    assert_eq!(value(db1.pool(), columns).await, "1");
    assert_eq!(value(db2.pool(), columns).await, "2");

    std::fs::write(dir.path().join("002_b.sql"), "CREATE TABLE b (id int);").unwrap();
    let v3 = Migrations::from_dir(dir.path()).unwrap();
    let db3 = TestDatabase::builder().keep_templates(1).create(&v3).await.unwrap();
    assert_ne!(db3.template(), db2.template(), "an added file names a new template");
    assert_eq!(value(db3.pool(), "SELECT to_regclass('b') IS NOT NULL").await, "t");

    let templates = format!(
        "SELECT datname::text FROM pg_database WHERE datname IN ('{}', '{}') ORDER BY oid",
        db1.template(),
        db3.template()
    );
    assert_eq!(
        rows(db3.pool(), &templates).await,
        vec![vec![Some(db3.template().to_string())]],
        "keeping one other template, building the third dropped the first"
    );
    let spares = format!(
        "SELECT count(*) FROM pg_database WHERE starts_with(datname, 'migrate_spare_{}_')",
        &db1.template()["migrate_tpl_".len()..]
    );
    assert_eq!(
        value(db3.pool(), &spares).await,
        "0",
        "spares of a dropped template go with it"
    );
    assert_eq!(
        value(db1.pool(), "SELECT count(*) FROM a").await,
        "0",
        "clones outlive their template"
    );
}

#[tokio::test]
async fn a_spare_clone_waits_for_the_next_test_and_is_taken_by_renaming() {
    let (_dir, set) = migrations(&[("001_spare.sql", "CREATE TABLE spare (id int);")]);
    let first = TestDatabase::builder().spares(1).create(&set).await.unwrap();
    let prefix = format!("migrate_spare_{}_", &first.template()["migrate_tpl_".len()..]);
    let spares = format!("SELECT datname::text, oid::text FROM pg_database WHERE starts_with(datname, '{prefix}')");
    // The spare is cloned in the background: wait until it is there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let spare = loop {
        if let Some(row) = rows(first.pool(), &spares).await.pop() {
            break row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no spare of {} appeared",
            first.template()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let second = TestDatabase::builder().spares(0).create(&set).await.unwrap();
    let oid = format!("SELECT oid::text FROM pg_database WHERE datname = '{}'", second.name());
    assert_eq!(
        Some(value(first.pool(), &oid).await),
        spare[1],
        "the second test got the spare, renamed"
    );
    assert_eq!(value(second.pool(), "SELECT count(*) FROM spare").await, "0");
    assert!(
        rows(first.pool(), &spares).await.is_empty(),
        "spares(0) cloned no other"
    );
}

/// Each database says how it was had and where its time went; a test that
/// finds the spare still being cloned waits for it instead of cloning
/// another beside it. In a process of its own, whose global subscriber no
/// other test's thread races.
#[tokio::test]
async fn each_database_logs_how_it_was_had_and_where_its_time_went() {
    let cluster = server(&[]);
    let test = "logs_two_databases";
    let out = output(
        run_self(&[test, "--exact", "--ignored", "--nocapture"], &cluster.url("postgres")),
        test,
        LIMIT,
    );
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    let names = text.lines().find_map(|l| l.split("databases: ").nth(1));
    let (first, second) = names.and_then(|n| n.split_once(' ')).expect(&text);
    let events: Vec<&str> = text.lines().filter(|l| l.contains("test database ready")).collect();
    assert_eq!(events.len(), 2, "{text}");
    assert!(events[0].contains(&format!("database={first}")), "{text}");
    assert!(
        events[0].contains("how=\"built the template, then cloned it\""),
        "{text}"
    );
    assert!(events[1].contains(&format!("database={second}")), "{text}");
    assert!(
        events[1].contains("how=\"a spare\"") || events[1].contains("how=\"a spare, after waiting for it\""),
        "the second database is the spare the first one's refill cloned: {text}"
    );
    for event in events {
        for field in ["server_ms=", "copy_ms=", "permits_ms=", "total_ms="] {
            let value = event.split(field).nth(1).and_then(|v| v.split(' ').next());
            assert!(
                value.and_then(|v| v.parse::<f64>().ok()).is_some_and(|ms| ms >= 0.0),
                "{field} in {event}"
            );
        }
    }
    let drops = text.lines().filter(|l| l.contains("test database dropped")).count();
    assert_eq!(
        drops, 2,
        "both dropped in the background before the process exited: {text}"
    );
}

#[tokio::test]
#[ignore = "run by each_database_logs_how_it_was_had_and_where_its_time_went"]
async fn logs_two_databases() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .init();
    let first = TestDatabase::builder().spares(1).create(&EXAMPLE).await.unwrap();
    let second = TestDatabase::builder().spares(0).create(&EXAMPLE).await.unwrap();
    println!("databases: {} {}", first.name(), second.name());
}

#[tokio::test]
async fn a_pool_too_large_for_the_server_is_a_clear_error() {
    let e = TestDatabase::builder()
        .pool_size(100_000)
        .create(&EXAMPLE)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("use a smaller pool_size"), "{e}");
}

/// Holds every connection of its pool at once.
async fn hold_every_connection(pool: Pool) {
    let mut held = Vec::new();
    for _ in 0..pool.status().max_size {
        held.push(pool.get().await.unwrap());
    }
    for client in &held {
        client.simple_query("SELECT 1").await.unwrap();
    }
}

macro_rules! capped {
    ($($name:ident)*) => {$(
        #[migrate_runtime::test(EXAMPLE)]
        async fn $name(pool: Pool) {
            hold_every_connection(pool).await;
        }
    )*};
}

capped!(capped_01 capped_02 capped_03 capped_04 capped_05 capped_06 capped_07 capped_08 capped_09 capped_10 capped_11 capped_12);

/// Run only by `a_failing_test_keeps_its_database_and_says_where`, in a
/// process of its own: it fails on purpose.
#[migrate_runtime::test(EXAMPLE)]
#[ignore = "fails on purpose; run by a_failing_test_keeps_its_database_and_says_where"]
async fn panics_after_writing_evidence(pool: Pool) {
    let client = pool.get().await.unwrap();
    client
        .batch_execute("INSERT INTO profiles (display_name) VALUES ('evidence')")
        .await
        .unwrap();
    panic!("deliberate failure");
}

/// Like `panics_after_writing_evidence`, failing by returning an error.
#[migrate_runtime::test(EXAMPLE)]
#[ignore = "fails on purpose; run by a_failing_test_keeps_its_database_and_says_where"]
async fn returns_an_error_after_writing_evidence(pool: Pool) -> Result<(), String> {
    let client = pool.get().await.unwrap();
    client
        .batch_execute("INSERT INTO profiles (display_name) VALUES ('evidence')")
        .await
        .unwrap();
    Err("deliberate failure".into())
}

/// This test binary with `args`, against `admin_url`, as nextest runs it.
fn run_self(args: &[&str], admin_url: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(args)
        .env("MIGRATE_TEST_DATABASE_URL", admin_url)
        .env_remove("MIGRATE_TEST_MAX_CONNECTIONS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn server(settings: &[(&str, &str)]) -> Cluster {
    Cluster::start(&Options {
        settings: settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("cannot start a throwaway PostgreSQL: {e}"))
}

fn log(cluster: &Cluster) -> String {
    String::from_utf8_lossy(&std::fs::read(cluster.log_path()).unwrap()).into_owned()
}

#[tokio::test]
async fn processes_starting_at_once_build_the_template_once_and_reuse_it() {
    let cluster = server(&[("log_statement", "'ddl'")]);
    let test = "the_attribute_hands_in_a_migrated_database";
    let children: Vec<_> = (0..4)
        .map(|_| run_self(&[test, "--exact"], &cluster.url("postgres")))
        .collect();
    for child in children {
        let out = output(child, test, LIMIT);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("1 passed"), "{}", text(&out));
    }
    let out = output(run_self(&[test, "--exact"], &cluster.url("postgres")), test, LIMIT);
    assert!(out.status.success(), "{}", text(&out));

    let log = log(&cluster);
    let builds = log.matches("statement: CREATE DATABASE \"migrate_build_").count();
    let drops = log
        .matches("statement: DROP DATABASE IF EXISTS \"mt_the_attribute")
        .count();
    assert_eq!((builds, drops), (1, 5), "{log}");
    // A process that finds no template waits for the one building it.
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("] postgres [unknown] ERROR:"))
        .collect();
    assert!(errors.len() <= 4, "{log}");
    assert!(
        errors
            .iter()
            .all(|l| l.contains("template database \"migrate_tpl_") && l.ends_with("does not exist")),
        "{log}"
    );
    let pool = migrate_runtime::pool_from_url(&cluster.url("postgres"), 1).unwrap();
    let left = rows(
        &pool,
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'mt\\_%' OR datname LIKE 'migrate\\_%'",
    )
    .await;
    let template = left.iter().flatten().flatten().find(|d| d.starts_with("migrate_tpl_"));
    let hash = &template.expect("the template stays")["migrate_tpl_".len()..];
    assert!(
        left.iter()
            .flatten()
            .flatten()
            .all(|d| d.starts_with("migrate_tpl_") || d.starts_with(&format!("migrate_spare_{hash}_"))),
        "only the template and its spares are left: {left:?}"
    );
}

#[tokio::test]
async fn a_failing_test_keeps_its_database_and_says_where() {
    let cluster = server(&[]);
    cluster
        .execute("postgres", "CREATE ROLE tester LOGIN SUPERUSER PASSWORD 'sekret-pw'")
        .await
        .unwrap();
    let admin = cluster.url_as("tester", "sekret-pw", "postgres");
    for test in [
        "panics_after_writing_evidence",
        "returns_an_error_after_writing_evidence",
    ] {
        let out = output(run_self(&[test, "--exact", "--ignored"], &admin), test, LIMIT);
        let text = text(&out);
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("deliberate failure"), "{text}");
        assert!(!text.contains("sekret-pw"), "the password is redacted: {text}");
        let kept = text
            .lines()
            .find_map(|l| l.split("its database ").nth(1))
            .and_then(|l| l.split(' ').next())
            .unwrap_or_else(|| panic!("no kept database named in: {text}"));
        assert!(
            text.contains(&format!(
                "psql 'postgresql://tester:***@127.0.0.1:{}/{kept}'",
                cluster.port()
            )),
            "{text}"
        );
        let pool = migrate_runtime::pool_from_url(&cluster.url(kept), 1).unwrap();
        assert_eq!(
            value(&pool, "SELECT display_name FROM profiles").await,
            "evidence",
            "the failed test's data is there to inspect"
        );
    }
}

/// Without `MIGRATE_TEST_DATABASE_URL` the database lives on the test
/// process's throwaway cluster: the message says it goes with the process
/// and how to keep one, and hands over no command that cannot work.
#[test]
fn a_failing_test_on_the_throwaway_cluster_says_its_database_goes_with_it() {
    let test = "panics_after_writing_evidence";
    let child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--ignored"])
        .env_remove("MIGRATE_TEST_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = output(child, test, LIMIT);
    let text = text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("deliberate failure"), "{text}");
    assert!(!text.contains("psql"), "no command that cannot work: {text}");
    assert!(
        text.contains("is on the throwaway PostgreSQL of this test process, which stops when the process exits"),
        "{text}"
    );
    assert!(
        text.contains("To keep it, run the tests against a server of yours: MIGRATE_TEST_DATABASE_URL="),
        "{text}"
    );
}

#[tokio::test]
async fn many_parallel_tests_stay_under_a_low_max_connections() {
    let cluster = server(&[("max_connections", "20")]);
    let out = output(
        run_self(&["capped_", "--test-threads", "12"], &cluster.url("postgres")),
        "the capped_ tests",
        LIMIT,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("12 passed"), "{}", text(&out));
    let log = log(&cluster);
    assert!(!log.contains("too many clients"), "{log}");
}

/// Run only by `a_test_process_killed_with_sigkill_stops_its_server`: it
/// waits on its stdin, which the parent never writes.
#[migrate_runtime::test(EXAMPLE)]
#[ignore = "waits until killed; run by a_test_process_killed_with_sigkill_stops_its_server"]
async fn holds_its_server_until_killed(pool: Pool) {
    let port = value(&pool, "SELECT current_setting('port')").await;
    // Without MIGRATE_TEST_DATABASE_URL the test databases live on this cluster.
    let url = throwaway_pg::shared().unwrap().url("postgres");
    assert!(url.contains(&format!(":{port}/")), "{url}");
    println!("server url={url}");
    std::io::stdin().read_line(&mut String::new()).unwrap();
}

#[tokio::test]
async fn a_test_process_killed_with_sigkill_stops_its_server() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["holds_its_server_until_killed", "--exact", "--ignored", "--nocapture"])
        .env_remove("MIGRATE_TEST_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = line_after(&mut child, "server url=", LIMIT);
    assert!(tokio_postgres::connect(&url, tokio_postgres::NoTls).await.is_ok());
    child.kill().unwrap();
    child.wait().unwrap();
    // The guardian shell notices the closed pipe and stops the server.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while tokio_postgres::connect(&url, tokio_postgres::NoTls).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server outlived its killed test process"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
