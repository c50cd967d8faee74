//! A zip container: the writer for the workbook, which deflates its entries (method 8,
//! [`crate::deflate`]) and stores (method 0) only those under [`STORE_BELOW`] bytes or
//! that would not shrink, and a reader for stored and deflated entries
//! ([`crate::inflate`]). Entries carry a fixed time (1980-01-01 00:00) so that the same
//! table always gives the same bytes. No Zip64: an entry or the archive must stay under
//! 4 GiB and 65,535 entries (a workbook has seven).

use crate::deflate::deflate;
use crate::error::ReadError;
use crate::inflate::inflate;

/// Entries shorter than this are stored: deflating them saves next to nothing.
pub(crate) const STORE_BELOW: usize = 64;

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zip uses it.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = CRC_TABLE[usize::from((crc as u8) ^ byte)] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
/// 1980-01-01 in MS-DOS date format (time 00:00:00 is 0).
const DOS_DATE: u16 = (1 << 5) | 1;

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Sizes and offsets as zip's 32-bit fields (saturating: see the module's limits).
fn size32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn size16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Builds a zip of deflated (and, when tiny, stored) entries.
#[derive(Debug, Default)]
pub(crate) struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: usize,
}

impl ZipWriter {
    /// Adds an entry, deflated unless it is shorter than [`STORE_BELOW`] bytes or
    /// deflating would not make it smaller.
    pub(crate) fn add(&mut self, name: &str, data: &[u8]) {
        let crc = crc32(data);
        let offset = size32(self.out.len());
        let packed = (data.len() >= STORE_BELOW)
            .then(|| deflate(data))
            .filter(|packed| packed.len() < data.len());
        let (method, body) = match &packed {
            Some(packed) => (8, packed.as_slice()),
            None => (0, data),
        };
        let mut common = Vec::with_capacity(26);
        u16le(&mut common, 20); // version needed: 2.0 (deflate)
        u16le(&mut common, 0); // flags
        u16le(&mut common, method); // 8: deflated, 0: stored
        u16le(&mut common, 0); // time
        u16le(&mut common, DOS_DATE);
        u32le(&mut common, crc);
        u32le(&mut common, size32(body.len())); // compressed size
        u32le(&mut common, size32(data.len())); // uncompressed size
        u16le(&mut common, size16(name.len()));
        u16le(&mut common, 0); // extra field length

        u32le(&mut self.out, LOCAL);
        self.out.extend_from_slice(&common);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(body);

        u32le(&mut self.central, CENTRAL);
        u16le(&mut self.central, 20); // version made by: 2.0, MS-DOS
        self.central.extend_from_slice(&common);
        u16le(&mut self.central, 0); // comment length
        u16le(&mut self.central, 0); // disk number
        u16le(&mut self.central, 0); // internal attributes
        u32le(&mut self.central, 0); // external attributes
        u32le(&mut self.central, offset);
        self.central.extend_from_slice(name.as_bytes());
        self.entries += 1;
    }

    /// The archive: entries, central directory, end record.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let offset = size32(self.out.len());
        let size = size32(self.central.len());
        self.out.extend_from_slice(&self.central);
        u32le(&mut self.out, END);
        u16le(&mut self.out, 0); // this disk
        u16le(&mut self.out, 0); // disk with the central directory
        u16le(&mut self.out, size16(self.entries));
        u16le(&mut self.out, size16(self.entries));
        u32le(&mut self.out, size);
        u32le(&mut self.out, offset);
        u16le(&mut self.out, 0); // comment length
        self.out
    }
}

fn read_u16(bytes: &[u8], at: usize) -> Result<u16, ReadError> {
    bytes
        .get(at..at + 2)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_le_bytes)
        .ok_or_else(|| ReadError::Zip("truncated".into()))
}

fn read_u32(bytes: &[u8], at: usize) -> Result<u32, ReadError> {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| ReadError::Zip("truncated".into()))
}

