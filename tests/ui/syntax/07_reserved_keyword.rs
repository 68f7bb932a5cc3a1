use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/07_reserved_keyword");

fn main() {
    let _ = MIGRATIONS.len();
}
