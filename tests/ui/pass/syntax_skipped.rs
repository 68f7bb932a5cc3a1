// Files the syntax check skips: history up to the lint baseline (it ran in
// production already) and a file that says `-- migrate: allow(syntax)`.
use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("ui/pass/syntax_skipped");

fn main() {
    assert_eq!(MIGRATIONS.len(), 2);
}
