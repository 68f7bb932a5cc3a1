//! A throwaway PostgreSQL cluster for tests, benchmarks and the example:
//! `initdb` into a temporary folder, `pg_ctl start` on a free loopback port,
//! stopped and deleted when the owning process exits, even when killed.
//!
//! Other local users cannot get in: a TCP login needs the superuser's random
//! password, which [`Cluster::url`] carries, and the Unix socket, which
//! needs none, lies in a folder only the cluster's user may enter.
//!
//! PostgreSQL refuses to run as root, so when run as root the cluster runs
//! as the `postgres` system user (which Debian's packages create); no `sudo`
//! is needed.
//!
//! How the test databases of `migrate-runtime` use it:
//! [the guide's test databases page](https://docs.rs/migrate-runtime/latest/migrate_runtime/guide/test_databases/index.html).

mod bin_dir;
#[cfg(feature = "tls")]
pub mod certs;
mod pooler;

pub use bin_dir::{bin_dir, tool, BIN_ENV};
use nix::unistd::{Uid, User};
pub use pooler::{PoolMode, Pooler, PoolerOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{chown, fchown, DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use tokio_postgres::NoTls;

/// How to install what is missing, for messages.
pub const INSTALL_HINT: &str =
    "install the PostgreSQL server binaries: `apt-get install -y postgresql` (Debian, Ubuntu)";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; searched: {searched}; {INSTALL_HINT}, or set {BIN_ENV}=/path/to/bin"
    )]
    BinariesNotFound { searched: String },
    #[error("{from}={}: {problem}; set it to the folder holding initdb, pg_ctl and postgres", dir.display())]
    BadBinDir {
        from: &'static str,
        dir: PathBuf,
        problem: String,
    },
    #[error(
        "`{} -V` fails as {who}: {detail}; that user needs o+x on every folder above it and o+rx on the binaries and their lib/ (`chmod -R a+rX`), and their shared libraries must resolve (`ldd`; the npm builds need the symlinks of native/pg-symlinks.json restored)",
        postgres.display()
    )]
    CannotRun {
        postgres: PathBuf,
        who: &'static str,
        detail: String,
    },
    #[error("`{name}` not found in {searched}; {INSTALL_HINT}")]
    ToolNotFound { name: String, searched: String },
    #[error("running as root, but there is no `postgres` system user to run PostgreSQL as; {INSTALL_HINT} (it creates the user)")]
    NoPostgresUser,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot create a test database: {0}")]
    Sql(#[from] tokio_postgres::Error),
    #[error(
        "the standby on port {port} replayed WAL up to {replayed}, not yet {target}, after {waited:?}; is it streaming? see {}",
        log.display()
    )]
    NotCaughtUp {
        port: u16,
        replayed: String,
        target: String,
        waited: std::time::Duration,
        log: PathBuf,
    },
    #[error("PgBouncer not found on PATH nor at /usr/sbin/pgbouncer; install it: `apt-get install -y pgbouncer` (Debian, Ubuntu)")]
    PoolerNotFound,
    #[error("PgBouncer on port {port} did not start: {detail}; see {}", log.display())]
    PoolerStart { port: u16, detail: String, log: PathBuf },
    #[cfg(feature = "tls")]
    #[error("cannot make a test certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot draw a password from the operating system's random source: {0}")]
    Random(#[from] getrandom::Error),
    #[error(
        "{}: {problem}; a kept cluster's folder must be a folder of this user (or, as root, of `postgres`), since anyone can plant one in a shared place such as /tmp: remove it, or keep the cluster elsewhere",
        dir.display()
    )]
    UnsafeDataDir { dir: PathBuf, problem: String },
    #[error(
        "{} holds a cluster made without a superuser password, which every local user could log in to; delete the folder to have a new one made",
        dir.display()
    )]
    NoPassword { dir: PathBuf },
}

