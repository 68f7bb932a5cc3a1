//! Connecting as libpq does, to a server that takes TLS only (`hostssl`
//! lines only, a certificate from a private CA made at test time).

use clap::Parser;
use deadpool_postgres::Pool;
use migrate_runtime::{cli, embed_migrations, pool_from_url, Error, Migrations, SettingsError, TlsError};
use migrate_tests::tls::{tls_server, TlsServer, CERT_USER, MD5_USER, SCRAM_USER};
use migrate_tests::{cluster, migrations, rows, until, value, Logs};
use rustls::pki_types::pem::PemObject;
use std::time::Duration;
use throwaway_pg::certs::Leaf;

static SET: Migrations = embed_migrations!("fixtures/tls");

/// Runs the set through a new pool to `url`, then reads how its migrating
/// backend was connected (`pg_stat_ssl.ssl`), through the same pool.
async fn migrate(url: &str) -> Result<String, Error> {
    let pool = pool_from_url(url, 2)?;
    SET.runner().connect_timeout(Duration::from_secs(5)).run(&pool).await?;
    Ok(value(&pool, "SELECT ssl FROM tls_seen").await)
}

/// Whether the set left any trace in `database`.
async fn untouched(server: &TlsServer, database: &str) -> bool {
    let pool = pool_from_url(&server.url("localhost", "postgres", database, "sslmode=require"), 1).unwrap();
    value(
        &pool,
        "SELECT count(*) FROM pg_class WHERE relname IN ('tls_seen', 'schema_migrations')",
    )
    .await
        == "0"
}

fn ca_param(server: &TlsServer) -> String {
    format!("sslrootcert={}", server.ca().display())
}

#[tokio::test]
async fn every_sslmode_that_can_reach_a_tls_only_server_does_so_over_tls() {
    let server = tls_server();
    let ca = ca_param(server);
    for (host, params) in [
        ("127.0.0.1", "sslmode=allow".to_string()),
        ("127.0.0.1", "sslmode=prefer".to_string()),
        ("127.0.0.1", String::new()),
        ("127.0.0.1", "sslmode=require".to_string()),
        ("127.0.0.1", format!("sslmode=verify-ca&{ca}")),
        ("localhost", format!("sslmode=verify-full&{ca}")),
        (
            "localhost",
            format!("sslmode=verify-full&{ca}&sslnegotiation=postgres&sslsni=0"),
        ),
    ] {
        let db = server.create_database().await;
        let url = server.url(host, SCRAM_USER, &db, &params);
        let ssl = migrate(&url).await.unwrap_or_else(|e| panic!("{params}: {e}"));
        assert_eq!(ssl, "t", "{params}: the migrating backend used TLS");
    }
}

