use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/concurrently_without_directive");

fn main() {
    let _ = MIGRATIONS.len();
}
