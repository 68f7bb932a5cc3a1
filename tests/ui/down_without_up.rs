use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/down_without_up");

fn main() {
    let _ = MIGRATIONS.len();
}
