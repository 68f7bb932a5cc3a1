//! `migrate lint-baseline`: write the lint baseline at the newest version.

use migrate_core::baseline;
use std::path::Path;
use std::process::ExitCode;

pub fn write(dir: &Path) -> ExitCode {
    match try_write(dir) {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn try_write(dir: &Path) -> Result<String, String> {
    let folder = migrate_core::load_dir(dir, &dir.to_string_lossy()).map_err(|d| d.to_string())?;
    let newest = folder.newest.ok_or_else(|| {
        format!(
            "{} holds no migration file, so there is no history to exempt from the lints",
            dir.display()
        )
    })?;
    let path = dir.join(baseline::FILE_NAME);
    std::fs::write(&path, baseline::render(newest)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let silenced = folder
        .migrations
        .iter()
        .filter(|m| m.version <= newest)
        .map(|m| m.file.warnings.len())
        .sum::<usize>();
    Ok(format!(
        "Wrote {}: lints are silent for files up to {newest:03} ({silenced} finding(s); `migrate check --all` lists them) and speak for every newer file",
        path.display()
    ))
}
