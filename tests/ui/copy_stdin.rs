use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/copy_stdin");

fn main() {
    let _ = MIGRATIONS.len();
}