#[tokio::test]
async fn sslmode_disable_is_refused_by_the_server_and_applies_nothing() {
    let server = tls_server();
    let db = server.create_database().await;
    let e = migrate(&server.url("127.0.0.1", SCRAM_USER, &db, "sslmode=disable"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Connect(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("no pg_hba.conf entry") && text.contains("no encryption"),
        "{text}"
    );
    assert!(!text.contains("scram-s3cret"), "{text}");
    assert!(untouched(server, &db).await);
}

#[tokio::test]
async fn verify_full_checks_the_name_and_verify_ca_only_the_ca() {
    let server = tls_server();
    let db = server.create_database().await;
    let ca = ca_param(server);
    let e = migrate(&server.url("127.0.0.1", SCRAM_USER, &db, &format!("sslmode=verify-full&{ca}")))
        .await
        .unwrap_err();
    match &e {
        Error::Tls(TlsError::NameMismatch { host, presented }) => {
            assert_eq!(
                (host.as_str(), presented.as_slice()),
                ("127.0.0.1", &["localhost".to_string()][..])
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.to_string(),
        "cannot connect to PostgreSQL over TLS: the server's certificate names localhost, not 127.0.0.1: \
         connect by localhost, or use sslmode=verify-ca to check only the CA"
    );
    assert!(untouched(server, &db).await);
    let url = server.url("127.0.0.1", SCRAM_USER, &db, &format!("sslmode=verify-ca&{ca}"));
    assert_eq!(migrate(&url).await.unwrap(), "t");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_in_every_mode_that_has_a_root() {
    let server = tls_server();
    let db = server.create_database().await;
    let other = server.other_ca();
    for mode in ["prefer", "require", "verify-ca", "verify-full"] {
        let url = server.url(
            "localhost",
            SCRAM_USER,
            &db,
            &format!("sslmode={mode}&sslrootcert={}", other.display()),
        );
        let started = std::time::Instant::now();
        let e = migrate(&url).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(4), "{mode}: not retried");
        match &e {
            Error::Tls(TlsError::UnknownIssuer { roots }) => {
                assert_eq!(roots, &format!("sslrootcert={}", other.display()))
            }
            other => panic!("{mode}: {other:?}"),
        }
        assert!(e.to_string().contains("is not signed by a CA in sslrootcert="), "{e}");
    }
    assert!(
        untouched(server, &db).await,
        "prefer never falls back to plaintext after a failed handshake"
    );
}

#[tokio::test]
async fn an_expired_certificate_and_a_ca_certificate_as_the_servers_are_refused() {
    let expired = TlsServer::start(|ca| {
        ca.issue(&Leaf {
            expired: true,
            ..Leaf::server(&["localhost"], &[])
        })
        .unwrap()
    });
    let db = expired.create_database().await;
    let e = migrate(&expired.verified_url(&db)).await.unwrap_err();
    assert!(matches!(e, Error::Tls(TlsError::Expired { .. })), "{e:?}");
    assert!(e.to_string().contains("the server's certificate expired at 20"), "{e}");
    // Without a root certificate, require encrypts and checks nothing, as libpq.
    let url = expired.url("localhost", SCRAM_USER, &db, "sslmode=require");
    assert_eq!(migrate(&url).await.unwrap(), "t");

    let ca_as_server = TlsServer::start(|ca| ca.own());
    let db = ca_as_server.create_database().await;
    let e = migrate(&ca_as_server.verified_url(&db)).await.unwrap_err();
    assert!(matches!(e, Error::Tls(TlsError::CaAsServerCertificate)), "{e:?}");
    assert!(untouched(&ca_as_server, &db).await);
}

#[tokio::test]
async fn a_client_certificate_logs_in_and_a_missing_or_foreign_one_is_refused() {
    let server = tls_server();
    let db = server.create_database().await;
    let ca = ca_param(server);
    let (cert, key) = server.client(CERT_USER);
    let with_cert = format!(
        "sslmode=verify-full&{ca}&sslcert={}&sslkey={}",
        cert.display(),
        key.display()
    );
    let url = server.url("localhost", CERT_USER, &db, &with_cert);
    assert_eq!(migrate(&url).await.unwrap(), "t");
    let pool = pool_from_url(&url, 1).unwrap();
    assert_eq!(value(&pool, "SELECT current_user").await, CERT_USER);

    let db = server.create_database().await;
    let e = migrate(&server.url("localhost", CERT_USER, &db, &format!("sslmode=verify-full&{ca}")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Connect(_)), "{e:?}");
    assert!(
        e.to_string().contains("connection requires a valid client certificate"),
        "{e}"
    );

    let (cert, key) = server.client("wrong_cn");
    let params = format!(
        "sslmode=verify-full&{ca}&sslcert={}&sslkey={}",
        cert.display(),
        key.display()
    );
    let e = migrate(&server.url("localhost", CERT_USER, &db, &params))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("certificate authentication failed for user \"tls_cert\""),
        "{e}"
    );
    assert!(untouched(server, &db).await);
}

#[tokio::test]
async fn a_key_others_can_read_is_refused_before_connecting() {
    use std::os::unix::fs::PermissionsExt;
    let server = tls_server();
    let (cert, key) = server.client(CERT_USER);
    let open = server.dir().join("open.key");
    std::fs::copy(&key, &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = server.url(
        "localhost",
        CERT_USER,
        "postgres",
        &format!("sslmode=require&sslcert={}&sslkey={}", cert.display(), open.display()),
    );
    let e = pool_from_url(&url, 1).unwrap_err();
    match &e {
        Error::Settings(SettingsError::KeyPermissions { path, mode }) => {
            assert_eq!((path, *mode), (&open, 0o644))
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("run `chmod 0600"), "{e}");
    let key_text = std::fs::read_to_string(&key).unwrap();
    let body = key_text.lines().nth(1).unwrap();
    assert!(!e.to_string().contains(body), "no key contents in the message");
}

#[tokio::test]
async fn channel_binding_require_binds_scram_and_refuses_md5_and_plaintext() {
    let server = tls_server();
    let ca = ca_param(server);
    let db = server.create_database().await;
    let bound = format!("sslmode=verify-full&{ca}&channel_binding=require");
    assert_eq!(
        migrate(&server.url("localhost", SCRAM_USER, &db, &bound))
            .await
            .unwrap(),
        "t"
    );

    let db = server.create_database().await;
    let e = migrate(&server.url("localhost", MD5_USER, &db, &bound))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Tls(TlsError::NoChannelBinding)), "{e:?}");
    assert!(e.to_string().contains("md5"), "{e}");
    assert!(untouched(server, &db).await);

    let e = pool_from_url(
        &server.url("localhost", SCRAM_USER, &db, "sslmode=disable&channel_binding=require"),
        1,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Settings(SettingsError::ChannelBindingWithoutTls)),
        "{e:?}"
    );

    // A server without TLS cannot bind the login either: the plain cluster.
    cluster()
        .execute(
            "postgres",
            "DO $$ BEGIN CREATE ROLE bound LOGIN PASSWORD 'bound-pw'; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        )
        .await
        .unwrap();
    let plain = cluster().url_as("bound", "bound-pw", "postgres");
    let e = migrate(&format!("{plain}?channel_binding=require")).await.unwrap_err();
    assert!(matches!(e, Error::Tls(TlsError::NoChannelBinding)), "{e:?}");
}

#[tokio::test]
async fn require_against_a_server_without_tls_is_refused_and_prefer_falls_back() {
    let db = cluster().create_database().await.unwrap();
    let e = migrate(&format!("{db}?sslmode=require")).await.unwrap_err();
    assert!(matches!(e, Error::Tls(TlsError::NotOffered)), "{e:?}");
    assert!(e.to_string().contains("the server does not offer TLS"), "{e}");
    assert_eq!(migrate(&format!("{db}?sslmode=prefer")).await.unwrap(), "f");
}

#[tokio::test]
async fn a_unix_socket_takes_no_tls_whatever_the_mode_as_in_libpq() {
    let db = cluster().create_database().await.unwrap();
    let name = db.rsplit('/').next().unwrap();
    let socket = format!(
        "host={} port={} user=postgres dbname={name} sslmode=require",
        cluster().socket_dir().display(),
        cluster().port()
    );
    assert_eq!(migrate(&socket).await.unwrap(), "f");
}

#[tokio::test]
async fn direct_negotiation_reaches_postgresql_17_and_later() {
    let server = tls_server();
    let db = server.create_database().await;
    let url = server.url(
        "localhost",
        SCRAM_USER,
        &db,
        &format!("sslmode=verify-full&{}&sslnegotiation=direct", ca_param(server)),
    );
    let result = migrate(&url).await;
    if server.cluster.version_num() >= 170000 {
        assert_eq!(result.unwrap(), "t");
    } else {
        let e = result.unwrap_err();
        assert!(matches!(e, Error::Tls(TlsError::ClosedDuringHandshake)), "{e:?}");
        assert!(e.to_string().contains("PostgreSQL 17 or later"), "{e}");
        assert!(untouched(server, &db).await);
    }
}

#[tokio::test]
async fn four_starters_over_tls_hand_the_lock_over_by_notification() {
    let server = tls_server();
    let db = server.create_database().await;
    let url = server.verified_url(&db);
    let pool = pool_from_url(&url, 2).unwrap();
    let gate = pool.get().await.unwrap();
    gate.batch_execute("SELECT pg_advisory_lock(4242)").await.unwrap();
    let (_dir, set) = migrations(&[
        ("001_gated.sql", "SELECT pg_advisory_xact_lock(4242);"),
        (
            "002_table.sql",
            "CREATE TABLE IF NOT EXISTS once (id int);\nINSERT INTO once VALUES (1);",
        ),
    ]);
    let (logs, _guard) = Logs::capture();
    let starters: Vec<_> = (0..4)
        .map(|i| {
            let starter = pool_from_url(&format!("{url}&application_name=starter{i}"), 1).unwrap();
            // A fallback poll of an hour: only the announcement wakes a waiter in time.
            tokio::spawn(async move {
                set.runner()
                    .lock_poll_max(Duration::from_secs(3600))
                    .run(&starter)
                    .await
            })
        })
        .collect();
    let listening = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'starter%' \
                     AND state = 'idle' AND query LIKE 'LISTEN %'";
    until("three starters listening", Duration::from_secs(60), async || {
        value(&pool, listening).await == "3"
    })
    .await;
    gate.batch_execute("SELECT pg_advisory_unlock(4242)").await.unwrap();
    let mut applied = 0;
    for starter in starters {
        let report = tokio::time::timeout(Duration::from_secs(300), starter)
            .await
            .expect("a waiter did not wake when the holder released the lock")
            .unwrap()
            .unwrap();
        applied += report.applied.len();
    }
    assert_eq!(applied, 2, "each file applied once");
    assert_eq!(value(&pool, "SELECT count(*) FROM once").await, "1");
    assert!(logs.text().contains("holder announced its release"), "{}", logs.text());
    let tls = rows(
        &pool,
        "SELECT DISTINCT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = current_database()",
    )
    .await;
    assert_eq!(tls, vec![vec![Some("t".to_string())]]);
    assert!(migrate_tests::advisory_locks(&pool).await.is_empty());
}

#[tokio::test]
async fn a_fan_out_mixes_tls_and_plain_databases() {
    let server = tls_server();
    let dir = tempfile::tempdir().unwrap();
    let secure = server.verified_url(&server.create_database().await);
    let plain = cluster().create_database().await.unwrap();
    let file = dir.path().join("databases.txt");
    std::fs::write(&file, format!("{secure}\n{plain}?sslmode=disable\n")).unwrap();
    let any = pool_from_url(&plain, 1).unwrap();
    let app = App::try_parse_from(["app", "up", "--database-urls", file.to_str().unwrap()]).unwrap();
    let out = app.command.run(SET.runner(), &any).await.unwrap().text;
    assert!(
        out.ends_with("2 target(s): 2 applied, 0 up to date, 0 checked, 0 failed, 0 not started\n"),
        "{out}"
    );
    assert_eq!(
        value(&pool_from_url(&secure, 1).unwrap(), "SELECT ssl FROM tls_seen").await,
        "t"
    );
    assert_eq!(value(&any, "SELECT ssl FROM tls_seen").await, "f");

    std::fs::write(&file, format!("{secure}\n{plain}?sslmode=verify-all\n")).unwrap();
    let app = App::try_parse_from(["app", "up", "--database-urls", file.to_str().unwrap()]).unwrap();
    let e = app.command.run(SET.runner(), &any).await.unwrap_err();
    assert!(matches!(e, Error::UrlFile(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("databases.txt:2: sslmode=verify-all is not valid"),
        "{e}"
    );
}

#[tokio::test]
async fn a_pool_the_user_built_with_their_own_tls_keeps_every_connection_on_tls() {
    let server = tls_server();
    let db = server.create_database().await;
    let roots = {
        let mut store = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(server.ca()).unwrap() {
            store.add(cert.unwrap()).unwrap();
        }
        store
    };
    let tls =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let config: tokio_postgres::Config = format!(
        "host=localhost port={} user=postgres password={} dbname={db} sslmode=require",
        server.cluster.port(),
        server.cluster.password()
    )
    .parse()
    .unwrap();
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres_rustls::MakeRustlsConnect::new(tls),
        deadpool_postgres::ManagerConfig::default(),
    );
    let pool: Pool = Pool::builder(manager).max_size(2).build().unwrap();
    let (_dir, slow) = migrations(&[("001_slow.sql", "SELECT pg_sleep(1.5);")]);
    let (logs, _guard) = Logs::capture();
    let report = slow
        .runner()
        .lock_mode(migrate_runtime::LockMode::Lease)
        .lease(Duration::from_millis(600))
        .run(&pool)
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 1);
    assert!(!logs.text().contains("heartbeat: cannot connect"), "{}", logs.text());
}

/// The server name a connection to `host` sends in its TLS ClientHello
/// (SNI), read by a listener that answers the SSLRequest and then hangs up.
async fn sent_server_name(host: &str, params: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heard = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 8];
        stream.read_exact(&mut request).await.unwrap();
        assert_eq!(request[4..], 80877103u32.to_be_bytes(), "an SSLRequest first");
        stream.write_all(b"S").await.unwrap();
        let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
        let hello = acceptor.await.unwrap();
        hello.client_hello().server_name().map(String::from)
    });
    let pool = pool_from_url(&format!("postgresql://u@{host}:{port}/db?sslmode=require&{params}"), 1).unwrap();
    assert!(pool.get().await.is_err(), "the listener hangs up");
    heard.await.unwrap()
}

