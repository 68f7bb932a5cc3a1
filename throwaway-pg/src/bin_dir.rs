//! Where the PostgreSQL binaries come from, and which version they are.

use crate::{as_user, Error};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The environment variable naming the folder of the server binaries
/// (`initdb`, `pg_ctl`, `postgres`); it wins over every other place.
pub const BIN_ENV: &str = "MIGRATE_PG_BIN";

const SERVER: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// The folder of the server binaries: `$MIGRATE_PG_BIN` when set, else the
/// newest `/usr/lib/postgresql/N/bin`, else `pg_config --bindir`, else the
/// first folder on `PATH` holding them. The error names every place searched.
pub fn bin_dir() -> Result<PathBuf, Error> {
    search(
        std::env::var_os(BIN_ENV),
        Path::new(DEBIAN),
        &std::env::var_os("PATH").unwrap_or_default(),
    )
}

const DEBIAN: &str = "/usr/lib/postgresql";

fn search(explicit: Option<OsString>, debian: &Path, path: &OsStr) -> Result<PathBuf, Error> {
    if let Some(dir) = explicit.filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return check(&dir).map(|()| dir.clone()).map_err(|problem| Error::BadBinDir {
            from: BIN_ENV,
            dir,
            problem,
        });
    }
    let mut searched = vec![format!("${BIN_ENV} (not set)")];
    match debian_bins(debian).pop() {
        Some(dir) => return Ok(dir),
        None => searched.push(format!(
            "{}/*/bin (none holds initdb, pg_ctl and postgres)",
            debian.display()
        )),
    }
    match pg_config_bindir(path) {
        Ok(dir) => match check(&dir) {
            Ok(()) => return Ok(dir),
            Err(problem) => searched.push(format!("`pg_config --bindir` ({}: {problem})", dir.display())),
        },
        Err(why) => searched.push(format!("`pg_config --bindir` ({why})")),
    }
    if let Some(dir) = std::env::split_paths(path).find(|dir| check(dir).is_ok()) {
        return Ok(dir);
    }
    searched.push(format!("PATH ({})", path.to_string_lossy()));
    Err(Error::BinariesNotFound {
        searched: searched.join("; "),
    })
}

/// A client program such as `psql` or `pg_dump`: from `preferred` (the
/// cluster's folder) when it is there, else from the places [`bin_dir`]
/// searches, in the same order. The npm builds ship no client programs.
pub fn tool(name: &str, preferred: &Path) -> Result<PathBuf, Error> {
    let mut places = vec![preferred.to_path_buf()];
    places.extend(std::env::var_os(BIN_ENV).filter(|d| !d.is_empty()).map(PathBuf::from));
    places.extend(debian_bins(Path::new(DEBIAN)).into_iter().rev());
    let path = std::env::var_os("PATH").unwrap_or_default();
    places.extend(pg_config_bindir(&path).ok());
    places.extend(std::env::split_paths(&path));
    places
        .iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::ToolNotFound {
            name: name.to_string(),
            searched: places
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// What is missing from `dir` for it to be a server binary folder.
pub(crate) fn check(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("no such folder".into()),
        Err(e) => return Err(format!("cannot read it: {e}")),
        Ok(_) => {}
    }
    let missing: Vec<&str> = SERVER.into_iter().filter(|b| !dir.join(b).is_file()).collect();
    match missing.as_slice() {
        [] => Ok(()),
        names => Err(format!("no {} there", names.join(", "))),
    }
}

/// Every `root/N/bin` holding the server binaries, oldest first.
fn debian_bins(root: &Path) -> Vec<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| check(bin).is_ok())
        .collect();
    versions.sort();
    versions.into_iter().map(|(_, bin)| bin).collect()
}

