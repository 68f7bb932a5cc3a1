//! Who gets into a throwaway cluster and its PgBouncer: over TCP only a
//! client with the password, which no process's arguments show; over the
//! Unix socket only this OS user, the socket's folder being its alone.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use throwaway_pg::{Cluster, Error, Options, Pooler, PoolerOptions};

/// The value, or a panic with the error's message (which says how to fix it).
fn ok<T>(result: Result<T, Error>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Asserts that `url` is refused for want of the right password: the client
/// has none to give, or the server (PostgreSQL, PgBouncer) says it is wrong.
async fn refused(url: &str) {
    match connect(url).await {
        Ok(_) => panic!("{url} logged in"),
        Err(e) => {
            let causes = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source());
            let text: Vec<String> = causes.map(ToString::to_string).collect();
            let auth = |t: &String| t.contains("password") || t.contains("authentication failed");
            assert!(text.iter().any(auth), "{url}: {text:?}");
        }
    }
}

/// `psql -Atc sql` with `conninfo`, with no password to find in the
/// environment or a home folder: its output, or its error message.
fn psql(cluster: &Cluster, conninfo: &str, sql: &str) -> Result<String, String> {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(ok(cluster.tool("psql")))
        .args(["-X", "-w", "-At", "-d", conninfo, "-c", sql])
        .env_clear()
        .env("HOME", home.path())
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

async fn current_user(url: &str) -> String {
    let client = connect(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    client.query_one("SELECT current_user::text", &[]).await.unwrap().get(0)
}

/// The users allowed to own the cluster's folders: this one, and when this
/// one is root, `postgres`, which the cluster then runs as.
fn owners() -> Vec<u32> {
    let me = nix::unistd::Uid::effective();
    let mut owners = vec![me.as_raw()];
    if me.is_root() {
        let postgres = nix::unistd::User::from_name("postgres")
            .unwrap()
            .expect("a postgres user");
        owners.push(postgres.uid.as_raw());
    }
    owners
}

fn assert_private(folder: &Path) {
    let meta = std::fs::symlink_metadata(folder).unwrap();
    assert!(meta.is_dir(), "{}", folder.display());
    assert_eq!(meta.mode() & 0o777, 0o700, "{} is open to others", folder.display());
    assert!(
        owners().contains(&meta.uid()),
        "{} belongs to uid {}",
        folder.display(),
        meta.uid()
    );
}

#[tokio::test]
async fn a_tcp_login_to_the_cluster_needs_the_password_in_its_url() {
    let cluster = ok(Cluster::start(&Options::default()));
    let port = cluster.port();
    refused(&format!("postgresql://postgres@127.0.0.1:{port}/postgres")).await;
    refused(&format!("postgresql://postgres:wrong@127.0.0.1:{port}/postgres")).await;
    let replication = format!("host=127.0.0.1 port={port} user=postgres replication=true");
    let e = psql(&cluster, &replication, "IDENTIFY_SYSTEM").unwrap_err();
    assert!(e.contains("password"), "{e}");
    assert_eq!(current_user(&cluster.url("postgres")).await, "postgres");
    assert!(cluster.url("postgres").contains(cluster.password()));
}

#[tokio::test]
async fn a_login_through_the_pooler_needs_the_password_in_its_url() {
    let cluster = ok(Cluster::start(&Options::default()));
    let user = "pooled_app";
    ok(cluster
        .execute("postgres", &format!("CREATE ROLE {user} LOGIN PASSWORD 'app pw/@:'"))
        .await);
    let pooler = ok(Pooler::start(
        &cluster,
        PoolerOptions {
            users: vec![(user.to_string(), "app pw/@:".to_string())],
            ..PoolerOptions::default()
        },
    ));
    let port = pooler.port();
    for who in ["postgres", user] {
        refused(&format!("postgresql://{who}@127.0.0.1:{port}/postgres")).await;
        refused(&format!("postgresql://{who}:wrong@127.0.0.1:{port}/postgres")).await;
    }
    assert_eq!(current_user(&pooler.url("postgres")).await, "postgres");
    assert_eq!(current_user(&pooler.url_as(user, "postgres")).await, user);
    assert_private(pooler.log_path().parent().unwrap());
}

#[tokio::test]
async fn the_socket_folder_is_this_users_alone() {
    let cluster = ok(Cluster::start(&Options::default()));
    assert_private(cluster.socket_dir());
    let standby = ok(cluster.standby());
    assert_private(standby.socket_dir());

    // A kept folder made open by someone's umask is closed.
    let parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let kept = parent.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = ok(Cluster::start(&Options {
        data_dir: Some(kept.clone()),
        ..Options::default()
    }));
    assert_eq!(cluster.socket_dir(), kept);
    assert_private(&kept);
}

/// A bin folder whose `initdb`, `pg_ctl`, `postgres` and `pg_basebackup` are
/// scripts that append their arguments to `args.log` in it, then run the
/// real ones.
fn recording_bin(dir: &Path) -> (PathBuf, PathBuf) {
    let real = ok(throwaway_pg::bin_dir());
    let log = dir.join("args.log");
    std::fs::write(&log, "").unwrap();
    // As root the cluster's programs run as `postgres`, which writes here too.
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for name in ["initdb", "pg_ctl", "postgres", "pg_basebackup"] {
        let target = ok(throwaway_pg::tool(name, &real));
        let script = dir.join(name);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s %s\\n' {name} \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                target.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (dir.to_path_buf(), log)
}

/// The arguments and, where this user may read it, the environment of every
/// process, by pid.
fn processes() -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let mut text =
                String::from_utf8_lossy(&std::fs::read(entry.path().join("cmdline")).ok()?).replace('\0', " ");
            if let Ok(environ) = std::fs::read(entry.path().join("environ")) {
                text.push_str(&String::from_utf8_lossy(&environ).replace('\0', " "));
            }
            Some((pid, text))
        })
        .collect()
}

