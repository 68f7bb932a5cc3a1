//! What another role can plant cannot run as the migrating role: look-alike
//! functions, operators, catalog views and types on the search_path, a
//! tracking or lock relation someone else owns or that fires triggers, a
//! tenant schema someone else owns. The history is read from the table it
//! was written to, whatever schema appears on the search_path later.

use deadpool_postgres::Pool;
use migrate_runtime::fanout::{self, Operation, Options, Target};
use migrate_runtime::schema::ReadOptions;
use migrate_runtime::{lock_key, pool_from_url, LockMode, Migrations, TableName, Timeouts};
use migrate_tests::{client_value, fresh, migrations_in, rows, until, value, Logs};
use std::time::Duration;

/// Look-alikes in `public` of every `pg_catalog` function (without a
/// `search_path` of their own, which `current_schema()` would report),
/// operator,
/// common aggregate, relation and non-keyword type name, each counting
/// its calls by a role whose `application_name` is `migrator` in a
/// sequence (which a rollback does not undo) and naming them in
/// `hijack_log`. The database's `search_path` then puts `pg_catalog`
/// last, so any name the runner leaves unqualified resolves to one.
const PLANT: &str = r#"
SET search_path = pg_catalog, pg_temp;
CREATE SEQUENCE public.hijacked;
CREATE TABLE public.hijack_log (what text);
CREATE FUNCTION public.hijack_note(what text) RETURNS boolean SET search_path = pg_catalog, pg_temp
LANGUAGE plpgsql AS $f$
BEGIN
  IF current_setting('application_name') = 'migrator' THEN
    PERFORM nextval('public.hijacked');
    BEGIN
      INSERT INTO public.hijack_log VALUES (what || ' in: ' || current_query());
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END IF;
  RETURN true;
END $f$;
-- Rows in the catalogs a look-alike view scans.
CREATE TABLE public.hijack_rows (id integer);
CREATE FUNCTION public.hijack_trigger() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$;
CREATE TRIGGER hijack_rows_trigger BEFORE INSERT ON public.hijack_rows FOR EACH ROW EXECUTE FUNCTION public.hijack_trigger();
DO $plant$
DECLARE
  f record;
  calls text;
BEGIN
  FOR f IN
    SELECT p.oid, p.proname, pg_get_function_identity_arguments(p.oid) AS args,
           pg_get_function_result(p.oid) AS result, p.pronargs
    FROM pg_proc p
    WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'f' AND NOT p.proretset
      AND p.proallargtypes IS NULL AND p.provariadic = 0 AND p.proname NOT LIKE 'hijack%'
      AND NOT EXISTS (SELECT FROM pg_type t WHERE t.typtype = 'p'
                      AND (t.oid = ANY (p.proargtypes::oid[]) OR t.oid = p.prorettype))
  LOOP
    SELECT string_agg('$' || i, ', ') INTO calls FROM generate_series(1, f.pronargs) i;
    BEGIN
      EXECUTE format(
        'CREATE FUNCTION public.%I(%s) RETURNS %s LANGUAGE plpgsql '
        'AS %L', f.proname, f.args, f.result,
        format('BEGIN PERFORM public.hijack_note(%L); RETURN pg_catalog.%I(%s); END',
               'function ' || f.proname || '(' || f.args || ')', f.proname, coalesce(calls, '')));
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END LOOP;
  FOR f IN
    SELECT o.oid, o.oprname, o.oprleft::regtype AS l, o.oprright::regtype AS r, o.oprresult::regtype AS res
    FROM pg_operator o
    JOIN pg_type lt ON lt.oid = o.oprleft JOIN pg_type rt ON rt.oid = o.oprright JOIN pg_type ot ON ot.oid = o.oprresult
    WHERE o.oprnamespace = 'pg_catalog'::regnamespace AND o.oprkind = 'b'
      AND lt.typtype <> 'p' AND rt.typtype <> 'p' AND ot.typtype <> 'p'
  LOOP
    BEGIN
      EXECUTE format(
        'CREATE FUNCTION public.hijack_op_%s(%s, %s) RETURNS %s SET search_path = pg_catalog, pg_temp '
        'LANGUAGE plpgsql AS %L', f.oid, f.l, f.r, f.res,
        format('BEGIN PERFORM public.hijack_note(%L); RETURN $1 OPERATOR(pg_catalog.%s) $2; END',
               'operator ' || f.l || ' ' || f.oprname || ' ' || f.r, f.oprname));
      EXECUTE format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.hijack_op_%s)',
                     f.oprname, f.l, f.r, f.oid);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END LOOP;
  FOR f IN
    SELECT c.relname FROM pg_class c
    WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind IN ('r', 'v')
  LOOP
    BEGIN
      EXECUTE format('CREATE VIEW public.%I AS SELECT x.* FROM pg_catalog.%I x WHERE public.hijack_note(%L)',
                     f.relname, f.relname, 'relation ' || f.relname);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END LOOP;
