//! The migrations a binary carries: what `embed_migrations!` expands to.

use migrate_core::{Diagnostic, FileTimeouts, Folder};
use std::path::Path;

/// The data behind [`Migrations`]. Generated code only; not a stable API.
#[doc(hidden)]
pub mod __private {
    use migrate_core::layout::{self, Packed};

    /// Migrations in the layout of `migrate_core::layout`.
    pub struct Embedded {
        /// The versioned files, in version order.
        pub migrations: Section,
        /// The down files, in the order of the versions they revert.
        pub downs: Section,
        /// The repeatable files, in name order.
        pub repeatables: Section,
        /// `migrate_core::history_digest` of every file, in version order.
        pub digest: i64,
        /// The folder the macro read, in debug builds.
        pub source_dir: Option<&'static str>,
        /// Versions marked `-- migrate: irreversible`.
        pub irreversible: &'static [u64],
        /// The versions the first file replaces, when it is a squashed file.
        pub squashes: Option<(u64, u64)>,
        /// The files the squashed first file lists as replaced.
        pub replaced: &'static [&'static str],
    }

    /// A `migrate_core::layout::Section`, embedded.
    pub struct Section {
        /// Every file's text, in order, as on disk (BOM included).
        pub text: &'static str,
        /// Every file name, concatenated.
        pub names: &'static str,
        pub index: &'static [u8],
        pub statements: &'static [u8],
        /// The index and table names of `CREATE INDEX CONCURRENTLY` statements.
        pub objects: &'static str,
    }

    impl Embedded {
        /// `packed`, kept in memory for the rest of the process.
        pub fn leak(packed: Packed, source_dir: Option<&'static str>) -> &'static Embedded {
            let replaced: Vec<&'static str> = packed.replaced.into_iter().map(leak).collect();
            Box::leak(Box::new(Embedded {
                migrations: Section::leak(packed.migrations),
                downs: Section::leak(packed.downs),
                repeatables: Section::leak(packed.repeatables),
                digest: packed.digest,
                source_dir,
                irreversible: Vec::leak(packed.irreversible),
                squashes: packed.squashes,
                replaced: Vec::leak(replaced),
            }))
        }
    }

    impl Section {
        fn leak(section: layout::Section) -> Section {
            Section {
                text: leak(section.text),
                names: leak(section.names),
                index: Vec::leak(section.index),
                statements: Vec::leak(section.statements),
                objects: leak(section.objects),
            }
        }

        /// How many files the section holds.
        pub(crate) fn len(&self) -> usize {
            self.index.len() / layout::ENTRY_LEN
        }
    }

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }
}

use __private::{Embedded, Section};
use migrate_core::layout;
use migrate_core::statement::StatementKind;

/// A set of migrations, in version order: what `embed_migrations!` expands
/// to, or what [`Migrations::from_dir`] reads at run time.
#[derive(Clone, Copy)]
pub struct Migrations {
    data: &'static Embedded,
}

impl Migrations {
    #[doc(hidden)]
    pub const fn __embedded(data: &'static Embedded) -> Self {
        Migrations { data }
    }

    /// Reads and checks a folder at run time with the same rules as the
    /// macro. The contents stay in memory for the rest of the process.
    pub fn from_dir(dir: &Path) -> Result<Self, Vec<Diagnostic>> {
        let folder = migrate_core::load_dir(dir, &dir.to_string_lossy()).map_err(|d| vec![d])?;
        if !folder.problems.is_empty() {
            return Err(folder.problems);
        }
        Self::from_folder(&folder, &dir.to_string_lossy())
    }

    fn from_folder(folder: &Folder, shown_as: &str) -> Result<Self, Vec<Diagnostic>> {
        let packed = layout::pack(folder).map_err(|e| vec![Diagnostic::error(shown_as, e)])?;
        Ok(Migrations {
            data: Embedded::leak(packed, None),
        })
    }

