//! How a migrations folder is laid out in a binary. Each of its sets of
//! files (versioned, down, repeatable) is a [`Section`]: all texts in one
//! string, all names in another, a byte table of file records, one of
//! statement records, and a string of the names that `CREATE INDEX
//! CONCURRENTLY` statements carry. Few tokens for rustc to check, no
//! pointer per file (no relocations), and one encoder shared by the macro
//! and by folders read at run time.
//!
//! File record, little-endian, [`ENTRY_LEN`] bytes: `version: u64` (for a
//! down file the version it reverts, 0 for a repeatable file),
//! `text_end: u32`, `name_end: u32`, `statements_end: u32` (running
//! totals), `flags: u8` (1 = BOM, 2 = no-transaction), `checksum: [u8; 32]`,
//! `lock_timeout: u32`, `statement_timeout: u32` (the directives: 0 unset,
//! `u32::MAX` off, else milliseconds).
//!
//! Statement record, [`STATEMENT_LEN`] bytes: `start: u32`, `end: u32`
//! (byte offsets in the file's text after the BOM), `kind: u8` (0 atomic,
//! 1 procedural, 2 `REINDEX CONCURRENTLY`, 3 `CREATE INDEX CONCURRENTLY`),
//! `index_end: u32`, `table_end: u32`: running totals in
//! [`Section::objects`], where a `CREATE INDEX CONCURRENTLY` puts its
//! index's name, then its table's, each empty when the statement has none
//! (PostgreSQL has no empty names).

use crate::directive::Timeout;
use crate::files::{CheckedFile, FileTimeouts, SourceMigration};
use crate::folder::Folder;
use crate::statement::StatementKind;

pub const ENTRY_LEN: usize = 8 + 4 + 4 + 4 + 1 + 32 + 4 + 4;
pub const STATEMENT_LEN: usize = 4 + 4 + 1 + 4 + 4;
const BOM: u8 = 1;
const NO_TRANSACTION: u8 = 2;
const ATOMIC: u8 = 0;
const PROCEDURAL: u8 = 1;
const REINDEX_CONCURRENTLY: u8 = 2;
const CREATE_INDEX_CONCURRENTLY: u8 = 3;

/// A folder packed for embedding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
    /// The versioned files, in version order.
    pub migrations: Section,
    /// The down files, in the order of the versions they revert.
    pub downs: Section,
    /// The repeatable files, in name order.
    pub repeatables: Section,
    /// [`crate::history_digest::of_migrations`] of the versioned files.
    pub digest: i64,
    /// The versions marked `-- migrate: irreversible`.
    pub irreversible: Vec<u64>,
    /// The versions the first file replaces, when it is a squashed file.
    pub squashes: Option<(u64, u64)>,
    /// The files the squashed first file lists as replaced.
    pub replaced: Vec<String>,
}

/// One set of files packed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// Every file's text as on disk (BOM included), in order.
    pub text: String,
    /// Every file name, concatenated.
    pub names: String,
    pub index: Vec<u8>,
    pub statements: Vec<u8>,
    /// The index and table names of `CREATE INDEX CONCURRENTLY` statements.
    pub objects: String,
}

/// One decoded file record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub version: u64,
    pub text_end: usize,
    pub name_end: usize,
    pub statements_end: usize,
    pub bom: bool,
    pub no_transaction: bool,
    pub checksum: [u8; 32],
    pub timeouts: FileTimeouts,
}

/// Packs the files of a loaded folder. Fails beyond 4 GiB of SQL.
pub fn pack(folder: &Folder) -> Result<Packed, String> {
    let first = folder.migrations.first().map(|m| &m.file);
    Ok(Packed {
        migrations: pack_section(
            folder
                .migrations
                .iter()
                .map(|m| (m.version, m.file_name.as_str(), &m.file)),
        )?,
        downs: pack_section(folder.downs.iter().map(|d| (d.version, d.file_name.as_str(), &d.file)))?,
        repeatables: pack_section(folder.repeatables.iter().map(|r| (0, r.file_name.as_str(), &r.file)))?,
        digest: crate::history_digest::of_migrations(&folder.migrations),
        irreversible: irreversible(&folder.migrations),
        squashes: first.and_then(|f| f.squashes),
        replaced: first.map(|f| f.replaces.clone()).unwrap_or_default(),
    })
}

