use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/transaction_control");

fn main() {
    let _ = MIGRATIONS.len();
}
