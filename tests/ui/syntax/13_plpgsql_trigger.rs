use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/13_plpgsql_trigger");

fn main() {
    let _ = MIGRATIONS.len();
}
