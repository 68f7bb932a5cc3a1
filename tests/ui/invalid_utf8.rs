use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/invalid_utf8");

fn main() {
    let _ = MIGRATIONS.len();
}