#[tokio::test]
async fn the_host_name_goes_out_as_sni_unless_it_is_an_address_or_sslsni_is_0() {
    assert_eq!(sent_server_name("localhost", "").await.as_deref(), Some("localhost"));
    assert_eq!(sent_server_name("127.0.0.1", "").await, None);
    assert_eq!(sent_server_name("localhost", "sslsni=0").await, None);
}

#[derive(Parser)]
struct App {
    #[command(subcommand)]
    command: cli::Command,
}

/// Prints how the template's migrations and this test connected.
#[migrate_runtime::test(SET)]
#[ignore = "run by test_databases_come_from_an_admin_url_that_asks_for_tls"]
async fn a_test_database_over_tls(pool: Pool) {
    println!("migrated over ssl={}", value(&pool, "SELECT ssl FROM tls_seen").await);
    println!(
        "tested over ssl={}",
        value(&pool, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").await
    );
}

#[test]
fn test_databases_come_from_an_admin_url_that_asks_for_tls() {
    let server = tls_server();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["a_test_database_over_tls", "--exact", "--ignored", "--nocapture"])
        .env("MIGRATE_TEST_DATABASE_URL", server.verified_url("postgres"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("migrated over ssl=t") && text.contains("tested over ssl=t"),
        "{text}"
    );
}
