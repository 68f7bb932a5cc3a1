//! A digest of a migration history: the file names and checksums, in
//! order. Computed at build time over the embedded files, and by the server
//! over the tracking table, so a no-op start-up compares one value instead
//! of every row.

use crate::checksum::to_hex;
use crate::folder::SourceMigration;
use sha2::{Digest, Sha256};

/// SHA-256 over one line per file, `name`, a tab, the lowercase hex
/// checksum and a newline, in the order given. [`SERVER_EXPRESSION`]
/// computes the same over the tracking table.
pub fn history_digest<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8; 32])>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for (name, checksum) in files {
        hasher.update(name.as_bytes());
        hasher.update(b"\t");
        hasher.update(to_hex(checksum).as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().into()
}

/// [`history_digest`] of `migrations` (in version order) once all are
/// applied: what the macro embeds.
pub fn of_migrations(migrations: &[SourceMigration]) -> [u8; 32] {
    history_digest(migrations.iter().map(|m| (m.file_name.as_str(), &m.file.checksum)))
}

/// The SQL aggregate giving [`history_digest`] (lowercase hex) of the
/// tracking table's rows in `id` order. A row without a checksum hashes
/// with an empty one, so it never matches.
pub const SERVER_EXPRESSION: &str = "encode(sha256(convert_to(coalesce(string_agg(filename || E'\\t' \
     || coalesce(checksum, '') || E'\\n', '' ORDER BY id), ''), 'UTF8')), 'hex')";

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
        assert_eq!(
            to_hex(&history_digest([])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