/// Settings for a new cluster.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra `postgresql.conf` settings, e.g. `("log_statement", "all")`.
    pub settings: Vec<(String, String)>,
    /// Keep the cluster in this folder across runs (created if missing)
    /// instead of a temporary one that is deleted at exit. It is made mode
    /// 0700; a symbolic link or another user's folder is refused
    /// ([`Error::UnsafeDataDir`]).
    pub data_dir: Option<PathBuf>,
    /// The folder of `initdb`, `pg_ctl` and `postgres`; [`bin_dir()`] when `None`.
    pub bin_dir: Option<PathBuf>,
    /// TLS only over TCP, when set. Like `settings`, applied when the
    /// cluster is created: a kept `data_dir` keeps what it was made with.
    pub tls: Option<ServerTls>,
}

/// TLS for the server: `ssl = on` with these files, and a pg_hba.conf of
/// `hostssl` lines only, so a plaintext TCP login is refused. Over TCP the
/// listed users log in as said, every other role, `postgres` and its
/// replication included, with scram-sha-256.
/// The `certs` module (feature `tls`) makes the PEM text.
#[derive(Debug, Clone, Default)]
pub struct ServerTls {
    /// The server's certificate chain, leaf first.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
    /// `ssl_ca_file`: the CA that client certificates must chain to; needed
    /// for `cert_users`.
    pub client_ca_pem: Option<String>,
    /// Roles that log in with a client certificate whose CN is the role name
    /// (pg_hba method `cert`).
    pub cert_users: Vec<String>,
    /// Roles that log in with md5 (pg_hba method `md5`). The server uses
    /// SCRAM anyway for a password stored as SCRAM: create the role after
    /// `SET password_encryption = 'md5'`.
    pub md5_users: Vec<String>,
}

/// pg_hba.conf without TLS: the Unix socket, in a folder of mode 0700,
/// trusts; every TCP login needs a password.
const HBA: &str = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication postgres 127.0.0.1/32 scram-sha-256\n";

/// The superuser's password, beside the data folder: `initdb --pwfile`
/// reads it, and so does the next start of a kept cluster.
const PASSWORD_FILE: &str = "postgres.password";
/// A standby's passfile: pg_basebackup reads it, and names it in the
/// standby's `primary_conninfo`.
const PASSFILE: &str = "primary.pgpass";

/// The TLS files in the data folder, named relative to it so that a
/// standby's copy finds its own.
const TLS_CERT: &str = "server.crt";
const TLS_KEY: &str = "server.key";
const TLS_CLIENT_CA: &str = "client_ca.crt";

