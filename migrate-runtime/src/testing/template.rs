//! Template databases: named after the migrations, built once per server
//! under an advisory lock, cloned for each test, pruned when they pile up.
//!
//! A template is built under another name and renamed when complete, so a
//! clone never copies a half-migrated database, even one a killed builder
//! left behind.

use super::server::Server;
use super::Strategy;
use crate::sql::quote_literal;
use crate::{Error, Runner};
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

const PREFIX: &str = "migrate_tpl_";
const BUILD_PREFIX: &str = "migrate_build_";
const SPARE_PREFIX: &str = "migrate_spare_";
/// `pg_advisory_lock` key held while a template is built or pruned
/// (`b"mig-tpl1"` read as a big-endian integer).
const BUILD_LOCK: i64 = 0x6d69_672d_7470_6c31;

/// `migrate_tpl_` and 16 hex digits of a hash of every file name and
/// checksum (repeatable files too) and of where the runner puts the
/// tracking table and the files' objects: a changed, added or removed file
/// names another template.
pub(crate) fn name(runner: &Runner) -> String {
    let mut text = String::from("migrate-runtime test template v2\n");
    let migrations = runner.migrations();
    let files = migrations.iter().map(|m| (m.file_name(), m.checksum_hex()));
    let repeatables = migrations.repeatables().map(|r| (r.file_name(), r.checksum_hex()));
    for (file_name, checksum) in files.chain(repeatables) {
        text.push_str(&format!("{file_name} {checksum}\n"));
    }
    text.push_str(&format!(
        "table {:?} schema {:?}\n",
        runner.table_name(),
        runner.schema_target()
    ));
    let hash = migrate_core::to_hex(&migrate_core::checksum(&text));
    format!("{PREFIX}{}", &hash[..16])
}

/// The name prefix of ready clones of `template` waiting for a test.
fn spare_prefix(template: &str) -> String {
    format!("{SPARE_PREFIX}{}_", &template[PREFIX.len()..])
}

/// Renames a spare clone of `template` to `database`, in one round trip;
/// false when there is none. Two claims of one spare are safe: renaming
/// locks the database and checks its name again, so the second one finds
/// it gone and tries the next.
pub(crate) async fn claim(server: &Server, template: &str, database: &str) -> Result<bool, Error> {
    let claim = crate::sql::do_block(&format!(
        " DECLARE spare text; BEGIN
           FOR spare IN SELECT datname FROM pg_database WHERE starts_with(datname, {prefix}) ORDER BY oid LOOP
             BEGIN
               EXECUTE format('ALTER DATABASE %I RENAME TO %I', spare, {database});
               PERFORM set_config('migrate.claimed', spare, true);
               RETURN;
             EXCEPTION WHEN invalid_catalog_name OR object_in_use THEN NULL;
             END;
           END LOOP;
         END ",
        prefix = quote_literal(&spare_prefix(template)),
        database = quote_literal(database),
    ));
    let sql = format!("{claim} SELECT current_setting('migrate.claimed', true)");
    let messages = server
        .admin()
        .simple_query(&sql)
        .await
        .map_err(Error::db("claiming a spare test database"))?;
    Ok(messages
        .iter()
        .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0).is_some_and(|v| !v.is_empty()))))
}

