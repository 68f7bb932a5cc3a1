use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/09_do_block");

fn main() {
    let _ = MIGRATIONS.len();
}