/// A running cluster. Dropping it, or the process ending, stops it.
pub struct Cluster {
    bin: PathBuf,
    version_num: u32,
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    password: String,
    tls: bool,
    run_as: Option<(u32, u32)>,
    guardian: (Child, Option<ChildStdin>),
    _temp: Option<tempfile::TempDir>,
    /// A kept folder's lock, released after the server stopped.
    _lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

impl Cluster {
    /// Creates (unless `options.data_dir` already holds one) and starts a cluster.
    pub fn start(options: &Options) -> Result<Cluster, Error> {
        let bin = match &options.bin_dir {
            Some(dir) => bin_dir::check(dir)
                .map(|()| dir.clone())
                .map_err(|problem| Error::BadBinDir {
                    from: "Options::bin_dir",
                    dir: dir.clone(),
                    problem,
                })?,
            None => bin_dir()?,
        };
        let run_as = run_as()?;
        let version_num = bin_dir::probe(&bin, run_as)?;
        let (temp, root, lock) = match &options.data_dir {
            Some(dir) => {
                let root = own_folder(dir, run_as)?;
                let lock = lock_folder(&root)?;
                (None, root, Some(lock))
            }
            None => {
                let (temp, root) = temp_root("throwaway-pg-", run_as)?;
                (Some(temp), root, None)
            }
        };
        let data = root.join("data");
        let password_file = root.join(PASSWORD_FILE);
        let password = if data.join("PG_VERSION").exists() {
            match std::fs::read_to_string(&password_file) {
                Ok(text) => text.trim_end().to_string(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NoPassword { dir: root }),
                Err(e) => return Err(e.into()),
            }
        } else {
            let password = new_password()?;
            write_file(&password_file, &format!("{password}\n"), 0o600, run_as)?;
            let mut initdb = Command::new(bin.join("initdb"));
            initdb
                .args(["-D"])
                .arg(&data)
                .args(["-U", "postgres", "--pwfile"])
                .arg(&password_file)
                .args([
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]);
            run(as_user(&mut initdb, run_as, &root), "initdb")?;
            let mut settings: Vec<(String, String)> = [
                ("listen_addresses", "'127.0.0.1'"),
                ("fsync", "off"),
                ("synchronous_commit", "off"),
                ("full_page_writes", "off"),
                ("max_connections", "200"),
                ("log_line_prefix", "'%m [%p] %d %a '"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let hba = match &options.tls {
                None => HBA.to_string(),
                Some(tls) => {
                    settings.extend(write_tls_files(&data, tls, run_as)?);
                    tls_hba(tls)
                }
            };
            settings.extend(options.settings.iter().cloned());
            append_settings(&data, &settings)?;
            std::fs::write(data.join("pg_hba.conf"), hba)?;
            password
        };
        let mut cluster = launch(bin, version_num, root, run_as, temp, password)?;
        cluster._lock = lock;
        Ok(cluster)
    }

    /// A streaming hot standby of this cluster (`pg_basebackup -R`), started
    /// on its own port, stopped and deleted like any throwaway cluster. It
    /// copies the TLS settings and files of a TLS cluster, and streams over TLS,
    /// logging in with the primary's password from a passfile in its folder.
    /// [`Cluster::caught_up_with`] waits for it to replay; [`Cluster::promote`]
    /// makes it a primary.
    pub fn standby(&self) -> Result<Cluster, Error> {
        let pg_basebackup = self.tool("pg_basebackup")?;
        let (temp, root) = temp_root("throwaway-pg-standby-", self.run_as)?;
        let data = root.join("data");
        let what = format!("{} (it must be at least the server's version)", pg_basebackup.display());
        let passfile = root.join(PASSFILE);
        write_file(
            &passfile,
            &format!("127.0.0.1:{}:*:postgres:{}\n", self.port, self.password),
            0o600,
            self.run_as,
        )?;
        let mut backup = Command::new(pg_basebackup);
        // With PGPASSWORD set, libpq would use it, and -R would write it
        // into primary_conninfo.
        backup.env("PGPASSFILE", &passfile).env_remove("PGPASSWORD");
        backup.arg("-D").arg(&data).args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        ]);
        run(as_user(&mut backup, self.run_as, &root), &what)?;
        append_settings(&data, &[("hot_standby".to_string(), "on".to_string())])?;
        launch(
            self.bin.clone(),
            self.version_num,
            root,
            self.run_as,
            Some(temp),
            self.password.clone(),
        )
    }

    /// `pg_ctl promote`: this standby stops following its primary and accepts
    /// writes once this returns.
    pub fn promote(&self) -> Result<(), Error> {
        self.pg_ctl(&["promote", "-w", "-t", "60"])
    }

