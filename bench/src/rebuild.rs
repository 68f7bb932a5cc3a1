//! What the macro adds to a release rebuild, and to the binary.

use crate::app::App;
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
    let app = App::new(
        "probe",
        n,
        "static M: migrate_runtime::Migrations = migrate_runtime::embed_migrations!(\"migrations\");\n\
         fn main() { println!(\"{}\", M.iter().map(|m| m.sql().len()).sum::<usize>()); }\n",
    );
    let size = std::fs::metadata(app.binary()).unwrap().len();
    let out = Command::new(app.binary()).output().unwrap();
    let sql: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (rebuild_after_touch(&app), size, sql)
}

/// What the `syntax-check` feature adds to a release rebuild after `touch
/// src/main.rs`, 1000 files: the median without it, with it, and with it
/// and a lint baseline that makes all but the newest file history.
pub fn syntax_check() -> (f64, f64, f64) {
    let main = "static M: migrate_runtime::Migrations = migrate_runtime::embed_migrations!(\"migrations\");\n\
                fn main() { println!(\"{}\", M.len()); }\n";
    let off = App::new("syntax_off", 1000, main);
    let on = App::with_features("syntax_on", 1000, main, &["syntax-check"]);
    let baseline = App::with_features("syntax_baseline", 1000, main, &["syntax-check"]);
    std::fs::write(baseline.path("migrations/lint-baseline"), "999\n").unwrap();
    baseline.build();
    (
        rebuild_after_touch(&off),
        rebuild_after_touch(&on),
        rebuild_after_touch(&baseline),
    )
}

/// What calling `run` adds to the caller's rebuild, 1000 files: the median
/// release rebuild after `touch src/main.rs` of a `main` that awaits `run`,
/// and of one that only builds a pool.
pub fn calling_run() -> (f64, f64) {
    let main = |call: &str| {
        format!(
            "static M: migrate_runtime::Migrations = migrate_runtime::embed_migrations!(\"migrations\");\n\
             #[tokio::main(flavor = \"current_thread\")]\n\
             async fn main() {{\n    let pool = migrate_runtime::pool_from_url(\"postgresql://localhost/db\", 1).unwrap();\n    \
             {call}\n}}\n"
        )
    };
    let calling = App::new("calls_run", 1000, &main("M.run(&pool).await.unwrap();"));
    let pool_only = App::new("pool_only", 1000, &main("drop((pool, M.len()));"));
    (rebuild_after_touch(&calling), rebuild_after_touch(&pool_only))
}

/// The median of 5 release rebuilds after `touch src/main.rs`, in seconds.
fn rebuild_after_touch(app: &App) -> f64 {
    let mut times = Vec::new();
    for _ in 0..5 {
        let main = app.path("src/main.rs");
        let text = std::fs::read_to_string(&main).unwrap();
        std::fs::write(&main, text).unwrap();
        let started = Instant::now();
        app.build();
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[2]
}
