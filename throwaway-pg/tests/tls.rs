//! A TLS-only cluster, its standby and a PgBouncer taking TLS from clients,
//! with certificates made at run time; `psql` is the TLS client.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use throwaway_pg::certs::{Authority, Issued, Leaf};
use throwaway_pg::{Cluster, Error, Options, Pooler, PoolerOptions, ServerTls};

const CERT_USER: &str = "cert_user";
const MD5_USER: &str = "md5_user";

/// The value, or a panic with the error's message (which says how to fix it).
fn ok<T>(result: Result<T, Error>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// A CA whose certificate is `dir/ca.crt`.
fn authority(dir: &Path) -> Authority {
    let ca = ok(Authority::new("throwaway-pg test CA"));
    std::fs::write(dir.join("ca.crt"), ca.cert_pem()).unwrap();
    ca
}

fn localhost(ca: &Authority) -> Issued {
    ok(ca.issue(&Leaf::server(&["localhost"], &[Ipv4Addr::LOCALHOST.into()])))
}

/// A cluster taking TLS only, with a certificate for localhost from `ca`,
/// `CERT_USER` logging in with a client certificate from `ca` and
/// `MD5_USER` with md5.
fn tls_cluster(ca: &Authority) -> Cluster {
    let server = localhost(ca);
    ok(Cluster::start(&Options {
        tls: Some(ServerTls {
            cert_pem: server.cert_pem,
            key_pem: server.key_pem,
            client_ca_pem: Some(ca.cert_pem()),
            cert_users: vec![CERT_USER.to_string()],
            md5_users: vec![MD5_USER.to_string()],
        }),
        ..Options::default()
    }))
}

/// Key=value settings for `localhost:port` checking the server's
/// certificate against `dir/ca.crt`, plus `more`.
fn verified(dir: &Path, port: u16, more: &str) -> String {
    format!(
        "host=localhost hostaddr=127.0.0.1 port={port} dbname=postgres sslmode=verify-full sslrootcert={} {more}",
        dir.join("ca.crt").display()
    )
}

/// `psql -Atc sql` with `conninfo`, in an environment of `dir` as home and
/// `postgres`'s password alone: its output, or its error message.
fn psql(cluster: &Cluster, dir: &Path, conninfo: &str, sql: &str) -> Result<String, String> {
    let out = Command::new(ok(cluster.tool("psql")))
        .args(["-X", "-w", "-At", "-d", conninfo, "-c", sql])
        .env_clear()
        .env("HOME", dir)
        .env("PGPASSWORD", cluster.password())
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

const SSL: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

#[tokio::test]
async fn a_tls_cluster_refuses_plaintext_and_logs_in_each_user_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let ca = authority(dir);
    let cluster = tls_cluster(&ca);
    assert!(cluster.tls_enabled());

    let plain = format!("{}?sslmode=disable", cluster.url("postgres"));
    let Err(refused) = tokio_postgres::connect(&plain, tokio_postgres::NoTls).await else {
        panic!("a plaintext login over TCP was let in");
    };
    let message = refused.as_db_error().map(|e| e.message()).unwrap_or_default();
    assert!(
        message.contains("no pg_hba.conf entry") && message.contains("no encryption"),
        "{refused}"
    );

    // Its own connections take the Unix socket.
    ok(cluster
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {CERT_USER} LOGIN; CREATE ROLE scram_user LOGIN PASSWORD 'scram pw'; \
                 SET password_encryption = 'md5'; CREATE ROLE {MD5_USER} LOGIN PASSWORD 'md5 pw'"
            ),
        )
        .await);
    let port = cluster.port();
    assert_eq!(
        psql(&cluster, dir, &verified(dir, port, "user=postgres"), SSL),
        Ok("t".into())
    );

    let (cert, key) = ok(ok(ca.issue(&Leaf::client(CERT_USER))).write(dir, "client"));
    let with_cert =
        |cert: &PathBuf, key: &PathBuf| format!("user={CERT_USER} sslcert={} sslkey={}", cert.display(), key.display());
    assert_eq!(
        psql(
            &cluster,
            dir,
            &verified(dir, port, &with_cert(&cert, &key)),
            "SELECT current_user"
        ),
        Ok(CERT_USER.into())
    );
    let no_cert = psql(&cluster, dir, &verified(dir, port, &format!("user={CERT_USER}")), SSL).unwrap_err();
    assert!(no_cert.contains("requires a valid client certificate"), "{no_cert}");
    let (other_cert, other_key) = ok(ok(ca.issue(&Leaf::client("someone_else"))).write(dir, "other"));
    let other = psql(
        &cluster,
        dir,
        &verified(dir, port, &with_cert(&other_cert, &other_key)),
        SSL,
    )
    .unwrap_err();
    assert!(other.contains("certificate authentication failed"), "{other}");

    // md5 cannot bind the password exchange to the TLS channel; SCRAM can.
    let md5 = verified(dir, port, &format!("user={MD5_USER} password='md5 pw'"));
    assert_eq!(psql(&cluster, dir, &md5, SSL), Ok("t".into()));
    let bound = psql(&cluster, dir, &format!("{md5} channel_binding=require"), SSL).unwrap_err();
    assert!(bound.contains("channel binding required"), "{bound}");
    let scram = verified(dir, port, "user=scram_user password='scram pw' channel_binding=require");
    assert_eq!(psql(&cluster, dir, &scram, SSL), Ok("t".into()));
}

#[tokio::test]
async fn the_standby_of_a_tls_cluster_streams_over_tls_and_takes_tls_only() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let primary = tls_cluster(&authority(dir));
    let standby = ok(primary.standby());
    assert!(standby.tls_enabled());
    ok(primary
        .execute("postgres", "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)")
        .await);
    ok(standby.caught_up_with(&primary).await);

    let mut socket = tokio_postgres::Config::new();
    socket
        .host_path(primary.socket_dir())
        .port(primary.port())
        .user("postgres")
        .dbname("postgres");
    let (client, connection) = socket.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT bool_and(ssl), count(*) FROM pg_stat_replication JOIN pg_stat_ssl USING (pid)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, bool>(0), row.get::<_, i64>(1)), (true, 1));

    let conninfo = verified(dir, standby.port(), "user=postgres");
    assert_eq!(psql(&standby, dir, &conninfo, "SELECT count(*) FROM t"), Ok("2".into()));
    let plain = psql(&standby, dir, &format!("{conninfo} sslmode=disable"), SSL).unwrap_err();
    assert!(plain.contains("no pg_hba.conf entry"), "{plain}");
}

#[tokio::test]
async fn pgbouncer_takes_tls_clients_only_and_reaches_a_tls_cluster_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let ca = authority(dir);
    let cluster = tls_cluster(&ca);
    let own = localhost(&ca);
    let pooler = ok(Pooler::start(
        &cluster,
        PoolerOptions {
            client_tls: Some(ServerTls {
                cert_pem: own.cert_pem,
                key_pem: own.key_pem,
                ..ServerTls::default()
            }),
            ..PoolerOptions::default()
        },
    ));

    // verify-full: the pooler presents its certificate; pg_stat_ssl: the
    // server connection behind it is TLS too.
    let conninfo = verified(dir, pooler.port(), "user=postgres");
    assert_eq!(psql(&cluster, dir, &conninfo, SSL), Ok("t".into()));
    let plain = psql(&cluster, dir, &format!("{conninfo} sslmode=disable"), SSL).unwrap_err();
    assert!(plain.contains("SSL required"), "{plain}");
}