fn index(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The entries of a zip, in central-directory order: `(name, data)`. Stored (0) and
/// deflated (8) entries are read (any other method is
/// [`ReadError::UnsupportedCompression`]); a deflated entry must inflate to exactly its
/// declared uncompressed size, and each must match its CRC-32.
pub(crate) fn read(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ReadError> {
    let end = (0..=bytes.len().saturating_sub(22))
        .rev()
        .take(22 + 65_535)
        .find(|&at| read_u32(bytes, at) == Ok(END))
        .ok_or_else(|| ReadError::Zip("no end of central directory record".into()))?;
    let count = usize::from(read_u16(bytes, end + 10)?);
    let mut at = index(read_u32(bytes, end + 16)?);
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        if read_u32(bytes, at)? != CENTRAL {
            return Err(ReadError::Zip("bad central directory header".into()));
        }
        let method = read_u16(bytes, at + 10)?;
        let crc = read_u32(bytes, at + 16)?;
        let size = index(read_u32(bytes, at + 20)?);
        let uncompressed = index(read_u32(bytes, at + 24)?);
        let name_len = usize::from(read_u16(bytes, at + 28)?);
        let extra_len = usize::from(read_u16(bytes, at + 30)?);
        let comment_len = usize::from(read_u16(bytes, at + 32)?);
        let local = index(read_u32(bytes, at + 42)?);
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .ok_or_else(|| ReadError::Zip("truncated".into()))?;
        at += 46 + name_len + extra_len + comment_len;
        if method != 0 && method != 8 {
            return Err(ReadError::UnsupportedCompression { name, method });
        }
        if read_u32(bytes, local)? != LOCAL {
            return Err(ReadError::Zip(format!("bad local header for {name}")));
        }
        let start = local
            + 30
            + usize::from(read_u16(bytes, local + 26)?)
            + usize::from(read_u16(bytes, local + 28)?);
        let raw = bytes
            .get(start..start.saturating_add(size))
            .ok_or_else(|| ReadError::Zip(format!("{name} is truncated")))?;
        let data = if method == 8 {
            let data = inflate(raw, uncompressed)
                .map_err(|message| ReadError::Zip(format!("{name}: {message}")))?;
            if data.len() != uncompressed {
                return Err(ReadError::Zip(format!(
                    "{name} inflates to {} bytes, not its declared {uncompressed}",
                    data.len()
                )));
            }
            data
        } else {
            raw.to_vec()
        };
        if crc32(&data) != crc {
            return Err(ReadError::Crc { name });
        }
        entries.push((name, data));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_answer() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn entries_round_trip_and_corruption_is_caught() {
        let mut zip = ZipWriter::default();
        zip.add("a.txt", b"hello");
        zip.add("dir/b.xml", b"<x/>");
        zip.add("empty", b"");
        let mut bytes = zip.finish();
        let entries = read(&bytes).expect("reads");
        assert_eq!(
            entries,
            vec![
                ("a.txt".to_owned(), b"hello".to_vec()),
                ("dir/b.xml".to_owned(), b"<x/>".to_vec()),
                ("empty".to_owned(), Vec::new()),
            ]
        );
        bytes[30 + 5] = b'j'; // "hello" -> "jello"
        assert_eq!(
            read(&bytes),
            Err(ReadError::Crc {
                name: "a.txt".into()
            })
        );
    }

    /// The central header's offset of the first entry.
    fn central(bytes: &[u8]) -> usize {
        bytes
            .windows(4)
            .position(|w| w == CENTRAL.to_le_bytes())
            .expect("a central header")
    }

    #[test]
    fn other_methods_are_refused_by_name() {
        let mut zip = ZipWriter::default();
        zip.add("xl/workbook.xml", b"<workbook/>");
        let mut bytes = zip.finish();
        let central = central(&bytes);
        bytes[central + 10] = 12; // bzip2
        assert_eq!(
            read(&bytes),
            Err(ReadError::UnsupportedCompression {
                name: "xl/workbook.xml".into(),
                method: 12
            })
        );
        assert!(matches!(read(b"not a zip"), Err(ReadError::Zip(_))));
    }

    #[test]
    fn long_entries_are_deflated_and_read_back() {
        let sheet: Vec<u8> = b"<row><c t=\"inlineStr\"><is><t>VA-BNI</t></is></c></row>"
            .iter()
            .copied()
            .cycle()
            .take(50_000)
            .collect();
        let mut zip = ZipWriter::default();
        zip.add("xl/worksheets/sheet1.xml", &sheet);
        zip.add("short", b"tiny");
        let bytes = zip.finish();
        assert!(bytes.len() < 5_000, "{} bytes", bytes.len());
        assert_eq!(read_u16(&bytes, 8), Ok(8), "the long entry is deflated");
        assert_eq!(read_u16(&bytes, 4), Ok(20), "version needed 2.0");
        assert_eq!(
            read(&bytes),
            Ok(vec![
                ("xl/worksheets/sheet1.xml".to_owned(), sheet.clone()),
                ("short".to_owned(), b"tiny".to_vec()),
            ])
        );

        // A declared uncompressed size too small: refused before it is exceeded.
        let mut smaller = bytes.clone();
        let at = central(&smaller) + 24;
        smaller[at..at + 4].copy_from_slice(&49_999u32.to_le_bytes());
        assert_eq!(
            read(&smaller),
            Err(ReadError::Zip(
                "xl/worksheets/sheet1.xml: inflates to more than 49999 bytes".into()
            ))
        );
        // Too large: the data ends short of it.
        let mut larger = bytes.clone();
        larger[at..at + 4].copy_from_slice(&50_001u32.to_le_bytes());
        assert_eq!(
            read(&larger),
            Err(ReadError::Zip(
                "xl/worksheets/sheet1.xml inflates to 50000 bytes, not its declared 50001".into()
            ))
        );
        // Damaged deflate data: an error, not a panic.
        for i in 30 + 24..30 + 24 + 40 {
            let mut bad = bytes.clone();
            bad[i] ^= 0xFF;
            assert!(read(&bad).is_err(), "byte {i}");
        }
    }
}
