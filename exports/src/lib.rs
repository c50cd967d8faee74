//! Tabular reports as CSV, Excel (.xlsx) and PDF with the same rows, and a reader for each
//! format that gives the rows back, so that a report's three downloads can be checked
//! against each other. Written with the standard library alone: the zip container,
//! CRC-32, the XML and the PDF are produced (and parsed) by hand.
//!
//! A [`Table`] is a title, an optional subtitle, typed [`Column`]s and rows of [`Cell`]s
//! (`Text`, `Integer` — whole rupiah are integers — or `Empty`). Every text that enters a
//! table (title, column names, cells) goes through [`normalise`]: CR, LF (a CRLF pair
//! counting once) and TAB become a space, other control characters are removed, and
//! characters outside Windows-1252 ("WinAnsi", what the PDF's built-in fonts can show)
//! become `?`. The same normalised text is written to all three formats, so all three
//! read back equal.
//!
//! The readers return the header and then each row, every cell as its display text:
//! an integer as plain decimal digits (a leading `-` when negative, no separators), a
//! text as itself, an empty cell as `""`. [`Table::display_rows`] gives the same for the
//! table written, which is what the readers must return.
//!
//! **Layout**
//! - `table.rs`: [`Table`], [`Column`], [`Cell`], [`normalise`] and the WinAnsi mapping
//! - `csv.rs`: [`csv()`] and [`read_csv`] (RFC 4180 with LF line ends; formula guard)
//! - `zip.rs`: CRC-32 and a zip writer (deflated entries) and reader (stored or deflated)
//! - `deflate.rs`: a DEFLATE compressor (LZ77, fixed Huffman codes)
//! - `inflate.rs`: a DEFLATE decompressor (stored, fixed and dynamic Huffman blocks)
//! - `xml.rs`: XML escaping and a small XML tree parser for the reader
//! - `xlsx.rs`: [`xlsx()`] and [`read_xlsx`] (Office Open XML, one worksheet)
//! - `pdf/`: [`pdf()`] (`write.rs`) and [`read_pdf`] (`read.rs`), the Helvetica metrics
//!   (`metrics.rs`)
//! - `format.rs`: [`Format`], the three as one value (name, media type, write, read)
//! - `error.rs`: [`ReadError`] and [`RowError`]

mod csv;
mod deflate;
mod error;
mod format;
mod inflate;
mod pdf;
mod table;
mod xlsx;
mod xml;
mod zip;

pub use crate::csv::{csv, read_csv};
pub use crate::error::{ReadError, RowError};
pub use crate::format::Format;
pub use crate::pdf::{pdf, read_pdf};
pub use crate::table::{Cell, Column, ColumnKind, Table, normalise};
pub use crate::xlsx::{read_xlsx, xlsx};
