use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/syntax/12_unclosed_paren");

fn main() {
    let _ = MIGRATIONS.len();
}
