//! Office Open XML workbooks (.xlsx): one worksheet named after the title, a bold and
//! frozen header row, column widths from the contents, integers as numbers shown with the
//! `#,##0` format (built-in number format 3) and text as inline strings — never formulas,
//! so nothing a cell holds is evaluated. Parts are deflated (the tiniest stored); nothing
//! in them depends on the time, so the same table gives the same bytes.

use std::collections::BTreeMap;

use crate::error::ReadError;
use crate::table::{Cell, ColumnKind, Table, thousands};
use crate::xml::{self, Element, escape};
use crate::zip::{self, ZipWriter};

const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

/// Style indexes in `styles.xml`'s `cellXfs`.
const STYLE_HEADER: u8 = 1;
const STYLE_INTEGER: u8 = 2;

/// The table as a workbook.
pub fn xlsx(table: &Table) -> Vec<u8> {
    let mut zip = ZipWriter::default();
    zip.add("[Content_Types].xml", CONTENT_TYPES.as_bytes());
    zip.add("_rels/.rels", ROOT_RELS.as_bytes());
    zip.add("xl/workbook.xml", workbook(table).as_bytes());
    zip.add("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes());
    zip.add("xl/styles.xml", STYLES.as_bytes());
    zip.add("xl/worksheets/sheet1.xml", sheet(table).as_bytes());
    zip.add("docProps/core.xml", core(table).as_bytes());
    zip.finish()
}

const CONTENT_TYPES: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">",
    "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>",
    "<Default Extension=\"xml\" ContentType=\"application/xml\"/>",
    "<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>",
    "<Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>",
    "<Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>",
    "<Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>",
    "</Types>"
);

const ROOT_RELS: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>",
    "<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/>",
    "</Relationships>"
);

const WORKBOOK_RELS: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>",
    "<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/>",
    "</Relationships>"
);

/// Fonts: regular and bold; cell formats: default, bold header, integer with `#,##0`.
const STYLES: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
    "<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">",
    "<fonts count=\"2\">",
    "<font><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font>",
    "<font><b/><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font>",
    "</fonts>",
    "<fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill><fill><patternFill patternType=\"gray125\"/></fill></fills>",
    "<borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>",
    "<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>",
    "<cellXfs count=\"3\">",
    "<xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>",
    "<xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/>",
    "<xf numFmtId=\"3\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/>",
    "</cellXfs>",
    "<cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles>",
    "</styleSheet>"
);

/// A worksheet name from the title: at most 31 characters, none of `[]:*?/\`, not
/// starting or ending with `'`, not empty and not Excel's reserved `History`.
pub(crate) fn sheet_name(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .collect();
    let short: String = cleaned.trim().chars().take(31).collect();
    let name = short.trim().trim_matches('\'').trim();
    if name.is_empty() || name.eq_ignore_ascii_case("history") {
        "Sheet1".to_owned()
    } else {
        name.to_owned()
    }
}

fn workbook(table: &Table) -> String {
    format!(
        "{HEAD}<workbook xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\"><bookViews><workbookView/></bookViews>\
         <sheets><sheet name=\"{}\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
        escape(&sheet_name(table.title()))
    )
}

fn core(table: &Table) -> String {
    let description = table.subtitle().map_or_else(String::new, |s| {
        format!("<dc:description>{}</dc:description>", escape(s))
    });
    format!(
        "{HEAD}<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><dc:title>{}</dc:title>{description}</cp:coreProperties>",
        escape(table.title())
    )
}

/// `A`, `B`, …, `Z`, `AA`, … for a 0-based column.
pub(crate) fn column_letters(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.iter().rev().map(|b| char::from(*b)).collect()
}

/// Column widths in characters: the longest shown value plus room, within 8..=60.
fn widths(table: &Table) -> Vec<usize> {
    table
        .columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let longest = table
                .rows()
                .iter()
                .map(|row| match &row[i] {
                    Cell::Text(t) => t.chars().count(),
                    Cell::Integer(n) => thousands(*n).len(),
                    Cell::Empty => 0,
                })
                .chain(std::iter::once(column.name.chars().count() + 1))
                .max()
                .unwrap_or(0);
            (longest + 2).clamp(8, 60)
        })
        .collect()
}

fn inline(reference: &str, style: Option<u8>, text: &str) -> String {
    let style = style.map_or_else(String::new, |s| format!(" s=\"{s}\""));
    format!(
        "<c r=\"{reference}\"{style} t=\"inlineStr\"><is><t xml:space=\"preserve\">{}</t></is></c>",
        escape(text)
    )
}

