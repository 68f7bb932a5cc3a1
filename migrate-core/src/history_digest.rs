//! A digest of a migration history: the file names and checksums, in
//! order. Computed at build time over the embedded files, and by the server
//! over the tracking table, so a no-op start-up compares one number instead
//! of every row.

use crate::checksum::to_hex;
use crate::files::SourceMigration;
use crate::pg_hash::hashtextextended;

/// PostgreSQL's `hashtextextended` ([`crate::pg_hash`]) of one line per
/// file, `name`, a tab, the lowercase hex checksum and a newline, in the
/// order given. [`SERVER_EXPRESSION`] computes the same over the tracking
/// table. A 64-bit non-cryptographic hash: an accidental match of two
/// different histories (with the same row count) has odds of 2^-64.
pub fn history_digest<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8; 32])>) -> i64 {
    let mut lines = Vec::new();
    for (name, checksum) in files {
        lines.extend_from_slice(name.as_bytes());
        lines.push(b'\t');
        lines.extend_from_slice(to_hex(checksum).as_bytes());
        lines.push(b'\n');
    }
    hashtextextended(&lines)
}

/// [`history_digest`] of `migrations` (in version order) once all are
/// applied: what the macro embeds.
pub fn of_migrations(migrations: &[SourceMigration]) -> i64 {
    history_digest(migrations.iter().map(|m| (m.file_name.as_str(), &m.file.checksum)))
}

/// The SQL expression giving [`history_digest`] of the tracking table's
/// rows in `id` order. A row without a checksum hashes with an empty one,
/// so it never matches. Unlike `sha256`, `hashtextextended` needs no crypto
/// library, which a fresh backend would load first.
/// Every function and operator names `pg_catalog`, so that look-alikes
/// elsewhere on the search_path are never called.
pub const SERVER_EXPRESSION: &str = "pg_catalog.hashtextextended(coalesce(pg_catalog.string_agg(filename \
     OPERATOR(pg_catalog.||) E'\\t' OPERATOR(pg_catalog.||) coalesce(checksum, '') OPERATOR(pg_catalog.||) E'\\n', \
     '' ORDER BY id), ''), 0::bigint)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_names_and_checksums_all_count() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let base = history_digest([("001_a.sql", &a), ("002_b.sql", &b)]);
        assert_ne!(base, history_digest([("002_b.sql", &b), ("001_a.sql", &a)]));
        assert_ne!(base, history_digest([("001_a.sql", &a), ("002_c.sql", &b)]));
        assert_ne!(base, history_digest([("001_a.sql", &a), ("002_b.sql", &a)]));
        assert_ne!(base, history_digest([("001_a.sql", &a)]));
        assert_eq!(base, history_digest([("001_a.sql", &a), ("002_b.sql", &b)]));
    }

    #[test]
    fn an_empty_history_is_the_digest_of_nothing() {
        assert_eq!(history_digest([]), crate::pg_hash::hashtextextended(b""));
    }
}
