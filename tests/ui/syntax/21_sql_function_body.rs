use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/21_sql_function_body");

fn main() {
    let _ = MIGRATIONS.len();
}
