//! A throwaway PgBouncer in front of a [`Cluster`].

use crate::{as_user, free_port, run_as, temp_root, userinfo, write_file, Cluster, Error, ServerTls};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// When PgBouncer hands a server connection back to the pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PoolMode {
    /// When the client disconnects.
    Session,
    /// When the transaction ends. PgBouncer 1.18 does not carry named
    /// prepared statements across transactions: use simple queries,
    /// `query_typed`, or an explicit transaction.
    #[default]
    Transaction,
    /// After each statement; multi-statement transactions are refused.
    Statement,
}

/// Settings for a new [`Pooler`].
#[derive(Debug, Clone)]
pub struct PoolerOptions {
    /// [`PoolMode::Transaction`] by default.
    pub pool_mode: PoolMode,
    /// Server connections per database and user (`default_pool_size`); 20 by default.
    pub pool_size: usize,
    /// Client connections accepted in all (`max_client_conn`); 100 by default.
    pub max_client_conn: usize,
    /// Users besides `postgres` that connect through the pooler, with the
    /// password the server knows them by: PgBouncer asks clients for it
    /// (SCRAM) and logs in to the server with it.
    pub users: Vec<(String, String)>,
    /// TLS required of clients (`client_tls_sslmode = require`), with this
    /// certificate and key; the other fields are not used. PgBouncer itself
    /// reaches a cluster with [`Cluster::tls_enabled`] over TLS, set or not.
    pub client_tls: Option<ServerTls>,
}

impl Default for PoolerOptions {
    fn default() -> Self {
        PoolerOptions {
            pool_mode: PoolMode::Transaction,
            pool_size: 20,
            max_client_conn: 100,
            users: Vec::new(),
            client_tls: None,
        }
    }
}

/// A running PgBouncer that sends every database name to one cluster, with
/// the admin console (database `pgbouncer`) open to `postgres`. Every login
/// needs the user's password, `postgres`'s being the cluster's. Dropping it,
/// or the process ending, stops it and deletes its folder.
pub struct Pooler {
    port: u16,
    users: Vec<(String, String)>,
    log: PathBuf,
    pgbouncer: Child,
    guardian: Child,
    guardian_pipe: Option<ChildStdin>,
    _temp: tempfile::TempDir,
}

