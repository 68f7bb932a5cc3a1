//! A lost lease stops every kind of write, not only versioned files. Two
//! instances behind PgBouncer in transaction pooling (so `auto` takes the
//! lease) run the same operation. The first reaches its write and waits
//! on the tracking table, which the test holds locked, and is frozen
//! (SIGSTOP) once its attempt has given up; the second takes the expired
//! lease over and does the work. Woken up, the first must write nothing
//! more: it fails with a lost lease, and the work happened exactly once.

use deadpool_postgres::Pool;
use migrate_runtime::Migrations;
use migrate_tests::children::{go, signal, spawn, wait_all};
use migrate_tests::{cluster, fresh, rows, until, value, write_files};
use std::time::Duration;
use throwaway_pg::{Pooler, PoolerOptions};

/// The set every case starts from: a table, a file with a down file, and
/// a repeatable file; each counts its runs in `effects`.
const SET: &[(&str, &str)] = &[
    ("001_effects.sql", "CREATE TABLE effects (what text NOT NULL);"),
    ("002_first.sql", "INSERT INTO effects VALUES ('002 up');"),
    ("002_first.down.sql", "INSERT INTO effects VALUES ('002 down');"),
    ("repeatable/r.sql", "INSERT INTO effects VALUES ('repeatable');"),
];

/// A child process: waits for a line on stdin, then runs
/// `MIGRATE_CHILD_OP` (`up`, `revert-to N`, `baseline N`, `forget FILE`)
/// with the set in `MIGRATE_CHILD_DIR` through `MIGRATE_CHILD_URL`, with a
/// 2 s lease. Panics with the error.
#[test]
#[ignore = "started by the tests of this file as a child process"]
fn child() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name}"));
    let (url, dir, op) = (
        var("MIGRATE_CHILD_URL"),
        var("MIGRATE_CHILD_DIR"),
        var("MIGRATE_CHILD_OP"),
    );
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let set = Migrations::from_dir(dir.as_ref()).unwrap_or_else(|e| panic!("{e:?}"));
    let runner = set
        .runner()
        .lease(Duration::from_millis(2000))
        .lock_poll_max(Duration::from_millis(50));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = migrate_runtime::pool_from_url(&url, 1).unwrap();
        let (verb, argument) = op.split_once(' ').unwrap_or((&op, ""));
        let done = match verb {
            "up" => runner.run(&pool).await.map(drop),
            "revert-to" => runner.revert_to(&pool, argument.parse().unwrap()).await.map(drop),
            "baseline" => runner.baseline(&pool, argument.parse().unwrap()).await.map(drop),
            "forget" => runner.forget(&pool, argument).await.map(drop),
            _ => panic!("unknown operation {op}"),
        };
        done.unwrap_or_else(|e| panic!("{e}"));
    });
}

/// One case: the folder's files, and how the database is prepared.
struct Case<'a> {
    files: &'a [(&'a str, &'a str)],
    /// Run with the files before the test (`up`), or only create the
    /// tracking table.
    applied: bool,
    /// SQL run after that.
    prepare: &'a str,
    /// What both instances run.
    op: &'a str,
}

/// The tracking table, and what the files did, as text.
async fn state(pool: &Pool) -> Vec<Vec<Option<String>>> {
    let mut all = rows(
        pool,
        "SELECT filename, checksum IS NOT NULL FROM schema_migrations ORDER BY filename",
    )
    .await;
    all.extend(
        rows(
            pool,
            "SELECT what, count(*)::text FROM effects GROUP BY what ORDER BY what",
        )
        .await,
    );
    all
}

