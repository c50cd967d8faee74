//! A DEFLATE decompressor (RFC 1951) for the zip reader: stored, fixed and dynamic
//! Huffman blocks. Malformed or truncated input is an error, never a panic, and the
//! output is bounded: a stream that would inflate past the size its caller allows is
//! refused as soon as it gets there.

/// Base length of the length symbols 257–285, and their extra bits.
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distance of the distance symbols 0–29, and their extra bits.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order in which a dynamic block gives the code length code's lengths.
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];
const MAX_BITS: usize = 15;

/// Reads bits LSB-first; past the end it reads zeros but refuses to consume them.
struct BitReader<'a> {
    input: &'a [u8],
    pos: usize,
    bits: u64,
    count: u32,
}

impl BitReader<'_> {
    #[inline]
    fn refill(&mut self) {
        while self.count <= 56 {
            let Some(&byte) = self.input.get(self.pos) else {
                break;
            };
            self.bits |= u64::from(byte) << self.count;
            self.pos += 1;
            self.count += 8;
        }
    }

    /// The next `n` bits (at most 32) without consuming them, zeros past the end.
    #[inline]
    fn peek(&mut self, n: u32) -> u32 {
        if self.count < n {
            self.refill();
        }
        (self.bits & ((1u64 << n) - 1)) as u32
    }

    #[inline]
    fn consume(&mut self, n: u32) -> Result<(), String> {
        if n > self.count {
            return Err("the deflate stream is truncated".into());
        }
        self.bits >>= n;
        self.count -= n;
        Ok(())
    }

    #[inline]
    fn take(&mut self, n: u32) -> Result<u32, String> {
        let v = self.peek(n);
        self.consume(n)?;
        Ok(v)
    }

    /// Drops the bits up to the next byte boundary and hands back the unread bytes'
    /// position, emptying the bit buffer.
    fn align(&mut self) -> usize {
        let whole = (self.count / 8) as usize;
        self.bits = 0;
        self.count = 0;
        self.pos -= whole;
        self.pos
    }
}

/// A canonical Huffman code as a lookup table indexed by the next `bits` input bits:
/// each entry is `(symbol, code length)`, length 0 where no code matches.
struct Huffman {
    table: Vec<(u16, u8)>,
    bits: u32,
}

impl Huffman {
    /// The code with these code lengths (0: symbol unused). Over-subscribed lengths are
    /// refused; an incomplete code is accepted and its unused bit patterns are errors
    /// when met.
    fn new(lengths: &[u8]) -> Result<Huffman, String> {
        let mut count = [0u16; MAX_BITS + 1];
        for &len in lengths {
            let len = usize::from(len);
            if len > MAX_BITS {
                return Err("a code length exceeds 15".into());
            }
            count[len] += 1;
        }
        count[0] = 0;
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return Err("over-subscribed Huffman code".into());
            }
        }
        let bits = (1..=MAX_BITS)
            .rev()
            .find(|&len| count[len] > 0)
            .unwrap_or(1);
        let mut next = [0u16; MAX_BITS + 2];
        let mut code = 0u16;
        for len in 1..=MAX_BITS {
            code = (code + count[len - 1]) << 1;
            next[len] = code;
        }
        let mut table = vec![(0u16, 0u8); 1 << bits];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let l = usize::from(len);
            let code = next[l];
            next[l] += 1;
            let mut reversed = 0usize;
            for i in 0..l {
                reversed = (reversed << 1) | usize::from((code >> i) & 1);
            }
            let entry = (u16::try_from(symbol).unwrap_or(u16::MAX), len);
            let mut at = reversed;
            while at < table.len() {
                table[at] = entry;
                at += 1 << l;
            }
        }
        Ok(Huffman {
            table,
            bits: bits as u32,
        })
    }

    #[inline]
    fn decode(&self, input: &mut BitReader<'_>) -> Result<u16, String> {
        let peeked = input.peek(self.bits) as usize;
        let (symbol, len) = self
            .table
            .get(peeked)
            .copied()
            .ok_or_else(|| "invalid Huffman code".to_owned())?;
        if len == 0 {
            return Err(if input.count < self.bits {
                "the deflate stream is truncated".into()
            } else {
                "invalid Huffman code".into()
            });
        }
        input.consume(u32::from(len))?;
        Ok(symbol)
    }
}

