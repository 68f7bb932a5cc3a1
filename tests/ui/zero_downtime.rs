// Changes that lock or rewrite a table that already exists, as errors under
// `deny_warnings`; each error's help gives the safe recipe.
use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/zero_downtime", deny_warnings);

fn main() {
    let _ = MIGRATIONS.len();
}
