use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/04_missing_semicolon");

fn main() {
    let _ = MIGRATIONS.len();
}
