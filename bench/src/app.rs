//! A release binary that embeds a generated history, as an application
//! builds one: a crate of its own depending on `migrate-runtime` by path,
//! built offline with the workspace's lock file.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct App {
    name: String,
    /// The crate's folder, removed on drop.
    krate: tempfile::TempDir,
    target: PathBuf,
}

impl App {
    /// A crate named `name` whose `src/main.rs` is `main`, embedding `n`
    /// generated files from `migrations/`; built once in release.
    pub fn new(name: &str, n: usize, main: &str) -> App {
        App::with_features(name, n, main, &[])
    }

    /// [`App::new`] with these features of `migrate-runtime` on.
    pub fn with_features(name: &str, n: usize, main: &str, features: &[&str]) -> App {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap();
        let krate = tempfile::tempdir().unwrap();
        let dir = krate.path();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n\
                 migrate-runtime = {{ path = \"{}\", features = {features:?} }}\ntokio = {{ version = \"1\", features = [\"rt\", \"macros\"] }}\n\
                 tokio-postgres = \"0.7\"\n\n[profile.release]\nstrip = true\n\n[workspace]\n",
                workspace.join("migrate-runtime").display()
            ),
        )
        .unwrap();
        std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/main.rs"), main).unwrap();
        std::fs::create_dir_all(dir.join("migrations")).unwrap();
        crate::workload::write_into(&dir.join("migrations"), n);
        let app = App {
            name: name.to_string(),
            krate,
            target: workspace.join("target/bench-app"),
        };
        app.build();
        app
    }

    /// `cargo build --release` of the crate as it is now.
    pub fn build(&self) {
        let status = Command::new("cargo")
            .args(["build", "--release", "--quiet", "--offline"])
            .current_dir(self.krate.path())
            .env("CARGO_TARGET_DIR", &self.target)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// A file of the crate.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.krate.path().join(relative)
    }

    /// The built binary.
    pub fn binary(&self) -> PathBuf {
        self.target.join("release").join(&self.name)
    }
}
