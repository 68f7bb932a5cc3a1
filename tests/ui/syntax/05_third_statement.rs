use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/05_third_statement");

fn main() {
    let _ = MIGRATIONS.len();
}
