use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/deny_warnings", deny_warnings);

fn main() {
    let _ = MIGRATIONS.len();
}
