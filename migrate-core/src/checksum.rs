//! The checksum stored with each applied migration.

use sha2::{Digest, Sha256};

/// SHA-256 of `text` (already without a BOM) with every CRLF read as LF, so
/// a checkout with other line endings is not a change.
pub fn checksum(text: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut rest = text;
    while let Some(p) = rest.find("\r\n") {
        hasher.update(&rest.as_bytes()[..p]);
        hasher.update(b"\n");
        rest = &rest[p + 2..];
    }
    hasher.update(rest.as_bytes());
    hasher.finalize().into()
}

/// Lowercase hex, as stored in the tracking table.
pub fn to_hex(sum: &[u8; 32]) -> String {
    sum.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_do_not_change_the_checksum() {
        assert_eq!(checksum("a;\r\nb;\r\n"), checksum("a;\nb;\n"));
        assert_ne!(checksum("a;\nb;\n"), checksum("a;\nb; \n"));
    }

    #[test]
    fn hex_is_sha256() {
        assert_eq!(
            to_hex(&checksum("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
