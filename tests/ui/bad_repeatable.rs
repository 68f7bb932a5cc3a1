use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/bad_repeatable");

fn main() {
    let _ = MIGRATIONS.len();
}
