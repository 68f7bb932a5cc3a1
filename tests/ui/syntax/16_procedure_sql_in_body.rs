use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/16_procedure_sql_in_body");

fn main() {
    let _ = MIGRATIONS.len();
}
