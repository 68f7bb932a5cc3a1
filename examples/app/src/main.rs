//! An application that brings its database up to date at start-up, and
//! answers `example-app migrate status|up|verify|baseline|forget` for the
//! migrations it embedded.
//!
//! With `DATABASE_URL` set it migrates that database. Without, it starts a
//! throwaway PostgreSQL from the locally installed server binaries, keeping
//! its data in `migrate-example-postgres` in the system's temporary folder,
//! so a second run finds the database up to date. It refuses that folder
//! when it is a symbolic link or another user's, as anyone may plant one
//! in a shared `/tmp`.

use clap::{Parser, Subcommand};
use migrate_runtime::{embed_migrations, pool_from_url, redact_url, Migrations};
use std::io::IsTerminal;
use std::process::ExitCode;

static MIGRATIONS: Migrations = embed_migrations!("../../migrations");

#[derive(Parser)]
#[command(about = "Applies its embedded migrations at start-up")]
struct Args {
    #[command(subcommand)]
    command: Option<AppCommand>,
}

#[derive(Subcommand)]
enum AppCommand {
    /// Operations on the migrations this binary embedded.
    #[command(subcommand)]
    Migrate(migrate_runtime::cli::Command),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Colour only for a person at a terminal: a container's log collector
    // reads a pipe, and `NO_COLOR` (https://no-color.org) turns it off.
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_target(false)
        .without_time()
        .init();
    let (url, _cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let data_dir = std::env::temp_dir().join("migrate-example-postgres");
            println!(
                "DATABASE_URL is not set: using a throwaway PostgreSQL in {}",
                data_dir.display()
            );
            let options = throwaway_pg::Options {
                data_dir: Some(data_dir),
                ..Default::default()
            };
            match throwaway_pg::Cluster::start(&options) {
                Ok(cluster) => (cluster.url("postgres"), Some(cluster)),
                Err(e) => {
                    eprintln!("error: cannot start a throwaway PostgreSQL: {e}");
                    if matches!(
                        e,
                        throwaway_pg::Error::UnsafeDataDir { .. } | throwaway_pg::Error::NoPassword { .. }
                    ) {
                        eprintln!("hint: set TMPDIR to a folder of yours to keep the cluster there, or DATABASE_URL to use a database of yours");
                    }
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    println!("Migrating {}", redact_url(&url));
    let pool = match pool_from_url(&url, 4) {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(AppCommand::Migrate(command)) = args.command {
        return match command.run(MIGRATIONS.runner(), &pool).await {
            Ok(output) => {
                print!("{output}");
                output.exit_code()
            }
            Err(e) => {
                eprintln!("error: {e}");
                command.error_exit_code()
            }
        };
    }
    match MIGRATIONS.run(&pool).await {
        Ok(report) => {
            println!(
                "Database initialization complete: {} applied, {} already up to date",
                report.applied.len(),
                MIGRATIONS.len() - report.applied.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
