use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/missing_folder");

fn main() {
    let _ = MIGRATIONS.len();
}
