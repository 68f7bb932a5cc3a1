//! The server version under test, and behaviour that differs between
//! versions. `.ci/run` runs this file against every version it tests.

use migrate_runtime::{embed_migrations, pool_from_url, Migrations};
use migrate_tests::{cluster, fresh, server_version_num, value};
use std::os::unix::fs::PermissionsExt;

static EXAMPLE: Migrations = embed_migrations!("../migrations");

#[tokio::test]
async fn the_cluster_runs_the_binaries_chosen() {
    let (_, _, pool) = fresh().await;
    let shown: u32 = value(&pool, "SHOW server_version_num").await.parse().unwrap();
    assert_eq!(
        shown,
        server_version_num(),
        "the version the harness reports is the server's"
    );
    if let Some(dir) = std::env::var_os(throwaway_pg::BIN_ENV).filter(|d| !d.is_empty()) {
        assert_eq!(cluster().bin_dir(), std::path::Path::new(&dir));
    }
    assert!(
        (140000..190000).contains(&shown),
        "{shown} is outside the supported range 14 to 18: extend CONTRIBUTING.md and .ci/run first"
    );
}

#[test]
fn binaries_the_cluster_user_cannot_reach_are_a_clear_error() {
    let locked = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(cluster().bin_dir(), locked.path().join("bin")).unwrap();
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o000)).unwrap();
    let options = throwaway_pg::Options {
        bin_dir: Some(locked.path().join("bin")),
        ..Default::default()
    };
    let e = throwaway_pg::Cluster::start(&options)
        .err()
        .expect("refused")
        .to_string();
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // As root the check runs as `postgres`, which cannot enter the folder;
    // as anyone else the folder cannot be read at all.
    let dir = format!("{}/bin", locked.path().display());
    let as_postgres = e.contains(&format!("`{dir}/postgres -V` fails as the `postgres` user")) && e.contains("o+x");
    let as_self = e.contains(&format!("Options::bin_dir={dir}: cannot read it"));
    assert!((as_postgres || as_self) && e.contains("denied"), "{e}");
}

/// PostgreSQL 15 took `CREATE` on schema `public` from every role: a role
/// that does not own the database can create the tracking table there on 14,
/// and gets a pointed error from 15 on.
#[tokio::test]
async fn a_role_without_create_on_public_gets_a_pointed_error_from_15_on() {
    let (_, db, admin) = fresh().await;
    cluster()
        .execute(
            "postgres",
            "DO $$ BEGIN CREATE ROLE deployer LOGIN PASSWORD 'deploy'; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        )
        .await
        .unwrap();
    let pool = pool_from_url(&cluster().url_as("deployer", "deploy", &db), 2).unwrap();
    let outcome = EXAMPLE.run(&pool).await;
    if server_version_num() < 150000 {
        let report = outcome.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.applied.len(), EXAMPLE.len(), "{report:?}");
    } else {
        let text = outcome.unwrap_err().to_string();
        assert!(
            text.contains("42501") && text.contains("permission denied for schema public"),
            "{text}"
        );
        let tables = value(&admin, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").await;
        assert_eq!(tables, "0", "nothing was created");
    }
}
