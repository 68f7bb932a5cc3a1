//! Debug builds only: catches "added a file, the binary did not embed it".

use crate::Migrations;
use std::path::Path;

/// Warns when the folder the macro read still exists and holds migrations
/// this binary does not have, or has with other content.
pub(crate) fn warn_if_stale(migrations: &Migrations) {
    if !cfg!(debug_assertions) {
        return;
    }
    let Some(dir) = migrations.source_dir() else {
        return;
    };
    let Ok(folder) = migrate_core::load_dir(Path::new(dir), dir) else {
        return;
    };
    let fix = "the binary is older than the folder: rebuild it; if `cargo build` did not notice a new file, \
               add a build.rs with `println!(\"cargo:rerun-if-changed=migrations\");`";
    for m in &folder.migrations {
        match migrations.find(&m.file_name) {
            None => tracing::warn!(
                "STALE BUILD: {dir}/{} exists but is not embedded in this binary; {fix}",
                m.file_name
            ),
            Some(e) if e.checksum() != m.file.checksum => {
                tracing::warn!(
                    "STALE BUILD: {dir}/{} changed since this binary embedded it; {fix}",
                    m.file_name
                )
            }
            Some(_) => {}
        }
    }
    for r in &folder.repeatables {
        match migrations.repeatables().find(|e| e.file_name() == r.file_name) {
            None => tracing::warn!(
                "STALE BUILD: {dir}/{} exists but is not embedded in this binary; {fix}",
                r.file_name
            ),
            Some(e) if e.checksum_hex() != migrate_core::to_hex(&r.file.checksum) => tracing::warn!(
                "STALE BUILD: {dir}/{} changed since this binary embedded it; {fix}",
                r.file_name
            ),
            Some(_) => {}
        }
    }
    for problem in &folder.problems {
        tracing::warn!(
            "STALE BUILD: {} is not embedded in this binary: {problem}",
            problem.file
        );
    }
}
