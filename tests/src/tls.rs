//! A server that takes TLS only, as managed PostgreSQL does: a CA made at
//! run time, a server certificate that names `localhost` alone (so that
//! `127.0.0.1` is a name mismatch), `hostssl` lines only, and a role for
//! each login method.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use throwaway_pg::certs::{Authority, Issued, Leaf};
use throwaway_pg::{Cluster, Options, ServerTls};

/// Logs in with a SCRAM password, [`SCRAM_PASSWORD`].
pub const SCRAM_USER: &str = "tls_scram";
pub const SCRAM_PASSWORD: &str = "scram-s3cret";
/// Logs in with an md5 password, [`MD5_PASSWORD`]: it cannot bind the
/// login to TLS.
pub const MD5_USER: &str = "tls_md5";
pub const MD5_PASSWORD: &str = "md5-s3cret";
/// Logs in with a client certificate whose CN is its name.
pub const CERT_USER: &str = "tls_cert";

/// A TLS-only cluster and the files its clients need.
pub struct TlsServer {
    pub cluster: Cluster,
    files: tempfile::TempDir,
}

impl TlsServer {
    /// Starts a cluster whose certificate `server` makes from the CA, with
    /// the three roles.
    pub fn start(server: impl FnOnce(&Authority) -> Issued) -> TlsServer {
        let ca = Authority::new("migrate test CA").unwrap();
        let other = Authority::new("some other CA").unwrap();
        let files = tempfile::tempdir().unwrap();
        let issued = server(&ca);
        let tls = ServerTls {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
            client_ca_pem: Some(ca.cert_pem()),
            cert_users: vec![CERT_USER.to_string()],
            md5_users: vec![MD5_USER.to_string()],
        };
        let cluster = Cluster::start(&Options {
            tls: Some(tls),
            ..Options::default()
        })
        .unwrap_or_else(|e| panic!("cannot start a TLS-only PostgreSQL: {e}"));
        std::fs::write(files.path().join("ca.crt"), ca.cert_pem()).unwrap();
        std::fs::write(files.path().join("other-ca.crt"), other.cert_pem()).unwrap();
        for (stem, cn) in [(CERT_USER, CERT_USER), ("wrong_cn", "someone_else")] {
            ca.issue(&Leaf::client(cn)).unwrap().write(files.path(), stem).unwrap();
        }
        let server = TlsServer { cluster, files };
        server.execute(&format!(
            "CREATE ROLE {SCRAM_USER} LOGIN SUPERUSER PASSWORD '{SCRAM_PASSWORD}'; \
             CREATE ROLE {CERT_USER} LOGIN SUPERUSER; \
             SET password_encryption = 'md5'; CREATE ROLE {MD5_USER} LOGIN SUPERUSER PASSWORD '{MD5_PASSWORD}';"
        ));
        server
    }

    /// The CA that signed the server's and the clients' certificates.
    pub fn ca(&self) -> PathBuf {
        self.files.path().join("ca.crt")
    }

    /// A CA that signed nothing of this server.
    pub fn other_ca(&self) -> PathBuf {
        self.files.path().join("other-ca.crt")
    }

    /// The client certificate and key for `stem`: [`CERT_USER`], or
    /// `wrong_cn` (a certificate of this CA for someone else).
    pub fn client(&self, stem: &str) -> (PathBuf, PathBuf) {
        let dir: &Path = self.files.path();
        (dir.join(format!("{stem}.crt")), dir.join(format!("{stem}.key")))
    }

    /// The folder of the client files, for tests that add their own.
    pub fn dir(&self) -> &Path {
        self.files.path()
    }

    /// A URL to `database` on `host` (`localhost` or `127.0.0.1`) as `user`
    /// (with its password), followed by `params` (`sslmode=...&...`).
    pub fn url(&self, host: &str, user: &str, database: &str, params: &str) -> String {
        let password = match user {
            SCRAM_USER => format!(":{SCRAM_PASSWORD}"),
            MD5_USER => format!(":{MD5_PASSWORD}"),
            "postgres" => format!(":{}", self.cluster.password()),
            _ => String::new(),
        };
        format!(
            "postgresql://{user}{password}@{host}:{}/{database}?{params}",
            self.cluster.port()
        )
    }

    /// `verify-full` as `postgres` on `localhost`, with the right CA.
    pub fn verified_url(&self, database: &str) -> String {
        self.url(
            "localhost",
            "postgres",
            database,
            &format!("sslmode=verify-full&sslrootcert={}", self.ca().display()),
        )
    }

    /// A new empty database's name.
    pub async fn create_database(&self) -> String {
        let url = self.cluster.create_database().await.unwrap();
        url.rsplit('/').next().unwrap().to_string()
    }

    /// Runs `sql` as `postgres` on its Unix socket, from any thread.
    pub fn execute(&self, sql: &str) {
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(self.cluster.execute("postgres", sql)).unwrap();
            });
        });
    }
}

/// The process's TLS-only cluster, its certificate for `localhost` only.
pub fn tls_server() -> &'static TlsServer {
    static SERVER: OnceLock<TlsServer> = OnceLock::new();
    SERVER.get_or_init(|| TlsServer::start(|ca| ca.issue(&Leaf::server(&["localhost"], &[])).unwrap()))
}
