use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/duplicate_version");

fn main() {
    let _ = MIGRATIONS.len();
}
