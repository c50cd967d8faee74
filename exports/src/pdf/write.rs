//! The writer: layout (font size, column widths, wrapping), pagination, then the objects.

use std::fmt::Write as _;

use super::metrics::width;
use crate::table::{Cell, ColumnKind, Table, thousands, to_winansi};

/// A4 landscape, in points.
pub(crate) const PAGE_WIDTH: f64 = 842.0;
pub(crate) const PAGE_HEIGHT: f64 = 595.0;
const MARGIN: f64 = 36.0;
/// Body font sizes: from 8 pt down to 5 pt in half points.
const LARGEST: f64 = 8.0;
const SHRINK_STEPS: u32 = 6;
const PAD_X: f64 = 3.0;
const PAD_Y: f64 = 2.0;
/// A cell's horizontal padding, both sides.
const PADDING_X: f64 = PAD_X + PAD_X;
/// The width tables may take on an A4 page.
const USABLE: f64 = PAGE_WIDTH - MARGIN - MARGIN;
/// Line height as a multiple of the font size.
const LEADING: f64 = 1.2;
/// The first baseline below the top of a row, as a multiple of the font size.
const ASCENT: f64 = 0.9;
const TITLE_SIZE: f64 = 14.0;
const SUBTITLE_SIZE: f64 = 10.0;
const FOOTER_SIZE: f64 = 8.0;
const FOOTER_BASELINE: f64 = 20.0;
/// Space between the title block and the table.
const TITLE_GAP: f64 = 8.0;
const EPSILON: f64 = 1e-6;

/// Font resource names.
const REGULAR: &str = "F1";
const BOLD: &str = "F2";

/// The font size and column widths chosen for a table.
#[derive(Debug)]
struct Layout {
    size: f64,
    widths: Vec<f64>,
    page_width: f64,
}

/// What a cell shows: the text, digits with separators, or nothing.
fn shown(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => t.clone(),
        Cell::Integer(n) => thousands(*n),
        Cell::Empty => String::new(),
    }
}

/// Per column at `size`: the widest word and the widest whole text, padding included.
fn measure(table: &Table, size: f64) -> (Vec<f64>, Vec<f64>) {
    let mut words = Vec::with_capacity(table.columns().len());
    let mut whole = Vec::with_capacity(table.columns().len());
    for (i, column) in table.columns().iter().enumerate() {
        let mut word = widest_word(&column.name, true, size);
        let mut text = width(&column.name, true, size);
        for row in table.rows() {
            let value = shown(&row[i]);
            word = word.max(widest_word(&value, false, size));
            text = text.max(width(&value, false, size));
        }
        words.push(word + PADDING_X);
        whole.push(text + PADDING_X);
    }
    (words, whole)
}

fn widest_word(text: &str, bold: bool, size: f64) -> f64 {
    text.split(' ')
        .map(|w| width(w, bold, size))
        .fold(0.0, f64::max)
}

/// The largest size at which every word fits a column of a page-wide table; widths in
/// proportion to how much more than their longest word each column wants.
fn layout(table: &Table) -> Layout {
    let usable = USABLE;
    let mut last = (LARGEST, Vec::new());
    for step in 0..=SHRINK_STEPS {
        let size = (-0.5f64).mul_add(f64::from(step), LARGEST);
        let (min, natural) = measure(table, size);
        let (min_total, natural_total): (f64, f64) = (min.iter().sum(), natural.iter().sum());
        if natural_total <= usable + EPSILON {
            return Layout {
                size,
                widths: natural,
                page_width: PAGE_WIDTH,
            };
        }
        if min_total <= usable + EPSILON {
            let spare = (usable - min_total) / (natural_total - min_total);
            let widths = min
                .iter()
                .zip(&natural)
                .map(|(lo, hi)| lo + (hi - lo) * spare)
                .collect();
            return Layout {
                size,
                widths,
                page_width: PAGE_WIDTH,
            };
        }
        last = (size, min);
    }
    let (size, widths) = last;
    let page_width = widths.iter().sum::<f64>() + MARGIN + MARGIN;
    Layout {
        size,
        widths,
        page_width,
    }
}

