//! The table every format is written from, and the text normalisation all three share.

use crate::error::RowError;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// Text cells (left-aligned).
    Text,
    /// Integer cells, e.g. whole rupiah (right-aligned, numbers in a spreadsheet).
    Integer,
}

/// A column: its name (the header cell) and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The header text.
    pub name: String,
    /// What its cells hold.
    pub kind: ColumnKind,
}

impl Column {
    /// A text column.
    pub fn text(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            kind: ColumnKind::Text,
        }
    }

    /// An integer column.
    pub fn integer(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            kind: ColumnKind::Integer,
        }
    }
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Text (normalised when the row is pushed).
    Text(String),
    /// An integer.
    Integer(i64),
    /// Nothing.
    Empty,
}

impl Cell {
    /// A text cell.
    pub fn text(text: impl Into<String>) -> Cell {
        Cell::Text(text.into())
    }

    /// The cell as the readers give it back: digits for an integer, the text, or `""`.
    pub fn display(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Integer(n) => n.to_string(),
            Cell::Empty => String::new(),
        }
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Integer(n)
    }
}

impl From<Option<i64>> for Cell {
    fn from(n: Option<i64>) -> Cell {
        n.map_or(Cell::Empty, Cell::Integer)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_owned())
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<Option<String>> for Cell {
    fn from(text: Option<String>) -> Cell {
        text.map_or(Cell::Empty, Cell::Text)
    }
}

/// A report: title, optional subtitle (e.g. `2026-11-21, Asia/Jakarta`), columns and rows.
///
/// Built with [`Table::new`] and [`Table::push_row`], which normalise every text and check
/// that each row has one cell per column, each of its column's kind or empty; the writers
/// rely on both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    title: String,
    subtitle: Option<String>,
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table.
    pub fn new(title: &str, columns: Vec<Column>) -> Table {
        Table {
            title: normalise(title),
            subtitle: None,
            columns: columns
                .into_iter()
                .map(|c| Column {
                    name: normalise(&c.name),
                    kind: c.kind,
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    /// The table with a subtitle.
    #[must_use]
    pub fn with_subtitle(mut self, subtitle: &str) -> Table {
        self.subtitle = Some(normalise(subtitle));
        self
    }

    /// Adds a row: one cell per column, each of its column's kind or [`Cell::Empty`];
    /// texts are normalised (see [`normalise`]).
    pub fn push_row(&mut self, cells: Vec<Cell>) -> Result<(), RowError> {
        if cells.len() != self.columns.len() {
            return Err(RowError::Width {
                expected: self.columns.len(),
                got: cells.len(),
            });
        }
        let mut row = Vec::with_capacity(cells.len());
        for (cell, column) in cells.into_iter().zip(&self.columns) {
            let cell = match (cell, column.kind) {
                (Cell::Text(t), ColumnKind::Text) => Cell::Text(normalise(&t)),
                (Cell::Integer(n), ColumnKind::Integer) => Cell::Integer(n),
                (Cell::Empty, _) => Cell::Empty,
                _ => {
                    return Err(RowError::Kind {
                        column: column.name.clone(),
                        expected: column.kind,
                    });
                }
            };
            row.push(cell);
        }
        self.rows.push(row);
        Ok(())
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The subtitle.
    pub fn subtitle(&self) -> Option<&str> {
        self.subtitle.as_deref()
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The rows.
    pub fn rows(&self) -> &[Vec<Cell>] {
        &self.rows
    }

    /// The number of rows (the header not counted).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The header and the rows as display text: what every reader gives back.
    pub fn display_rows(&self) -> Vec<Vec<String>> {
        let mut out = Vec::with_capacity(self.rows.len() + 1);
        out.push(self.columns.iter().map(|c| c.name.clone()).collect());
        out.extend(
            self.rows
                .iter()
                .map(|row| row.iter().map(Cell::display).collect()),
        );
        out
    }
}

/// The text as every format writes it: CR, LF (CRLF once) and TAB become a space, other
/// control characters are removed, and characters outside Windows-1252 (WinAnsi, the
/// encoding of the PDF's built-in fonts) become `?` — in all three formats, so that the
/// rows read back from each are equal.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(' ');
            }
            '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c if to_winansi(c).is_some() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// Windows-1252 code points 0x80..=0x9F (`None`: undefined there).
const WINANSI_HIGH: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{0192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02C6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02DC}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203A}'),
    Some('\u{0153}'),
    None,
    Some('\u{017E}'),
    Some('\u{0178}'),
];

/// The WinAnsi byte of a printable character, if it has one.
pub(crate) fn to_winansi(c: char) -> Option<u8> {
    let code = u32::from(c);
    match code {
        0x20..=0x7E | 0xA0..=0xFF => u8::try_from(code).ok(),
        _ => WINANSI_HIGH
            .iter()
            .position(|w| *w == Some(c))
            .and_then(|i| u8::try_from(0x80 + i).ok()),
    }
}

/// The character of a WinAnsi byte (`?` for the five undefined ones).
pub(crate) fn from_winansi(byte: u8) -> char {
    match byte {
        0x80..=0x9F => WINANSI_HIGH[usize::from(byte - 0x80)].unwrap_or('?'),
        b => char::from(b),
    }
}

/// An integer with `,` between thousands: `-1,234,567`.
pub(crate) fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Tables the format tests write and read back.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// Commas, quotes, line breaks, formula starts, non-ASCII, negative and large
    /// integers, empty cells.
    pub(crate) fn awkward() -> Table {
        let mut t = Table::new(
            "Transactions 2026-11-21",
            vec![
                Column::text("kind"),
                Column::text("reference"),
                Column::integer("amount"),
                Column::text("note"),
            ],
        )
        .with_subtitle("2026-11-21, Asia/Jakarta");
        let rows: Vec<Vec<Cell>> = vec![
            vec![
                "payment".into(),
                "INV,1 \"quoted\"".into(),
                Cell::Integer(1_234_567),
                "line one\nline two\r\nthree\tfour".into(),
            ],
            vec![
                "bill_payment".into(),
                "=HYPERLINK(\"http://x\")".into(),
                Cell::Integer(-5_000),
                "+62 and -minus and @at".into(),
            ],
            vec![
                "virtual_account".into(),
                "'quoted start".into(),
                Cell::Integer(i64::MAX),
                "café Rp 10.000 € – 😀 (paren) \\ back".into(),
            ],
            vec![
                Cell::Empty,
                "".into(),
                Cell::Empty,
                "trailing space ".into(),
            ],
            vec![
                "x".into(),
                "  two  spaces".into(),
                Cell::Integer(i64::MIN),
                "Page 1 of 2".into(),
            ],
            vec!["0".into(), "007".into(), Cell::Integer(0), "1,234".into()],
        ];
        for row in rows {
            t.push_row(row).expect("fits the columns");
        }
        t
    }

    /// `n` plain rows.
    pub(crate) fn numbered(n: usize) -> Table {
        let mut t = Table::new(
            "Numbered",
            vec![
                Column::text("id"),
                Column::text("status"),
                Column::integer("amount"),
            ],
        );
        for i in 0..n {
            t.push_row(vec![
                format!("va_{i:05}").into(),
                if i % 3 == 0 { "paid" } else { "pending" }.into(),
                Cell::Integer(i as i64 * 1_000 - 7),
            ])
            .expect("fits the columns");
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_tabs_become_spaces_and_controls_go() {
        assert_eq!(normalise("a\r\nb\nc\rd\te"), "a b c d e");
        assert_eq!(normalise("bell\u{7}del\u{7f}c1\u{85}"), "belldelc1");
    }

    #[test]
    fn characters_outside_winansi_become_question_marks() {
        assert_eq!(normalise("café Rp € – ‘x’"), "café Rp € – ‘x’");
        assert_eq!(normalise("😀 中 Ā"), "? ? ?");
    }

    #[test]
    fn winansi_maps_both_ways() {
        for byte in 0x20u8..=0xFF {
            let c = from_winansi(byte);
            if byte == 0x7F || (0x80..=0x9F).contains(&byte) && c == '?' {
                continue;
            }
            assert_eq!(to_winansi(c), Some(byte), "byte {byte:#x}");
        }
        assert_eq!(to_winansi('€'), Some(0x80));
        assert_eq!(to_winansi('😀'), None);
    }

    #[test]
    fn thousands_separators_cover_the_whole_range() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn rows_must_fit_the_columns() {
        let mut t = Table::new("t", vec![Column::text("a"), Column::integer("n")]);
        assert_eq!(
            t.push_row(vec!["x".into()]),
            Err(RowError::Width {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            t.push_row(vec![Cell::Integer(1), Cell::Integer(1)]),
            Err(RowError::Kind {
                column: "a".into(),
                expected: ColumnKind::Text
            })
        );
        assert!(t.push_row(vec![Cell::Empty, Cell::Empty]).is_ok());
        assert!(t.push_row(vec!["a\nb".into(), 5.into()]).is_ok());
        assert_eq!(t.rows()[1][0], Cell::Text("a b".into()));
        assert_eq!(
            t.display_rows(),
            vec![vec!["a", "n"], vec!["", ""], vec!["a b", "5"]]
        );
    }
}