END $plant$;
CREATE FUNCTION public.hijack_step(state bigint) RETURNS bigint SET search_path = pg_catalog, pg_temp
LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.hijack_note('aggregate step'); RETURN state + 1; END $f$;
CREATE FUNCTION public.hijack_step(state bigint, v anyelement) RETURNS bigint SET search_path = pg_catalog, pg_temp
LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.hijack_note('aggregate step'); RETURN state + 1; END $f$;
CREATE FUNCTION public.hijack_final(state bigint) RETURNS bigint SET search_path = pg_catalog, pg_temp
LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.hijack_note('aggregate'); RETURN state; END $f$;
CREATE AGGREGATE public.count(*) (SFUNC = public.hijack_step, STYPE = bigint, INITCOND = '0', FINALFUNC = public.hijack_final);
"#;

/// The aggregates and types planted after the functions, which they use.
const PLANT_MORE: &str = r#"
SET search_path = pg_catalog, pg_temp;
DO $plant$
DECLARE
  t text;
  a text;
BEGIN
  FOREACH t IN ARRAY ARRAY['text', 'character varying', 'integer', 'bigint', 'oid', 'name', 'boolean',
                           'timestamp with time zone']
  LOOP
    FOREACH a IN ARRAY ARRAY['count', 'max', 'min', 'sum', 'bool_and', 'bool_or', 'string_agg'] LOOP
      BEGIN
        IF a = 'string_agg' THEN
          EXECUTE format('CREATE FUNCTION public.hijack_agg_step(state bigint, v %s, d %s) RETURNS bigint '
                         'SET search_path = pg_catalog, pg_temp LANGUAGE plpgsql AS %L', t, t,
                         'BEGIN PERFORM public.hijack_note(''aggregate step''); RETURN state + 1; END');
          EXECUTE format('CREATE AGGREGATE public.string_agg(%s, %s) (SFUNC = public.hijack_agg_step, '
                         'STYPE = bigint, INITCOND = ''0'', FINALFUNC = public.hijack_final)', t, t);
        ELSE
          EXECUTE format('CREATE AGGREGATE public.%I(%s) (SFUNC = public.hijack_step, STYPE = bigint, '
                         'INITCOND = ''0'', FINALFUNC = public.hijack_final)', a, t);
        END IF;
      EXCEPTION WHEN OTHERS THEN NULL;
      END;
    END LOOP;
  END LOOP;
  FOREACH t IN ARRAY ARRAY['text', 'name', 'oid', 'regclass', 'regnamespace', 'regrole', 'regtype', 'regproc',
                           'int2', 'int4', 'int8', 'float8', 'bool', 'timestamptz', 'varchar', 'bpchar',
                           'char', 'bytea', 'xid']
  LOOP
    BEGIN
      EXECUTE format('CREATE DOMAIN public.%I AS pg_catalog.%I CHECK (public.hijack_note(%L))',
                     t, t, 'type ' || t);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END LOOP;
END $plant$;
"#;

/// A pool whose connections name themselves `migrator`, the calls the
/// look-alikes count.
fn migrator_pool(url: &str) -> Pool {
    let separator = if url.contains('?') { '&' } else { '?' };
    pool_from_url(&format!("{url}{separator}application_name=migrator"), 4).unwrap()
}

async fn plant(pool: &Pool, database: &str) {
    let client = pool.get().await.unwrap();
    client.batch_execute(PLANT).await.unwrap();
    client.batch_execute(PLANT_MORE).await.unwrap();
    client
        .batch_execute(&format!(
            "ALTER DATABASE \"{database}\" SET search_path = \"$user\", public, pg_catalog"
        ))
        .await
        .unwrap();
}

/// How many look-alike calls were counted, and what they were.
async fn hijacks(pool: &Pool) -> (String, Vec<String>) {
    let count = value(
        pool,
        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.hijacked",
    )
    .await;
    let log = rows(pool, "SELECT what FROM public.hijack_log")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect();
    (count, log)
}

