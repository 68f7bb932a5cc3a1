use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/14_missing_type");

fn main() {
    let _ = MIGRATIONS.len();
}
