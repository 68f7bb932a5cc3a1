//! The safe recipes the lock lints recommend run on a real server, on a
//! table that has rows, and compile without a single lint finding.

use migrate_runtime::{embed_migrations, Migrations};
use migrate_tests::{fresh, rows, value};

static RECIPES: Migrations = embed_migrations!("ui/pass/safe_recipes", deny_warnings);

#[tokio::test]
async fn the_safe_recipes_apply_to_a_table_with_rows() {
    let (_url, _name, pool) = fresh().await;
    RECIPES.runner().target(1).run(&pool).await.unwrap();
    rows(
        &pool,
        "INSERT INTO profiles (id, email, age, nick) VALUES (1, 'a@example.org', 30, 'a'), (2, 'b@example.org', 40, 'b')",
    )
    .await;
    let report = RECIPES.run(&pool).await.unwrap();
    assert_eq!(report.applied.len(), 4, "{report:?}");
    assert_eq!(
        value(
            &pool,
            "SELECT string_agg(conname || ':' || convalidated, ',' ORDER BY conname) FROM pg_constraint \
             WHERE conrelid = 'profiles'::regclass AND contype IN ('c', 'u')"
        )
        .await,
        "age_positive:true,email_not_null:true,email_unique:true"
    );
    assert_eq!(
        value(
            &pool,
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'profiles'::regclass AND attname = 'email'"
        )
        .await,
        "t"
    );
    assert_eq!(
        value(
            &pool,
            "SELECT count(*) FILTER (WHERE plan = 'free') || ',' || count(token) FROM profiles"
        )
        .await,
        "2,0",
        "the constant default fills the old rows; the volatile one only new rows"
    );
}