    /// Waits until this standby has replayed all the WAL `primary` has
    /// written so far, so what was committed there is visible here. Fails
    /// after 30 seconds.
    pub async fn caught_up_with(&self, primary: &Cluster) -> Result<(), Error> {
        const LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
        let check = |e: tokio_postgres::Error| Error::Command {
            what: "checking the standby's replay position".to_string(),
            detail: e.to_string(),
        };
        // The insert position, not pg_current_wal_lsn(): with
        // synchronous_commit off the last commit may not be written yet.
        let target: String = query_one(primary, "SELECT pg_current_wal_insert_lsn()::text")
            .await
            .map_err(check)?;
        let (client, connection) = self.socket_config("postgres").connect(NoTls).await.map_err(check)?;
        let task = tokio::spawn(connection);
        let sql = format!("SELECT coalesce(pg_last_wal_replay_lsn()::text, 'none'), coalesce(pg_last_wal_replay_lsn() >= '{target}', false)");
        let started = std::time::Instant::now();
        let result = loop {
            let row = client.query_one(&sql, &[]).await.map_err(check)?;
            if row.get::<_, bool>(1) {
                break Ok(());
            }
            if started.elapsed() > LIMIT {
                break Err(Error::NotCaughtUp {
                    port: self.port,
                    replayed: row.get(0),
                    target,
                    waited: LIMIT,
                    log: self.log.clone(),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        drop(client);
        let _ = task.await;
        result
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder holding the server's Unix socket, for `host=` in a
    /// key=value connection string: `local` logins are trusted, TLS or not,
    /// and the folder (mode 0700) lets in only the cluster's user and root.
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    /// The superuser `postgres`'s password, random for each cluster (a
    /// standby has its primary's). Keep it off command lines, which every
    /// local user can read: give it to client programs in `PGPASSWORD` or a
    /// passfile.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Whether the cluster takes TLS only over TCP ([`Options::tls`]).
    pub fn tls_enabled(&self) -> bool {
        self.tls
    }

    /// The server log (with `log_statement = all`, every statement).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The folder holding the server binaries.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The server's version as `SHOW server_version_num` gives it
    /// (`150018` for 15.18): for tests of version-dependent behaviour.
    pub fn version_num(&self) -> u32 {
        self.version_num
    }

    /// A client program (`psql`, `pg_dump`) to use with this cluster: from
    /// its binary folder when there, else from the other places searched.
    pub fn tool(&self, name: &str) -> Result<PathBuf, Error> {
        tool(name, &self.bin)
    }

    /// A URL for `database` as the superuser `postgres` with its password,
    /// over TCP; add `?sslmode=...` for a TLS cluster.
    pub fn url(&self, database: &str) -> String {
        self.url_as("postgres", &self.password, database)
    }

    /// A URL for `database` as `user` with `password`.
    pub fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgresql://{}@127.0.0.1:{}/{database}",
            userinfo(user, password),
            self.port
        )
    }

    /// Creates a new, empty database and returns its URL.
    pub async fn create_database(&self) -> Result<String, Error> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        self.execute("postgres", &format!("CREATE DATABASE {name}")).await?;
        Ok(self.url(&name))
    }

    /// Runs `sql` (a simple query) on `database` as `postgres`, over the
    /// Unix socket.
    pub async fn execute(&self, database: &str, sql: &str) -> Result<(), Error> {
        let (client, connection) = self.socket_config(database).connect(NoTls).await?;
        let task = tokio::spawn(connection);
        client.batch_execute(sql).await?;
        drop(client);
        let _ = task.await;
        Ok(())
    }

    /// `pg_ctl stop -m immediate`: the server dies as if the power went out.
    pub fn stop_immediate(&self) -> Result<(), Error> {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"])
    }

    /// Starts the server again after [`Cluster::stop_immediate`].
    pub fn restart(&self) -> Result<(), Error> {
        let port = format!("-p {} -k {}", self.port, self.root.display());
        self.pg_ctl(&[
            "start",
            "-w",
            "-t",
            "60",
            "-o",
            &port,
            "-l",
            &self.log.to_string_lossy(),
        ])
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), Error> {
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.arg("-D").arg(&self.data).args(args);
        run(
            as_user(&mut cmd, self.run_as, &self.root),
            &format!("pg_ctl {}", args.join(" ")),
        )
    }

    /// `database` as `postgres` over the Unix socket: our own connections
    /// work whatever pg_hba.conf asks of TCP.
    fn socket_config(&self, database: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.root)
            .port(self.port)
            .user("postgres")
            .dbname(database);
        config
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.guardian.1.take();
        let _ = self.guardian.0.wait();
    }
}

/// One cluster per process, started on first use, for tests.
pub fn shared() -> Result<&'static Cluster, String> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| Cluster::start(&Options::default()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

/// Waits for and takes the lock of a kept cluster's folder: one process at
/// a time runs it, and the next one starts it again after it stopped.
fn lock_folder(root: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, Error> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(root.join("in-use.lock"))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| Error::Io(std::io::Error::from(errno)))
}

/// A new temporary folder of mode 0700 the cluster's user owns.
pub(crate) fn temp_root(prefix: &str, run_as: Option<(u32, u32)>) -> Result<(tempfile::TempDir, PathBuf), Error> {
    let temp = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()?;
    let root = temp.path().to_path_buf();
    if let Some((uid, gid)) = run_as {
        chown(&root, Some(uid), Some(gid))?;
    }
    Ok((temp, root))
}

/// `dir`, absolute, made the kept cluster's folder: created when missing,
/// then mode 0700 and owned by the cluster's user. A symbolic link or
/// another user's folder is refused: anyone can plant one in /tmp, and as
/// root the chown would follow a link.
fn own_folder(dir: &Path, run_as: Option<(u32, u32)>) -> Result<PathBuf, Error> {
    use nix::libc;
    let dir = std::path::absolute(dir)?;
    let refuse = |problem: String| Error::UnsafeDataDir {
        dir: dir.clone(),
        problem,
    };
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(refuse("it is a symbolic link".into())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent)?;
            }
            // mkdir does not follow a link; one planted meanwhile is judged below.
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e.into()),
                _ => {}
            }
        }
        Err(e) => return Err(e.into()),
    }
    // Changed through this handle only, which a link planted since cannot divert.
    let folder = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
        .open(&dir)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refuse("it is a symbolic link".into()),
            Some(libc::ENOTDIR) => refuse("it is not a folder".into()),
            _ => e.into(),
        })?;
    let owner = folder.metadata()?.uid();
    let me = Uid::effective().as_raw();
    if owner != me && run_as.is_none_or(|(uid, _)| uid != owner) {
        let postgres = run_as
            .map(|(uid, _)| format!(" nor to postgres (uid {uid})"))
            .unwrap_or_default();
        return Err(refuse(format!(
            "it belongs to uid {owner}, not to this user (uid {me}){postgres}"
        )));
    }
    folder.set_permissions(std::fs::Permissions::from_mode(0o700))?;
    if let Some((uid, gid)) = run_as {
        fchown(&folder, Some(uid), Some(gid))?;
    }
    Ok(dir)
}

