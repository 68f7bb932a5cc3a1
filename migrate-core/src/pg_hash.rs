//! PostgreSQL's `hashtextextended(text, 0)`, computed on the client: Bob
//! Jenkins' lookup3 hash with a 64-bit result, as `hash_bytes_extended` in
//! PostgreSQL's `src/common/hashfn.c` does it on a little-endian server.
//!
//! It is not a cryptographic hash. The server computes it without loading a
//! crypto library, which a fresh backend would otherwise pay for on every
//! start-up. A big-endian server computes other values, so a comparison
//! there never matches.

const GOLDEN: u32 = 0x9e37_79b9;
/// PostgreSQL's addition to the initial state.
const OFFSET: u32 = 3_923_095;

/// `hashtextextended(text, 0)` of `bytes` (the text in the server's
/// encoding), as the server returns it: a signed 64-bit number.
pub fn hashtextextended(bytes: &[u8]) -> i64 {
    // PostgreSQL takes the length as a 32-bit integer.
    let start = GOLDEN.wrapping_add(bytes.len() as u32).wrapping_add(OFFSET);
    let (mut a, mut b, mut c) = (start, start, start);
    let mut blocks = bytes.chunks_exact(12);
    for block in &mut blocks {
        a = a.wrapping_add(word(&block[0..4]));
        b = b.wrapping_add(word(&block[4..8]));
        c = c.wrapping_add(word(&block[8..12]));
        mix(&mut a, &mut b, &mut c);
    }
    // The last 0 to 11 bytes, zero-padded; the lowest byte of `c` is left
    // out of the data.
    let mut tail = [0u8; 12];
    tail[..blocks.remainder().len()].copy_from_slice(blocks.remainder());
    a = a.wrapping_add(word(&tail[0..4]));
    b = b.wrapping_add(word(&tail[4..8]));
    c = c.wrapping_add(word(&tail[8..12]) << 8);
    finish(&mut a, &mut b, &mut c);
    ((u64::from(b) << 32) | u64::from(c)) as i64
}

fn word(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().expect("four bytes"))
}

/// Mixes three words reversibly, after each 12-byte block.
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c) ^ c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c) ^ c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

/// The final mixing, into `b` and `c`.
fn finish(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c = (*c ^ *b).wrapping_sub(b.rotate_left(14));
    *a = (*a ^ *c).wrapping_sub(c.rotate_left(11));
    *b = (*b ^ *a).wrapping_sub(a.rotate_left(25));
    *c = (*c ^ *b).wrapping_sub(b.rotate_left(16));
    *a = (*a ^ *c).wrapping_sub(c.rotate_left(4));
    *b = (*b ^ *a).wrapping_sub(a.rotate_left(14));
    *c = (*c ^ *b).wrapping_sub(b.rotate_left(24));
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values from PostgreSQL 15 (x86-64): `SELECT hashtextextended(t, 0)`.
    // tests/run.rs compares many more against a live server.
    #[test]
    fn agrees_with_postgresql() {
        for (text, expected) in [
            ("", -6_939_563_903_564_495_251_i64),
            ("a", 3_591_986_179_850_072_241),
            ("abcdefghijk", 3_112_909_444_737_856_467),
            ("abcdefghijkl", -7_556_637_188_122_330_412),
            ("001_create_users.sql\t0123\n", -7_579_431_845_224_757_690),
            ("é", -763_932_721_387_459_829),
        ] {
            assert_eq!(hashtextextended(text.as_bytes()), expected, "{text:?}");
        }
    }
}