async fn assert_none_called(pool: &Pool, step: &str) {
    let (count, log) = hijacks(pool).await;
    assert_eq!(
        count, "0",
        "{step}: the runner's SQL called planted look-alikes:\n{log:#?}"
    );
}

const SET: &[(&str, &str)] = &[
    ("001_a.sql", "CREATE TABLE a (id integer PRIMARY KEY);\n"),
    (
        "002_index.sql",
        "-- migrate: no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n",
    ),
    ("003_b.sql", "CREATE TABLE b (id integer);\n"),
    ("003_b.down.sql", "DROP TABLE b;\n"),
    ("repeatable/v.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;\n"),
];

const LOCK_WAIT: &[(&str, &str)] = &[
    ("004_c.sql", "CREATE TABLE c (id integer);\n"),
    ("004_c.down.sql", "DROP TABLE c;\n"),
];

const RETRIED: &[(&str, &str)] = &[(
    "005_index.sql",
    "-- migrate: no-transaction\nCREATE INDEX CONCURRENTLY a_id_again ON a (id);\n",
)];

/// Lock timeouts from `first` to `max`, retried for up to a minute.
fn retrying(first: Duration, max: Duration) -> Timeouts {
    Timeouts {
        lock_timeout: Some(first),
        lock_timeout_max: max,
        retry_pause: Duration::from_millis(20),
        retry_pause_max: Duration::from_millis(20),
        budget: Duration::from_secs(60),
        ..Timeouts::default()
    }
}

fn set(parts: &[&[(&'static str, &'static str)]]) -> (tempfile::TempDir, Migrations) {
    migrations_in(&parts.concat())
}

#[tokio::test]
async fn look_alikes_planted_on_the_search_path_are_never_called_on_any_path() {
    let (url, database, admin) = fresh().await;
    plant(&admin, &database).await;
    let pool = migrator_pool(&url);

    // The plant is live: unqualified names reach each kind of look-alike.
    let probe = pool.get().await.unwrap();
    client_value(
        &probe,
        "SELECT count(*) FROM pg_locks WHERE 'x'::text = 'y' OR hashtextextended('x', 0) = 0",
    )
    .await;
    drop(probe);
    let (count, log) = hijacks(&admin).await;
    assert_ne!(count, "0");
    for kind in [
        "function hashtextextended",
        "operator text = text",
        "relation pg_locks",
        "type text",
        "aggregate",
    ] {
        assert!(
            log.iter().any(|l| l.starts_with(kind)),
            "no {kind} look-alike was called: {log:#?}"
        );
    }
    admin
        .get()
        .await
        .unwrap()
        .batch_execute("ALTER SEQUENCE public.hijacked RESTART; TRUNCATE public.hijack_log")
        .await
        .unwrap();

    let (logs, _guard) = Logs::capture();
    let (_dir, first) = set(&[SET]);
    assert_eq!(first.run(&pool).await.unwrap().applied.len(), 3);
    assert_none_called(&admin, "first run").await;
    assert!(first.run(&pool).await.unwrap().up_to_date());
    assert_none_called(&admin, "no-op start").await;
    first.runner().status(&pool).await.unwrap();
    first.runner().verify(&pool).await.unwrap();
    first.runner().dry_run(&pool).await.unwrap();
    assert_none_called(&admin, "status, verify and dry run").await;
    let schema = first
        .runner()
        .read_schema(&pool, ReadOptions::default().privileges(true))
        .await
        .unwrap();
    assert!(!schema.objects.is_empty());
    assert_none_called(&admin, "reading the schema (diff, schema)").await;

    // Waiting for the lock.
    let (_dir, waited) = set(&[SET, LOCK_WAIT]);
    let key = lock_key(&"public.schema_migrations".parse::<TableName>().unwrap());
    let holder = admin.get().await.unwrap();
    holder
        .batch_execute(&format!("SELECT pg_advisory_lock({key})"))
        .await
        .unwrap();
    let run = tokio::spawn({
        let pool = pool.clone();
        async move { waited.run(&pool).await }
    });
    logs.wait_for("Waiting for the migration lock").await;
    holder
        .batch_execute(&format!("SELECT pg_advisory_unlock({key})"))
        .await
        .unwrap();
    assert_eq!(run.await.unwrap().unwrap().applied.len(), 1);
    assert_none_called(&admin, "a run that waited for the lock").await;

    let (_dir, waited) = set(&[SET, LOCK_WAIT]);
    assert_eq!(waited.runner().revert_steps(&pool, 1).await.unwrap().len(), 1);
    assert_none_called(&admin, "revert").await;
    let report = waited.runner().lock_mode(LockMode::Lease).run(&pool).await.unwrap();
    assert_eq!(report.applied.len(), 1);
    assert_none_called(&admin, "a run under a lease").await;

    // A lock-timeout retry that drops the INVALID index it left.
    let blocker = admin.get().await.unwrap();
    let pid = client_value(&blocker, "SELECT pg_backend_pid()").await;
    blocker
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT * FROM a")
        .await
        .unwrap();
    let (_dir, retried) = set(&[SET, LOCK_WAIT, RETRIED]);
    let run = tokio::spawn({
        let pool = pool.clone();
        async move {
            retried
                .runner()
                .timeouts(retrying(Duration::from_millis(200), Duration::from_millis(400)))
                .run(&pool)
                .await
        }
    });
    logs.wait_for("dropped before the retry").await;
    logs.wait_for(&format!("blocked by pid {pid}")).await;
    blocker.batch_execute("COMMIT").await.unwrap();
    assert_eq!(run.await.unwrap().unwrap().applied.len(), 1);
    assert_none_called(&admin, "a lock-timeout retry").await;

    // Fan-out over two schemas, then their status; baseline and forget.
    let (_dir, tenants) = set(&[SET]);
    let targets = vec![Target::Schema("tenant_a".into()), Target::Schema("tenant_b".into())];
    let options = Options {
        create_schemas: true,
        ..Options::default()
    };
    for operation in [Operation::Up, Operation::Status] {
        let summary = fanout::run(&tenants.runner(), &pool, targets.clone(), &options, operation, &|_| {}).await;
        assert_eq!(summary.failed().count(), 0, "{summary}");
    }
    assert_none_called(&admin, "fan-out").await;
    let runner = tenants.runner().schema("tenant_c").create_schema(true);
    assert_eq!(runner.baseline(&pool, 1).await.unwrap().len(), 1);
    runner.forget(&pool, "001_a.sql").await.unwrap();
    assert_none_called(&admin, "baseline and forget").await;
}

