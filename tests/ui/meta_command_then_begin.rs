use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/meta_command_then_begin");

fn main() {
    let _ = MIGRATIONS.len();
}