impl Pooler {
    /// Starts PgBouncer on a free loopback port and returns once it accepts
    /// connections. Runs it as `postgres` when run as root.
    pub fn start(cluster: &Cluster, options: PoolerOptions) -> Result<Pooler, Error> {
        let binary = binary()?;
        let run_as = run_as()?;
        let (temp, root) = temp_root("throwaway-pgbouncer-", run_as)?;
        let log = root.join("pgbouncer.log");
        let mut users = vec![("postgres".to_string(), cluster.password().to_string())];
        users.extend(options.users.iter().cloned());
        let auth: String = users
            .iter()
            .map(|(user, password)| format!("{} {}\n", quote(user), quote(password)))
            .collect();
        write_file(&root.join("users.txt"), &auth, 0o600, run_as)?;
        if let Some(tls) = &options.client_tls {
            write_file(&root.join(TLS_CERT), &tls.cert_pem, 0o644, run_as)?;
            write_file(&root.join(TLS_KEY), &tls.key_pem, 0o600, run_as)?;
        }
        let (mut guardian, mut pipe) = guardian(&root, run_as)?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let config = root.join("pgbouncer.ini");
            std::fs::write(&config, config_text(cluster, port, &root, &options))?;
            match start(&binary, &config, &root, &log, port, run_as, &mut pipe) {
                Ok(pgbouncer) => {
                    return Ok(Pooler {
                        port,
                        users,
                        log,
                        pgbouncer,
                        guardian,
                        guardian_pipe: Some(pipe),
                        _temp: temp,
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        drop(pipe);
        let _ = guardian.wait();
        Err(last.expect("at least one attempt"))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `database` through the pooler, as `postgres` with its
    /// password; add `?sslmode=require` when [`PoolerOptions::client_tls`] is set.
    pub fn url(&self, database: &str) -> String {
        self.url_as("postgres", database)
    }

    /// A URL for `database` through the pooler as `user`, `postgres` or one
    /// of [`PoolerOptions::users`], with its password.
    ///
    /// # Panics
    /// When `user` is neither.
    pub fn url_as(&self, user: &str, database: &str) -> String {
        let (_, password) = self
            .users
            .iter()
            .find(|(name, _)| name == user)
            .unwrap_or_else(|| panic!("{user} is not one of the pooler's users"));
        format!(
            "postgresql://{}@127.0.0.1:{}/{database}",
            userinfo(user, password),
            self.port
        )
    }

    /// PgBouncer's log.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        self.guardian_pipe.take();
        let _ = self.guardian.wait();
        let _ = self.pgbouncer.wait();
    }
}

fn binary() -> Result<PathBuf, Error> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("pgbouncer"))
        .find(|p| p.is_file())
        .ok_or(Error::PoolerNotFound)
}

/// A value for the auth file: in double quotes, a quote doubled.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// The files of [`PoolerOptions::client_tls`], in the pooler's folder.
const TLS_CERT: &str = "pgbouncer.crt";
const TLS_KEY: &str = "pgbouncer.key";

fn config_text(cluster: &Cluster, port: u16, root: &Path, options: &PoolerOptions) -> String {
    let mode = match options.pool_mode {
        PoolMode::Session => "session",
        PoolMode::Transaction => "transaction",
        PoolMode::Statement => "statement",
    };
    // tokio-postgres sends only client_encoding, user, database and, when
    // set, application_name and options; 1.18 handles all but `options`,
    // which stays refused so a setting passed that way is never dropped.
    let mut text = format!(
        "[databases]\n\
         * = host=127.0.0.1 port={server_port}\n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = scram-sha-256\n\
         auth_file = {root}/users.txt\n\
         admin_users = postgres\n\
         pool_mode = {mode}\n\
         default_pool_size = {pool_size}\n\
         max_client_conn = {max_client_conn}\n\
         ignore_startup_parameters = extra_float_digits\n",
        server_port = cluster.port(),
        root = root.display(),
        pool_size = options.pool_size,
        max_client_conn = options.max_client_conn,
    );
    if options.client_tls.is_some() {
        text.push_str(&format!(
            "client_tls_sslmode = require\nclient_tls_cert_file = {root}/{TLS_CERT}\nclient_tls_key_file = {root}/{TLS_KEY}\n",
            root = root.display(),
        ));
    }
    if cluster.tls_enabled() {
        text.push_str("server_tls_sslmode = require\n");
    }
    text
}

/// A shell that holds our pipe: when this process exits for any reason the
/// pipe closes, and the shell stops the PgBouncer whose pid it was sent last
/// and deletes its folder.
fn guardian(root: &Path, run_as: Option<(u32, u32)>) -> Result<(Child, ChildStdin), Error> {
    let script = r#"
        pid=
        while read -r line; do pid=$line; done
        [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null
        rm -rf "$ROOT"
    "#;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]).env("ROOT", root).stdin(Stdio::piped());
    let mut child = as_user(&mut cmd, run_as, root).spawn()?;
    let stdin = child.stdin.take().expect("piped");
    Ok((child, stdin))
}

/// Starts PgBouncer on `port`. It has no "ready" signal, so this polls the
/// port, for 10 seconds at most, and gives up early when it exits.
fn start(
    binary: &Path,
    config: &Path,
    root: &Path,
    log: &Path,
    port: u16,
    run_as: Option<(u32, u32)>,
    guardian: &mut ChildStdin,
) -> Result<Child, Error> {
    // It logs to stderr, config errors included.
    let mut cmd = Command::new(binary);
    cmd.arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?);
    let mut pgbouncer = as_user(&mut cmd, run_as, root).spawn()?;
    writeln!(guardian, "{}", pgbouncer.id())?;
    let started = Instant::now();
    let detail = loop {
        if pgbouncer.try_wait()?.is_some() {
            break String::new();
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(pgbouncer);
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = pgbouncer.kill();
            break "it did not accept connections within 10 s; ".to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    pgbouncer.wait()?;
    // The pid is free again: the guardian must not signal it.
    writeln!(guardian)?;
    let log_text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = log_text.lines().rev().take(5).collect();
    Err(Error::PoolerStart {
        port,
        detail: format!("{detail}{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n")),
        log: log.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pgbouncer_that_exits_at_start_is_reported_with_its_own_words() {
        let run_as = run_as().unwrap();
        let (_temp, root) = temp_root("throwaway-pgbouncer-", run_as).unwrap();
        let config = root.join("pgbouncer.ini");
        std::fs::write(&config, "[pgbouncer]\nlisten_addr = 127.0.0.1\nno_such_setting = 1\n").unwrap();
        let (mut guardian, mut pipe) = guardian(&root, run_as).unwrap();
        let log = root.join("pgbouncer.log");
        let e = start(&binary().unwrap(), &config, &root, &log, 1, run_as, &mut pipe)
            .expect_err("an unknown setting stops it")
            .to_string();
        assert!(e.contains("unknown parameter: pgbouncer/no_such_setting"), "{e}");
        drop(pipe);
        guardian.wait().unwrap();
        assert!(!root.exists(), "the guardian deletes the folder");
    }
}
