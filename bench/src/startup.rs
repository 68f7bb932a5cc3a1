//! A container's start, process start to exit, measured on a real release
//! binary that embeds the history: the no-op start beside a process that
//! only connects and sends `SELECT 1`, and 8 instances started at once on
//! an empty database beside one instance alone.

use crate::app::App;
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use throwaway_pg::Cluster;

/// `app migrate` applies what is pending; `app floor` connects and sends
/// `SELECT 1`, the least any start-up check can cost.
const MAIN: &str = r#"static M: migrate_runtime::Migrations = migrate_runtime::embed_migrations!("migrations");

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("DATABASE_URL").unwrap();
    if std::env::args().nth(1).as_deref() == Some("floor") {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client.simple_query("SELECT 1").await.unwrap();
        return;
    }
    let pool = migrate_runtime::pool_from_url(&url, 1).unwrap();
    if let Err(e) = M.run(&pool).await {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
"#;

const RUNS: usize = 100;
const INSTANCES: usize = 8;

pub struct Figures {
    /// (applied files, median no-op, median floor), each in ms.
    pub noop: Vec<(usize, f64, f64)>,
    /// Median wall time of 8 instances at once, and of one alone (ms).
    pub instances: (f64, f64),
    /// Processes of the 8-instance runs that exited non-zero.
    pub failed: usize,
}

pub async fn measure(cluster: &Cluster) -> Figures {
    let mut noop = Vec::new();
    for n in [10, 1000] {
        let app = App::new(&format!("startup_{n}"), n, MAIN);
        let url = cluster.create_database().await.unwrap();
        assert!(run(&app, &url, "migrate").wait().unwrap().success());
        let (mut ours, mut floor) = (Vec::new(), Vec::new());
        // Interleaved, so that drift in the machine's load hits both.
        for _ in 0..RUNS {
            ours.push(timed(&app, &url, "migrate"));
            floor.push(timed(&app, &url, "floor"));
        }
        noop.push((n, crate::median(ours), crate::median(floor)));
    }

    let app = App::new("startup_100", 100, MAIN);
    let (mut together, mut alone, mut failed) = (Vec::new(), Vec::new(), 0);
    for _ in 0..5 {
        let url = cluster.create_database().await.unwrap();
        let started = Instant::now();
        let children: Vec<Child> = (0..INSTANCES).map(|_| run(&app, &url, "migrate")).collect();
        for mut child in children {
            failed += usize::from(!child.wait().unwrap().success());
        }
        together.push(crate::ms(started.elapsed()));

        let url = cluster.create_database().await.unwrap();
        alone.push(timed(&app, &url, "migrate"));
    }
    Figures {
        noop,
        instances: (crate::median(together), crate::median(alone)),
        failed,
    }
}

/// The no-op start at 1000 applied over `verify-full` against the same in
/// plaintext: two clusters with the same settings, one taking TLS only,
/// runs interleaved. Medians (ms): (TLS, plaintext).
pub async fn tls_vs_plaintext(plain: &Cluster, tls: &Cluster, ca: &std::path::Path) -> (f64, f64) {
    let app = App::new("startup_tls", 1000, MAIN);
    let plain_url = plain.create_database().await.unwrap();
    let name = tls
        .create_database()
        .await
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let tls_url = format!(
        "postgresql://postgres:{}@localhost:{}/{name}?sslmode=verify-full&sslrootcert={}",
        tls.password(),
        tls.port(),
        ca.display()
    );
    for url in [&plain_url, &tls_url] {
        assert!(run(&app, url, "migrate").wait().unwrap().success());
    }
    let (mut over_tls, mut plaintext) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        over_tls.push(timed(&app, &tls_url, "migrate"));
        plaintext.push(timed(&app, &plain_url, "migrate"));
    }
    (crate::median(over_tls), crate::median(plaintext))
}

fn run(app: &App, url: &str, mode: &str) -> Child {
    Command::new(app.binary())
        .arg(mode)
        .env("DATABASE_URL", url)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Milliseconds from spawning `app mode` to its exit; it must succeed.
fn timed(app: &App, url: &str, mode: &str) -> f64 {
    let started = Instant::now();
    let status = run(app, url, mode).wait().unwrap();
    let elapsed = started.elapsed();
    assert!(status.success(), "{mode} failed");
    crate::ms(elapsed)
}
