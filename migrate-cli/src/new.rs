//! `migrate new`: the next free number, a normalised name, `db_init.py`'s header.

use migrate_core::name;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn create(dir: &Path, description: &str) -> ExitCode {
    match try_create(dir, description) {
        Ok(path) => {
            println!("Created {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn try_create(dir: &Path, description: &str) -> Result<std::path::PathBuf, String> {
    let slug = name::normalize(description);
    if slug.is_empty() {
        return Err(format!(
            "`{description}` has no letters or digits to name the file with"
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if let Some(existing) = same_description(dir, &slug)? {
        return Err(format!(
            "{} already exists with this name; give the new migration another name",
            dir.join(existing).display()
        ));
    }
    let version = next_version(dir)?;
    let path = dir.join(name::file_name(version, &slug));
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let header = format!(
        "-- ================================================================\n\
         -- Migration {version:03}: {title}\n\
         -- Version: {version:03}\n\
         -- Date: {date}\n\
         -- ================================================================\n\n",
        title = description.trim(),
        date = &date[..10],
    );
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(header.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// An existing migration whose name part (after `NNN_`) is `slug`.
fn same_description(dir: &Path, slug: &str) -> Result<Option<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    Ok(entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .find(|n| name::parse(n, 0).is_ok_and(|parsed| parsed.description == slug)))
}

/// One more than the highest number any `*.sql` file in `dir` starts with.
fn next_version(dir: &Path) -> Result<u64, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let highest = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql"))
        .filter_map(|n| {
            n.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    Ok(highest + 1)
}