fn irreversible(migrations: &[SourceMigration]) -> Vec<u64> {
    migrations
        .iter()
        .filter(|m| m.file.irreversible)
        .map(|m| m.version)
        .collect()
}

/// Packs `(version, file name, file)` triples, in the order given.
pub fn pack_section<'a>(files: impl IntoIterator<Item = (u64, &'a str, &'a CheckedFile)>) -> Result<Section, String> {
    let mut p = Section::default();
    let mut statement_count = 0usize;
    let u32_of = |n: usize| u32::try_from(n).map_err(|_| "migrations beyond 4 GiB cannot be embedded".to_string());
    for (version, file_name, file) in files {
        if file.bom {
            p.text.push('\u{feff}');
        }
        p.text.push_str(&file.text);
        p.names.push_str(file_name);
        for s in &file.statements {
            p.statements.extend_from_slice(&u32_of(s.start)?.to_le_bytes());
            p.statements.extend_from_slice(&u32_of(s.end)?.to_le_bytes());
            let (code, index, table) = match &s.kind {
                StatementKind::Atomic => (ATOMIC, None, None),
                StatementKind::Procedural => (PROCEDURAL, None, None),
                StatementKind::ReindexConcurrently => (REINDEX_CONCURRENTLY, None, None),
                StatementKind::CreateIndexConcurrently { index, table } => {
                    (CREATE_INDEX_CONCURRENTLY, index.as_deref(), table.as_deref())
                }
            };
            p.statements.push(code);
            p.objects.push_str(index.unwrap_or_default());
            p.statements.extend_from_slice(&u32_of(p.objects.len())?.to_le_bytes());
            p.objects.push_str(table.unwrap_or_default());
            p.statements.extend_from_slice(&u32_of(p.objects.len())?.to_le_bytes());
        }
        statement_count += file.statements.len();
        p.index.extend_from_slice(&version.to_le_bytes());
        p.index.extend_from_slice(&u32_of(p.text.len())?.to_le_bytes());
        p.index.extend_from_slice(&u32_of(p.names.len())?.to_le_bytes());
        p.index.extend_from_slice(&u32_of(statement_count)?.to_le_bytes());
        p.index
            .push(if file.bom { BOM } else { 0 } | if file.no_transaction { NO_TRANSACTION } else { 0 });
        p.index.extend_from_slice(&file.checksum);
        for timeout in [file.timeouts.lock, file.timeouts.statement] {
            p.index.extend_from_slice(&timeout_code(timeout).to_le_bytes());
        }
    }
    Ok(p)
}

fn u32_at(record: &[u8], at: usize) -> usize {
    u32::from_le_bytes(record[at..at + 4].try_into().expect("4 bytes")) as usize
}

/// Record `i` of `index`.
pub fn entry(index: &[u8], i: usize) -> Entry {
    let r = &index[i * ENTRY_LEN..(i + 1) * ENTRY_LEN];
    Entry {
        version: u64::from_le_bytes(r[0..8].try_into().expect("8 bytes")),
        text_end: u32_at(r, 8),
        name_end: u32_at(r, 12),
        statements_end: u32_at(r, 16),
        bom: r[20] & BOM != 0,
        no_transaction: r[20] & NO_TRANSACTION != 0,
        checksum: r[21..53].try_into().expect("32 bytes"),
        timeouts: FileTimeouts {
            lock: timeout_of(u32_at(r, 53)),
            statement: timeout_of(u32_at(r, 57)),
        },
    }
}

/// A timeout directive in a file record (PostgreSQL's timeouts fit in 31 bits).
fn timeout_code(timeout: Option<Timeout>) -> u32 {
    match timeout {
        None => 0,
        Some(Timeout::Off) => u32::MAX,
        Some(Timeout::After(d)) => u32::try_from(d.as_millis()).unwrap_or(u32::MAX - 1),
    }
}

fn timeout_of(code: usize) -> Option<Timeout> {
    match code as u32 {
        0 => None,
        u32::MAX => Some(Timeout::Off),
        ms => Some(Timeout::After(std::time::Duration::from_millis(ms.into()))),
    }
}

fn statement_record(statements: &[u8], i: usize) -> &[u8] {
    &statements[i * STATEMENT_LEN..(i + 1) * STATEMENT_LEN]
}

/// Statement `i` of `statements`: `(start, end)`.
pub fn statement(statements: &[u8], i: usize) -> (usize, usize) {
    let r = statement_record(statements, i);
    (u32_at(r, 0), u32_at(r, 4))
}