fn sheet(table: &Table) -> String {
    let columns = table.columns();
    let last = format!(
        "{}{}",
        column_letters(columns.len().saturating_sub(1)),
        table.len() + 1
    );
    let mut out = format!(
        "{HEAD}<worksheet xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\"><dimension ref=\"A1:{last}\"/>\
         <sheetViews><sheetView workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/>\
         <selection pane=\"bottomLeft\" activeCell=\"A2\" sqref=\"A2\"/></sheetView></sheetViews>\
         <sheetFormatPr defaultRowHeight=\"15\"/>"
    );
    if !columns.is_empty() {
        out.push_str("<cols>");
        for (i, width) in widths(table).iter().enumerate() {
            out.push_str(&format!(
                "<col min=\"{n}\" max=\"{n}\" width=\"{width}\" customWidth=\"1\"/>",
                n = i + 1
            ));
        }
        out.push_str("</cols>");
    }
    out.push_str("<sheetData><row r=\"1\">");
    let letters: Vec<String> = (0..columns.len()).map(column_letters).collect();
    for (column, letter) in columns.iter().zip(&letters) {
        out.push_str(&inline(
            &format!("{letter}1"),
            Some(STYLE_HEADER),
            &column.name,
        ));
    }
    out.push_str("</row>");
    for (r, row) in table.rows().iter().enumerate() {
        let n = r + 2;
        out.push_str(&format!("<row r=\"{n}\">"));
        for ((cell, column), letter) in row.iter().zip(columns).zip(&letters) {
            match cell {
                Cell::Text(t) => out.push_str(&inline(&format!("{letter}{n}"), None, t)),
                Cell::Integer(v) => {
                    let style = if column.kind == ColumnKind::Integer {
                        STYLE_INTEGER
                    } else {
                        0
                    };
                    out.push_str(&format!(
                        "<c r=\"{letter}{n}\" s=\"{style}\" t=\"n\"><v>{v}</v></c>"
                    ));
                }
                Cell::Empty => {}
            }
        }
        out.push_str("</row>");
    }
    out.push_str("</sheetData></worksheet>");
    out
}

// ---------------------------------------------------------------- reader

fn part<'a>(parts: &'a BTreeMap<String, Vec<u8>>, name: &str) -> Result<&'a [u8], ReadError> {
    parts
        .get(name)
        .map(Vec::as_slice)
        .ok_or_else(|| ReadError::MissingPart(name.to_owned()))
}

/// Reads a workbook's first worksheet: the rows as display text (numbers that are whole
/// as digits), missing cells as `""`, every row as wide as the widest. Reads inline
/// strings, numbers and shared strings (`t="s"`); zip entries stored or deflated (what
/// [`xlsx`] writes, and what other spreadsheet programs write).
pub fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, ReadError> {
    let parts: BTreeMap<String, Vec<u8>> = zip::read(bytes)?.into_iter().collect();
    let (sheet_path, strings_path) = locate(&parts)?;
    let shared = match strings_path.and_then(|p| parts.get(&p)) {
        Some(data) => shared_strings(&xml::parse(data)?),
        None => Vec::new(),
    };
    let sheet = xml::parse(part(&parts, &sheet_path)?)?;
    let data = sheet
        .child("sheetData")
        .ok_or_else(|| ReadError::Xml("the worksheet has no sheetData".into()))?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    for row in data.elements().filter(|e| e.is("row")) {
        if let Some(n) = row.attribute("r").and_then(|r| r.parse::<usize>().ok()) {
            while rows.len() + 1 < n {
                rows.push(Vec::new());
            }
        }
        let mut cells: Vec<String> = Vec::new();
        for c in row.elements().filter(|e| e.is("c")) {
            if let Some(col) = c.attribute("r").and_then(column_of) {
                cells.resize(cells.len().max(col), String::new());
            }
            cells.push(cell_text(c, &shared)?);
        }
        rows.push(cells);
    }
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    for row in &mut rows {
        row.resize(width, String::new());
    }
    Ok(rows)
}

/// The first worksheet's part, and the shared strings' part if the workbook has one.
fn locate(parts: &BTreeMap<String, Vec<u8>>) -> Result<(String, Option<String>), ReadError> {
    let workbook = xml::parse(part(parts, "xl/workbook.xml")?)?;
    let first = workbook
        .child("sheets")
        .and_then(|s| s.child("sheet"))
        .and_then(|s| {
            s.attributes
                .iter()
                .find(|(n, _)| n.ends_with(":id"))
                .map(|(_, v)| v.clone())
        })
        .ok_or_else(|| ReadError::Xml("the workbook lists no sheet".into()))?;
    let rels = xml::parse(part(parts, "xl/_rels/workbook.xml.rels")?)?;
    let target = |pick: &dyn Fn(&Element) -> bool| {
        rels.elements().find(|r| pick(r)).and_then(|r| {
            r.attribute("Target").map(|t| match t.strip_prefix('/') {
                Some(absolute) => absolute.to_owned(),
                None => format!("xl/{t}"),
            })
        })
    };
    let sheet = target(&|r: &Element| r.attribute("Id") == Some(first.as_str()))
        .ok_or_else(|| ReadError::MissingPart(format!("the target of {first}")))?;
    let strings = target(&|r: &Element| {
        r.attribute("Type")
            .is_some_and(|t| t.ends_with("/sharedStrings"))
    });
    Ok((sheet, strings))
}

