//! What the macro adds to a release rebuild, and to the binary.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

pub struct Rebuild {
    pub secs_10: f64,
    pub secs_1000: f64,
    pub binary_growth: u64,
    pub sql_growth: u64,
}

pub fn measure() -> Rebuild {
    let (secs_10, size_10, sql_10) = probe(10);
    let (secs_1000, size_1000, sql_1000) = probe(1000);
    Rebuild {
        secs_10,
        secs_1000,
        binary_growth: size_1000 - size_10,
        sql_growth: sql_1000 - sql_10,
    }
}

/// Builds a crate embedding `n` files; returns the median release rebuild
/// time after `touch src/main.rs`, the stripped binary's size and the SQL bytes.
fn probe(n: usize) -> (f64, u64, u64) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap();
    let krate = tempfile::tempdir().unwrap();
    let dir = krate.path();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n\
             migrate-runtime = {{ path = \"{}\" }}\n\n[profile.release]\nstrip = true\n\n[workspace]\n",
            workspace.join("migrate-runtime").display()
        ),
    )
    .unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "static M: migrate_runtime::Migrations = migrate_runtime::embed_migrations!(\"migrations\");\n\
         fn main() { println!(\"{}\", M.iter().map(|m| m.sql().len()).sum::<usize>()); }\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    crate::workload::write_into(&dir.join("migrations"), n);
    let target = workspace.join("target/bench-rebuild");
    let build = || {
        let status = Command::new("cargo")
            .args(["build", "--release", "--quiet", "--offline"])
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .unwrap();
        assert!(status.success());
    };
    build();
    let mut times = Vec::new();
    for _ in 0..5 {
        let main = dir.join("src/main.rs");
        let text = std::fs::read_to_string(&main).unwrap();
        std::fs::write(&main, text).unwrap();
        let started = Instant::now();
        build();
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let size = std::fs::metadata(target.join("release/probe")).unwrap().len();
    let out = Command::new(target.join("release/probe")).output().unwrap();
    let sql: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (times[2], size, sql)
}
