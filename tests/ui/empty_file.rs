use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/empty_file");

fn main() {
    let _ = MIGRATIONS.len();
}