/// All `t` text under an element, phonetic runs (`rPh`) left out.
fn runs(e: &Element) -> String {
    let mut out = String::new();
    for child in e.elements() {
        if child.is("t") {
            out.push_str(&child.text());
        } else if !child.is("rPh") {
            out.push_str(&runs(child));
        }
    }
    out
}

fn shared_strings(sst: &Element) -> Vec<String> {
    sst.elements().filter(|e| e.is("si")).map(runs).collect()
}

/// The 1-based column of a reference such as `AB12`, as a 0-based index.
fn column_of(reference: &str) -> Option<usize> {
    let letters: String = reference
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    if letters.is_empty() {
        return None;
    }
    letters
        .bytes()
        .try_fold(0usize, |n, b| {
            n.checked_mul(26)?
                .checked_add(usize::from(b.to_ascii_uppercase() - b'A') + 1)
        })
        .map(|n| n - 1)
}

fn cell_text(c: &Element, shared: &[String]) -> Result<String, ReadError> {
    let value = c.child("v").map(Element::text);
    Ok(match c.attribute("t").unwrap_or("n") {
        "inlineStr" => c.child("is").map(runs).unwrap_or_default(),
        "s" => {
            let index = value
                .as_deref()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| ReadError::Xml("a shared-string cell without an index".into()))?;
            shared
                .get(index)
                .cloned()
                .ok_or_else(|| ReadError::Xml(format!("no shared string {index}")))?
        }
        "n" => value.map(|v| number(&v)).unwrap_or_default(),
        _ => value.unwrap_or_default(),
    })
}

