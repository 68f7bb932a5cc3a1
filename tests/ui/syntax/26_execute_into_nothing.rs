use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/26_execute_into_nothing");

fn main() {
    let _ = MIGRATIONS.len();
}