    /// How many migrations are embedded.
    pub fn len(&self) -> usize {
        self.data.migrations.len()
    }

    /// Whether no migration is embedded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The migrations in version order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Migration> + DoubleEndedIterator + '_ {
        (0..self.len()).map(|index| Migration { data: self.data, index })
    }

    /// The migration with this exact file name.
    pub fn find(&self, file_name: &str) -> Option<Migration> {
        self.iter().find(|m| m.file_name() == file_name)
    }

    /// [`migrate_core::history_digest()`] of every migration, in version
    /// order: what the tracking table digests to when all are applied.
    pub fn history_digest(&self) -> i64 {
        self.data.digest
    }

    /// The folder the macro read, in debug builds.
    pub fn source_dir(&self) -> Option<&'static str> {
        self.data.source_dir
    }

    /// The repeatable files, in name order.
    pub fn repeatables(&self) -> impl ExactSizeIterator<Item = Repeatable> + '_ {
        let section = &self.data.repeatables;
        (0..section.len()).map(move |index| Repeatable {
            file: File { section, index },
        })
    }

    /// `(from, through)` when the first file is a squashed file replacing
    /// those versions (`-- migrate: squashes FROM-THROUGH`).
    pub fn squashes(&self) -> Option<(u64, u64)> {
        self.data.squashes
    }
}

impl std::fmt::Debug for Migrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(|m| m.file_name())).finish()
    }
}

/// One embedded migration file.
#[derive(Clone, Copy)]
pub struct Migration {
    data: &'static Embedded,
    index: usize,
}

impl Migration {
    fn file(&self) -> File {
        File {
            section: &self.data.migrations,
            index: self.index,
        }
    }

    /// The number the file name starts with.
    pub fn version(&self) -> u64 {
        self.file().entry().version
    }

    /// `NNN_name.sql`, as recorded in the tracking table.
    pub fn file_name(&self) -> &'static str {
        self.file().name()
    }

    /// The file's SQL, byte for byte, without a leading BOM.
    pub fn sql(&self) -> &'static str {
        self.file().sql()
    }

    /// SHA-256 of the SQL with CRLF read as LF.
    pub fn checksum(&self) -> [u8; 32] {
        self.file().entry().checksum
    }

    /// The checksum as stored in the tracking table (lowercase hex).
    pub fn checksum_hex(&self) -> String {
        migrate_core::to_hex(&self.checksum())
    }

    /// Its down file (`NNN_name.down.sql`), if it has one.
    pub fn down(&self) -> Option<Down> {
        let (version, section) = (self.version(), &self.data.downs);
        (0..section.len())
            .map(|index| File { section, index })
            .find(|f| f.entry().version == version)
            .map(|file| Down { file })
    }

    /// The SQL of its down file (`NNN_name.down.sql`), without a BOM.
    pub fn down_sql(&self) -> Option<&'static str> {
        self.down().map(|d| d.sql())
    }

    /// `(from, through)` when this is a squashed file replacing those
    /// versions (`-- migrate: squashes FROM-THROUGH`).
    pub fn squashes(&self) -> Option<(u64, u64)> {
        self.data.squashes.filter(|_| self.index == 0)
    }

    /// For a squashed file, the files it lists as replaced
    /// (`-- migrate: replaces FILE`); empty otherwise.
    pub fn replaces(&self) -> &'static [&'static str] {
        if self.index == 0 {
            self.data.replaced
        } else {
            &[]
        }
    }

    /// Whether the file is marked `-- migrate: irreversible`.
    pub fn irreversible(&self) -> bool {
        self.data.irreversible.contains(&self.version())
    }

    /// Whether the file runs statement by statement outside a transaction
    /// (`-- migrate: no-transaction`).
    pub fn no_transaction(&self) -> bool {
        self.file().entry().no_transaction
    }

    /// The statements psql would send for this file.
    pub fn statements(&self) -> impl ExactSizeIterator<Item = Statement> {
        self.file().statements()
    }
}

