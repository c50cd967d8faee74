//! A DEFLATE compressor (RFC 1951): LZ77 over a 32 KiB window, matches found through hash
//! chains on 3-byte prefixes (at most [`MAX_CHAIN`] candidates per position, a quarter of
//! that once a match of [`GOOD_MATCH`] bytes is found; greedy, no lazy matching), written as one final block with the fixed Huffman codes (BTYPE 01).
//! The output is raw DEFLATE, as zip's method 8 holds it (no zlib or gzip wrapper).

/// The window: a match reaches at most this far back.
const WINDOW: usize = 32_768;
const WINDOW_MASK: usize = WINDOW - 1;
const HASH_BITS: u32 = 15;
const HASH_SIZE: usize = 1 << HASH_BITS;
/// How many earlier positions with the same hash are tried for a match.
const MAX_CHAIN: usize = 32;
/// Once a match is this long the search stops.
const NICE_MATCH: usize = 128;
/// Once a match is this long only a quarter of the chain is still tried.
const GOOD_MATCH: usize = 32;
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// No position (the hash heads and chains hold positions).
const NONE: usize = usize::MAX;

/// The fixed literal/length code (RFC 1951 §3.2.6) of each symbol 0–287, its bits already
/// reversed for LSB-first packing: `(code, length)`.
const FIXED_LITERAL: [(u16, u8); 288] = {
    let mut table = [(0u16, 0u8); 288];
    let mut symbol = 0;
    while symbol < 288 {
        let (code, len) = if symbol < 144 {
            (0x30 + symbol, 8)
        } else if symbol < 256 {
            (0x190 + symbol - 144, 9)
        } else if symbol < 280 {
            (symbol - 256, 7)
        } else {
            (0xC0 + symbol - 280, 8)
        };
        table[symbol] = (reverse(code as u16, len), len as u8);
        symbol += 1;
    }
    table
};

/// For each match length 3–258 (index `length - 3`): the reversed fixed code of its
/// length symbol, that code's bit count, the extra bits' count and value.
const LENGTHS: [(u16, u8, u8, u16); 256] = {
    let mut table = [(0u16, 0u8, 0u8, 0u16); 256];
    let mut l: usize = 0;
    while l < 256 {
        let (symbol, extra_bits, extra) = if l < 8 {
            (257 + l, 0, 0)
        } else if l == 255 {
            (285, 0, 0)
        } else {
            let nb = (usize::BITS - 1 - l.leading_zeros()) as usize;
            (
                257 + 4 * (nb - 1) + ((l >> (nb - 2)) & 3),
                nb - 2,
                l & ((1 << (nb - 2)) - 1),
            )
        };
        let (code, len) = FIXED_LITERAL[symbol];
        table[l] = (code, len, extra_bits as u8, extra as u16);
        l += 1;
    }
    table
};

/// `code`'s low `len` bits in reverse order (Huffman codes are sent from their top bit).
const fn reverse(code: u16, len: usize) -> u16 {
    let mut out = 0u16;
    let mut i = 0;
    while i < len {
        out = (out << 1) | ((code >> i) & 1);
        i += 1;
    }
    out
}

/// For a distance 1–32768: the reversed 5-bit fixed distance code, the extra bits' count
/// and value.
fn distance_code(distance: usize) -> (u16, u8, u16) {
    let d = distance - 1;
    let (symbol, extra_bits, extra) = if d < 4 {
        (d, 0, 0)
    } else {
        let nb = (usize::BITS - 1 - d.leading_zeros()) as usize;
        (
            2 * nb + ((d >> (nb - 1)) & 1),
            nb - 1,
            d & ((1 << (nb - 1)) - 1),
        )
    };
    // Symbols stay below 30, extra bits below 14 and values below 2^13.
    (reverse(symbol as u16, 5), extra_bits as u8, extra as u16)
}

/// Packs bits LSB-first into bytes.
struct BitWriter {
    out: Vec<u8>,
    bits: u64,
    count: u32,
}

impl BitWriter {
    /// Appends the low `len` bits of `value` (`len` at most 16).
    #[inline]
    fn put(&mut self, value: u16, len: u8) {
        self.bits |= u64::from(value) << self.count;
        self.count += u32::from(len);
        if self.count >= 32 {
            self.out
                .extend_from_slice(&(self.bits as u32).to_le_bytes());
            self.bits >>= 32;
            self.count -= 32;
        }
    }

    /// The bytes, the last one padded with zero bits.
    fn finish(mut self) -> Vec<u8> {
        while self.count > 0 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.count = self.count.saturating_sub(8);
        }
        self.out
    }
}

