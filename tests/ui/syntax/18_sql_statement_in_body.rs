use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/18_sql_statement_in_body");

fn main() {
    let _ = MIGRATIONS.len();
}
