use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/02_trailing_comma");

fn main() {
    let _ = MIGRATIONS.len();
}
