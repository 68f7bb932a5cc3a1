//! How embedded migrations are laid out in a binary: all texts in one
//! string, all names in another, and two byte tables of offsets. Few
//! tokens for rustc to check, no pointer per file (no relocations), and one
//! encoder shared by the macro and by folders read at run time.
//!
//! Index record per file, little-endian, [`ENTRY_LEN`] bytes:
//! `version: u64`, `text_end: u32`, `name_end: u32`, `statements_end: u32`
//! (running totals), `flags: u8` (1 = BOM, 2 = no-transaction),
//! `checksum: [u8; 32]`. Statement record: `start: u32`, `end: u32`, byte
//! offsets in the file's text after the BOM.

use crate::files::SourceMigration;

pub const ENTRY_LEN: usize = 8 + 4 + 4 + 4 + 1 + 32;
pub const STATEMENT_LEN: usize = 8;
const BOM: u8 = 1;
const NO_TRANSACTION: u8 = 2;

/// Migrations packed for embedding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
    /// Every file's text as on disk (BOM included), in version order.
    pub text: String,
    pub names: String,
    pub index: Vec<u8>,
    pub statements: Vec<u8>,
}

/// One decoded index record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub version: u64,
    pub text_end: usize,
    pub name_end: usize,
    pub statements_end: usize,
    pub bom: bool,
    pub no_transaction: bool,
    pub checksum: [u8; 32],
}

/// Packs `migrations` (in version order). Fails beyond 4 GiB of SQL.
pub fn pack(migrations: &[SourceMigration]) -> Result<Packed, String> {
    let mut p = Packed::default();
    let mut statement_count = 0usize;
    let u32_of = |n: usize| u32::try_from(n).map_err(|_| "migrations beyond 4 GiB cannot be embedded".to_string());
    for m in migrations {
        if m.file.bom {
            p.text.push('\u{feff}');
        }
        p.text.push_str(&m.file.text);
        p.names.push_str(&m.file_name);
        for s in &m.file.statements {
            p.statements.extend_from_slice(&u32_of(s.start)?.to_le_bytes());
            p.statements.extend_from_slice(&u32_of(s.end)?.to_le_bytes());
        }
        statement_count += m.file.statements.len();
        p.index.extend_from_slice(&m.version.to_le_bytes());
        p.index.extend_from_slice(&u32_of(p.text.len())?.to_le_bytes());
        p.index.extend_from_slice(&u32_of(p.names.len())?.to_le_bytes());
        p.index.extend_from_slice(&u32_of(statement_count)?.to_le_bytes());
        p.index
            .push(if m.file.bom { BOM } else { 0 } | if m.file.no_transaction { NO_TRANSACTION } else { 0 });
        p.index.extend_from_slice(&m.file.checksum);
    }
    Ok(p)
}

/// Record `i` of `index`.
pub fn entry(index: &[u8], i: usize) -> Entry {
    let r = &index[i * ENTRY_LEN..(i + 1) * ENTRY_LEN];
    let u32_at = |at: usize| u32::from_le_bytes(r[at..at + 4].try_into().expect("4 bytes")) as usize;
    Entry {
        version: u64::from_le_bytes(r[0..8].try_into().expect("8 bytes")),
        text_end: u32_at(8),
        name_end: u32_at(12),
        statements_end: u32_at(16),
        bom: r[20] & BOM != 0,
        no_transaction: r[20] & NO_TRANSACTION != 0,
        checksum: r[21..53].try_into().expect("32 bytes"),
    }
}

/// Statement `i` of `statements`: `(start, end)`.
pub fn statement(statements: &[u8], i: usize) -> (usize, usize) {
    let r = &statements[i * STATEMENT_LEN..(i + 1) * STATEMENT_LEN];
    let start = u32::from_le_bytes(r[0..4].try_into().expect("4 bytes"));
    let end = u32::from_le_bytes(r[4..8].try_into().expect("4 bytes"));
    (start as usize, end as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::check_source;

    #[test]
    fn packs_and_reads_back() {
        let files = [
            ("001_a.sql", "\u{feff}SELECT 1;\r\nSELECT 2;"),
            ("7_b.sql", "-- migrate: no-transaction\nVACUUM;"),
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
        let p = pack(&migrations).unwrap();
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
        assert_eq!(b.checksum, migrations[1].file.checksum);
        assert_eq!(statement(&p.statements, 1), (11, 20));
    }
}