impl Migration {
    /// Its timeout directives.
    pub(crate) fn timeouts(&self) -> FileTimeouts {
        self.file().timeouts()
    }
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file_name())
    }
}

/// File `index` of a section.
#[derive(Clone, Copy)]
struct File {
    section: &'static Section,
    index: usize,
}

impl File {
    fn entry(&self) -> layout::Entry {
        layout::entry(self.section.index, self.index)
    }

    fn previous(&self) -> Option<layout::Entry> {
        self.index.checked_sub(1).map(|i| layout::entry(self.section.index, i))
    }

    fn timeouts(&self) -> FileTimeouts {
        self.entry().timeouts
    }

    fn name(&self) -> &'static str {
        let start = self.previous().map_or(0, |e| e.name_end);
        &self.section.names[start..self.entry().name_end]
    }

    fn sql(&self) -> &'static str {
        let entry = self.entry();
        let start = self.previous().map_or(0, |e| e.text_end);
        let start = if entry.bom {
            start + '\u{feff}'.len_utf8()
        } else {
            start
        };
        &self.section.text[start..entry.text_end]
    }

    fn statements(&self) -> impl ExactSizeIterator<Item = Statement> {
        let first = self.previous().map_or(0, |e| e.statements_end);
        let (sql, section) = (self.sql(), self.section);
        (first..self.entry().statements_end).map(move |record| {
            let (start, end) = layout::statement(section.statements, record);
            Statement {
                sql,
                section,
                record,
                start,
                end,
            }
        })
    }
}

/// One statement of a migration, down or repeatable file.
#[derive(Clone, Copy)]
pub struct Statement {
    sql: &'static str,
    section: &'static Section,
    record: usize,
    start: usize,
    end: usize,
}

impl Statement {
    /// The statement's SQL, as written in the file.
    pub fn text(&self) -> &'static str {
        &self.sql[self.start..self.end]
    }

    /// Byte offset of the statement in its file's SQL.
    pub fn offset(&self) -> usize {
        self.start
    }

    /// 1-based line and column (in characters) where the statement starts.
    pub fn line_col(&self) -> (u32, u32) {
        migrate_core::position::line_col(self.sql, self.start)
    }

    /// What the statement is, as decided when the file was checked.
    pub fn kind(&self) -> StatementKind {
        layout::kind(self.section.statements, self.section.objects, self.record)
    }
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("offset", &self.start)
            .field("text", &self.text())
            .field("kind", &self.kind())
            .finish()
    }
}

/// The down file of a migration, `NNN_name.down.sql`: reverts it.
#[derive(Clone, Copy)]
pub struct Down {
    file: File,
}

impl Down {
    /// `NNN_name.down.sql`.
    pub fn file_name(&self) -> String {
        self.file.name().to_string()
    }

    /// The file's SQL, without a leading BOM.
    pub fn sql(&self) -> &'static str {
        self.file.sql()
    }

    /// The statements psql would send for this file.
    pub fn statements(&self) -> impl ExactSizeIterator<Item = Statement> {
        self.file.statements()
    }

    /// Its timeout directives.
    pub(crate) fn timeouts(&self) -> FileTimeouts {
        self.file.timeouts()
    }
}

impl std::fmt::Debug for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file.name())
    }
}

/// A repeatable file, `repeatable/NAME.sql`: runs again whenever its
/// checksum differs from its last successful run.
#[derive(Clone, Copy)]
pub struct Repeatable {
    file: File,
}

impl Repeatable {
    /// `repeatable/NAME.sql`, as recorded in the tracking table.
    pub fn file_name(&self) -> &'static str {
        self.file.name()
    }

    /// The file's SQL, without a leading BOM.
    pub fn sql(&self) -> &'static str {
        self.file.sql()
    }

    /// The checksum as stored in the tracking table (lowercase hex).
    pub fn checksum_hex(&self) -> String {
        migrate_core::to_hex(&self.file.entry().checksum)
    }

    /// The statements psql would send for this file.
    pub fn statements(&self) -> impl ExactSizeIterator<Item = Statement> {
        self.file.statements()
    }

    /// Its timeout directives.
    pub(crate) fn timeouts(&self) -> FileTimeouts {
        self.file.timeouts()
    }
}

