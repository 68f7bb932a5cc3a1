use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/23_begin_atomic_body");

fn main() {
    let _ = MIGRATIONS.len();
}
