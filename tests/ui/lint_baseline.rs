// Files up to the folder's `lint-baseline` are history: only 003 is linted.
#![deny(deprecated)]

use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/lint_baseline");

fn main() {
    let _ = MIGRATIONS.len();
}