async fn postmaster_pid(cluster: &Cluster) -> u32 {
    let client = connect(&cluster.url("postgres")).await.unwrap();
    let data: String = client.query_one("SHOW data_directory", &[]).await.unwrap().get(0);
    let pid_file = std::fs::read_to_string(Path::new(&data).join("postmaster.pid")).unwrap();
    pid_file.lines().next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_password_is_in_no_process_arguments_nor_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, log) = recording_bin(dir.path());
    let cluster = ok(Cluster::start(&Options {
        bin_dir: Some(bin),
        ..Options::default()
    }));
    let standby = ok(cluster.standby());
    let pooler = ok(Pooler::start(&cluster, PoolerOptions::default()));
    let password = cluster.password();
    assert_eq!(standby.password(), password);
    assert!(password.len() >= 32, "{password}");

    // The standby streams: its primary_conninfo logs in.
    ok(cluster.execute("postgres", "CREATE TABLE streamed (id int)").await);
    ok(standby.caught_up_with(&cluster).await);
    assert_eq!(current_user(&pooler.url("postgres")).await, "postgres");

    let pids = [postmaster_pid(&cluster).await, postmaster_pid(&standby).await];
    let all = processes();
    for pid in pids {
        assert!(all.iter().any(|(p, _)| *p == pid), "postmaster {pid} not seen");
    }
    let pooler_folder = pooler.log_path().parent().unwrap().display().to_string();
    assert!(
        all.iter()
            .any(|(_, text)| text.contains("pgbouncer") && text.contains(&pooler_folder)),
        "PgBouncer not seen"
    );
    for (pid, text) in &all {
        assert!(!text.contains(password), "process {pid} shows the password: {text}");
    }

    let recorded = std::fs::read_to_string(&log).unwrap();
    for name in ["initdb", "pg_ctl", "postgres", "pg_basebackup"] {
        assert!(
            recorded.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} was not run: {recorded}"
        );
    }
    assert!(!recorded.contains(password), "{recorded}");
}

/// A new folder that others may enter, as the cluster's user must when
/// this one is root.
fn open_parent() -> tempfile::TempDir {
    let parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    parent
}

#[tokio::test]
async fn a_kept_cluster_keeps_its_password_and_one_without_is_refused() {
    let parent = open_parent();
    let kept = parent.path().join("kept");
    let options = Options {
        data_dir: Some(kept.clone()),
        ..Options::default()
    };
    let first = ok(Cluster::start(&options));
    let password = first.password().to_string();
    drop(first);
    let again = ok(Cluster::start(&options));
    assert_eq!(again.password(), password);
    assert_eq!(current_user(&again.url("postgres")).await, "postgres");
    drop(again);

    // As an older throwaway-pg left it: a cluster, and no password file.
    let old = parent.path().join("old");
    std::fs::create_dir_all(old.join("data")).unwrap();
    std::fs::write(old.join("data/PG_VERSION"), "15\n").unwrap();
    let e = Cluster::start(&Options {
        data_dir: Some(old.clone()),
        ..Options::default()
    })
    .err()
    .expect("a cluster without a password is refused");
    assert!(matches!(e, Error::NoPassword { .. }), "{e}");
    assert!(e.to_string().contains("delete the folder"), "{e}");
}

/// What a symbolic link to `target` must leave as it was.
fn state(target: &Path) -> (u32, u32, u32, usize) {
    let meta = std::fs::symlink_metadata(target).unwrap();
    let entries = std::fs::read_dir(target).unwrap().count();
    (meta.mode(), meta.uid(), meta.gid(), entries)
}

#[test]
fn a_kept_folder_that_is_a_symbolic_link_is_refused_and_its_target_untouched() {
    let parent = open_parent();
    let target = parent.path().join("someone-elses");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = state(&target);
    let dangling = parent.path().join("not-yet");
    for (link, points_to) in [("kept", &target), ("dangling", &dangling)] {
        let link = parent.path().join(link);
        std::os::unix::fs::symlink(points_to, &link).unwrap();
        let e = Cluster::start(&Options {
            data_dir: Some(link.clone()),
            ..Options::default()
        })
        .err()
        .expect("a symbolic link is refused");
        assert!(matches!(e, Error::UnsafeDataDir { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&link.display().to_string()) && text.contains("symbolic link") && text.contains("remove it"),
            "{text}"
        );
    }
    assert_eq!(state(&target), before);
    assert!(!dangling.exists(), "the link was followed");
}

#[test]
fn a_kept_folder_of_another_user_is_refused() {
    let parent = open_parent();
    let foreign = if nix::unistd::Uid::effective().is_root() {
        let dir = parent.path().join("foreign");
        std::fs::create_dir(&dir).unwrap();
        // Neither root nor `postgres`.
        let stranger = (1..).map(|n| 60000 + n).find(|uid| !owners().contains(uid)).unwrap();
        std::os::unix::fs::chown(&dir, Some(stranger), Some(stranger)).unwrap();
        dir
    } else {
        PathBuf::from("/")
    };
    let before = std::fs::symlink_metadata(&foreign).unwrap();
    let e = Cluster::start(&Options {
        data_dir: Some(foreign.clone()),
        ..Options::default()
    })
    .err()
    .expect("another user's folder is refused");
    assert!(matches!(e, Error::UnsafeDataDir { .. }), "{e}");
    assert!(e.to_string().contains("belongs to uid"), "{e}");
    let after = std::fs::symlink_metadata(&foreign).unwrap();
    assert_eq!((after.mode(), after.uid()), (before.mode(), before.uid()));
    assert!(!foreign.join("data").exists());
}
