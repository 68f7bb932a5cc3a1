//! The `migrate` binary against a server that takes TLS only, configured
//! the libpq way: `PGSSLMODE` and `PGSSLROOTCERT`, `sslrootcert=system`
//! with `SSL_CERT_FILE`, and `squash --scratch-url`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use throwaway_pg::certs::{Authority, Leaf};
use throwaway_pg::{Cluster, Options, ServerTls};

struct Server {
    cluster: Cluster,
    files: tempfile::TempDir,
}

impl Server {
    fn ca(&self) -> PathBuf {
        self.files.path().join("ca.crt")
    }

    fn other_ca(&self) -> PathBuf {
        self.files.path().join("other-ca.crt")
    }

    /// A new database, as a URL on `localhost` without TLS settings.
    async fn database(&self) -> String {
        let url = self.cluster.create_database().await.unwrap();
        let name = url.rsplit('/').next().unwrap();
        format!(
            "postgresql://postgres:{}@localhost:{}/{name}",
            self.cluster.password(),
            self.cluster.port()
        )
    }
}

/// A TLS-only cluster whose certificate names `localhost`.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let ca = Authority::new("cli test CA").unwrap();
        let issued = ca.issue(&Leaf::server(&["localhost"], &[])).unwrap();
        let tls = ServerTls {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            ..ServerTls::default()
        };
        let cluster = Cluster::start(&Options {
            tls: Some(tls),
            ..Options::default()
        })
        .unwrap_or_else(|e| panic!("cannot start a TLS-only PostgreSQL: {e}"));
        let files = tempfile::tempdir().unwrap();
        std::fs::write(files.path().join("ca.crt"), ca.cert_pem()).unwrap();
        let other = Authority::new("some other CA").unwrap();
        std::fs::write(files.path().join("other-ca.crt"), other.cert_pem()).unwrap();
        Server { cluster, files }
    })
}

/// The example set in a new folder.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), m.join(entry.file_name())).unwrap();
    }
    dir
}

/// `migrate ARGS` in `dir` with `DATABASE_URL` and `env`, and nothing of
/// the caller's TLS environment.
fn migrate(dir: &Path, args: &[&str], url: &str, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migrate"));
    cmd.args(args).current_dir(dir).env("DATABASE_URL", url);
    for var in [
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGCHANNELBINDING",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", dir).envs(env.iter().map(|(k, v)| (*k, *v)));
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn pgsslmode_and_pgsslrootcert_apply_where_the_url_is_silent() {
    let server = server();
    let project = project();
    let url = server.database().await;
    let ca = server.ca();
    let verify = [("PGSSLMODE", Path::new("verify-full")), ("PGSSLROOTCERT", ca.as_path())];

    let other = server.other_ca();
    let out = migrate(
        project.path(),
        &["up"],
        &url,
        &[("PGSSLMODE", Path::new("verify-full")), ("PGSSLROOTCERT", &other)],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains(&format!("is not signed by a CA in sslrootcert={}", other.display())),
        "{}",
        text(&out)
    );

    let out = migrate(project.path(), &["up"], &url, &verify);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Applied: 003_add_email_verification.sql"),
        "{}",
        text(&out)
    );
    let out = migrate(project.path(), &["status"], &url, &verify);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).matches("applied").count(), 3, "{}", text(&out));

    // The URL wins over the environment.
    let out = migrate(project.path(), &["status"], &format!("{url}?sslmode=disable"), &verify);
    assert!(!out.status.success());
    assert!(text(&out).contains("no encryption"), "{}", text(&out));
}

#[tokio::test]
async fn sslrootcert_system_trusts_what_ssl_cert_file_names() {
    let server = server();
    let project = project();
    let url = format!("{}?sslrootcert=system", server.database().await);
    let out = migrate(project.path(), &["up"], &url, &[("SSL_CERT_FILE", &server.other_ca())]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not signed by a CA in the system's trusted roots"),
        "{}",
        text(&out)
    );
    let out = migrate(project.path(), &["up"], &url, &[("SSL_CERT_FILE", &server.ca())]);
    assert!(out.status.success(), "{}", text(&out));
    let out = migrate(
        project.path(),
        &["up"],
        &format!("{url}&sslmode=require"),
        &[("SSL_CERT_FILE", &server.ca())],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("sslrootcert=system trusts every public CA, so it needs sslmode=verify-full"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn squash_reaches_a_tls_scratch_database() {
    let server = server();
    let project = project();
    let scratch = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        server.database().await,
        server.ca().display()
    );
    let out = migrate(
        project.path(),
        &["squash", "--through", "003", "--scratch-url", &scratch],
        "",
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let squashed = std::fs::read_to_string(project.path().join("migrations/003_squashed.sql")).unwrap();
    assert!(squashed.contains("CREATE TABLE public.tier_features"), "{squashed}");
}