impl std::fmt::Debug for Repeatable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repeatable")
            .field("file_name", &self.file_name())
            .field("sql", &self.sql())
            .field("checksum", &self.file.entry().checksum)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `files` (path, SQL) written to a folder and read at run time.
    fn read(files: &[(&str, &str)]) -> Migrations {
        let dir = tempfile::tempdir().unwrap();
        for (path, sql) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, sql).unwrap();
        }
        Migrations::from_dir(dir.path()).unwrap()
    }

    fn described(statements: impl Iterator<Item = Statement>) -> Vec<(usize, &'static str, StatementKind)> {
        statements.map(|s| (s.offset(), s.text(), s.kind())).collect()
    }

    #[test]
    fn statements_carry_their_kinds() {
        let m = read(&[(
            "001_x.sql",
            "-- migrate: no-transaction\nCREATE INDEX CONCURRENTLY \"I\" ON s.t (a);\nREINDEX (VERBOSE) TABLE CONCURRENTLY t;\nCALL p();\nVACUUM t;",
        )]);
        let kinds: Vec<StatementKind> = m.iter().next().unwrap().statements().map(|s| s.kind()).collect();
        assert_eq!(
            kinds,
            [
                StatementKind::CreateIndexConcurrently {
                    index: Some("I".into()),
                    table: Some("s.t".into())
                },
                StatementKind::ReindexConcurrently,
                StatementKind::Procedural,
                StatementKind::Atomic,
            ]
        );
    }

    #[test]
    fn down_files_are_embedded_with_their_statements() {
        let m = read(&[
            ("001_a.sql", "CREATE TABLE IF NOT EXISTS a ();"),
            ("001_a.down.sql", "\u{feff}SELECT 1;\r\nDO $$ BEGIN END $$;"),
            ("002_b.sql", "SELECT 2;"),
        ]);
        let (a, b) = (m.iter().next().unwrap(), m.iter().nth(1).unwrap());
        let down = a.down().unwrap();
        assert_eq!(down.file_name(), "001_a.down.sql");
        assert_eq!(down.sql(), "SELECT 1;\r\nDO $$ BEGIN END $$;");
        assert_eq!(a.down_sql(), Some(down.sql()));
        assert_eq!(
            described(down.statements()),
            [
                (0, "SELECT 1;", StatementKind::Atomic),
                (11, "DO $$ BEGIN END $$;", StatementKind::Procedural)
            ]
        );
        assert_eq!(down.statements().nth(1).unwrap().line_col(), (2, 1));
        assert!(b.down().is_none() && b.down_sql().is_none());
    }

    #[test]
    fn repeatable_files_are_embedded_with_their_statements() {
        let m = read(&[
            ("001_a.sql", "SELECT 1;"),
            ("repeatable/a_view.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;"),
            (
                "repeatable/b_refresh.sql",
                "\u{feff}-- refresh\nCALL refresh();\nSELECT 2",
            ),
        ]);
        let names: Vec<&str> = m.repeatables().map(|r| r.file_name()).collect();
        assert_eq!(names, ["repeatable/a_view.sql", "repeatable/b_refresh.sql"]);
        let refresh = m.repeatables().nth(1).unwrap();
        assert_eq!(refresh.sql(), "-- refresh\nCALL refresh();\nSELECT 2");
        assert_eq!(
            described(refresh.statements()),
            [
                (11, "CALL refresh();", StatementKind::Procedural),
                (27, "SELECT 2", StatementKind::Atomic)
            ]
        );
        assert_eq!(m.repeatables().next().unwrap().statements().len(), 1);
    }
}