/// `"$user"` comes first on the default search_path: a schema named after
/// the migrating role, created after the history, must not get a second,
/// empty tracking table that makes every file apply again.
#[tokio::test]
async fn a_schema_named_after_the_role_does_not_hide_the_history() {
    let (_, _, pool) = fresh().await;
    let (_dir, two) = migrations_in(&[
        ("001_a.sql", "CREATE TABLE a (id integer);\n"),
        ("002_b.sql", "CREATE TABLE b (id integer);\n"),
    ]);
    assert_eq!(two.run(&pool).await.unwrap().applied.len(), 2);
    pool.get()
        .await
        .unwrap()
        .batch_execute("CREATE SCHEMA AUTHORIZATION CURRENT_USER")
        .await
        .unwrap();

    let (_dir, three) = migrations_in(&[
        ("001_a.sql", "CREATE TABLE a (id integer);\n"),
        ("002_b.sql", "CREATE TABLE b (id integer);\n"),
        ("003_c.sql", "CREATE TABLE c (id integer);\n"),
    ]);
    let applied: Vec<String> = three
        .run(&pool)
        .await
        .unwrap()
        .applied
        .into_iter()
        .map(|a| a.file_name)
        .collect();
    assert_eq!(applied, ["003_c.sql"]);
    assert_eq!(
        value(
            &pool,
            "SELECT (SELECT count(*) FROM public.schema_migrations) || ' ' \
             || (to_regclass(quote_ident(current_user) || '.schema_migrations') IS NULL)"
        )
        .await,
        "3 true"
    );
    assert!(three.run(&pool).await.unwrap().up_to_date());
}

/// A role of this test's own that can create in `public`, and a function
/// of its that counts its calls in `public.spied`.
async fn intruder(pool: &Pool, database: &str) -> String {
    let role = format!("intruder_{database}");
    pool.get()
        .await
        .unwrap()
        .batch_execute(&format!(
            "CREATE ROLE {role}; GRANT CREATE ON SCHEMA public TO {role}; SET ROLE {role}; \
             CREATE SEQUENCE public.spied; \
             CREATE FUNCTION public.spy() RETURNS trigger LANGUAGE plpgsql AS \
             $f$ BEGIN PERFORM nextval('public.spied'); RETURN NEW; END $f$; \
             CREATE FUNCTION public.spy_value() RETURNS boolean LANGUAGE sql AS \
             $f$ SELECT nextval('public.spied') > 0 $f$; RESET ROLE"
        ))
        .await
        .unwrap();
    role
}

