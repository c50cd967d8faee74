//! The three formats as one value: what a download is called, how it is served, how it is
//! written and read back.

use crate::{ReadError, Table};

/// A file format of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// RFC 4180 text, LF line ends.
    Csv,
    /// Office Open XML workbook, one sheet.
    Xlsx,
    /// PDF 1.4, A4 landscape.
    Pdf,
}

impl Format {
    /// Every format, in the order the console offers them.
    pub const ALL: [Format; 3] = [Format::Csv, Format::Xlsx, Format::Pdf];

    /// The file extension, also the format's name (`csv`, `xlsx`, `pdf`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Pdf => "pdf",
        }
    }

    /// The format named `name` (its extension).
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == name)
    }

    /// The media type to serve it with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Pdf => "application/pdf",
        }
    }

    /// `table` in this format.
    pub fn write(self, table: &Table) -> Vec<u8> {
        match self {
            Format::Csv => crate::csv(table).into_bytes(),
            Format::Xlsx => crate::xlsx(table),
            Format::Pdf => crate::pdf(table),
        }
    }

    /// The rows of a file in this format, the header first (see [`Table::display_rows`]).
    pub fn read(self, bytes: &[u8]) -> Result<Vec<Vec<String>>, ReadError> {
        match self {
            Format::Csv => {
                crate::read_csv(std::str::from_utf8(bytes).map_err(|_| ReadError::Csv {
                    line: 1,
                    message: "the file is not UTF-8".into(),
                })?)
            }
            Format::Xlsx => crate::read_xlsx(bytes),
            Format::Pdf => crate::read_pdf(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cell, Column};

    #[test]
    fn each_format_reads_back_what_it_wrote_and_names_itself() {
        let mut table = Table::new("t", vec![Column::text("a"), Column::integer("n")]);
        table
            .push_row(vec![Cell::Text("x".into()), Cell::Integer(-5)])
            .expect("row");
        for format in Format::ALL {
            assert_eq!(Format::parse(format.extension()), Some(format));
            let bytes = format.write(&table);
            assert_eq!(
                format.read(&bytes).expect("reads"),
                table.display_rows(),
                "{format:?}"
            );
        }
        assert_eq!(Format::parse("docx"), None);
        assert!(Format::Csv.read(&[0xff, 0xfe]).is_err());
    }
}
