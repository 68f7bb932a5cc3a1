//! The migrations a binary carries: what `embed_migrations!` expands to.

use migrate_core::{Diagnostic, Folder};
use std::path::Path;

/// The data behind [`Migrations`]. Generated code only; not a stable API.
#[doc(hidden)]
pub mod __private {
    /// Migrations in the layout of `migrate_core::layout`.
    pub struct Embedded {
        /// Every file's text, in version order, as on disk (BOM included).
        pub text: &'static str,
        /// Every file name, concatenated.
        pub names: &'static str,
        pub index: &'static [u8],
        pub statements: &'static [u8],
        /// `migrate_core::history_digest` of every file, in version order.
        pub digest: i64,
        /// The folder the macro read, in debug builds.
        pub source_dir: Option<&'static str>,
        /// Down files: the version they revert, and their text as on disk.
        pub downs: &'static [(u64, &'static str)],
        /// Versions marked `-- migrate: irreversible`.
        pub irreversible: &'static [u64],
        /// Repeatable files: `repeatable/NAME.sql`, text as on disk, checksum.
        pub repeatables: &'static [(&'static str, &'static str, [u8; 32])],
        /// The versions the first file replaces, when it is a squashed file.
        pub squashes: Option<(u64, u64)>,
        /// The files the squashed first file lists as replaced.
        pub replaced: &'static [&'static str],
    }
}

use __private::Embedded;
use migrate_core::layout;

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
        let packed = layout::pack(&folder.migrations).map_err(|e| vec![Diagnostic::error(shown_as, e)])?;
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let downs: Vec<(u64, &'static str)> = folder
            .downs
            .iter()
            .map(|d| (d.version, leak(d.file.text.clone())))
            .collect();
        let irreversible: Vec<u64> = folder
            .migrations
            .iter()
            .filter(|m| m.file.irreversible)
            .map(|m| m.version)
            .collect();
        let repeatables: Vec<(&'static str, &'static str, [u8; 32])> = folder
            .repeatables
            .iter()
            .map(|r| (leak(r.file_name.clone()), leak(r.file.text.clone()), r.file.checksum))
            .collect();
        let replaced: Vec<&'static str> = folder
            .migrations
            .first()
            .map(|m| m.file.replaces.iter().map(|f| leak(f.clone())).collect())
            .unwrap_or_default();
        let data = Embedded {
            text: leak(packed.text),
            names: leak(packed.names),
            index: Vec::leak(packed.index),
            statements: Vec::leak(packed.statements),
            digest: migrate_core::history_digest::of_migrations(&folder.migrations),
            source_dir: None,
            downs: Vec::leak(downs),
            irreversible: Vec::leak(irreversible),
            repeatables: Vec::leak(repeatables),
            squashes: folder.migrations.first().and_then(|m| m.file.squashes),
            replaced: Vec::leak(replaced),
        };
        Ok(Migrations {
            data: Box::leak(Box::new(data)),
        })
    }

    /// How many migrations are embedded.
    pub fn len(&self) -> usize {
        self.data.index.len() / layout::ENTRY_LEN
    }

    /// Whether no migration is embedded.
    pub fn is_empty(&self) -> bool {
        self.data.index.is_empty()
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
        self.data
            .repeatables
            .iter()
            .map(|&(file_name, sql, checksum)| Repeatable {
                file_name,
                sql: sql.strip_prefix('\u{feff}').unwrap_or(sql),
                checksum,
            })
    }

    /// `(from, through)` when the first file is a squashed file replacing
    /// those versions (`-- migrate: squashes FROM-THROUGH`).
    pub fn squashes(&self) -> Option<(u64, u64)> {
        self.data.squashes
    }

    /// A runner with default options; see [`Runner`](crate::Runner).
    pub fn runner(&self) -> crate::Runner {
        crate::Runner::new(*self)
    }

    /// Applies every pending migration; see [`Runner::run`](crate::Runner::run).
    #[inline(never)]
    pub fn run<'a>(
        &'a self,
        pool: &'a deadpool_postgres::Pool,
    ) -> impl std::future::Future<Output = Result<crate::Report, crate::Error>> + Send + 'a {
        let runner = self.runner();
        crate::runner::boxed(async move { runner.run_here(pool).await })
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
    fn entry(&self) -> layout::Entry {
        layout::entry(self.data.index, self.index)
    }

    fn previous(&self) -> Option<layout::Entry> {
        self.index.checked_sub(1).map(|i| layout::entry(self.data.index, i))
    }

    /// The number the file name starts with.
    pub fn version(&self) -> u64 {
        self.entry().version
    }

    /// `NNN_name.sql`, as recorded in the tracking table.
    pub fn file_name(&self) -> &'static str {
        let start = self.previous().map_or(0, |e| e.name_end);
        &self.data.names[start..self.entry().name_end]
    }

    /// The file's SQL, byte for byte, without a leading BOM.
    pub fn sql(&self) -> &'static str {
        let entry = self.entry();
        let start = self.previous().map_or(0, |e| e.text_end);
        let start = if entry.bom {
            start + '\u{feff}'.len_utf8()
        } else {
            start
        };
        &self.data.text[start..entry.text_end]
    }

    /// SHA-256 of the SQL with CRLF read as LF.
    pub fn checksum(&self) -> [u8; 32] {
        self.entry().checksum
    }

    /// The checksum as stored in the tracking table (lowercase hex).
    pub fn checksum_hex(&self) -> String {
        migrate_core::to_hex(&self.checksum())
    }

    /// The SQL of its down file (`NNN_name.down.sql`), without a BOM.
    pub fn down_sql(&self) -> Option<&'static str> {
        let version = self.version();
        let (_, sql) = self.data.downs.iter().find(|(v, _)| *v == version)?;
        Some(sql.strip_prefix('\u{feff}').unwrap_or(sql))
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
        self.entry().no_transaction
    }

    /// The statements psql would send for this file.
    pub fn statements(&self) -> impl ExactSizeIterator<Item = Statement> {
        let first = self.previous().map_or(0, |e| e.statements_end);
        let (sql, statements) = (self.sql(), self.data.statements);
        (first..self.entry().statements_end).map(move |i| {
            let (start, end) = layout::statement(statements, i);
            Statement { sql, start, end }
        })
    }
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file_name())
    }
}

/// One statement of a migration file.
#[derive(Debug, Clone, Copy)]
pub struct Statement {
    sql: &'static str,
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
}

/// A repeatable file, `repeatable/NAME.sql`: runs again whenever its
/// checksum differs from its last successful run.
#[derive(Debug, Clone, Copy)]
pub struct Repeatable {
    file_name: &'static str,
    sql: &'static str,
    checksum: [u8; 32],
}

impl Repeatable {
    /// `repeatable/NAME.sql`, as recorded in the tracking table.
    pub fn file_name(&self) -> &'static str {
        self.file_name
    }

    /// The file's SQL, without a leading BOM.
    pub fn sql(&self) -> &'static str {
        self.sql
    }

    /// The checksum as stored in the tracking table (lowercase hex).
    pub fn checksum_hex(&self) -> String {
        migrate_core::to_hex(&self.checksum)
    }
}