/// Lines of at most `room` points, broken at single spaces only: joining the lines with
/// one space gives the text back. A word wider than `room` stands on its own line.
fn wrap(text: &str, room: f64, bold: bool, size: f64) -> Vec<String> {
    let space = width(" ", bold, size);
    let mut lines = Vec::new();
    let mut words = text.split(' ');
    let first = words.next().unwrap_or_default();
    let (mut line, mut used) = (first.to_owned(), width(first, bold, size));
    for word in words {
        let w = width(word, bold, size);
        if used + space + w <= room + EPSILON {
            line.push(' ');
            line.push_str(word);
            used += space + w;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
            used = w;
        }
    }
    lines.push(line);
    lines
}

/// One band of the table: each cell's lines, and the band's height.
#[derive(Debug)]
struct Band {
    cells: Vec<Vec<String>>,
    height: f64,
}

fn band(texts: Vec<String>, widths: &[f64], bold: bool, size: f64) -> Band {
    let cells: Vec<Vec<String>> = texts
        .into_iter()
        .zip(widths)
        .map(|(text, w)| {
            if text.is_empty() && !bold {
                Vec::new()
            } else {
                wrap(&text, w - PADDING_X, bold, size)
            }
        })
        .collect();
    let lines = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
    Band {
        cells,
        height: (lines as f64 * LEADING).mul_add(size, PAD_Y + PAD_Y),
    }
}

/// A page: its height and the rows on it.
#[derive(Debug)]
struct Page {
    height: f64,
    rows: std::ops::Range<usize>,
}

/// Splits the rows into pages below `first_top` (page 1, under the title) or the top
/// margin; a row too tall for a page of its own makes that page taller.
fn paginate(rows: &[Band], header: f64, first_top: f64) -> Vec<Page> {
    let room_below = |top: f64| top - MARGIN - header;
    let mut pages = Vec::new();
    let mut page = Page {
        height: PAGE_HEIGHT,
        rows: 0..0,
    };
    let mut room = room_below(first_top);
    for (i, row) in rows.iter().enumerate() {
        if row.height > room + EPSILON && !page.rows.is_empty() {
            pages.push(page);
            page = Page {
                height: PAGE_HEIGHT,
                rows: i..i,
            };
            room = room_below(PAGE_HEIGHT - MARGIN);
        }
        if row.height > room + EPSILON {
            page.height += row.height - room;
            room = row.height;
        }
        page.rows.end = i + 1;
        room -= row.height;
    }
    pages.push(page);
    pages
}

