//! `migrate`: create and check migration files, and run the operations of
//! `migrate-runtime` against a folder read at run time.
//!
//! Every command and flag: [the guide's operations page](https://docs.rs/migrate-runtime/latest/migrate_runtime/guide/operations/index.html).

mod baseline;
mod new;
mod squash;

use clap::{Parser, Subcommand};
use migrate_runtime::{pool_from_url, redact_url, Migrations};
use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::filter::LevelFilter;

#[derive(Debug, Parser)]
#[command(
    name = "migrate",
    version,
    about = "PostgreSQL migrations: create, check and apply NNN_name.sql files"
)]
struct Cli {
    /// The migrations folder.
    #[arg(long, global = true, default_value = "migrations", value_name = "DIR")]
    dir: PathBuf,
    /// postgresql://user:password@host:port/database
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    database_url: Option<Secret>,
    /// The tracking table, optionally schema-qualified.
    #[arg(long, global = true, default_value = "schema_migrations", value_name = "TABLE")]
    table: String,
    /// How long to wait for the server to accept connections, in seconds.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECONDS")]
    connect_timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create migrations/NNN_name.sql with the next free number and a header.
    New {
        /// What the migration does, e.g. "Add email verification".
        #[arg(required = true, num_args = 1..)]
        name: Vec<String>,
    },
    /// Run the build-time checks on a folder; print every problem.
    Check {
        /// The folder to check (default: --dir).
        dir: Option<PathBuf>,
        /// Fail on lint warnings too.
        #[arg(long)]
        deny_warnings: bool,
        /// Lint the history too: the files up to the folder's `lint-baseline`.
        #[arg(long)]
        all: bool,
    },
    /// Write DIR/lint-baseline at the newest version present: lints stay
    /// silent for the files that exist now, and speak for every newer one.
    LintBaseline {
        /// The folder (default: --dir).
        dir: Option<PathBuf>,
    },
    /// Replace the files up to a version with one NNN_squashed.sql holding
    /// the schema and rows they create (dumped with the local pg_dump).
    Squash {
        /// The last version to squash.
        #[arg(long, value_name = "NNN")]
        through: u64,
        /// An empty database to apply them to (default: a throwaway cluster).
        #[arg(long, value_name = "URL")]
        scratch_url: Option<Secret>,
    },
    #[command(flatten)]
    Database(migrate_runtime::cli::Command),
}

/// A connection string from the command line or the environment, which
/// `Debug` shows through [`redact_url`].
#[derive(Clone)]
struct Secret(String);

impl From<String> for Secret {
    fn from(text: String) -> Secret {
        Secret(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Secret").field(&redact_url(&self.0)).finish()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::New { ref name } => new::create(&cli.dir, &name.join(" ")),
        Command::Check {
            ref dir,
            deny_warnings,
            all,
        } => check(dir.as_ref().unwrap_or(&cli.dir), deny_warnings, all),
        Command::LintBaseline { ref dir } => baseline::write(dir.as_ref().unwrap_or(&cli.dir)),
        Command::Squash {
            through,
            ref scratch_url,
        } => match squash::squash(&cli.dir, through, scratch_url.as_ref().map(|s| s.0.as_str())) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Database(ref command) => database(&cli, command),
    }
}

/// Prints every problem and warning as `file:line:col: message`; fails on
/// problems, and on warnings with `deny_warnings`. Warnings in files up to
/// the lint baseline are counted, and printed only with `all`.
fn check(dir: &std::path::Path, deny_warnings: bool, all: bool) -> ExitCode {
    let folder = match migrate_core::load_dir(dir, &dir.to_string_lossy()) {
        Ok(folder) => folder,
        Err(problem) => migrate_core::Folder {
            problems: vec![problem],
            ..Default::default()
        },
    };
    for problem in &folder.problems {
        eprintln!("{problem}");
    }
    let mut warned = false;
    let warnings: Vec<_> = if all {
        folder.all_warnings().collect()
    } else {
        folder.warnings().collect()
    };
    for warning in warnings {
        eprintln!("{warning}");
        warned = true;
    }
    let history = folder.all_warnings().count() - folder.warnings().count();
    if let (Some(baseline), false, 1..) = (&folder.baseline, all, history) {
        eprintln!(
            "{} finding(s) in files up to the lint baseline ({}) not shown; `migrate check --all {}` shows them",
            history,
            baseline.through,
            dir.display()
        );
    }
    if folder.problems.is_empty() && !(deny_warnings && warned) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn database(cli: &Cli, command: &migrate_runtime::cli::Command) -> ExitCode {
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // Many targets report one line each (and a progress bar on a terminal),
    // so their runners' info lines would only bury it.
    let level = match command.fan_out() {
        Some(_) => LevelFilter::WARN,
        None => LevelFilter::INFO,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(colour)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
    let by_file = command.fan_out().is_some_and(|t| t.database_urls.is_some());
    let url = match &cli.database_url {
        Some(url) => url.0.as_str(),
        // Every target has its own URL; this pool is never connected.
        None if by_file => "postgresql://localhost",
        None => {
            eprintln!("error: no database given: pass --database-url postgresql://user:password@host/database or set DATABASE_URL");
            return ExitCode::FAILURE;
        }
    };
    let migrations = match Migrations::from_dir(&cli.dir) {
        Ok(m) => m,
        Err(problems) => {
            for problem in problems {
                eprintln!("{problem}");
            }
            return ExitCode::FAILURE;
        }
    };
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| {
            rt.block_on(async {
                let pool = pool_from_url(url, command.fan_out().map_or(2, |t| t.connections()))?;
                let runner = migrations
                    .runner()
                    .table(&cli.table)?
                    .connect_timeout(Duration::from_secs(cli.connect_timeout));
                command.run(runner, &pool).await
            })
        });
    match outcome {
        Ok(Ok(output)) => {
            print!("{output}");
            output.exit_code()
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            command.error_exit_code()
        }
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            command.error_exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_password() {
        let cli = Cli::try_parse_from([
            "migrate",
            "--database-url",
            "host=h user=u password='s3 cr3t'",
            "squash",
            "--through",
            "2",
            "--scratch-url",
            "postgresql://u:s3/cr3t@h/db",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        assert!(!shown.contains("cr3t"), "{shown}");
        assert!(
            shown.contains("database_url: Some(Secret(\"postgresql://u:***@h\"))"),
            "{shown}"
        );
        assert!(
            shown.contains("scratch_url: Some(Secret(\"postgresql://u:***@h:5432/db\"))"),
            "{shown}"
        );
    }
}
