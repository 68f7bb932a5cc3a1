//! A pool from a connection URL, for binaries that have none yet.

use crate::connector::Connector;
use crate::Error;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

/// A pool of at most `max_size` connections to `url`, a
/// `postgresql://user:password@host:port/database?sslmode=...` URL or a
/// libpq key=value string. TLS follows libpq's rules: `sslmode` (`disable`,
/// `allow`, `prefer` by default, `require`, `verify-ca`, `verify-full`),
/// `sslrootcert` (a PEM file or `system`), `sslcert` and `sslkey`,
/// `channel_binding`, `sslnegotiation`, and the `PGSSLMODE`,
/// `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY` and `PGCHANNELBINDING`
/// variables and `~/.postgresql/root.crt`, `postgresql.crt` and
/// `postgresql.key` where the URL is silent. The files are read here, once;
/// connections are made lazily. The error never repeats the URL, which may
/// hold a password. Its connections pass `NOTIFY`s on to `run`, so that an
/// instance waiting for the migration lock takes over as soon as it is
/// released.
pub fn pool_from_url(url: &str, max_size: usize) -> Result<Pool, Error> {
    pool(Connector::new(url)?, max_size)
}

/// A pool of at most `max_size` connections made by `connector`.
fn pool(connector: Connector, max_size: usize) -> Result<Pool, Error> {
    let manager = Manager::from_connect(
        connector.config().clone(),
        super::handover::Forwarding(connector),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .build()
        .map_err(|e| Error::Pool(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_urls_do_not_echo_the_password() {
        let e = pool_from_url("postgresql://u:s3cr3t@h:notaport/db", 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("malformed"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}