#[inline]
fn hash(data: &[u8], at: usize) -> usize {
    let v = u32::from(data[at]) | u32::from(data[at + 1]) << 8 | u32::from(data[at + 2]) << 16;
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// Makes `at` the newest position of its hash chain.
#[inline]
fn insert(data: &[u8], head: &mut [usize], prev: &mut [usize], at: usize) {
    let h = hash(data, at);
    prev[at & WINDOW_MASK] = head[h];
    head[h] = at;
}

/// How many bytes from `a` and from `b` agree, up to `max` (`b + max` within `data`).
#[inline]
fn match_length(data: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let mut x = [0u8; 8];
        let mut y = [0u8; 8];
        x.copy_from_slice(&data[a + n..a + n + 8]);
        y.copy_from_slice(&data[b + n..b + n + 8]);
        let diff = u64::from_le_bytes(x) ^ u64::from_le_bytes(y);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && data[a + n] == data[b + n] {
        n += 1;
    }
    n
}

/// `data` as raw DEFLATE: a single final block with the fixed Huffman codes.
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut out = BitWriter {
        out: Vec::with_capacity(data.len() / 4 + 16),
        bits: 0,
        count: 0,
    };
    out.put(1, 1); // BFINAL
    out.put(1, 2); // BTYPE 01: fixed Huffman codes
    let mut head = vec![NONE; HASH_SIZE];
    let mut prev = vec![NONE; WINDOW];
    let n = data.len();
    let mut pos = 0;
    while pos < n {
        if pos + MIN_MATCH <= n {
            let max = (n - pos).min(MAX_MATCH);
            let mut best_len = 0;
            let mut best_at = 0;
            let mut candidate = head[hash(data, pos)];
            let mut chain = MAX_CHAIN;
            while candidate != NONE && candidate < pos && pos - candidate <= WINDOW && chain > 0 {
                if data[candidate + best_len] == data[pos + best_len] {
                    let len = match_length(data, candidate, pos, max);
                    if len > best_len {
                        best_len = len;
                        best_at = candidate;
                        if len >= max || len >= NICE_MATCH {
                            break;
                        }
                        if len >= GOOD_MATCH {
                            chain = chain.min(MAX_CHAIN / 4);
                        }
                    }
                }
                let next = prev[candidate & WINDOW_MASK];
                if next >= candidate {
                    break;
                }
                candidate = next;
                chain -= 1;
            }
            insert(data, &mut head, &mut prev, pos);
            if best_len >= MIN_MATCH {
                let (code, len, extra_bits, extra) = LENGTHS[best_len - MIN_MATCH];
                out.put(code, len);
                out.put(extra, extra_bits);
                let (code, extra_bits, extra) = distance_code(pos - best_at);
                out.put(code, 5);
                out.put(extra, extra_bits);
                let end = pos + best_len;
                for at in pos + 1..end.min(n - MIN_MATCH + 1) {
                    insert(data, &mut head, &mut prev, at);
                }
                pos = end;
                continue;
            }
        }
        let (code, len) = FIXED_LITERAL[usize::from(data[pos])];
        out.put(code, len);
        pos += 1;
    }
    let (code, len) = FIXED_LITERAL[256];
    out.put(code, len);
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_one_empty_fixed_block() {
        assert_eq!(deflate(b""), vec![0x03, 0x00]);
    }

    #[test]
    fn length_and_distance_codes_follow_rfc_1951() {
        // (length, symbol, extra bits, extra value)
        for (length, symbol, extra_bits, extra) in [
            (3, 257, 0, 0),
            (10, 264, 0, 0),
            (11, 265, 1, 0),
            (12, 265, 1, 1),
            (13, 266, 1, 0),
            (19, 269, 2, 0),
            (34, 272, 2, 3),
            (35, 273, 3, 0),
            (227, 284, 5, 0),
            (257, 284, 5, 30),
            (258, 285, 0, 0),
        ] {
            let (code, len, bits, value) = LENGTHS[length - 3];
            assert_eq!((code, len), FIXED_LITERAL[symbol], "length {length}");
            assert_eq!((bits, value), (extra_bits, extra), "length {length}");
        }
        // (distance, symbol, extra bits, extra value)
        for (distance, symbol, extra_bits, extra) in [
            (1, 0, 0, 0),
            (4, 3, 0, 0),
            (5, 4, 1, 0),
            (6, 4, 1, 1),
            (7, 5, 1, 0),
            (24, 8, 3, 7),
            (25, 9, 3, 0),
            (24_577, 29, 13, 0),
            (32_768, 29, 13, 8191),
        ] {
            assert_eq!(
                distance_code(distance),
                (reverse(symbol, 5), extra_bits, extra),
                "distance {distance}"
            );
        }
        // Fixed codes: 0 -> 00110000 (8 bits), 144 -> 110010000 (9), 256 -> 0000000 (7),
        // 280 -> 11000000 (8).
        assert_eq!(FIXED_LITERAL[0], (reverse(0b0011_0000, 8), 8));
        assert_eq!(FIXED_LITERAL[144], (reverse(0b1_1001_0000, 9), 9));
        assert_eq!(FIXED_LITERAL[256], (0, 7));
        assert_eq!(FIXED_LITERAL[287], (reverse(0b1100_0111, 8), 8));
    }

    #[test]
    fn repetitive_text_shrinks() {
        let row = b"<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>VA-BCA</t></is></c></row>";
        let data: Vec<u8> = row.iter().copied().cycle().take(100_000).collect();
        let packed = deflate(&data);
        assert!(packed.len() * 20 < data.len(), "{} bytes", packed.len());
    }
}