/// A number for a content stream: at most two decimals, no trailing zeros.
fn num(v: f64) -> String {
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" || text.is_empty() {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A literal string in WinAnsi: `( ) \` escaped, bytes outside printable ASCII in octal.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('(');
    for c in text.chars() {
        match to_winansi(c).unwrap_or(b'?') {
            b @ (b'(' | b')' | b'\\') => {
                out.push('\\');
                out.push(char::from(b));
            }
            b @ 0x20..=0x7E => out.push(char::from(b)),
            b => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push(')');
    out
}

/// A text string for the document information: UTF-16BE with its byte-order mark, in hex.
fn info_string(text: &str) -> String {
    let mut out = String::from("<FEFF");
    for unit in text.encode_utf16() {
        let _ = write!(out, "{unit:04X}");
    }
    out.push('>');
    out
}

/// One page's content stream.
#[derive(Debug, Default)]
struct Content(String);

impl Content {
    fn text(&mut self, font: &str, size: f64, x: f64, y: f64, text: &str) {
        let _ = writeln!(
            self.0,
            "BT /{font} {} Tf 1 0 0 1 {} {} Tm {} Tj ET",
            num(size),
            num(x),
            num(y),
            literal(text)
        );
    }

    fn rule(&mut self, from: f64, to: f64, y: f64, thickness: f64) {
        let _ = writeln!(
            self.0,
            "{} w {} {} m {} {} l S",
            num(thickness),
            num(from),
            num(y),
            num(to),
            num(y)
        );
    }

    /// Draws a band's cells below `top`.
    fn band(&mut self, band: &Band, table: &Table, layout: &Layout, top: f64, header: bool) {
        let font = if header { BOLD } else { REGULAR };
        let mut left = MARGIN;
        for ((lines, column), w) in band.cells.iter().zip(table.columns()).zip(&layout.widths) {
            for (k, line) in lines.iter().enumerate() {
                let below = (k as f64).mul_add(LEADING, ASCENT) * layout.size;
                let y = top - PAD_Y - below;
                let x = if !header && column.kind == ColumnKind::Integer {
                    left + w - PAD_X - width(line, false, layout.size)
                } else {
                    left + PAD_X
                };
                self.text(font, layout.size, x, y, line);
            }
            left += w;
        }
    }
}

/// The title and subtitle lines at the top of page 1; returns the top of the table.
fn title_block(content: &mut Content, table: &Table, layout: &Layout, page_height: f64) -> f64 {
    let room = layout.page_width - MARGIN - MARGIN;
    let mut y = page_height - MARGIN;
    let mut blocks = vec![(BOLD, TITLE_SIZE, table.title())];
    if let Some(subtitle) = table.subtitle() {
        blocks.push((REGULAR, SUBTITLE_SIZE, subtitle));
    }
    for (font, size, text) in blocks {
        for line in wrap(text, room, font == BOLD, size) {
            content.text(font, size, MARGIN, y - size, &line);
            y -= LEADING * size;
        }
    }
    y - TITLE_GAP
}

fn title_height(table: &Table, layout: &Layout) -> f64 {
    let room = layout.page_width - MARGIN - MARGIN;
    let mut height =
        wrap(table.title(), room, true, TITLE_SIZE).len() as f64 * LEADING * TITLE_SIZE;
    if let Some(subtitle) = table.subtitle() {
        height += wrap(subtitle, room, false, SUBTITLE_SIZE).len() as f64 * LEADING * SUBTITLE_SIZE;
    }
    height + TITLE_GAP
}

/// The table as a PDF document.
pub fn pdf(table: &Table) -> Vec<u8> {
    let layout = layout(table);
    let header = band(
        table.columns().iter().map(|c| c.name.clone()).collect(),
        &layout.widths,
        true,
        layout.size,
    );
    let rows: Vec<Band> = table
        .rows()
        .iter()
        .map(|row| {
            band(
                row.iter().map(shown).collect(),
                &layout.widths,
                false,
                layout.size,
            )
        })
        .collect();
    let first_top = PAGE_HEIGHT - MARGIN - title_height(table, &layout);
    let pages = paginate(&rows, header.height, first_top);
    let right = MARGIN + layout.widths.iter().sum::<f64>();
    let total = pages.len();
    let contents: Vec<(f64, String)> = pages
        .iter()
        .enumerate()
        .map(|(n, page)| {
            let mut content = Content::default();
            let mut top = if n == 0 {
                title_block(&mut content, table, &layout, page.height)
            } else {
                page.height - MARGIN
            };
            content.rule(MARGIN, right, top, 0.75);
            content.band(&header, table, &layout, top, true);
            top -= header.height;
            content.rule(MARGIN, right, top, 0.5);
            for row in &rows[page.rows.clone()] {
                content.band(row, table, &layout, top, false);
                top -= row.height;
                content.rule(MARGIN, right, top, 0.25);
            }
            let footer = format!("Page {} of {total}", n + 1);
            let x = layout.page_width - MARGIN - width(&footer, false, FOOTER_SIZE);
            content.text(REGULAR, FOOTER_SIZE, x, FOOTER_BASELINE, &footer);
            (page.height, content.0)
        })
        .collect();
    assemble(table, layout.page_width, &contents)
}

/// Objects: 1 catalog, 2 page tree, 3 and 4 fonts, 5 document information, then each
/// page and its content stream.
fn assemble(table: &Table, page_width: f64, pages: &[(f64, String)]) -> Vec<u8> {
    let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", 6 + 2 * i))
        .collect();
    object(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(
        &mut out,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .as_bytes(),
    );
    for name in ["Helvetica", "Helvetica-Bold"] {
        object(
            &mut out,
            format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>"
            )
            .as_bytes(),
        );
    }
    let kinds: Vec<&str> = table
        .columns()
        .iter()
        .map(|c| match c.kind {
            ColumnKind::Text => "text",
            ColumnKind::Integer => "integer",
        })
        .collect();
    let subject = table
        .subtitle()
        .map_or_else(String::new, |s| format!(" /Subject {}", info_string(s)));
    object(
        &mut out,
        format!(
            "<< /Title {}{subject} /Producer (exports) /ColumnKinds ({}) >>",
            info_string(table.title()),
            kinds.join(",")
        )
        .as_bytes(),
    );
    for (i, (height, content)) in pages.iter().enumerate() {
        object(
            &mut out,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /Font << /{REGULAR} 3 0 R /{BOLD} 4 0 R >> >> /Contents {} 0 R >>",
                num(page_width),
                num(*height),
                7 + 2 * i
            )
            .as_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        object(&mut out, &stream);
    }
    let xref = out.len();
    let mut table_text = format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1);
    for offset in &offsets {
        let _ = writeln!(table_text, "{offset:010} 00000 n ");
    }
    let _ = write!(
        table_text,
        "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    );
    out.extend_from_slice(table_text.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Column;

    #[test]
    fn wrapping_breaks_at_single_spaces_and_keeps_every_space() {
        let size = 8.0;
        let room = width("alpha beta", false, size);
        for text in ["alpha beta gamma delta", "a  b", "  lead", "trail  ", "one"] {
            let lines = wrap(text, room, false, size);
            assert_eq!(lines.join(" "), text);
            assert!(
                lines
                    .iter()
                    .all(|l| width(l, false, size) <= room + EPSILON || !l.contains(' '))
            );
        }
        assert_eq!(
            wrap("alpha beta gamma", room, false, size),
            vec!["alpha beta", "gamma"]
        );
    }

    #[test]
    fn narrow_tables_keep_their_natural_widths_at_8_pt() {
        let mut t = Table::new("t", vec![Column::text("id"), Column::integer("amount")]);
        t.push_row(vec!["va_1".into(), Cell::Integer(1_000_000)])
            .expect("fits");
        let l = layout(&t);
        assert!((l.size - 8.0).abs() < EPSILON);
        assert!((l.widths[1] - (width("1,000,000", false, 8.0) + PADDING_X)).abs() < EPSILON);
        assert!((l.page_width - PAGE_WIDTH).abs() < EPSILON);
    }

    #[test]
    fn long_text_wraps_within_the_page_width() {
        let mut t = Table::new("t", vec![Column::text("a"), Column::text("b")]);
        t.push_row(vec!["word ".repeat(300).into(), "short".into()])
            .expect("fits");
        let l = layout(&t);
        assert!((l.size - 8.0).abs() < EPSILON);
        assert!((l.widths.iter().sum::<f64>() - USABLE).abs() < 1e-3);
        let b = band(
            vec!["word ".repeat(300), "short".into()],
            &l.widths,
            false,
            l.size,
        );
        assert!(b.cells[0].len() > 1);
    }

    #[test]
    fn unbreakable_words_shrink_the_font_then_widen_the_page() {
        let columns: Vec<Column> = (0..12).map(|i| Column::text(format!("c{i}"))).collect();
        let mut shrunk = Table::new("t", columns.clone());
        shrunk
            .push_row(vec!["x".repeat(22).into(); 12])
            .expect("fits");
        let l = layout(&shrunk);
        assert!(l.size < 8.0 && l.size >= 5.0);
        assert!((l.page_width - PAGE_WIDTH).abs() < EPSILON);

        let mut wide = Table::new("t", columns);
        wide.push_row(vec!["x".repeat(60).into(); 12])
            .expect("fits");
        let l = layout(&wide);
        assert!((l.size - 5.0).abs() < EPSILON);
        assert!(l.page_width > PAGE_WIDTH);
    }

    #[test]
    fn a_row_taller_than_a_page_gets_a_taller_page() {
        let rows = vec![
            Band {
                cells: Vec::new(),
                height: 100.0,
            },
            Band {
                cells: Vec::new(),
                height: 2_000.0,
            },
        ];
        let pages = paginate(&rows, 20.0, 500.0);
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[1].rows, 1..2);
        assert!((pages[1].height - (2_000.0 + 20.0 + MARGIN + MARGIN)).abs() < 1e-6);
    }

    #[test]
    fn strings_are_escaped_and_winansi_encoded() {
        assert_eq!(literal("a(b)c\\d"), "(a\\(b\\)c\\\\d)");
        assert_eq!(literal("café €"), "(caf\\351 \\200)");
        assert_eq!(literal("😀"), "(?)");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(7.5), "7.5");
        assert_eq!(num(-0.001), "0");
        assert_eq!(info_string("Rp"), "<FEFF00520070>");
    }
}
