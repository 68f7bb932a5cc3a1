use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/irreversible_with_down");

fn main() {
    let _ = MIGRATIONS.len();
}
