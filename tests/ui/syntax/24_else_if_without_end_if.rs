use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/24_else_if_without_end_if");

fn main() {
    let _ = MIGRATIONS.len();
}