async fn spied(pool: &Pool) -> String {
    value(
        pool,
        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.spied",
    )
    .await
}

fn untrusted(e: migrate_runtime::Error) -> (String, String) {
    match e {
        migrate_runtime::Error::Untrusted { object, why } => (object, why),
        other => panic!("expected a refusal to use an untrusted relation, got {other}"),
    }
}

const ONE: &[(&str, &str)] = &[("001_a.sql", "CREATE TABLE a (id integer);\n")];

#[tokio::test]
async fn a_lock_table_that_is_a_view_is_refused_without_running_it() {
    let (_, database, pool) = fresh().await;
    let role = intruder(&pool, &database).await;
    pool.get()
        .await
        .unwrap()
        .batch_execute(&format!(
            "SET ROLE {role}; CREATE VIEW public.schema_migrations_lock AS \
             SELECT 1 AS id, 'x'::text AS owner, 1::bigint AS token, now() AS acquired_at, now() AS expires_at \
             WHERE public.spy_value(); RESET ROLE"
        ))
        .await
        .unwrap();
    let (_dir, set) = migrations_in(ONE);
    for mode in [LockMode::Session, LockMode::Lease] {
        let (object, why) = untrusted(set.runner().lock_mode(mode).run(&pool).await.unwrap_err());
        assert_eq!(object, "\"public\".\"schema_migrations_lock\"");
        assert!(
            why.starts_with("it is a view, which can run code of its owner"),
            "{why}"
        );
    }
    assert_eq!(spied(&pool).await, "0");
    assert_eq!(value(&pool, "SELECT to_regclass('a') IS NULL").await, "t");
}

#[tokio::test]
async fn a_tracking_table_another_role_owns_or_with_a_trigger_is_refused() {
    let (_, database, pool) = fresh().await;
    let role = intruder(&pool, &database).await;
    let (_dir, set) = migrations_in(ONE);
    set.run(&pool).await.unwrap();
    let admin = pool.get().await.unwrap();
    admin
        .batch_execute(&format!(
            "ALTER TABLE public.schema_migrations OWNER TO {role}; \
             CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON public.schema_migrations \
             FOR EACH ROW EXECUTE FUNCTION public.spy()"
        ))
        .await
        .unwrap();
    let (_dir, two) = migrations_in(&[ONE, &[("002_b.sql", "CREATE TABLE b (id integer);\n")]].concat());

    let (object, why) = untrusted(two.run(&pool).await.unwrap_err());
    assert_eq!(object, "\"public\".\"schema_migrations\"");
    assert!(
        why.contains(&format!("owned by {role}, not by postgres"))
            && why.contains("ALTER TABLE \"public\".\"schema_migrations\" OWNER TO postgres"),
        "{why}"
    );
    let e = two.runner().status(&pool).await.unwrap_err();
    assert!(e.to_string().contains(&format!("owned by {role}")), "{e}");

    admin
        .batch_execute("ALTER TABLE public.schema_migrations OWNER TO CURRENT_USER")
        .await
        .unwrap();
    let (_, why) = untrusted(two.run(&pool).await.unwrap_err());
    assert!(why.starts_with("it has the trigger(s) spy, which would run"), "{why}");
    assert_eq!(spied(&pool).await, "0");
    assert_eq!(value(&pool, "SELECT to_regclass('b') IS NULL").await, "t");

    admin
        .batch_execute("DROP TRIGGER spy ON public.schema_migrations")
        .await
        .unwrap();
    assert_eq!(two.run(&pool).await.unwrap().applied.len(), 1);
}

#[tokio::test]
async fn a_schema_target_another_role_owns_runs_only_when_its_owner_is_trusted() {
    let (_, database, pool) = fresh().await;
    let role = intruder(&pool, &database).await;
    pool.get()
        .await
        .unwrap()
        .batch_execute(&format!("CREATE SCHEMA tenant_x AUTHORIZATION {role}"))
        .await
        .unwrap();
    let (_dir, set) = migrations_in(ONE);
    let (object, why) = untrusted(set.runner().schema("tenant_x").run(&pool).await.unwrap_err());
    assert_eq!(object, "the schema \"tenant_x\"");
    assert!(why.contains(&format!("`--trust-owner {role}`")), "{why}");
    assert_eq!(value(&pool, "SELECT to_regclass('tenant_x.a') IS NULL").await, "t");

    let report = set
        .runner()
        .schema("tenant_x")
        .trust_owner(&role)
        .run(&pool)
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 1);
}

