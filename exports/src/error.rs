//! The errors of building a table and of reading a file back.

use std::fmt;

use crate::table::ColumnKind;

/// A row that does not fit the table's columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowError {
    /// The row has `got` cells where the table has `expected` columns.
    Width {
        /// The number of columns.
        expected: usize,
        /// The number of cells given.
        got: usize,
    },
    /// A cell of the wrong kind: a column holds cells of its own kind or empty cells.
    Kind {
        /// The column's name.
        column: String,
        /// The column's kind.
        expected: ColumnKind,
    },
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::Width { expected, got } => {
                write!(f, "a row has {got} cells, the table {expected} columns")
            }
            RowError::Kind { column, expected } => {
                write!(
                    f,
                    "column {column:?} holds {expected:?} cells or empty ones"
                )
            }
        }
    }
}

impl std::error::Error for RowError {}

/// A file that cannot be read back as a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Malformed CSV (`line` counts from 1).
    Csv {
        /// Where.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A malformed zip container.
    Zip(String),
    /// A zip entry compressed with a method other than stored (0) or deflated (8), the
    /// two that are read ([`crate::xlsx`] writes both).
    UnsupportedCompression {
        /// The entry.
        name: String,
        /// Its compression method (8 is deflate).
        method: u16,
    },
    /// A zip entry whose data does not match its CRC-32.
    Crc {
        /// The entry.
        name: String,
    },
    /// A part of the workbook is missing.
    MissingPart(String),
    /// Malformed XML in a part.
    Xml(String),
    /// A PDF that is malformed or not laid out as [`crate::pdf`] lays out tables.
    Pdf(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Csv { line, message } => write!(f, "CSV line {line}: {message}"),
            ReadError::Zip(m) => write!(f, "zip: {m}"),
            ReadError::UnsupportedCompression { name, method } => write!(
                f,
                "zip entry {name} uses compression method {method}; only stored (0) and deflated (8) entries are read"
            ),
            ReadError::Crc { name } => write!(f, "zip entry {name} does not match its CRC-32"),
            ReadError::MissingPart(name) => write!(f, "the workbook has no part {name}"),
            ReadError::Xml(m) => write!(f, "XML: {m}"),
            ReadError::Pdf(m) => write!(f, "PDF: {m}"),
        }
    }
}

impl std::error::Error for ReadError {}
