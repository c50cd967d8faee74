//! Character widths of the built-in Helvetica and Helvetica-Bold (Adobe's AFM files, in
//! 1/1000 of the font size) for ASCII 32..=126; every other character counts 556.

/// Helvetica, ASCII 32..=126 (WinAnsi: 39 is `quotesingle`, 96 `grave`).
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 32-47
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 48-63
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 64-79
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 80-95
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 96-111
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 112-126
];

/// Helvetica-Bold, ASCII 32..=126.
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // 32-47
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 48-63
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 64-79
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 80-95
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 96-111
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // 112-126
];

/// Width of other characters.
const OTHER: u16 = 556;

/// The width of `text` in points at `size`.
pub(crate) fn width(text: &str, bold: bool, size: f64) -> f64 {
    let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
    let units: u32 = text
        .chars()
        .map(|c| {
            let code = u32::from(c);
            if (32..=126).contains(&code) {
                u32::from(table[(code - 32) as usize])
            } else {
                u32::from(OTHER)
            }
        })
        .sum();
    f64::from(units) * size / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_come_from_the_afm_tables() {
        // P 667 + a 556 + g 556 + e 556 = 2335 units.
        assert!((width("Page", false, 10.0) - 23.35).abs() < 1e-9);
        // Bold: P 667 + a 556 + g 611 + e 556 = 2390 units.
        assert!((width("Page", true, 10.0) - 23.90).abs() < 1e-9);
        assert!((width("'`~", false, 1000.0) - 1108.0).abs() < 1e-9);
        assert!((width("é😀", false, 1.0) - 1.112).abs() < 1e-9);
    }
}