/// The advisory lock's key is no secret: a session holding it must not
/// stall every start-up for ever.
#[tokio::test]
async fn a_session_squatting_on_the_lock_key_is_named_once_the_lock_wait_passes() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations_in(ONE);
    let key = lock_key(&"public.schema_migrations".parse::<TableName>().unwrap());
    let squatter = pool.get().await.unwrap();
    squatter
        .batch_execute(&format!(
            "SET application_name = 'squatter'; SELECT pg_advisory_lock({key})"
        ))
        .await
        .unwrap();
    let limit = Duration::from_millis(300);
    for (mode, named) in [
        (LockMode::Session, "(application_name 'squatter', connected since"),
        (LockMode::Lease, "a session advisory lock"),
    ] {
        match set.runner().lock_mode(mode).lock_wait(limit).run(&pool).await {
            Err(e @ migrate_runtime::Error::LockWait { .. }) => {
                let migrate_runtime::Error::LockWait { waited, holder } = &e else {
                    unreachable!()
                };
                assert!(*waited >= limit, "{waited:?}");
                assert!(holder.as_deref().is_some_and(|h| h.contains(named)), "{e}");
                assert!(e.to_string().contains("pg_terminate_backend"), "{e}");
            }
            other => panic!("{mode:?}: expected a lock wait error, got {other:?}"),
        }
    }
    assert_eq!(value(&pool, "SELECT to_regclass('a') IS NULL").await, "t");
    squatter
        .batch_execute(&format!("SELECT pg_advisory_unlock({key})"))
        .await
        .unwrap();
    assert_eq!(set.runner().lock_wait(limit).run(&pool).await.unwrap().applied.len(), 1);
}

const WITH_DOWN: &[(&str, &str)] = &[
    ("001_a.sql", "CREATE TABLE a (id integer);\n"),
    ("002_b.sql", "CREATE TABLE b (id integer);\n"),
    ("002_b.down.sql", "DROP TABLE b;\n"),
];

/// Down SQL stored in a tracking row is input: changed behind the
/// binary's back it runs only when asked, and it passes the build-time
/// checks first.
#[tokio::test]
async fn stored_down_sql_that_differs_or_fails_the_checks_is_refused() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations_in(WITH_DOWN);
    set.run(&pool).await.unwrap();
    let admin = pool.get().await.unwrap();
    admin
        .batch_execute(
            "CREATE TABLE planted (id integer); \
             UPDATE schema_migrations SET down_sql = 'DROP TABLE b; DROP TABLE planted;' WHERE filename = '002_b.sql'",
        )
        .await
        .unwrap();

    let e = set.runner().revert_steps(&pool, 1).await.unwrap_err().to_string();
    assert!(
        e.contains("002_b.sql: the down SQL stored in its tracking row differs from the embedded 002_b.down.sql")
            && e.contains("--use-stored"),
        "{e}"
    );
    let preview = set
        .runner()
        .revert_dry_run(&pool, migrate_runtime::RevertScope::Steps(1))
        .await
        .unwrap();
    assert_eq!(preview.len(), 1);
    assert_eq!(preview[0].sql, "DROP TABLE b;\n");
    assert!(!preview[0].from_stored_sql);
    assert_eq!(
        preview[0].stored_differs.as_deref(),
        Some("DROP TABLE b; DROP TABLE planted;")
    );
    assert_eq!(value(&pool, "SELECT count(*) FROM schema_migrations").await, "2");

    let reverted = set
        .runner()
        .use_stored_down_sql(true)
        .revert_steps(&pool, 1)
        .await
        .unwrap();
    assert!(reverted[0].from_stored_sql);
    assert_eq!(value(&pool, "SELECT to_regclass('planted') IS NULL").await, "t");

    // A binary without the down file runs the stored SQL, once it passes
    // the checks a file passes at build time.
    set.run(&pool).await.unwrap();
    admin
        .batch_execute(
            "UPDATE schema_migrations SET down_sql = E'DROP TABLE b;\\nCOMMIT;' WHERE filename = '002_b.sql'",
        )
        .await
        .unwrap();
    let (_dir, older) = migrations_in(&WITH_DOWN[..2]);
    let e = older.runner().revert_steps(&pool, 1).await.unwrap_err().to_string();
    assert!(
        e.contains("the stored down SQL fails the checks: 002_b.down.sql (stored in its tracking row):2:1"),
        "{e}"
    );
    assert_eq!(value(&pool, "SELECT to_regclass('b') IS NOT NULL").await, "t");
}

