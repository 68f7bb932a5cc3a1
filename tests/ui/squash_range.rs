use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/squash_range");

fn main() {
    let _ = MIGRATIONS.len();
}