/// Clones `template` until `count` spares wait for the next tests, as many
/// at once as the machine has CPUs (more only thrash the server; one under
/// cargo-nextest, whose processes refill side by side), each on a
/// connection of its own, so that claims do not queue behind them. Wakes
/// the tests waiting for a spare after each one, and counts again when a
/// round is done, since tests took spares meanwhile.
pub(crate) async fn refill(server: &Server, template: &str, count: usize, strategy: Strategy) -> Result<(), Error> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let prefix = spare_prefix(template);
    // Under cargo-nextest every test is a process of its own, and they all
    // refill at once: one clone in flight per process.
    let at_once = match std::env::var("NEXTEST_EXECUTION_MODE").as_deref() {
        Ok("process-per-test") => 1,
        _ => std::thread::available_parallelism().map_or(2, usize::from),
    };
    loop {
        let waiting = server
            .admin()
            .query_one(
                "SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)",
                &[&prefix],
            )
            .await
            .map_err(Error::db("counting spare test databases"))?;
        let missing = count.saturating_sub(usize::try_from(waiting.get::<_, i64>(0)).unwrap_or(0));
        if missing == 0 {
            return Ok(());
        }
        stream::iter(0..missing)
            .map(|_| async {
                let _permit = server.connections(1).await;
                let client = server.connect_admin().await?;
                let spare = format!("{prefix}{}", super::unique());
                let sql = format!(
                    "CREATE DATABASE {} TEMPLATE {}{}",
                    quote(&spare),
                    quote(template),
                    clause(server, strategy)
                );
                execute(&client, &sql, "creating a spare test database").await?;
                server.spare_ready();
                Ok::<_, Error>(())
            })
            .buffer_unordered(at_once)
            .try_collect::<()>()
            .await?;
    }
}

fn clause(server: &Server, strategy: Strategy) -> &'static str {
    if server.version() >= 150000 {
        strategy.clause()
    } else {
        ""
    }
}

/// Creates `database` as a copy of `template`, building the template first
/// when the server has none; true when this call built it.
pub(crate) async fn clone(
    server: &Server,
    runner: &Runner,
    template: &str,
    database: &str,
    keep: usize,
    strategy: Strategy,
) -> Result<bool, Error> {
    let strategy = clause(server, strategy);
    let create = format!(
        "CREATE DATABASE {} TEMPLATE {}{strategy}",
        quote(database),
        quote(template)
    );
    let (mut tried, mut built) = (false, false);
    loop {
        // A connection of its own, held for this statement only: clones for
        // tests running at once proceed at once, and a build takes permits
        // of its own, which a held one could starve.
        let attempt = {
            let _permit = server.connections(1).await;
            server.connect_admin().await?.batch_execute(&create).await
        };
        match attempt {
            Ok(()) => return Ok(built),
            // No such template: build it (once; a second miss means another
            // process pruned it meanwhile, so build again).
            Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) && !tried => {
                built = build(server, runner, template, keep).await?;
                tried = true;
            }
            Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
                tried = false;
                tracing::warn!("template {template} vanished before it could be cloned; building it again");
            }
            Err(cause) => {
                return Err(Error::Database {
                    context: format!("creating test database {database} from template {template}"),
                    cause,
                })
            }
        }
    }
}

/// Builds `template` unless the server has it; true when it was built now.
pub(crate) async fn ensure(server: &Server, runner: &Runner, template: &str, keep: usize) -> Result<bool, Error> {
    if exists(server.admin(), template, "looking for the template").await? {
        return Ok(false);
    }
    build(server, runner, template, keep).await
}

/// Whether the server has a database named `database`.
async fn exists(client: &Client, database: &str, context: &'static str) -> Result<bool, Error> {
    Ok(client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .map_err(Error::db(context))?
        .is_some())
}