/// The kind of statement `i` of `statements`, its names read from `objects`.
pub fn kind(statements: &[u8], objects: &str, i: usize) -> StatementKind {
    let r = statement_record(statements, i);
    match r[8] {
        PROCEDURAL => StatementKind::Procedural,
        REINDEX_CONCURRENTLY => StatementKind::ReindexConcurrently,
        CREATE_INDEX_CONCURRENTLY => {
            let start = i
                .checked_sub(1)
                .map_or(0, |p| u32_at(statement_record(statements, p), 13));
            let (index_end, table_end) = (u32_at(r, 9), u32_at(r, 13));
            let name = |s: &str| (!s.is_empty()).then(|| s.to_string());
            StatementKind::CreateIndexConcurrently {
                index: name(&objects[start..index_end]),
                table: name(&objects[index_end..table_end]),
            }
        }
        _ => StatementKind::Atomic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{FileKind, SourceMigration};
    use crate::source::{check_as, check_source};

    #[test]
    fn packs_and_reads_back() {
        let files = [
            ("001_a.sql", "\u{feff}SELECT 1;\r\nSELECT 2;"),
            (
                "7_b.sql",
                "-- migrate: no-transaction\n-- migrate: lock-timeout 5s\n-- migrate: statement-timeout off\nVACUUM;",
            ),
        ];
        let migrations: Vec<SourceMigration> = files
            .iter()
            .enumerate()
            .map(|(i, (name, sql))| SourceMigration {
                version: i as u64 + 1,
                file_name: name.to_string(),
                path: name.into(),
                file: check_source(name, None, sql.as_bytes()).unwrap(),
            })
            .collect();
        let folder = Folder {
            migrations,
            ..Folder::default()
        };
        let p = pack(&folder).unwrap().migrations;
        assert_eq!(p.index.len(), 2 * ENTRY_LEN);
        let (a, b) = (entry(&p.index, 0), entry(&p.index, 1));
        assert_eq!(
            (a.version, a.bom, a.no_transaction, a.statements_end),
            (1, true, false, 2)
        );
        assert_eq!(
            (b.version, b.bom, b.no_transaction, b.statements_end),
            (2, false, true, 3)
        );
        assert_eq!(&p.text[a.text_end..b.text_end], files[1].1);
        assert_eq!(&p.names[a.name_end..b.name_end], "7_b.sql");
        assert_eq!(b.checksum, folder.migrations[1].file.checksum);
        assert_eq!(statement(&p.statements, 1), (11, 20));
        assert_eq!(kind(&p.statements, &p.objects, 2), StatementKind::Atomic);
        assert_eq!(a.timeouts, FileTimeouts::default());
        assert_eq!(
            b.timeouts,
            FileTimeouts {
                lock: Some(Timeout::After(std::time::Duration::from_secs(5))),
                statement: Some(Timeout::Off),
            }
        );
    }

    #[test]
    fn statement_kinds_and_index_names_read_back() {
        let sql = "-- migrate: no-transaction\n\
                   CREATE INDEX CONCURRENTLY \"Big\"\"i\" ON s . \"T 1\" (a);\n\
                   CALL p();\n\
                   CREATE INDEX CONCURRENTLY ON t (a);\n\
                   REINDEX TABLE CONCURRENTLY t;\n\
                   CREATE UNIQUE INDEX CONCURRENTLY j ON u (a);\n\
                   SELECT 1;";
        let down = check_as("001_a.down.sql", None, sql.as_bytes(), FileKind::Down).unwrap();
        let p = pack_section([(1, "001_a.down.sql", &down)]).unwrap();
        assert_eq!(p.statements.len(), 6 * STATEMENT_LEN);
        let kinds: Vec<StatementKind> = (0..6).map(|i| kind(&p.statements, &p.objects, i)).collect();
        let index = |index: Option<&str>, table: &str| StatementKind::CreateIndexConcurrently {
            index: index.map(String::from),
            table: Some(table.into()),
        };
        assert_eq!(
            kinds,
            [
                index(Some("Big\"i"), "s.\"T 1\""),
                StatementKind::Procedural,
                index(None, "t"),
                StatementKind::ReindexConcurrently,
                index(Some("j"), "u"),
                StatementKind::Atomic,
            ]
        );
        let spans: Vec<StatementKind> = down.statements.into_iter().map(|s| s.kind).collect();
        assert_eq!(kinds, spans);
    }
}