fn fixed_codes() -> Result<(Huffman, Huffman), String> {
    let mut lengths = [0u8; 288];
    for (symbol, len) in lengths.iter_mut().enumerate() {
        *len = match symbol {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
    }
    Ok((Huffman::new(&lengths)?, Huffman::new(&[5u8; 30])?))
}

fn dynamic_codes(input: &mut BitReader<'_>) -> Result<(Huffman, Huffman), String> {
    let literals = input.take(5)? as usize + 257;
    let distances = input.take(5)? as usize + 1;
    let code_lengths = input.take(4)? as usize + 4;
    if literals > 286 || distances > 30 {
        return Err("too many length or distance symbols".into());
    }
    let mut cl_lengths = [0u8; 19];
    for &symbol in &CODE_LENGTH_ORDER[..code_lengths] {
        cl_lengths[symbol] = input.take(3)? as u8;
    }
    let cl = Huffman::new(&cl_lengths)?;
    let mut lengths = [0u8; 286 + 30];
    let total = literals + distances;
    let mut i = 0;
    while i < total {
        let symbol = cl.decode(input)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => {
                let previous = i
                    .checked_sub(1)
                    .and_then(|p| lengths.get(p))
                    .copied()
                    .ok_or_else(|| "a repeat with no previous length".to_owned())?;
                (previous, 3 + input.take(2)? as usize)
            }
            17 => (0, 3 + input.take(3)? as usize),
            _ => (0, 11 + input.take(7)? as usize),
        };
        if i + repeat > total {
            return Err("code lengths run past their count".into());
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    if lengths[256] == 0 {
        return Err("no end-of-block code".into());
    }
    Ok((
        Huffman::new(&lengths[..literals])?,
        Huffman::new(&lengths[literals..total])?,
    ))
}

/// Inflates raw DEFLATE `input` (no zlib or gzip wrapper), refusing to produce more than
/// `limit` bytes. Bytes after the final block are ignored.
pub(crate) fn inflate(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    // DEFLATE expands at most about 1032:1, so a false `limit` cannot reserve much more.
    let mut out = Vec::with_capacity(limit.min(input.len().saturating_mul(1032)));
    let mut reader = BitReader {
        input,
        pos: 0,
        bits: 0,
        count: 0,
    };
    loop {
        let last = reader.take(1)? == 1;
        match reader.take(2)? {
            0 => {
                let at = reader.align();
                let header = input
                    .get(at..at + 4)
                    .ok_or_else(|| "the deflate stream is truncated".to_owned())?;
                let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
                let nlen = u16::from_le_bytes([header[2], header[3]]);
                if usize::from(!nlen) != len {
                    return Err("a stored block's length does not match its complement".into());
                }
                let data = input
                    .get(at + 4..at + 4 + len)
                    .ok_or_else(|| "the deflate stream is truncated".to_owned())?;
                if out.len() + len > limit {
                    return Err(format!("inflates to more than {limit} bytes"));
                }
                out.extend_from_slice(data);
                reader.pos = at + 4 + len;
            }
            1 => {
                let (literal, distance) = fixed_codes()?;
                codes(&mut reader, &literal, &distance, &mut out, limit)?;
            }
            2 => {
                let (literal, distance) = dynamic_codes(&mut reader)?;
                codes(&mut reader, &literal, &distance, &mut out, limit)?;
            }
            _ => return Err("invalid block type 3".into()),
        }
        if last {
            return Ok(out);
        }
    }
}

/// The compressed data of one Huffman block, up to and including its end-of-block code.
fn codes(
    input: &mut BitReader<'_>,
    literal: &Huffman,
    distance: &Huffman,
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), String> {
    loop {
        let symbol = literal.decode(input)?;
        match symbol {
            0..=255 => {
                if out.len() >= limit {
                    return Err(format!("inflates to more than {limit} bytes"));
                }
                out.push(symbol as u8);
            }
            256 => return Ok(()),
            _ => {
                let index = usize::from(symbol - 257);
                let (&base, &extra) = LENGTH_BASE
                    .get(index)
                    .zip(LENGTH_EXTRA.get(index))
                    .ok_or_else(|| format!("invalid length symbol {symbol}"))?;
                let len = usize::from(base) + input.take(u32::from(extra))? as usize;
                let d = usize::from(distance.decode(input)?);
                let (&base, &extra) = DIST_BASE
                    .get(d)
                    .zip(DIST_EXTRA.get(d))
                    .ok_or_else(|| format!("invalid distance symbol {d}"))?;
                let dist = usize::from(base) + input.take(u32::from(extra))? as usize;
                if dist > out.len() {
                    return Err("a distance reaches before the start of the data".into());
                }
                if out.len() + len > limit {
                    return Err(format!("inflates to more than {limit} bytes"));
                }
                let start = out.len() - dist;
                if dist >= len {
                    out.extend_from_within(start..start + len);
                } else {
                    for i in 0..len {
                        let byte = out[start + i];
                        out.push(byte);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::deflate;

    /// zlib 9, raw: "hello hello hello hello" (one fixed block).
    const HELLO_FIXED: [u8; 10] = [203, 72, 205, 201, 201, 87, 200, 64, 39, 1];
    const PANGRAMS: &[u8] = b"The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs! How vexingly quick daft zebras jump; the five boxing wizards jump quickly. 0123456789 abcdefghijklmnopqrstuvwxyz";
    /// zlib 9, raw: [`PANGRAMS`] (one dynamic block).
    const PANGRAMS_DYNAMIC: [u8; 147] = [
        45, 141, 73, 18, 131, 32, 0, 4, 191, 50, 249, 64, 42, 251, 82, 249, 64, 142, 57, 228, 3,
        32, 139, 40, 130, 34, 139, 240, 250, 80, 154, 115, 247, 244, 124, 91, 142, 41, 168, 166, 7,
        117, 54, 25, 8, 187, 160, 11, 195, 56, 195, 70, 238, 224, 43, 214, 164, 100, 48, 43, 247,
        248, 144, 234, 13, 25, 180, 74, 73, 249, 22, 66, 69, 94, 81, 225, 6, 90, 77, 193, 186, 186,
        149, 243, 14, 111, 155, 16, 249, 162, 140, 212, 249, 159, 103, 68, 120, 20, 78, 29, 153,
        215, 131, 215, 218, 94, 3, 53, 87, 205, 90, 44, 196, 177, 141, 110, 35, 157, 247, 56, 28,
        79, 231, 203, 245, 118, 127, 60, 65, 104, 195, 184, 144, 173, 234, 122, 61, 24, 59, 78,
        110, 246, 33, 166, 37, 151, 31,
    ];

    /// Deterministic pseudo-random bytes (xorshift64).
    fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn repetitive_bytes(len: usize) -> Vec<u8> {
        let text = b"<row r=\"7\"><c r=\"A7\" t=\"inlineStr\"><is><t>2026-11-22</t></is></c>\
                     <c r=\"B7\"><v>150000</v></c></row>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let mut out: Vec<u8> = text.iter().copied().cycle().take(len).collect();
        // A few changing bytes so the matches vary in length and distance.
        for (i, byte) in out.iter_mut().enumerate().step_by(997) {
            *byte = (i % 251) as u8;
        }
        out
    }

    #[test]
    fn known_zlib_streams_inflate() {
        assert_eq!(
            inflate(&HELLO_FIXED, 100).as_deref(),
            Ok(&b"hello hello hello hello"[..])
        );
        assert_eq!((PANGRAMS_DYNAMIC[0] >> 1) & 3, 2, "a dynamic block");
        assert_eq!(inflate(&PANGRAMS_DYNAMIC, 1000).as_deref(), Ok(PANGRAMS));
        // A stored block, then a final fixed block: "abc" + "hello hello hello hello".
        let mut stored = vec![0u8, 3, 0, 0xFC, 0xFF, b'a', b'b', b'c'];
        stored.extend_from_slice(&HELLO_FIXED);
        assert_eq!(
            inflate(&stored, 100).as_deref(),
            Ok(&b"abchello hello hello hello"[..])
        );
    }

    #[test]
    fn round_trips_random_and_repetitive_data_of_many_sizes() {
        for size in [
            0, 1, 2, 3, 4, 7, 258, 259, 260, 1000, 32_767, 32_768, 32_769, 65_536, 100_000,
            1_000_000,
        ] {
            for (kind, data) in [
                ("random", random_bytes(size, size as u64 + 7)),
                ("repetitive", repetitive_bytes(size)),
                ("zeros", vec![0u8; size]),
            ] {
                let packed = deflate(&data);
                let back = inflate(&packed, size).unwrap_or_else(|e| panic!("{kind} {size}: {e}"));
                assert!(back == data, "{kind} {size} differs");
                if kind != "random" && size >= 1000 {
                    assert!(packed.len() * 5 < size, "{kind} {size}: {}", packed.len());
                }
            }
        }
    }

    #[test]
    fn output_beyond_the_limit_is_refused() {
        let data = vec![b'x'; 10_000];
        let packed = deflate(&data);
        assert!(inflate(&packed, 10_000).is_ok());
        assert_eq!(
            inflate(&packed, 9_999),
            Err("inflates to more than 9999 bytes".into())
        );
        assert!(inflate(&HELLO_FIXED, 22).is_err());
        let stored = [1u8, 3, 0, 0xFC, 0xFF, b'a', b'b', b'c'];
        assert!(inflate(&stored, 2).is_err());
    }

    #[test]
    fn malformed_and_truncated_streams_are_errors() {
        assert!(inflate(&[], 10).is_err());
        assert_eq!(inflate(&[0x07], 10), Err("invalid block type 3".into()));
        // Stored block whose complement is wrong.
        assert!(inflate(&[1, 3, 0, 0, 0, b'a', b'b', b'c'], 10).is_err());
        // Fixed block whose first code is a match with nothing before it.
        assert_eq!(
            inflate(&[0x03, 0x02], 10),
            Err("a distance reaches before the start of the data".into())
        );
        for cut in 0..HELLO_FIXED.len() {
            assert!(inflate(&HELLO_FIXED[..cut], 100).is_err(), "cut at {cut}");
        }
        for cut in 0..PANGRAMS_DYNAMIC.len() {
            assert!(
                inflate(&PANGRAMS_DYNAMIC[..cut], 1000).is_err(),
                "cut at {cut}"
            );
        }
        let big = deflate(&repetitive_bytes(50_000));
        for cut in (0..big.len()).step_by(37) {
            assert!(inflate(&big[..cut], 50_000).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut accepted = 0;
        for seed in 0..3000u64 {
            let garbage = random_bytes(1 + (seed as usize % 300), seed * 31 + 1);
            if inflate(&garbage, 100_000).is_ok() {
                accepted += 1;
            }
        }
        // Almost every random stream is malformed somewhere.
        assert!(accepted < 300, "{accepted} accepted");
        // Flipped bits in a real stream: an error or other bytes, never a panic.
        let packed = deflate(&repetitive_bytes(20_000));
        for i in (0..packed.len()).step_by(13) {
            let mut bad = packed.clone();
            bad[i] ^= 0x5A;
            let _ = inflate(&bad, 20_000);
        }
    }
}