/// 24 bytes from the operating system's random source, in hex: nothing in
/// it needs quoting in a URL, a passfile or a conninfo string.
fn new_password() -> Result<String, Error> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `user:password` for a URL, percent-encoded.
pub(crate) fn userinfo(user: &str, password: &str) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!("{}:{}", encode(user), encode(password))
}

/// Writes `text` to `path` with permissions `mode`, owned by `run_as` when set.
pub(crate) fn write_file(path: &Path, text: &str, mode: u32, run_as: Option<(u32, u32)>) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    // `mode` applies to a new file only.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(text.as_bytes())?;
    if let Some((uid, gid)) = run_as {
        fchown(&file, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// Writes the TLS files into the data folder and returns their settings.
fn write_tls_files(data: &Path, tls: &ServerTls, run_as: Option<(u32, u32)>) -> Result<Vec<(String, String)>, Error> {
    write_file(&data.join(TLS_CERT), &tls.cert_pem, 0o644, run_as)?;
    // PostgreSQL refuses a key others can read.
    write_file(&data.join(TLS_KEY), &tls.key_pem, 0o600, run_as)?;
    let setting = |key: &str, value: String| (key.to_string(), value);
    let mut settings = vec![
        setting("ssl", "on".to_string()),
        setting("ssl_cert_file", format!("'{TLS_CERT}'")),
        setting("ssl_key_file", format!("'{TLS_KEY}'")),
    ];
    if let Some(ca) = &tls.client_ca_pem {
        write_file(&data.join(TLS_CLIENT_CA), ca, 0o644, run_as)?;
        settings.push(setting("ssl_ca_file", format!("'{TLS_CLIENT_CA}'")));
    }
    Ok(settings)
}

/// pg_hba.conf of a TLS cluster: `hostssl` lines only, so TCP without TLS
/// finds no entry.
fn tls_hba(tls: &ServerTls) -> String {
    let mut hba = String::from("local all all trust\n");
    for (users, method) in [(&tls.cert_users, "cert"), (&tls.md5_users, "md5")] {
        for user in users {
            hba.push_str(&format!("hostssl all \"{user}\" 127.0.0.1/32 {method}\n"));
        }
    }
    hba.push_str(
        "hostssl all all 127.0.0.1/32 scram-sha-256\nhostssl replication postgres 127.0.0.1/32 scram-sha-256\n",
    );
    hba
}

fn append_settings(data: &Path, settings: &[(String, String)]) -> Result<(), Error> {
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))?;
    for (key, value) in settings {
        writeln!(conf, "{key} = {value}")?;
    }
    Ok(())
}