/// A lock-timeout retry drops the INVALID index its own statement left,
/// never one another tenant's statement left meanwhile under the same name.
#[tokio::test]
async fn a_lock_timeout_retry_drops_only_the_index_its_own_statement_left() {
    let (_, _, pool) = fresh().await;
    let admin = pool.get().await.unwrap();
    admin
        .batch_execute(
            "CREATE SCHEMA tenant_a; CREATE SCHEMA tenant_b; CREATE TABLE tenant_a.t (a integer); \
             CREATE TABLE tenant_b.t (a integer); INSERT INTO tenant_b.t VALUES (1), (1)",
        )
        .await
        .unwrap();
    let holder = pool.get().await.unwrap();
    let pid = client_value(&holder, "SELECT pg_backend_pid()").await;
    holder
        .batch_execute("BEGIN; LOCK TABLE tenant_a.t IN SHARE UPDATE EXCLUSIVE MODE")
        .await
        .unwrap();
    let (_dir, set) = migrations_in(&[(
        "001_index.sql",
        "-- migrate: no-transaction\nCREATE INDEX CONCURRENTLY t_idx ON t (a);\n",
    )]);
    let (logs, _guard) = Logs::capture();
    let run = tokio::spawn({
        let pool = pool.clone();
        async move {
            set.runner()
                .schema("tenant_a")
                .timeouts(retrying(Duration::from_secs(2), Duration::from_secs(2)))
                .run(&pool)
                .await
        }
    });
    // While tenant A's index waits for its table, tenant B's fails and
    // leaves an INVALID index of the same name.
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                   AND wait_event_type = 'Lock' AND query LIKE 'CREATE INDEX CONCURRENTLY t_idx%'";
    until(
        "tenant A's index waiting for its table",
        Duration::from_secs(60),
        async || value(&pool, waiting).await != "0",
    )
    .await;
    let e = admin
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY t_idx ON tenant_b.t (a)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION));
    logs.wait_for(&format!("blocked by pid {pid}")).await;
    holder.batch_execute("COMMIT").await.unwrap();
    run.await.unwrap().unwrap();

    assert!(!logs.text().contains("dropped"), "{}", logs.text());
    assert_eq!(
        rows(
            &pool,
            "SELECT n.nspname::text, i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 't_idx' ORDER BY 1"
        )
        .await,
        [
            [Some("tenant_a".to_string()), Some("true".to_string())],
            [Some("tenant_b".to_string()), Some("false".to_string())]
        ]
    );
}

/// The guards before each file are `DO` blocks naming the tracking table:
/// a name holding their dollar tag must not end them early. The catalog
/// prints a schema name that needs quotes quoted; the runner reads it back.
#[tokio::test]
async fn tables_and_schemas_named_like_a_dollar_tag_or_needing_quotes_are_quoted_safely() {
    let (_, _, pool) = fresh().await;
    let (_dir, set) = migrations_in(WITH_DOWN);
    let runner = set
        .runner()
        .table("\"odd$guard$name\"")
        .unwrap()
        .lock_mode(LockMode::Lease);
    assert_eq!(runner.run(&pool).await.unwrap().applied.len(), 2);
    assert_eq!(value(&pool, "SELECT count(*) FROM \"odd$guard$name\"").await, "2");
    assert!(runner.run(&pool).await.unwrap().up_to_date());
    // And a schema whose name needs quoting, as the catalog prints it.
    let tenant = set.runner().schema("Odd $guard$ \"S\"").create_schema(true);
    assert_eq!(tenant.run(&pool).await.unwrap().applied.len(), 2);
    assert!(tenant.run(&pool).await.unwrap().up_to_date());
    assert_eq!(
        value(
            &pool,
            "SELECT count(*) FROM \"Odd $guard$ \"\"S\"\"\".schema_migrations"
        )
        .await,
        "2"
    );
}
