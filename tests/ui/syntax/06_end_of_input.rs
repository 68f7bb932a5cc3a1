use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/06_end_of_input");

fn main() {
    let _ = MIGRATIONS.len();
}
