// Lint findings are compiler warnings (made errors here to check them).
#![deny(deprecated)]

use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/lint_warnings");

fn main() {
    let _ = MIGRATIONS.len();
}