/// A number as display text: whole numbers as digits (`1234.0` and `1.5E3` too).
fn number(value: &str) -> String {
    let v = value.trim();
    if let Ok(n) = v.parse::<i64>() {
        return n.to_string();
    }
    match v.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{f:.0}"),
        _ => v.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Column, fixtures};

    const PARTS: [&str; 7] = [
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/worksheets/sheet1.xml",
        "docProps/core.xml",
    ];

    #[test]
    fn awkward_cells_round_trip() {
        let t = fixtures::awkward();
        assert_eq!(read_xlsx(&xlsx(&t)).expect("reads"), t.display_rows());
    }

    #[test]
    fn empty_and_long_tables_round_trip() {
        for t in [fixtures::numbered(0), fixtures::numbered(500)] {
            let rows = read_xlsx(&xlsx(&t)).expect("reads");
            assert_eq!(rows.len(), t.len() + 1);
            assert_eq!(rows, t.display_rows());
        }
    }

    fn le16(b: &[u8], at: usize) -> usize {
        usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
    }

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Walks the container by hand, apart from the reader.
    #[test]
    fn the_zip_lists_the_seven_parts_each_deflated_with_its_crc() {
        let bytes = xlsx(&fixtures::awkward());
        let end = bytes.len() - 22;
        assert_eq!(le32(&bytes, end), 0x0605_4b50);
        assert_eq!(le16(&bytes, end + 10), 7);
        let mut at = le32(&bytes, end + 16) as usize;
        let mut names = Vec::new();
        for _ in 0..7 {
            assert_eq!(le32(&bytes, at), 0x0201_4b50);
            let name_len = le16(&bytes, at + 28);
            names.push(
                String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).expect("utf-8"),
            );
            let local = le32(&bytes, at + 42) as usize;
            assert_eq!(le32(&bytes, local), 0x0403_4b50);
            assert_eq!(le16(&bytes, local + 4), 20, "version needed 2.0");
            assert_eq!(le16(&bytes, local + 8), 8, "deflated");
            assert_eq!(le16(&bytes, at + 10), 8, "deflated");
            let crc = le32(&bytes, local + 14);
            let size = le32(&bytes, local + 18) as usize;
            let uncompressed = le32(&bytes, local + 22) as usize;
            assert!(size < uncompressed, "compressed {size} of {uncompressed}");
            assert_eq!(size, le32(&bytes, at + 20) as usize);
            assert_eq!(uncompressed, le32(&bytes, at + 24) as usize);
            assert_eq!(crc, le32(&bytes, at + 16));
            let start = local + 30 + le16(&bytes, local + 26);
            let data = crate::inflate::inflate(&bytes[start..start + size], uncompressed)
                .expect("inflates");
            assert_eq!(data.len(), uncompressed);
            assert_eq!(crc32_of(&data), crc);
            at += 46 + name_len;
        }
        assert_eq!(names, PARTS);
        assert_eq!(at, end);
    }

    fn crc32_of(data: &[u8]) -> u32 {
        crate::zip::crc32(data)
    }

    #[test]
    fn the_sheet_has_a_frozen_bold_header_widths_and_typed_cells() {
        let parts: BTreeMap<String, Vec<u8>> = zip::read(&xlsx(&fixtures::awkward()))
            .expect("reads")
            .into_iter()
            .collect();
        let sheet = String::from_utf8(parts["xl/worksheets/sheet1.xml"].clone()).expect("utf-8");
        assert!(sheet.contains("state=\"frozen\""));
        assert!(sheet.contains("<col min=\"1\" max=\"1\" width=\"17\" customWidth=\"1\"/>"));
        assert!(sheet.contains("<c r=\"A1\" s=\"1\" t=\"inlineStr\">"));
        assert!(sheet.contains("<c r=\"C2\" s=\"2\" t=\"n\"><v>1234567</v></c>"));
        assert!(sheet.contains("<t xml:space=\"preserve\">=HYPERLINK(&quot;http://x&quot;)</t>"));
        assert!(!sheet.contains("<f>"));
        let styles = String::from_utf8(parts["xl/styles.xml"].clone()).expect("utf-8");
        assert!(styles.contains("<b/>") && styles.contains("numFmtId=\"3\""));
        let core = String::from_utf8(parts["docProps/core.xml"].clone()).expect("utf-8");
        assert!(core.contains("<dc:title>Transactions 2026-11-21</dc:title>"));
    }

    #[test]
    fn sheet_names_follow_excels_rules() {
        assert_eq!(
            sheet_name("Transactions 2026-11-21"),
            "Transactions 2026-11-21"
        );
        assert_eq!(sheet_name("a[b]:c*d?e/f\\g"), "abcdefg");
        assert_eq!(
            sheet_name("Reconciliation digiflazz 2026-11-21 all"),
            "Reconciliation digiflazz 2026-1"
        );
        assert_eq!(sheet_name("'quoted'"), "quoted");
        assert_eq!(sheet_name("[]"), "Sheet1");
        assert_eq!(sheet_name("History"), "Sheet1");
    }

    #[test]
    fn column_letters_go_past_z() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        for i in [0, 25, 26, 701, 702, 16_383] {
            assert_eq!(column_of(&format!("{}7", column_letters(i))), Some(i));
        }
    }

    /// A workbook as other programs write it: shared strings, sparse cells, floats.
    #[test]
    fn shared_strings_and_sparse_cells_are_read() {
        let mut zip = ZipWriter::default();
        zip.add(
            "xl/workbook.xml",
            br#"<workbook xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId7"/></sheets></workbook>"#,
        );
        zip.add(
            "xl/_rels/workbook.xml.rels",
            br#"<Relationships><Relationship Id="rId7" Target="/xl/worksheets/data.xml" Type="x/worksheet"/><Relationship Id="rId8" Target="sharedStrings.xml" Type="x/sharedStrings"/></Relationships>"#,
        );
        zip.add(
            "xl/sharedStrings.xml",
            br#"<sst><si><t>name</t></si><si><r><t>ri</t></r><r><t>ch</t></r><rPh><t>x</t></rPh></si></sst>"#,
        );
        zip.add(
            "xl/worksheets/data.xml",
            br#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c></row><row r="3"><c r="B3"><v>1500.0</v></c><c r="C3" t="str"><v>f</v></c></row></sheetData></worksheet>"#,
        );
        let rows = read_xlsx(&zip.finish()).expect("reads");
        assert_eq!(
            rows,
            vec![
                vec!["name", "", "rich"],
                vec!["", "", ""],
                vec!["", "1500", "f"]
            ]
        );
    }

    #[test]
    fn a_workbook_without_its_parts_is_an_error() {
        let mut zip = ZipWriter::default();
        zip.add("xl/workbook.xml", b"<workbook><sheets/></workbook>");
        assert!(matches!(
            read_xlsx(&zip.finish()),
            Err(ReadError::Xml(_) | ReadError::MissingPart(_))
        ));
        let t = Table::new("t", vec![Column::text("a")]);
        let mut zip = ZipWriter::default();
        zip.add("xl/workbook.xml", workbook(&t).as_bytes());
        assert_eq!(
            read_xlsx(&zip.finish()),
            Err(ReadError::MissingPart("xl/_rels/workbook.xml.rels".into()))
        );
    }
}
