use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/19_second_function_after_non_ascii");

fn main() {
    let _ = MIGRATIONS.len();
}
