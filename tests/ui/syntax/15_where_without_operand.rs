use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/15_where_without_operand");

fn main() {
    let _ = MIGRATIONS.len();
}
