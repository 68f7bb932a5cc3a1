use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("tests/ui/copy_stdin");

fn main() {
    let _ = MIGRATIONS.len();
}
