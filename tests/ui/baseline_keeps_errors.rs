// The lint baseline silences lints, never errors.
use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/baseline_keeps_errors");

fn main() {
    let _ = MIGRATIONS.len();
}