/// Starts the cluster in `root/data` on a free port, retrying on another
/// port when one was taken meanwhile.
fn launch(
    bin: PathBuf,
    version_num: u32,
    root: PathBuf,
    run_as: Option<(u32, u32)>,
    temp: Option<tempfile::TempDir>,
    password: String,
) -> Result<Cluster, Error> {
    let data = root.join("data");
    let log = root.join("server.log");
    let tls = data.join(TLS_CERT).exists();
    let mut last = None;
    for _ in 0..5 {
        let port = free_port()?;
        match start_guardian(&bin, &data, &log, &root, port, run_as, temp.is_none()) {
            Ok(guardian) => {
                return Ok(Cluster {
                    bin,
                    version_num,
                    root,
                    data,
                    log,
                    port,
                    password,
                    tls,
                    run_as,
                    guardian,
                    _temp: temp,
                    _lock: None,
                })
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one attempt"))
}

async fn query_one(cluster: &Cluster, sql: &str) -> Result<String, tokio_postgres::Error> {
    let (client, connection) = cluster.socket_config("postgres").connect(NoTls).await?;
    let task = tokio::spawn(connection);
    let value = client.query_one(sql, &[]).await?.get(0);
    drop(client);
    let _ = task.await;
    Ok(value)
}

pub(crate) fn run_as() -> Result<Option<(u32, u32)>, Error> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres") {
        Ok(Some(user)) => Ok(Some((user.uid.as_raw(), user.gid.as_raw()))),
        _ => Err(Error::NoPostgresUser),
    }
}

pub(crate) fn as_user<'a>(cmd: &'a mut Command, run_as: Option<(u32, u32)>, dir: &Path) -> &'a mut Command {
    cmd.current_dir(dir);
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid).env("HOME", dir).env("USER", "postgres");
    }
    cmd
}

fn run(cmd: &mut Command, what: &str) -> Result<(), Error> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Command {
        what: what.to_string(),
        detail: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts the server through a shell that holds our pipe: when this process
/// exits for any reason the pipe closes, and the shell stops the server
/// (and deletes a temporary cluster).
fn start_guardian(
    bin: &Path,
    data: &Path,
    log: &Path,
    root: &Path,
    port: u16,
    run_as: Option<(u32, u32)>,
    keep: bool,
) -> Result<(Child, Option<ChildStdin>), Error> {
    let script = r#"
        "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -o "-p $PORT -k $ROOT" start >/dev/null 2>&1 || { tail -n 20 "$LOG" >&2; exit 1; }
        echo ready
        read _ignored
        "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1
        [ "$KEEP" = 1 ] || rm -rf "$ROOT"
    "#;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script])
        .env("BIN", bin)
        .env("DATA", data)
        .env("LOG", log)
        .env("ROOT", root)
        .env("PORT", port.to_string())
        .env("KEEP", if keep { "1" } else { "0" })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = as_user(&mut cmd, run_as, root).spawn()?;
    let stdin = child.stdin.take();
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    if line.trim() == "ready" {
        return Ok((child, stdin));
    }
    let out = child.wait_with_output()?;
    Err(Error::Command {
        what: "pg_ctl start".to_string(),
        detail: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
