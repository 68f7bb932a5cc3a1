//! How every connection of the project is made: libpq's connection
//! settings (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`,
//! `channel_binding`, `sslnegotiation`, the `PGSSL*` variables and
//! `~/.postgresql/`) over rustls.

mod libpq_env;
mod redact;
mod settings;
mod tls;

pub use libpq_env::libpq_env;
pub use redact::redact_url;
pub use settings::SslMode;
use settings::{Defaults, TlsSettings};
use std::path::PathBuf;
use tokio_postgres::config::Host;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, Connection, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

pub(crate) use tls::explain;

/// The stream of a connection this connector made: TLS or plaintext.
pub(crate) type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

/// Connection settings that cannot be used as given. Never shows a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The URL or key=value string does not parse.
    #[error("the database URL is malformed: {0}")]
    Malformed(String),
    /// A key has a value it does not take.
    #[error("{key}={value} is not valid: use {expected}")]
    Invalid {
        /// The key, such as `sslmode`.
        key: String,
        /// The value given.
        value: String,
        /// What it takes.
        expected: String,
    },
    /// A libpq key this project does not implement.
    #[error("{key} is not supported: {instead}")]
    Unsupported {
        /// The key.
        key: String,
        /// What to do instead.
        instead: String,
    },
    /// `sslrootcert=system` with a mode that does not check the host name.
    #[error(
        "sslrootcert=system trusts every public CA, so it needs sslmode=verify-full, not sslmode={}: \
         any holder of a public certificate could pose as the server otherwise",
        mode.as_str()
    )]
    WeakModeWithSystemRoots {
        /// The mode given.
        mode: SslMode,
    },
    /// `verify-ca` or `verify-full` without a root certificate.
    #[error(
        "sslmode={} checks the server's certificate, but there is no root certificate: give \
         sslrootcert=FILE (the CA that signed the server's certificate, such as your provider's CA bundle), \
         sslrootcert=system, or put it at ~/.postgresql/root.crt",
        mode.as_str()
    )]
    NoRootCertificate {
        /// The mode given.
        mode: SslMode,
    },
    /// A file named by a key is not there.
    #[error("{key}={}: no such file; give the path of an existing PEM file", path.display())]
    MissingFile {
        /// `sslrootcert`, `sslcert` or `sslkey`.
        key: &'static str,
        /// The path given.
        path: PathBuf,
    },
    /// A client certificate without its key.
    #[error("the client certificate {} has no key: give sslkey=FILE, or put it at ~/.postgresql/postgresql.key", cert.display())]
    MissingKey {
        /// The certificate file.
        cert: PathBuf,
    },
    /// A client key without its certificate.
    #[error("the client key {} has no certificate: give sslcert=FILE, or put it at ~/.postgresql/postgresql.crt", key.display())]
    MissingCertificate {
        /// The key file.
        key: PathBuf,
    },
    /// A file that does not hold what its key needs.
    #[error("{key}={}: {problem}", path.display())]
    BadFile {
        /// `sslrootcert`, `sslcert` or `sslkey`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A client key others may read.
    #[error(
        "the private key file {} has group or world access (mode {mode:04o}); \
         run `chmod 0600 {}` (0640 is allowed when root owns it), as libpq demands",
        path.display(), path.display()
    )]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// `sslrootcert=system` found no certificates.
    #[error(
        "sslrootcert=system found no trusted root certificates ({0}); install ca-certificates, or set SSL_CERT_FILE"
    )]
    NoSystemRoots(String),
    /// `channel_binding=require` with `sslmode=disable`.
    #[error(
        "channel_binding=require binds the login to TLS, but sslmode=disable turns TLS off; use sslmode=verify-full"
    )]
    ChannelBindingWithoutTls,
    /// `sslnegotiation=direct` with a mode that allows plaintext.
    #[error(
        "sslnegotiation=direct starts TLS at once, which sslmode={} cannot fall back from; use sslmode=require or stricter \
         (and a PostgreSQL 17+ server)",
        mode.as_str()
    )]
    DirectNeedsTls {
        /// The mode given.
        mode: SslMode,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// Why TLS failed on a connection attempt, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The server's certificate does not chain to the root certificates.
    #[error(
        "the server's certificate is not signed by a CA in {roots}; give the CA that signed it \
         (for a managed service, its CA bundle)"
    )]
    UnknownIssuer {
        /// Where the root certificates came from.
        roots: String,
    },
    /// `verify-full`: the certificate names other hosts.
    #[error(
        "the server's certificate names {}, not {host}: connect by {}, or use sslmode=verify-ca to check only the CA",
        names(presented),
        presented.first().map_or("a name it holds", String::as_str)
    )]
    NameMismatch {
        /// The host connected to.
        host: String,
        /// The names in the certificate.
        presented: Vec<String>,
    },
    /// The certificate's validity ended.
    #[error("the server's certificate expired at {not_after}; the server needs a renewed certificate")]
    Expired {
        /// When, in RFC 3339.
        not_after: String,
    },
    /// The certificate's validity has not begun.
    #[error("the server's certificate is valid only from {not_before}; check the clocks of server and client")]
    NotYetValid {
        /// When, in RFC 3339.
        not_before: String,
    },
    /// The server presents a CA certificate as its own.
    #[error(
        "the server presents a CA certificate as its own; give the server a certificate that CA issued \
         (ssl_cert_file), not the CA's"
    )]
    CaAsServerCertificate,
    /// Another reason the certificate was refused.
    #[error("the server's certificate was refused: {0}")]
    Rejected(String),
    /// The server ended the handshake, often over the client certificate.
    #[error(
        "the server ended the TLS handshake ({0}); if it asks for a client certificate, check sslcert and sslkey \
         and that its CA (ssl_ca_file) signed them"
    )]
    Alert(String),
    /// The server declined TLS.
    #[error(
        "the server does not offer TLS, but the sslmode asks for it (require, verify-ca or verify-full); \
         turn TLS on at the server (ssl = on), or check host and port"
    )]
    NotOffered,
    /// The server hung up on the TLS handshake's first message.
    #[error(
        "the server closed the connection during the TLS handshake: with sslnegotiation=direct it must be \
         PostgreSQL 17 or later (otherwise use sslnegotiation=postgres); check too that host and port name a \
         PostgreSQL server"
    )]
    ClosedDuringHandshake,
    /// `channel_binding=require`, and the login did not bind to TLS.
    #[error(
        "channel_binding=require, but the server did not use channel binding: the login must be SCRAM over TLS \
         (a role with an md5 password or trust login cannot bind; set password_encryption = 'scram-sha-256' \
         and set the password again)"
    )]
    NoChannelBinding,
    /// The handshake failed otherwise.
    #[error("the TLS handshake failed: {0}")]
    Handshake(String),
}

