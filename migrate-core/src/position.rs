//! Byte offsets to 1-based line and column, counted in characters.

/// Line and column (both 1-based, column in characters) of byte `offset`.
/// A CRLF counts as one line break.
pub fn line_col(src: &str, offset: usize) -> (u32, u32) {
    let before = &src[..offset];
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let line = before.bytes().filter(|&c| c == b'\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line as u32, column as u32)
}

/// Byte offset of the 1-based character position `chars` (PostgreSQL's
/// error `position`), clamped to the end of `src`.
pub fn char_to_byte(src: &str, chars: usize) -> usize {
    src.char_indices()
        .nth(chars.saturating_sub(1))
        .map_or(src.len(), |(b, _)| b)
}

/// The first non-empty line of `text`, trimmed: how a statement is named.
pub fn first_line(text: &str) -> &str {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = "ab\nçé x";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, src.find('x').unwrap()), (2, 4));
    }

    #[test]
    fn crlf_is_one_line_break() {
        assert_eq!(line_col("a\r\nb", 3), (2, 1));
    }

    #[test]
    fn server_positions_are_characters() {
        let src = "é; x";
        assert_eq!(char_to_byte(src, 4), src.find('x').unwrap());
        assert_eq!(char_to_byte(src, 99), src.len());
    }
}
