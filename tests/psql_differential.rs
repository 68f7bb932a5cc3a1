//! Our splitter against psql itself: for every file of a corpus, the
//! statements we find are the queries psql sends. A recording proxy between
//! psql and the server captures each `Query` message exactly.

use migrate_core::lexer::tokenize;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// `text` without leading and trailing whitespace and comments.
fn strip_trivia(text: &str) -> &str {
    let tokens = tokenize(text).unwrap_or_default();
    let first = tokens.iter().find(|t| !t.is_trivia());
    let last = tokens.iter().rev().find(|t| !t.is_trivia());
    match (first, last) {
        (Some(f), Some(l)) => &text[f.start..l.end],
        _ => "",
    }
}

/// Forwards one psql session to the server, recording its simple queries.
fn recording_proxy(server_port: u16) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut server = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
        let (mut to_client, mut from_server) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let back = std::thread::spawn(move || {
            let _ = std::io::copy(&mut from_server, &mut to_client);
        });
        let queries = Arc::new(Mutex::new(Vec::new()));
        let read = |n: usize, client: &mut TcpStream| -> Option<Vec<u8>> {
            let mut buf = vec![0; n];
            client.read_exact(&mut buf).ok().map(|_| buf)
        };
        // Startup packet: length, then the rest; no type byte.
        let len = read(4, &mut client).unwrap();
        let rest = read(
            u32::from_be_bytes(len[..4].try_into().unwrap()) as usize - 4,
            &mut client,
        )
        .unwrap();
        server.write_all(&len).unwrap();
        server.write_all(&rest).unwrap();
        while let Some(head) = read(5, &mut client) {
            let body = read(
                u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize - 4,
                &mut client,
            )
            .unwrap();
            if head[0] == b'Q' {
                queries
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body[..body.len() - 1]).into_owned());
            }
            if server.write_all(&head).and_then(|_| server.write_all(&body)).is_err() {
                break;
            }
        }
        let _ = server.shutdown(std::net::Shutdown::Both);
        let _ = back.join();
        let recorded = queries.lock().unwrap().clone();
        recorded
    });
    (port, handle)
}

/// The queries psql sends for `file`.
fn psql_queries(file: &Path, database: &str) -> Vec<String> {
    let cluster = migrate_tests::cluster();
    let (port, proxy) = recording_proxy(cluster.port());
    let conninfo = format!("host=127.0.0.1 port={port} user=postgres dbname={database} sslmode=disable");
    let out = Command::new(cluster.tool("psql").unwrap())
        .args(["-X", "-q", "-o", "/dev/null", "-d", &conninfo, "-f"])
        .env("PGPASSWORD", cluster.password())
        .arg(file)
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    proxy
        .join()
        .unwrap()
        .iter()
        .map(|q| strip_trivia(q).to_string())
        .filter(|q| !q.is_empty() && q != ";")
        .collect()
}

/// Deterministic pseudo-random numbers (no seed to record: same corpus every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize % n
    }
}

const PIECES: &[&str] = &[
    "SELECT 'a;b' AS x;",
    "SELECT 'it''s; fine';",
    "SELECT $$x; y$$;",
    "SELECT $tag$ ; $$ ; $tag$ AS t;",
    "SELECT E'\\';' AS e;",
    "SELECT E'\\\\' AS backslash;",
    "SELECT 'C:\\dir\\' AS standard;",
    "/* c; /* nested; */ still; */ SELECT 1;",
    "-- a comment; with semicolons\nSELECT 2;",
    "SELECT \"a;b\" FROM \"t;\"\"x\";",
    "SELECT (1; 2);",
    "SELECT 'x'\n  'continued;';",
    "SELECT U&'d\\0061t;', B'01', X'ff';",
    "CREATE FUNCTION f_atomic(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;",
    "CREATE OR REPLACE PROCEDURE p_atomic() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;",
    "DO $$ BEGIN PERFORM 1; COMMIT; END $$;",
    "CREATE FUNCTION f_body() RETURNS text AS $b$ BEGIN; RETURN ';'; END; $b$ LANGUAGE plpgsql;",
    "SELECT $1;",
    "SELECT a$b$c FROM t;",
    "SELECT 1\r\n  + 2;",
    "SELECT 'ünïcödé ☃;';",
    "BEGIN;",
    "COMMIT;",
    ";",
];

fn generated_corpus(dir: &Path) -> Vec<PathBuf> {
    let mut rng = Lcg(0x5eed);
    let separators = [
        "\n",
        " ",
        "\n\n",
        "\n-- between; statements\n",
        "\n/* between; */\n",
        "\r\n",
    ];
    (0..60)
        .map(|i| {
            let mut sql = String::new();
            for _ in 0..1 + rng.next(12) {
                sql.push_str(PIECES[rng.next(PIECES.len())]);
                sql.push_str(separators[rng.next(separators.len())]);
            }
            if rng.next(3) == 0 {
                sql.push_str("SELECT 'last statement without a semicolon'");
            }
            let path = dir.join(format!("{i:03}_generated.sql"));
            std::fs::write(&path, sql).unwrap();
            path
        })
        .collect()
}

fn real_world_corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [root.join("../migrations"), root.join("fixtures/tricky")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sql") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[tokio::test]
async fn our_statements_are_the_queries_psql_sends() {
    let generated = tempfile::tempdir().unwrap();
    let mut files = real_world_corpus();
    files.extend(generated_corpus(generated.path()));
    let url = migrate_tests::cluster().create_database().await.unwrap();
    let database = url.rsplit('/').next().unwrap().to_string();
    let mut compared = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let ours: Vec<String> = migrate_core::split::split(text)
            .unwrap()
            .statements
            .iter()
            .map(|s| strip_trivia(s.text(text)).to_string())
            .filter(|s| s != ";")
            .collect();
        let theirs = psql_queries(file, &database);
        assert_eq!(ours, theirs, "{}:\n{text}", file.display());
        compared += ours.len();
    }
    assert!(compared > 300, "only {compared} statements compared");
}