/// Builds `template` unless another test (of this or another process) has
/// built it while we waited for the lock; true when it built it.
async fn build(server: &Server, runner: &Runner, template: &str, keep: usize) -> Result<bool, Error> {
    // The lock connection, and the runner's pool of two.
    let _permits = server.connections(3).await;
    let client = server.connect_admin().await?;
    // Waiting inside this statement is safe: it runs in another database
    // than the one being migrated, and CREATE INDEX CONCURRENTLY only waits
    // for snapshots in its own database.
    execute(
        &client,
        &format!("SELECT pg_advisory_lock({BUILD_LOCK})"),
        "taking the template lock",
    )
    .await?;
    if exists(&client, template, "looking for the template").await? {
        return Ok(false);
    }
    let building = format!("{BUILD_PREFIX}{}", &template[PREFIX.len()..]);
    // What a builder that was killed left behind.
    if exists(&client, &building, "looking for an unfinished template").await? {
        let sql = format!("ALTER DATABASE {} WITH IS_TEMPLATE false", quote(&building));
        execute(&client, &sql, "unmarking an unfinished template").await?;
        drop_with(server, &client, &building).await?;
    }
    execute(
        &client,
        &format!("CREATE DATABASE {}", quote(&building)),
        "creating the template",
    )
    .await?;
    let started = Instant::now();
    let pool = crate::pool_from_url(&server.database_url(&building), 2)?;
    let ran = runner.run(&pool).await;
    pool.close();
    drop(pool);
    if let Err(e) = ran {
        drop_with(server, &client, &building).await?;
        return Err(e);
    }
    execute(
        &client,
        &format!(
            "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
            quote(&building)
        ),
        "marking the template",
    )
    .await?;
    let rename = format!("ALTER DATABASE {} RENAME TO {}", quote(&building), quote(template));
    until_unused(&client, &building, || client.batch_execute(&rename)).await?;
    tracing::info!(
        "Built test template {template} ({} migrations, {} ms)",
        runner.migrations().len(),
        started.elapsed().as_millis()
    );
    prune(&client, template, keep).await?;
    // Dropping `client` ends the session and releases the lock.
    Ok(true)
}

/// Drops the oldest templates of other migration sets beyond `keep`.
async fn prune(client: &Client, current: &str, keep: usize) -> Result<(), Error> {
    let old = client
        .query(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2 \
             ORDER BY oid DESC OFFSET $3",
            &[&PREFIX, &current, &i64::try_from(keep).unwrap_or(i64::MAX)],
        )
        .await
        .map_err(Error::db("listing old test templates"))?;
    for row in old {
        let name: String = row.get(0);
        for sql in [
            format!("ALTER DATABASE {} WITH IS_TEMPLATE false", quote(&name)),
            format!("DROP DATABASE IF EXISTS {}", quote(&name)),
        ] {
            execute(client, &sql, "dropping an old test template").await?;
        }
        tracing::info!("Dropped old test template {name}");
    }
    let orphans = client
        .query(
            "SELECT s.datname::text FROM pg_database s WHERE starts_with(s.datname, $1) AND NOT EXISTS \
             (SELECT FROM pg_database t WHERE t.datname = $2 || split_part(substr(s.datname, length($1) + 1), '_', 1))",
            &[&SPARE_PREFIX, &PREFIX],
        )
        .await
        .map_err(Error::db("listing spares of old test templates"))?;
    for row in orphans {
        let sql = format!("DROP DATABASE IF EXISTS {}", quote(row.get(0)));
        execute(client, &sql, "dropping a spare of an old test template").await?;
    }
    Ok(())
}

/// Drops a test database, disconnecting whoever is still connected.
pub(crate) async fn drop_database(server: &Server, database: &str) -> Result<(), Error> {
    drop_with(server, server.janitor(), database).await
}

async fn drop_with(server: &Server, client: &Client, database: &str) -> Result<(), Error> {
    if server.version() >= 130000 {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(database));
        return execute(client, &sql, "dropping a test database").await;
    }
    let sql = format!("DROP DATABASE IF EXISTS {}", quote(database));
    until_unused(client, database, || client.batch_execute(&sql)).await
}

/// Runs `statement`, which needs nobody connected to `database`; ends
/// leftover sessions and retries while they are on their way out.
async fn until_unused<F, Fut>(client: &Client, database: &str, statement: F) -> Result<(), Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), tokio_postgres::Error>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match statement().await {
            Ok(()) => return Ok(()),
            Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) && started.elapsed() < Duration::from_secs(30) => {
                client
                    .execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                        &[&database],
                    )
                    .await
                    .map_err(Error::db("disconnecting sessions from a test database"))?;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(cause) => {
                return Err(Error::Database {
                    context: format!("changing database {database}"),
                    cause,
                })
            }
        }
    }
}

async fn execute(client: &Client, sql: &str, context: &str) -> Result<(), Error> {
    client.batch_execute(sql).await.map_err(Error::db(context))
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
