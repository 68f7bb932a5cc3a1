use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/03_add_colum");

fn main() {
    let _ = MIGRATIONS.len();
}