/// `pg_config --bindir`, with `pg_config` looked up on `path`.
fn pg_config_bindir(path: &OsStr) -> Result<PathBuf, String> {
    let pg_config = std::env::split_paths(path)
        .map(|dir| dir.join("pg_config"))
        .find(|p| p.is_file())
        .ok_or("no pg_config on PATH")?;
    let out = Command::new(&pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("pg_config: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pg_config failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Runs `postgres -V` from `bin` as the user the cluster runs as, proving
/// that user can reach the binaries and their shared libraries load; returns
/// the version as `server_version_num` spells it (`180004` for 18.4).
pub(crate) fn probe(bin: &Path, run_as: Option<(u32, u32)>) -> Result<u32, Error> {
    let postgres = bin.join("postgres");
    let mut cmd = Command::new(&postgres);
    cmd.arg("-V");
    let out = as_user(&mut cmd, run_as, Path::new("/"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| unusable(bin, run_as, e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(unusable(
            bin,
            run_as,
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    parse_version(&text).ok_or_else(|| unusable(bin, run_as, format!("unexpected `postgres -V` output {text:?}")))
}

fn unusable(bin: &Path, run_as: Option<(u32, u32)>, detail: String) -> Error {
    Error::CannotRun {
        postgres: bin.join("postgres"),
        who: match run_as {
            Some(_) => "the `postgres` user the cluster runs as",
            None => "this user",
        },
        detail,
    }
}

/// `postgres (PostgreSQL) 15.18 (Debian ...)` → `150018`; `18beta1` → `180000`.
fn parse_version(text: &str) -> Option<u32> {
    let version = text.split_whitespace().nth(2)?;
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some(major * 10000 + minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_as_the_server_spells_them() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(150018)
        );
        assert_eq!(parse_version("postgres (PostgreSQL) 18.4\n"), Some(180004));
        assert_eq!(parse_version("postgres (PostgreSQL) 13.23\n"), Some(130023));
        assert_eq!(parse_version("postgres (PostgreSQL) 18beta1\n"), Some(180000));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn the_newest_debian_version_wins() {
        let root = tempfile::tempdir().unwrap();
        for (version, complete) in [("9", true), ("13", true), ("15", true), ("16", false)] {
            let bin = root.path().join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let names: &[&str] = if complete { &SERVER } else { &["initdb"] };
            for name in names {
                std::fs::write(bin.join(name), "").unwrap();
            }
        }
        assert_eq!(debian_bins(root.path()).pop(), Some(root.path().join("15/bin")));
        assert_eq!(
            check(&root.path().join("16/bin")),
            Err("no pg_ctl, postgres there".into())
        );
        assert_eq!(check(&root.path().join("17/bin")), Err("no such folder".into()));
    }

    fn server_folder(dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        for name in SERVER {
            std::fs::write(dir.join(name), "").unwrap();
        }
        dir.to_path_buf()
    }

    #[test]
    fn an_explicit_folder_wins_and_must_hold_the_binaries() {
        let root = tempfile::tempdir().unwrap();
        let debian = root.path().join("debian");
        server_folder(&debian.join("15/bin"));
        let explicit = server_folder(&root.path().join("pg18/bin"));
        let found = search(Some(explicit.clone().into()), &debian, OsStr::new("")).unwrap();
        assert_eq!(found, explicit);
        let empty = root.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let e = search(Some(empty.into()), &debian, OsStr::new(""))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("MIGRATE_PG_BIN=") && e.contains("no initdb, pg_ctl, postgres there"),
            "{e}"
        );
        let found = search(Some(OsString::new()), &debian, OsStr::new("")).unwrap();
        assert_eq!(found, debian.join("15/bin"), "an empty variable counts as not set");
    }

    #[test]
    fn pg_config_then_path_then_an_error_naming_every_place() {
        let root = tempfile::tempdir().unwrap();
        let nowhere = root.path().join("no-debian");
        let on_path = server_folder(&root.path().join("brew/bin"));
        let path = std::env::join_paths([root.path().join("empty"), on_path.clone()]).unwrap();
        assert_eq!(search(None, &nowhere, &path).unwrap(), on_path);

        let configured = server_folder(&root.path().join("configured/bin"));
        let tools = root.path().join("tools");
        std::fs::create_dir(&tools).unwrap();
        let script = format!("#!/bin/sh\necho {}\n", configured.display());
        std::fs::write(tools.join("pg_config"), script).unwrap();
        std::fs::set_permissions(
            tools.join("pg_config"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let path = std::env::join_paths([tools.clone(), on_path]).unwrap();
        assert_eq!(search(None, &nowhere, &path).unwrap(), configured);

        std::fs::remove_dir_all(&configured).unwrap();
        let e = search(None, &nowhere, tools.as_os_str()).unwrap_err().to_string();
        for place in [
            "$MIGRATE_PG_BIN (not set)".to_string(),
            format!("{}/*/bin", nowhere.display()),
            format!("`pg_config --bindir` ({}: no such folder)", configured.display()),
            format!("PATH ({})", tools.display()),
            "apt-get install -y postgresql".to_string(),
        ] {
            assert!(e.contains(&place), "{place} missing from: {e}");
        }
    }
}
