//! CSV (RFC 4180) with LF line ends, UTF-8 without a byte-order mark.
//!
//! A field is quoted when it holds `,` `"` CR or LF, quotes doubled. A text cell that a
//! spreadsheet would take for a formula — beginning with `=` `+` `-` `@` TAB or CR — gets a
//! leading `'` (OWASP's CSV-injection guard); so does a text beginning with `'`, so the
//! reader can tell a guard from text. [`read_csv`] removes that one guard quote again.
//! Integers are never guarded: `-5000` is a number. (Only CSV needs the guard: the XLSX
//! writes text as inline strings, never formulas, and PDF text is only shown.)

use crate::error::ReadError;
use crate::table::{Cell, Table};

/// The characters that make a text cell look like a formula, and the guard itself.
const GUARDED: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\''];

/// The table as CSV: the header line, then one line per row, each ending in LF.
pub fn csv(table: &Table) -> String {
    let mut out = String::new();
    let header: Vec<String> = table.columns().iter().map(|c| text(&c.name)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in table.rows() {
        let fields: Vec<String> = row
            .iter()
            .map(|cell| match cell {
                Cell::Text(t) => text(t),
                Cell::Integer(n) => n.to_string(),
                Cell::Empty => String::new(),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// A text field: guarded, then quoted when needed.
fn text(value: &str) -> String {
    let guarded = if value.starts_with(GUARDED) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// Removes the guard quote [`csv`] adds.
fn unguard(mut field: String) -> String {
    let mut chars = field.chars();
    if chars.next() == Some('\'') && chars.next().is_some_and(|c| GUARDED.contains(&c)) {
        field.remove(0);
    }
    field
}

/// Reads CSV (LF or CRLF line ends, an optional byte-order mark, the last line end
/// optional): the header and the rows, with the formula guard removed.
pub fn read_csv(text: &str) -> Result<Vec<Vec<String>>, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes, mut line) = (false, false, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                c => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => (quoted, in_quotes) = (true, true),
            '"' => return Err(stray_quote(line)),
            ',' => {
                row.push(unguard(std::mem::take(&mut field)));
                quoted = false;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                row.push(unguard(std::mem::take(&mut field)));
                rows.push(std::mem::take(&mut row));
                quoted = false;
                line += 1;
            }
            c if quoted => {
                return Err(ReadError::Csv {
                    line,
                    message: format!("{c:?} after a closing quote"),
                });
            }
            c => field.push(c),
        }
    }
    if in_quotes {
        return Err(ReadError::Csv {
            line,
            message: "a quoted field is not closed".into(),
        });
    }
    if quoted || !field.is_empty() || !row.is_empty() {
        row.push(unguard(field));
        rows.push(row);
    }
    Ok(rows)
}

fn stray_quote(line: usize) -> ReadError {
    ReadError::Csv {
        line,
        message: "a quote inside an unquoted field".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::fixtures;
    use crate::table::{Column, Table};

    #[test]
    fn awkward_cells_round_trip() {
        let t = fixtures::awkward();
        assert_eq!(read_csv(&csv(&t)).expect("reads"), t.display_rows());
    }

    #[test]
    fn empty_and_long_tables_round_trip() {
        for t in [fixtures::numbered(0), fixtures::numbered(500)] {
            let rows = read_csv(&csv(&t)).expect("reads");
            assert_eq!(rows.len(), t.len() + 1);
            assert_eq!(rows, t.display_rows());
        }
    }

    #[test]
    fn formulas_are_guarded_and_integers_are_not() {
        let t = fixtures::awkward();
        let text = csv(&t);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "kind,reference,amount,note");
        assert_eq!(
            lines[1],
            "payment,\"INV,1 \"\"quoted\"\"\",1234567,line one line two three four"
        );
        assert!(lines[2].starts_with("bill_payment,\"'=HYPERLINK(\"\"http://x\"\")\",-5000,'+62"));
        assert!(lines[3].starts_with("virtual_account,''quoted start,"));
        assert_eq!(lines[4], ",,,trailing space ");
        assert!(text.ends_with('\n') && !text.contains('\r'));
    }

    #[test]
    fn a_one_column_row_of_an_empty_cell_is_an_empty_line() {
        let mut t = Table::new("t", vec![Column::text("only")]);
        t.push_row(vec![Cell::Empty]).expect("fits");
        t.push_row(vec!["x".into()]).expect("fits");
        assert_eq!(csv(&t), "only\n\nx\n");
        assert_eq!(read_csv(&csv(&t)).expect("reads"), t.display_rows());
    }

    #[test]
    fn crlf_a_bom_and_a_missing_last_line_end_are_read() {
        let rows = read_csv("\u{feff}a,b\r\n\"x\r\ny\",2\r\n3,").expect("reads");
        assert_eq!(
            rows,
            vec![vec!["a", "b"], vec!["x\r\ny", "2"], vec!["3", ""]]
        );
    }

    #[test]
    fn malformed_quotes_are_errors_with_their_line() {
        assert_eq!(
            read_csv("a\n\"open"),
            Err(ReadError::Csv {
                line: 2,
                message: "a quoted field is not closed".into()
            })
        );
        assert!(matches!(
            read_csv("a\nb\"c\n"),
            Err(ReadError::Csv { line: 2, .. })
        ));
        assert!(matches!(
            read_csv("\"a\"b\n"),
            Err(ReadError::Csv { line: 1, .. })
        ));
    }
}
