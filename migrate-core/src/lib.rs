//! The pure core of the migration system: file naming, a lexer and
//! statement splitter that agree with psql, the kind of each statement, the
//! checks every migration file must pass, and checksums. No I/O but reading
//! the migrations folder.
//!
//! Used by `embed_migrations!` at build time and by `migrate check` at run
//! time, so both apply exactly the same rules.
//!
//! What each check and lint asks for, with examples and fixes:
//! [the guide's file rules](https://docs.rs/migrate-runtime/latest/migrate_runtime/guide/file_rules/index.html).

pub mod baseline;
pub mod checks;
pub mod checksum;
pub mod diagnostic;
pub mod directive;
pub mod down;
pub mod files;
pub mod folder;
pub mod history_digest;
pub mod layout;
pub mod lexer;
pub mod lint;
pub mod name;
pub mod pg_hash;
pub mod position;
pub mod repeatable;
pub mod source;
pub mod split;
pub mod squash;
pub mod statement;
#[cfg(feature = "syntax-check")]
pub mod syntax;

pub use checksum::{checksum, to_hex};
pub use diagnostic::{Diagnostic, Severity};
pub use files::{CheckedFile, FileKind, FileTimeouts, SourceDown, SourceMigration, SourceRepeatable, StatementSpan};
pub use folder::{load_dir, Baseline, Folder};
pub use history_digest::history_digest;
pub use source::{check_as, check_source};
