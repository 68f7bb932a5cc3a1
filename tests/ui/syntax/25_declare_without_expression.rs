use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/25_declare_without_expression");

fn main() {
    let _ = MIGRATIONS.len();
}