/// Runs `case`, checks that the frozen holder wrote nothing after the
/// takeover, and returns the state the successor left.
async fn frozen_holder_writes_nothing(case: Case<'_>) -> Vec<Vec<Option<String>>> {
    let pooler = Pooler::start(
        cluster(),
        PoolerOptions {
            pool_size: 4,
            ..PoolerOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("cannot start PgBouncer: {e}"));
    let (_, name, pool) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), case.files);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let runner = match case.applied {
        true => set.runner(),
        false => set.runner().target(0),
    };
    runner.run(&pool).await.unwrap();
    if !case.prepare.is_empty() {
        pool.get().await.unwrap().batch_execute(case.prepare).await.unwrap();
    }

    // Writes to the tracking table wait until the test lets them.
    let gate = pool.get().await.unwrap();
    gate.batch_execute("BEGIN; LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE")
        .await
        .unwrap();
    let through = pooler.url(&name);
    let env = |op| {
        [
            ("MIGRATE_CHILD_DIR", dir.path().to_str().unwrap()),
            ("MIGRATE_CHILD_OP", op),
        ]
    };
    let mut holder = vec![spawn(&through, "holder", &env(case.op))];
    go(&mut holder);
    let waiting = "SELECT EXISTS (SELECT FROM pg_locks WHERE relation = 'schema_migrations'::regclass \
                   AND NOT granted)";
    until(
        "the holder takes the lease and waits to write",
        Duration::from_secs(60),
        async || {
            value(&pool, waiting).await == "t"
                && value(
                    &pool,
                    "SELECT count(*) FROM schema_migrations_lock WHERE owner IS NOT NULL",
                )
                .await
                    == "1"
        },
    )
    .await;
    signal(&holder[0], "-STOP");
    // Its attempt gives up at its lock_timeout, on the server, frozen or not.
    until(
        "the frozen holder's write gives up",
        Duration::from_secs(60),
        async || value(&pool, waiting).await == "f",
    )
    .await;
    gate.batch_execute("ROLLBACK").await.unwrap();

    let mut successor = vec![spawn(&through, "successor", &env(case.op))];
    go(&mut successor);
    let (ok, stderr) = wait_all(successor, Duration::from_secs(120)).remove(0);
    assert!(ok, "the successor: {stderr}");
    let after = state(&pool).await;
    assert_eq!(
        value(&pool, "SELECT token FROM schema_migrations_lock").await,
        "2",
        "the successor took the lease over"
    );

    signal(&holder[0], "-CONT");
    let (ok, stderr) = wait_all(holder, Duration::from_secs(120)).remove(0);
    assert!(!ok, "the frozen holder must fail");
    assert!(stderr.contains("lost the migration lease"), "{stderr}");
    assert_eq!(state(&pool).await, after, "the frozen holder wrote nothing more");
    after
}

fn row(cells: &[&str]) -> Vec<Option<String>> {
    cells.iter().map(|c| Some(c.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versioned_and_repeatable_files() {
    let state = frozen_holder_writes_nothing(Case {
        files: SET,
        applied: false,
        prepare: "",
        op: "up",
    })
    .await;
    assert_eq!(state[3..], [row(&["002 up", "1"]), row(&["repeatable", "1"])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_repeatable_file() {
    let state = frozen_holder_writes_nothing(Case {
        files: SET,
        applied: true,
        prepare: "UPDATE schema_migrations SET checksum = 'old' WHERE filename = 'repeatable/r.sql'",
        op: "up",
    })
    .await;
    assert_eq!(
        state[3..],
        [row(&["002 up", "1"]), row(&["repeatable", "2"])],
        "the changed file ran once more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_sql() {
    let state = frozen_holder_writes_nothing(Case {
        files: SET,
        applied: true,
        prepare: "",
        op: "revert-to 1",
    })
    .await;
    assert_eq!(
        state,
        [
            row(&["001_effects.sql", "t"]),
            row(&["repeatable/r.sql", "t"]),
            row(&["002 down", "1"]),
            row(&["002 up", "1"]),
            row(&["repeatable", "1"]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopted_checksums() {
    let state = frozen_holder_writes_nothing(Case {
        files: SET,
        applied: true,
        prepare: "UPDATE schema_migrations SET checksum = NULL WHERE filename = '001_effects.sql'",
        op: "up",
    })
    .await;
    assert_eq!(state[0], row(&["001_effects.sql", "t"]), "adopted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline() {
    let state = frozen_holder_writes_nothing(Case {
        files: SET,
        applied: false,
        prepare: "CREATE TABLE effects (what text NOT NULL)",
        op: "baseline 2",
    })
    .await;
    assert_eq!(state, [row(&["001_effects.sql", "t"]), row(&["002_first.sql", "t"])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget() {
    let state = frozen_holder_writes_nothing(Case {
        files: SET,
        applied: true,
        prepare: "",
        op: "forget 002_first.sql",
    })
    .await;
    assert_eq!(
        state[..2],
        [row(&["001_effects.sql", "t"]), row(&["repeatable/r.sql", "t"])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squashed_files_record() {
    let squashed = [
        (
            "002_squashed.sql",
            "-- migrate: squashes 001-002\n-- migrate: replaces 001_effects.sql\n\
             -- migrate: replaces 002_first.sql\n-- migrate: allow(missing-if-not-exists)\n\
             CREATE TABLE effects (what text NOT NULL);\nINSERT INTO effects VALUES ('002 up');",
        ),
        SET[3],
    ];
    let state = frozen_holder_writes_nothing(Case {
        files: &squashed,
        applied: false,
        prepare: "CREATE TABLE effects (what text NOT NULL); INSERT INTO effects VALUES ('002 up'); \
                  INSERT INTO schema_migrations (filename, checksum) VALUES ('001_effects.sql', 'x'), ('002_first.sql', 'y'); \
                  INSERT INTO effects VALUES ('repeatable'); \
                  INSERT INTO schema_migrations (filename, checksum) VALUES ('repeatable/r.sql', 'z')",
        op: "up",
    })
    .await;
    assert_eq!(state[2], row(&["002_squashed.sql", "t"]), "recorded, not run");
    assert_eq!(state[4..], [row(&["002 up", "1"]), row(&["repeatable", "2"])]);
}
