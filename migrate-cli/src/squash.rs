//! `migrate squash --through NNN`: applies 001..NNN to a scratch database,
//! dumps its schema and rows with the local `pg_dump`, and replaces those
//! files with one `NNN_squashed.sql`.

use migrate_core::{load_dir, squash, SourceMigration};
use migrate_runtime::{libpq_env, pool_from_url, Migrations};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The schema of the scratch database's tracking table, left out of the dump.
const SCRATCH_SCHEMA: &str = "migrate_squash";

/// Squashes the migrations of `dir` up to `through`; returns what it did.
pub fn squash(dir: &Path, through: u64, scratch_url: Option<&str>) -> Result<String, String> {
    let shown = dir.to_string_lossy();
    let folder = load_dir(dir, &shown).map_err(|d| d.to_string())?;
    if !folder.problems.is_empty() {
        let problems: Vec<String> = folder.problems.iter().map(ToString::to_string).collect();
        return Err(format!("fix the folder first:\n{}", problems.join("\n")));
    }
    let Some(last) = folder.migrations.iter().find(|m| m.version == through) else {
        let versions: Vec<String> = folder.migrations.iter().map(|m| format!("{:03}", m.version)).collect();
        return Err(format!(
            "no migration has version {through:03} (versions: {}); `--through` names the last file to squash",
            versions.join(", ")
        ));
    };
    let replaced: Vec<&SourceMigration> = folder.migrations.iter().filter(|m| m.version <= through).collect();
    if replaced.len() == 1 && last.file.squashes.is_some() {
        return Ok(format!(
            "Nothing to squash: {} already replaces everything through {through:03}\n",
            last.file_name
        ));
    }
    let from = replaced[0].file.squashes.map_or(replaced[0].version, |(from, _)| from);
    let width = last.file_name.bytes().take_while(u8::is_ascii_digit).count();
    let file_name = format!("{through:0width$}_squashed.sql");

    let scratch_dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    for m in &replaced {
        std::fs::copy(&m.path, scratch_dir.path().join(&m.file_name))
            .map_err(|e| format!("cannot copy {}: {e}", m.path.display()))?;
    }
    let migrations = Migrations::from_dir(scratch_dir.path())
        .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let dump = runtime.block_on(async {
        match scratch_url {
            Some(url) => apply_and_dump(&migrations, url, None).await,
            None => {
                eprintln!("Starting a throwaway PostgreSQL cluster as the scratch database...");
                let cluster = throwaway_pg::Cluster::start(&throwaway_pg::Options::default())
                    .map_err(|e| format!("cannot start a scratch cluster: {e}; or pass --scratch-url"))?;
                let url = cluster
                    .create_database()
                    .await
                    .map_err(|e| format!("cannot create the scratch database: {e}"))?;
                apply_and_dump(&migrations, &url, Some(cluster.bin_dir())).await
            }
        }
    })?;

    let names: Vec<String> = replaced.iter().map(|m| m.file_name.clone()).collect();
    let shown_file = format!("{shown}/{file_name}");
    let text = squash::plain_sql(
        &dump,
        &format!("{from:0width$}"),
        &format!("{through:0width$}"),
        &names,
        &shown_file,
    )
    .map_err(|problems| {
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        format!(
            "the squashed file would not pass the checks, so nothing was changed:\n{}",
            problems.join("\n")
        )
    })?;
    write(dir, &file_name, &text, &replaced, &folder.downs)?;
    let listed = match names.as_slice() {
        [first, .., last] if names.len() > 5 => format!("{first} .. {last}"),
        all => all.join(", "),
    };
    Ok(format!(
        "Wrote {shown_file} (squashes {from:0width$}-{through:0width$}), replacing {} file(s): {listed}\n",
        names.len()
    ))
}

/// Applies `migrations` to the empty database at `url`, then dumps it
/// with pg_dump.
async fn apply_and_dump(migrations: &Migrations, url: &str, bin_dir: Option<&Path>) -> Result<String, String> {
    let pool = pool_from_url(url, 1).map_err(|e| e.to_string())?;
    let client = pool
        .get()
        .await
        .map_err(|e| format!("cannot connect to the scratch database: {e}"))?;
    let count = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
            &[],
        )
        .await
        .map_err(|e| format!("cannot inspect the scratch database: {e}"))?
        .get::<_, i64>(0);
    if count > 0 {
        return Err(format!(
            "the scratch database is not empty ({count} relations); squash needs an empty database, \
             whose content becomes the squashed file"
        ));
    }
    drop(client);
    migrations
        .runner()
        .table(&format!("{SCRATCH_SCHEMA}.schema_migrations"))
        .map_err(|e| e.to_string())?
        .run(&pool)
        .await
        .map_err(|e| format!("applying the migrations to the scratch database failed: {e}"))?;
    let pg_dump = bin_dir
        .map(|b| b.join("pg_dump"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("pg_dump"));
    // The connection goes in pg_dump's environment, which only this user
    // can read: its command line is for every user of the machine to see.
    let connection = libpq_env(url).map_err(|e| e.to_string())?;
    let mut command = Command::new(&pg_dump);
    for (name, _) in std::env::vars_os().filter(|(name, _)| name.as_encoded_bytes().starts_with(b"PG")) {
        command.env_remove(name);
    }
    let out = command
        .envs(connection)
        .args([
            "--no-owner",
            "--no-privileges",
            "--column-inserts",
            "--rows-per-insert=1000",
            &format!("--exclude-schema={SCRATCH_SCHEMA}"),
        ])
        .output()
        .map_err(|e| {
            format!(
                "cannot run {}: {e}; install it: apt-get install postgresql-client",
                pg_dump.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("pg_dump wrote invalid UTF-8: {e}"))
}

/// Writes the squashed file, then removes the files it replaces and their
/// down files. The new file is complete on disk before anything is removed.
fn write(
    dir: &Path,
    file_name: &str,
    text: &str,
    replaced: &[&SourceMigration],
    downs: &[migrate_core::SourceDown],
) -> Result<(), String> {
    let temporary = dir.join(format!(".{file_name}.tmp"));
    std::fs::write(&temporary, text).map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
    for m in replaced {
        std::fs::remove_file(&m.path).map_err(|e| format!("cannot remove {}: {e}", m.path.display()))?;
        if let Some(down) = downs.iter().find(|d| d.version == m.version) {
            std::fs::remove_file(&down.path).map_err(|e| format!("cannot remove {}: {e}", down.path.display()))?;
        }
    }
    let target = dir.join(file_name);
    std::fs::rename(&temporary, &target).map_err(|e| format!("cannot write {}: {e}", target.display()))
}
