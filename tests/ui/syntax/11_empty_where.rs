use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/11_empty_where");

fn main() {
    let _ = MIGRATIONS.len();
}
