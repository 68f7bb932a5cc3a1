use migrate_runtime::{embed_migrations, Migrations};

static MIGRATIONS: Migrations = embed_migrations!("../migrations");

#[migrate_runtime::test(MIGRATIONS)]
fn not_async(pool: deadpool_postgres::Pool) {
    drop(pool);
}

#[migrate_runtime::test(MIGRATIONS)]
async fn two_parameters(pool: deadpool_postgres::Pool, other: u32) {
    drop((pool, other));
}

#[migrate_runtime::test(MIGRATIONS)]
async fn no_parameter() {}

#[migrate_runtime::test(MIGRATIONS)]
#[tokio::test]
async fn already_a_test(pool: deadpool_postgres::Pool) {
    drop(pool);
}

#[migrate_runtime::test]
async fn no_migrations(pool: deadpool_postgres::Pool) {
    drop(pool);
}

fn main() {}