fn names(presented: &[String]) -> String {
    match presented {
        [] => "no host".to_string(),
        [one] => one.clone(),
        many => many.join(", "),
    }
}

/// A server and how to reach it, parsed once from a URL or key=value
/// string, used for every connection to it.
#[derive(Clone)]
pub(crate) struct Connector {
    config: Config,
    mode: SslMode,
    tls: MakeRustlsConnect,
}

impl Connector {
    /// Parses `settings`, reads the `PGSSL*` variables and the files they
    /// and the string name.
    pub(crate) fn new(settings: &str) -> Result<Connector, SettingsError> {
        let parsed = settings::parse(settings, &Defaults::process())?;
        Connector::from_parsed(parsed.pg, &parsed.tls)
    }

    /// The driver's settings of `settings` alone: no file is read and no
    /// TLS configuration built.
    pub(crate) fn config_of(settings: &str) -> Result<Config, SettingsError> {
        Ok(settings::parse(settings, &Defaults::process())?.pg)
    }

    fn from_parsed(config: Config, tls: &TlsSettings) -> Result<Connector, SettingsError> {
        Ok(Connector {
            config,
            mode: tls.mode,
            tls: MakeRustlsConnect::new(tls::client_config(tls)?),
        })
    }

    /// The driver's settings (host, user, database...).
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Connects with [`Connector::config`].
    #[cfg(feature = "testing")]
    pub(crate) async fn connect(&self) -> Result<(Client, Connection<Socket, Stream>), tokio_postgres::Error> {
        self.connect_with(&self.config).await
    }

    /// Connects with `config`, which came from [`Connector::config`]:
    /// `allow` tries plaintext first and TLS when the server refuses it;
    /// over Unix sockets there is no TLS, whatever the mode, as in libpq.
    pub(crate) async fn connect_with(
        &self,
        config: &Config,
    ) -> Result<(Client, Connection<Socket, Stream>), tokio_postgres::Error> {
        if !config.get_hosts().is_empty() && config.get_hosts().iter().all(|h| matches!(h, Host::Unix(_))) {
            let mut local = config.clone();
            local.ssl_mode(tokio_postgres::config::SslMode::Disable);
            return local.connect(self.tls.clone()).await;
        }
        let first = config.connect(self.tls.clone()).await;
        match first {
            Err(e) if self.mode == SslMode::Allow && e.as_db_error().is_some() => {
                tracing::info!("the server refused a plaintext connection; trying TLS, as sslmode=allow permits");
                let mut with_tls = config.clone();
                with_tls.ssl_mode(tokio_postgres::config::SslMode::Require);
                with_tls.connect(self.tls.clone()).await
            }
            other => other,
        }
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .field("sslmode", &self.mode.as_str())
            .finish_non_exhaustive()
    }
}
