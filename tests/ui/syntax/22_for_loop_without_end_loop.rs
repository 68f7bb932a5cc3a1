use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/22_for_loop_without_end_loop");

fn main() {
    let _ = MIGRATIONS.len();
}
