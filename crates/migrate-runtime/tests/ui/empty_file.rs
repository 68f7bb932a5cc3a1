use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("tests/ui/empty_file");

fn main() {
    let _ = MIGRATIONS.len();
}
