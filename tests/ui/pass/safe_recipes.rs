// The safe recipe of every lint about locks compiles without a warning.
#![deny(deprecated)]

use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/pass/safe_recipes");

fn main() {
    assert_eq!(MIGRATIONS.len(), 5);
}
