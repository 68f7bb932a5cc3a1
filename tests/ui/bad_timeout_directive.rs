use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/bad_timeout_directive");

fn main() {
    let _ = MIGRATIONS.len();
}
