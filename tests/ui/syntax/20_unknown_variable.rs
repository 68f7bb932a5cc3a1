use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/20_unknown_variable");

fn main() {
    let _ = MIGRATIONS.len();
}
